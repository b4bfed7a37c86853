"""Fixtures of the console's tests.

Widget tests: ``make_flow`` (an HTTP flow as the proxy would record it), ``master`` (a real
ConsoleMaster serving nothing) and ``window`` (the real Window on it), ``screen(widget)``
(what the user would read: the rendered canvas as text lines) and ``press(widget, *keys)``.

End-to-end tests: ``console`` starts the real ``mitmproxy`` command in a detached tmux
session of fixed size, with its own HOME (so no user config is read) and the session's CA,
waits for its screen, and gives the test keys to send and the screen to read (``tmux
capture-pane`` polled until the expected text appears, with a deadline).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from typing import Any, Callable, Iterator

import pytest

from libmproxy.controller import DummyServer
from libmproxy.models import (
    ClientConnection, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

# The terminal the console is drawn in (as the contract for the console tests says).
COLS, ROWS = 120, 40

# How long a test waits for something to appear on the console's screen, or for the
# console or a client to end; reached only when something is broken.
SCREEN_WAIT = 20.0

# Between two looks at the screen (polling for a condition, not waiting for correctness).
POLL = 0.05


# === widget tests ==============================================================================

@pytest.fixture
def make_flow() -> Callable[..., HTTPFlow]:
    """make_flow(path="/path", status=200, content=b"hello", method="GET",
    content_type="text/html") -> an HTTPFlow to http://example.com (status None: no
    response yet)."""
    def make(path: str = "/path", status: int | None = 200, content: bytes = b"hello",
             method: str = "GET", content_type: str | None = "text/html") -> HTTPFlow:
        flow = HTTPFlow(ClientConnection(("127.0.0.1", 5000)),
                        ServerConnection(("example.com", 80)))
        flow.request = HTTPRequest("absolute", method, "http", "example.com", 80, path,
                                   "HTTP/1.1", [("Host", "example.com")], b"")
        if status is not None:
            headers = [("Content-Type", content_type)] if content_type else []
            flow.response = HTTPResponse("HTTP/1.1", status, "OK", headers, content)
        return flow
    return make


@pytest.fixture
def master(tmp_path: Any) -> Iterator[Any]:
    """A ConsoleMaster without a proxy (its features set up, nothing listening)."""
    from libmproxy.console.master import ConsoleMaster, ConsoleOptions
    m = ConsoleMaster(DummyServer(), ConsoleOptions())
    yield m
    m.shutdown()
    m.done()


@pytest.fixture
def window(master: Any) -> Any:
    """The real Window on ``master``, showing the flow list."""
    from libmproxy.console.window import Window
    return Window(master)


def screen(widget: Any, size: tuple[int, int] = (80, 24)) -> list[str]:
    """The widget drawn at ``size``: one string per row, trailing spaces removed."""
    canvas = widget.render(size, focus=True)
    return [row.decode("utf-8").rstrip() for row in canvas.text]


def press(widget: Any, *keys: str, size: tuple[int, int] = (80, 24)) -> None:
    """Send ``keys`` one after another, drawing in between as the loop would."""
    for key in keys:
        widget.render(size, focus=True)
        widget.keypress(size, key)


@pytest.fixture(name="screen")
def screen_fixture() -> Callable[..., list[str]]:
    return screen


@pytest.fixture(name="press")
def press_fixture() -> Callable[..., None]:
    return press


# === the real mitmproxy in tmux =================================================================

TMUX = shutil.which("tmux")
BIND = re.compile(r"\[127\.0\.0\.1:(\d+)\]")


class Console:
    """A ``mitmproxy`` running in its own tmux server (``-L``), so tests never share one
    and never touch the user's. ``port`` is read from the status bar's bind address."""

    def __init__(self, tmp: str, cadir: str, args: tuple[str, ...],
                 config: str | None = None) -> None:
        self.tmp = tmp
        self.socket = f"mitmproxy-test-{uuid.uuid4().hex[:12]}"
        self.home = os.path.join(tmp, "home")
        os.makedirs(os.path.join(self.home, ".mitmproxy"), exist_ok=True)
        if config is not None:
            with open(os.path.join(self.home, ".mitmproxy", "mitmproxy.conf"), "w") as f:
                f.write(config)
        self.status_file = os.path.join(tmp, "exit-status")
        self.err_file = os.path.join(tmp, "stderr")
        self.pid_file = os.path.join(tmp, "pid")
        argv = [sys.executable, "-m", "libmproxy.console", "-b", "127.0.0.1", "-p", "0",
                "--cadir", cadir, *args]
        # The inner shell writes its pid, then becomes mitmproxy (for signal tests).
        run = ["sh", "-c", f'echo $$ >{shlex.quote(self.pid_file)}; exec "$@"', "sh", *argv]
        command = (f"{shlex.join(run)} 2>{shlex.quote(self.err_file)}; "
                   f"echo $? >{shlex.quote(self.status_file)}")
        self._tmux("new-session", "-d", "-x", str(COLS), "-y", str(ROWS), "-c", REPO,
                   "-e", f"HOME={self.home}", "-e", "LANG=C.UTF-8", "-e", "LC_ALL=C.UTF-8",
                   command)
        self.port = 0

    def _tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([TMUX, "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=SCREEN_WAIT)

    # --- reading the screen ------------------------------------------------------------------

    def screen(self) -> str:
        """The screen now, as text (empty once the console has ended)."""
        return self._tmux("capture-pane", "-p").stdout

    def _diagnosis(self) -> str:
        err = ""
        if os.path.exists(self.err_file):
            with open(self.err_file) as f:
                err = f.read()
        return f"screen:\n{self.screen()}\nstderr:\n{err}"

    def wait_until(self, predicate: Callable[[str], bool], what: str) -> str:
        """Poll the screen until ``predicate(screen)``; the screen then."""
        deadline = time.monotonic() + SCREEN_WAIT
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"the console never showed {what}\n{self._diagnosis()}")
            time.sleep(POLL)

    def wait_for(self, *texts: str) -> str:
        """Wait until every one of ``texts`` is on the screen."""
        return self.wait_until(lambda s: all(t in s for t in texts), repr(texts))

    def wait_gone(self, text: str) -> str:
        return self.wait_until(lambda s: text not in s, f"the end of {text!r}")

    def started(self) -> Console:
        """Wait for the status bar; learn the port from its bind address."""
        text = self.wait_until(lambda s: BIND.search(s) is not None, "its status bar")
        self.port = int(BIND.search(text).group(1))
        return self

    def line_with(self, text: str) -> str:
        """The screen line holding ``text``."""
        return next(line for line in self.screen().splitlines() if text in line)

    def styled_line_with(self, text: str) -> str:
        """The screen line holding ``text``, with its colours (SGR escape sequences)."""
        styled = self._tmux("capture-pane", "-p", "-e").stdout
        return next(line for line in styled.splitlines() if text in line)

    # --- keys --------------------------------------------------------------------------------

    def keys(self, *keys: str) -> None:
        """Press keys by tmux name (``Enter``, ``Escape``, ``a``, ``G``...)."""
        self._tmux("send-keys", *keys)

    def type(self, text: str) -> None:
        """Type ``text`` literally."""
        self._tmux("send-keys", "-l", text)

    def set_intercept(self, pattern: str) -> None:
        """``i``, type ``pattern``, enter: as a user sets the interception pattern; returns
        once the status bar shows it."""
        self.keys("i")
        self.wait_for("Intercept filter:")
        self.type(pattern)
        self.keys("Enter")
        self.wait_for(f"[i:{pattern}]")

    # --- clients -----------------------------------------------------------------------------

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def curl_argv(self, *args: str) -> list[str]:
        return ["curl", "-s", "-S", "--max-time", str(int(SCREEN_WAIT)), "--noproxy", "",
                "-x", self.proxy, *args]

    def curl(self, *args: str) -> subprocess.CompletedProcess:
        """curl through the console (waits for it to end)."""
        return subprocess.run(self.curl_argv(*args), capture_output=True,
                              timeout=SCREEN_WAIT * 2)

    def curl_background(self, *args: str) -> subprocess.Popen:
        """curl through the console, not waiting: for requests the console holds."""
        return subprocess.Popen(self.curl_argv(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    # --- the end -----------------------------------------------------------------------------

    def exit_status(self) -> int:
        """Wait for the console to end; its exit status."""
        deadline = time.monotonic() + SCREEN_WAIT
        while not os.path.exists(self.status_file) or not open(self.status_file).read():
            if time.monotonic() > deadline:
                raise AssertionError(f"the console did not end\n{self._diagnosis()}")
            time.sleep(POLL)
        with open(self.status_file) as f:
            return int(f.read())

    def stderr(self) -> str:
        with open(self.err_file) as f:
            return f.read()

    def pid(self) -> int:
        """The mitmproxy process."""
        with open(self.pid_file) as f:
            return int(f.read())

    def close(self) -> None:
        self._tmux("kill-server")


@pytest.fixture
def console(tmp_path: Any, mitmdump_cadir: str) -> Iterator[Callable[..., Console]]:
    """console(*args, config=None) -> a Console whose mitmproxy is up (``started()``
    done); ``config`` is the text of its ~/.mitmproxy/mitmproxy.conf. Every console ends
    with the test."""
    if TMUX is None:
        pytest.skip("tmux is not installed (.ci/run installs it from Debian)")
    consoles: list[Console] = []

    def start(*args: str, config: str | None = None, wait: bool = True) -> Console:
        c = Console(str(tmp_path / f"console{len(consoles)}"), mitmdump_cadir, args, config)
        consoles.append(c)
        return c.started() if wait else c

    yield start
    for c in consoles:
        c.close()

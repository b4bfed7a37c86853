"""The real ``mitmproxy`` in a terminal (tmux), driven by keys, with curl through it: what
a user sees and what their clients get."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from libmproxy.flow.io import FlowReader

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

# How long a client or a process may take here; reached only when something hangs.
SCREEN_WAIT = 20.0


def test_flows_appear_with_status_and_size(console, origin):
    c = console()
    assert c.curl(f"{origin.url}/big/2048").stdout == b"x" * 2048
    c.wait_for(f"GET {origin.url}/big/2048", "200 2k", "[1]")
    c.curl(f"{origin.url}/status/404")
    text = c.wait_for(f"GET {origin.url}/status/404", "404 0b", "[2]")
    assert "\u2190 200 2k" in text  # the spec's response line


def test_intercept_holds_the_request_until_accepted(console, origin):
    c = console()
    c.keys("i")
    c.wait_for("Intercept filter:")
    c.type("~q")
    c.keys("Enter")
    c.wait_for("[i:~q]")
    client = c.curl_background(f"{origin.url}/held")
    c.wait_for(f"GET {origin.url}/held")
    assert client.poll() is None, "the intercepted request must wait"
    assert origin.requests == []
    c.keys("a")
    out, err = client.communicate(timeout=SCREEN_WAIT)
    assert client.returncode == 0, err
    assert b'"path": "/held"' in out
    c.wait_for("200")


def test_accept_all(console, origin):
    c = console("-i", "~q")
    c.wait_for("[i:~q]")
    clients = [c.curl_background(f"{origin.url}/{name}") for name in ("one", "two")]
    c.wait_for(f"{origin.url}/one", f"{origin.url}/two")
    c.keys("A")
    for client in clients:
        client.communicate(timeout=SCREEN_WAIT)
        assert client.returncode == 0
    assert sorted(r["path"] for r in origin.requests) == ["/one", "/two"]


def test_a_bad_intercept_pattern_is_refused_as_typed(console):
    c = console()
    c.keys("i")
    c.type("~zz")
    c.wait_for("~zz")
    c.keys("Enter")
    c.wait_for("Intercept filter: ~zz")  # the prompt stays
    c.keys("Escape")
    c.wait_gone("Intercept filter")
    assert "[i:" not in c.screen()


def test_limit_shows_only_matching_flows(console, origin):
    c = console()
    c.curl(f"{origin.url}/apple")
    c.curl(f"{origin.url}/banana")
    c.wait_for("/apple", "/banana", "[2]")
    c.keys("l")
    c.type("~u banana")
    c.keys("Enter")
    text = c.wait_for("[l:~u banana]", "[1]")
    assert "/apple" not in text and "/banana" in text


def test_delete_removes_the_focused_flow(console, origin):
    c = console()
    c.curl(f"{origin.url}/first")
    c.curl(f"{origin.url}/second")
    c.wait_for("/first", "/second", "[2]")
    c.keys("d")  # the focus is on the first flow
    text = c.wait_for("[1]")
    assert "/first" not in text and "/second" in text


def test_quit_releases_an_intercepted_client(console, origin):
    c = console("-i", "~q")
    client = c.curl_background(f"{origin.url}/never")
    c.wait_for(f"{origin.url}/never")
    c.keys("q")
    c.wait_for("Quit")
    c.keys("y")
    assert c.exit_status() == 0
    client.communicate(timeout=SCREEN_WAIT)
    assert client.returncode != 0  # the connection was closed, not answered
    assert origin.requests == []


def test_sigterm_ends_the_console_cleanly(console, origin):
    c = console("-i", "~q")
    client = c.curl_background(f"{origin.url}/held")
    c.wait_for(f"{origin.url}/held")
    os.kill(c.pid(), signal.SIGTERM)
    assert c.exit_status() == 0
    client.communicate(timeout=SCREEN_WAIT)
    assert client.returncode != 0


def test_save_and_load_flows(console, origin, tmp_path):
    path = tmp_path / "saved.flows"
    c = console()
    c.curl(f"{origin.url}/saved")
    c.wait_for("/saved", "200")
    c.keys("w")
    c.wait_for("Save (")
    c.keys("a")
    c.wait_for("Save flows to:")
    c.type(str(path))
    c.keys("Enter")
    c.wait_for("Saved 1 flow")
    with open(path, "rb") as f:
        assert [fl.request.path for fl in FlowReader(f).stream()] == ["/saved"]

    again = console("-r", str(path))
    again.wait_for(f"GET {origin.url}/saved", "[1]")
    again.keys("L")
    again.type(str(path))
    again.keys("Enter")
    again.wait_for("Loaded 1 flow", "[2]")


def test_the_config_file_is_read(console):
    c = console(config="intercept = ~q\nanticache = true\n")
    c.wait_for("[i:~q]", "[anticache]")


def test_help_lists_the_flow_list_keys(console):
    c = console()
    c.keys("?")
    text = c.wait_for("accept all intercepted flows", "Filter expressions")
    assert "Help" in text.splitlines()[0]
    c.keys("q")
    c.wait_for("Flows")


def test_startup_errors_are_one_line_before_the_screen(tmp_path, mitmdump_cadir):
    """No terminal is needed to be told about a bad flag, filter or script."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "libmproxy.console", "-p", "0", "--cadir",
             mitmdump_cadir, *args], cwd=REPO, capture_output=True, text=True,
            timeout=SCREEN_WAIT, env=dict(os.environ, HOME=str(tmp_path)))

    bad_filter = run("-i", "~nonsense")
    assert bad_filter.returncode == 2
    assert bad_filter.stderr.count("\n") == 1 and "~nonsense" in bad_filter.stderr
    bad_script = run("-s", str(tmp_path / "missing.py"))
    assert bad_script.returncode == 1
    assert bad_script.stderr.count("\n") == 1 and "missing.py" in bad_script.stderr
    no_terminal = run()
    assert no_terminal.returncode == 1 and "terminal" in no_terminal.stderr
    conf = tmp_path / ".mitmproxy" / "mitmproxy.conf"
    conf.parent.mkdir(exist_ok=True)
    conf.write_text("palette = neon\n")
    bad_config = run()
    assert bad_config.returncode == 2
    assert bad_config.stderr.count("\n") == 1 and "mitmproxy.conf:1" in bad_config.stderr

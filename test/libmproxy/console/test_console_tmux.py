"""The real ``mitmproxy`` in a terminal (tmux), driven by keys, with curl through it: what
a user sees and what their clients get."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from libmproxy.flow.io import FlowReader

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

# How long a client or a process may take here; reached only when something hangs.
SCREEN_WAIT = 20.0

# The dark palette's edit-mode background (dark cyan) as the terminal gets it: SGR 46, or
# colour 6 of 256.
EDIT_BACKGROUND = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:46|48;5;6)(?:;[0-9;]*)?m[^\x1b]*127\.0\.0\.1")


def test_flows_appear_with_status_and_size(console, origin):
    c = console()
    assert c.curl(f"{origin.url}/big/2048").stdout == b"x" * 2048
    c.wait_for(f"GET {origin.url}/big/2048", "200 2k", "[1]")
    c.curl(f"{origin.url}/status/404")
    text = c.wait_for(f"GET {origin.url}/status/404", "404 0b", "[2]")
    assert "\u2190 200 2k" in text  # the spec's response line


def test_intercept_holds_the_request_until_accepted(console, origin):
    c = console()
    c.set_intercept("~q")
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
    c.wait_for("Intercept filter: ~zz", "unknown operator")  # the prompt stays, says why
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
    text = c.wait_for("accept all intercepted flows", "create a new request",
                      "toggle marked flow view")
    c.keys("G")
    c.wait_for("Filter expressions", "~q")
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


def test_a_new_request_is_made_then_replayed(console, origin):
    """n: a method key, the URL (typed over 0.18's default); r sends it."""
    c = console()
    c.keys("n")
    c.wait_for("Method (get(g)")
    c.keys("g")
    c.wait_for("URL: http://www.example.com/")
    c.keys(*["BSpace"] * len("http://www.example.com/"))
    c.type(f"{origin.url}/made")
    c.keys("Enter")
    c.wait_for(f"GET {origin.url}/made", "[1]")
    assert origin.requests == []
    c.keys("r")
    c.wait_for("\u2190 200")
    assert [r["path"] for r in origin.requests] == ["/made"]


def test_only_the_marked_flows(console, origin):
    c = console()
    for name in ("one", "two", "three"):
        c.curl(f"{origin.url}/{name}")
    c.wait_for("/one", "/two", "/three", "[3]")
    c.keys("j", "m")  # mark the second
    c.keys("M")
    text = c.wait_for("[Marked Flows]", "[1]")
    assert "/two" in text and "/one" not in text and "/three" not in text
    c.keys("M")
    c.wait_for("/one", "/three", "[3]")


def test_a_body_opens_in_the_mailcap_viewer(console, origin):
    """v in the flow view: ~/.mailcap's viewer for the body's type gets the body."""
    c = console()
    marker = os.path.join(c.home, "viewed")
    with open(os.path.join(c.home, ".mailcap"), "w") as f:
        f.write(f"application/json; cp %s {marker}\n")
    c.curl("-H", "Content-Type: application/json", "-d", '{"a": 1}', f"{origin.url}/post")
    c.wait_for(f"POST {origin.url}/post")
    c.keys("Enter")
    c.wait_for("Request")
    c.keys("v")
    c.wait_until(lambda _: os.path.exists(marker) and os.path.getsize(marker) > 0,
                 "the viewer's file")
    with open(marker, "rb") as f:
        assert f.read() == b'{"a": 1}'
    c.wait_for("Request")  # the console is back


def test_the_cell_being_edited_has_a_background(console, origin):
    """The spec: "The background color will change to show that you are in edit mode"."""
    c = console()
    c.curl(f"{origin.url}/edit")
    c.wait_for(f"GET {origin.url}/edit")
    c.keys("Enter")
    c.wait_for("Request")
    c.keys("e")
    c.wait_for("Edit request")
    c.keys("h")
    c.wait_for("Editing request headers")
    c.keys("l")  # the value of the first header, Host
    assert not EDIT_BACKGROUND.search(c.styled_line_with("127.0.0.1"))
    c.keys("Enter")
    c.wait_until(lambda _: EDIT_BACKGROUND.search(c.styled_line_with("127.0.0.1")),
                 "the edited cell's background")


def test_an_edited_request_cookie_reaches_the_origin(console, origin):
    """Intercept, ``e`` ``c``: the cookie's value changed in the grid; ``a`` sends it on,
    and the origin receives the edited Cookie header."""
    c = console()
    c.set_intercept("~q")
    client = c.curl_background("-H", "Cookie: sid=old; theme=dark", f"{origin.url}/cookie")
    c.wait_for(f"GET {origin.url}/cookie")
    c.keys("Enter")
    c.wait_for("Request intercepted", "sid=old; theme=dark")
    c.keys("e")
    c.wait_for("cookies(c)")
    c.keys("c")
    c.wait_for("Editing request cookies", "sid", "dark")
    c.keys("l", "Enter", "BSpace", "BSpace", "BSpace")
    c.type("new")
    c.keys("Enter", "q")
    c.wait_for("Cookie:", "sid=new; theme=dark")
    c.keys("a")
    out, err = client.communicate(timeout=SCREEN_WAIT)
    assert client.returncode == 0, err
    cookies = [v for k, v in origin.last()["headers"] if k.lower() == "cookie"]
    assert cookies == ["sid=new; theme=dark"]

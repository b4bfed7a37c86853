"""A new user's session with the console, scenario by scenario, as the spec's "mitmproxy"
chapter and the feature chapters that name console keys tell it: the real ``mitmproxy`` in
tmux (conftest's ``console``), curl through it, keys sent as a user types them, and what the
screen, the client and the origin server (which records every request it gets) see.

Two habits of the terminal shape these tests: an ``Escape`` followed at once by another key
reaches the console as one "meta" key, so every Escape is sent alone and followed by a wait
for what it changes on the screen; and what the screen shows is waited for, never slept for.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from libmproxy.flow.io import FlowReader
from netlib.http import user_agents

# How long a client, the origin or the screen may take here; reached only when something
# is broken.
WAIT = 20.0

# How fast a killed client must hear of it: far below curl's own --max-time (WAIT), so a
# client that merely timed out would fail the test.
KILL_WAIT = 5.0

# Between two looks at the origin's record (polling for a condition).
POLL = 0.05

# The grid editor's footer while a cell is edited (console/grideditor/_base.py).
EDITING = "Editing: esc or enter to stop"

# How an intercepted flow is drawn: orange (#f60 on a 256-colour terminal, which tmux is;
# "brown", shown as orange or dark yellow, on a 16-colour one).
ORANGE = re.compile(r"\x1b\[(38;5;202|33)m")


@pytest.fixture(autouse=True)
def _no_clipboard(monkeypatch):
    """Exports ask for a file unless a clipboard tool has a display: make that so for
    every test, whatever the machine running them has."""
    for display in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(display, raising=False)


def wait_requests(origin, count: int) -> list[dict]:
    """The origin's requests once it has had ``count`` of them."""
    deadline = time.monotonic() + WAIT
    while len(origin.requests) < count:
        assert time.monotonic() < deadline, f"the origin got {len(origin.requests)} requests"
        time.sleep(POLL)
    return origin.requests


def header(request: dict, name: str) -> str | None:
    """A request header as the origin got it (None if it did not)."""
    return next((v for k, v in request["headers"] if k.lower() == name.lower()), None)


def styled_line(c, text: str) -> str:
    """The screen line holding ``text``, with its colours (SGR escapes); "" if none."""
    screen = subprocess.run(["tmux", "-L", c.socket, "capture-pane", "-p", "-e"],
                            capture_output=True, text=True, timeout=WAIT).stdout
    return next((line for line in screen.splitlines() if text in line), "")


def stop_editing(c) -> None:
    """End the edit of a grid editor cell."""
    c.keys("Escape")
    c.wait_gone(EDITING)


def no_proxy_env() -> dict[str, str]:
    """The environment without proxy settings: an exported request goes to the server."""
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


# --- 6.1 and 6.2: the flow list and the flow view -----------------------------------------------

def test_flow_list_and_flow_view_with_its_three_view_modes(console, origin):
    c = console("--setheader", ":~s:Content-Type:application/json")
    result = c.curl(f"{origin.url}/json")
    assert result.returncode == 0 and b'"path": "/json"' in result.stdout
    size = len(result.stdout)
    # The spec's two lines: method and URL, then status, content type and size.
    c.wait_for(f"GET {origin.url}/json", f"\u2190 200 application/json {size}b", "[1]")

    c.keys("Enter")
    text = c.wait_for("Flow details", " Request   Response   Detail")
    assert "User-Agent:" in text and "curl/" in text
    assert "No request content (press tab to view response)" in text

    c.keys("Tab")  # the response, pretty-printed: auto mode picked JSON
    text = c.wait_for("[m:Auto]", "Content-Type:", '  "path": "/json",')
    assert re.search(r"^JSON\s+\[m:Auto\]$", text, re.M), text

    c.keys("m")
    c.wait_for("Display mode (auto(a), raw(r), hex(e)")
    c.keys("r")  # raw: exactly what is there, on one line
    text = c.wait_for("[m:Raw]", '{"method": "GET", "path": "/json"')
    assert '  "path": "/json",' not in text

    c.keys("m", "e")  # hex: offsets, bytes, and the text beside them
    c.wait_for("[m:Hex]", "0000000000 7b 22 6d 65 74 68 6f 64 22 3a", '{"method": "GET"')

    c.keys("m", "a")
    c.wait_for("[m:Auto]", '  "path": "/json",')

    c.keys("Tab")  # Detail: connections and timing
    c.wait_for("Client Connection:", "Server Connection:", "Timing:", "Total")
    c.keys("Tab")
    c.wait_for("No request content")
    c.keys("q")
    c.wait_for("Flows", f"GET {origin.url}/json")


# --- 6.3: the grid editor, then replay -----------------------------------------------------------

def test_grid_editor_on_request_headers_and_the_replay_carries_the_edit(console, origin):
    c = console()
    c.curl(f"{origin.url}/edit")
    c.wait_for(f"GET {origin.url}/edit", "\u2190 200")
    c.keys("Enter")
    c.wait_for("Flow details")
    c.keys("e")
    c.wait_for("Edit request (query(q), path(p), url(u), header(h)")
    c.keys("h")
    c.wait_for("Editing request headers", "Accept", "*/*")

    # Rows: Host, User-Agent, Accept, Proxy-Connection. Edit Accept's value in place.
    c.keys("j", "j", "l", "Enter")
    c.wait_for(EDITING)
    c.keys("End", "BSpace", "BSpace", "BSpace")
    c.type("text/plain")
    stop_editing(c)
    c.wait_for("text/plain")

    c.keys("a")  # a new row after Accept, its name being edited
    c.wait_for(EDITING)
    c.type("X-Added")
    c.keys("Tab")
    c.type("yes")
    stop_editing(c)

    c.keys("g", "j", "d")  # delete User-Agent
    c.wait_gone("curl/")

    c.keys("q")
    text = c.wait_for("Flow details", "X-Added:", "text/plain")
    assert "User-Agent:" not in text

    c.keys("r")
    first, replayed = wait_requests(origin, 2)
    assert header(first, "Accept") == "*/*" and header(first, "User-Agent").startswith("curl/")
    assert header(replayed, "Accept") == "text/plain"
    assert header(replayed, "X-Added") == "yes"
    assert header(replayed, "User-Agent") is None
    c.keys("q")
    c.wait_for(f"\u21ba GET {origin.url}/edit")  # the replay mark


def test_grid_editor_sets_a_user_agent_from_the_shortcut_list(console, origin):
    c = console()
    c.curl(f"{origin.url}/agent")
    c.wait_for(f"GET {origin.url}/agent", "\u2190 200")
    c.keys("Enter", "e", "h")
    c.wait_for("Editing request headers", "curl/")
    c.keys("U")
    c.wait_for("Add User-Agent header (android(a), blackberry(l)")
    c.keys("f")
    firefox = user_agents.get_by_key("f").string
    text = c.wait_for(firefox)
    assert "curl/" not in text  # the client's User-Agent row got the new value
    c.keys("q")
    c.wait_for("Flow details", firefox)
    c.keys("r")
    assert header(wait_requests(origin, 2)[1], "User-Agent") == firefox


# --- 6.4: the interception example, step by step -----------------------------------------------

def test_interception_example_edit_the_request_then_accept(console, origin):
    c = console()
    # 1: set an interception pattern.
    c.set_intercept("~q")

    # 2: the request waits, shown in orange.
    client = c.curl_background(f"{origin.url}/intercepted")
    c.wait_for(f"GET {origin.url}/intercepted")
    assert ORANGE.search(styled_line(c, "/intercepted"))
    assert client.poll() is None and origin.requests == []

    # 3: view and modify it: method, URL, a header.
    c.keys("Enter")
    c.wait_for("Request intercepted")
    c.keys("e", "m")
    c.wait_for("Method (get(g), post(p), put(u), head(h), trace(t), delete(d), options(o)")
    c.keys("o")
    c.wait_for(f"OPTIONS {origin.url}/intercepted")
    c.keys("e", "u")
    c.wait_for(f"URL: {origin.url}/intercepted")
    c.keys(*["BSpace"] * len("intercepted"))
    c.type("edited")
    c.keys("Enter")
    c.wait_for(f"OPTIONS {origin.url}/edited")
    c.keys("e", "h")
    c.wait_for("Editing request headers")
    c.keys("G", "a")
    c.wait_for(EDITING)
    c.type("X-Intercepted")
    c.keys("Tab")
    c.type("1")
    stop_editing(c)
    c.keys("q")
    c.wait_for("Flow details", "X-Intercepted:")
    assert client.poll() is None and origin.requests == []

    # 4: accept: the server gets the edited request, the client the server's answer.
    c.keys("a")
    out, err = client.communicate(timeout=WAIT)
    assert client.returncode == 0, err
    answer = json.loads(out)
    assert answer["method"] == "OPTIONS" and answer["path"] == "/edited"
    got = wait_requests(origin, 1)[0]
    assert (got["method"], got["path"], header(got, "X-Intercepted")) == ("OPTIONS", "/edited", "1")
    c.wait_for(f"OPTIONS {origin.url}/edited \u2190 200 OK")
    c.keys("q")
    c.wait_for("Flows", f"OPTIONS {origin.url}/edited")
    assert not ORANGE.search(styled_line(c, "/edited"))


def test_intercept_a_response_edit_its_code_and_body_then_accept(console, origin, tmp_path,
                                                                 monkeypatch):
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'edited by the user' > \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))  # the console's tmux server inherits it
    c = console("-i", "~s")
    c.wait_for("[i:~s]")
    client = c.curl_background("-i", f"{origin.url}/response")
    c.wait_for(f"GET {origin.url}/response")
    wait_requests(origin, 1)  # the server answered; the response is held
    c.wait_until(lambda s: ORANGE.search(styled_line(c, "\u2190 200")) is not None,
                 "the held response in orange")
    assert client.poll() is None

    c.keys("Enter", "Tab")
    c.wait_for("Response intercepted", '"path": "/response"')
    c.keys("e", "o")
    c.wait_for("Code: 200")
    c.keys("BSpace", "BSpace", "BSpace")
    c.type("418")
    c.keys("Enter")
    c.wait_for("\u2190 418 I'm a teapot")
    c.keys("e", "r")  # the body in $EDITOR
    c.wait_for("edited by the user")

    c.keys("a")
    out, err = client.communicate(timeout=WAIT)
    assert client.returncode == 0, err
    assert out.startswith(b"HTTP/1.1 418 I'm a teapot\r\n")
    assert out.endswith(b"\r\n\r\nedited by the user")
    assert len(origin.requests) == 1


# --- actions: replay, duplicate, revert, delete, kill, script ------------------------------------

def test_replay_duplicate_revert_delete_from_the_list_and_the_view(console, origin, tmp_path):
    c = console()
    c.curl(f"{origin.url}/again")
    c.wait_for(f"GET {origin.url}/again", "\u2190 200", "[1]")
    c.keys("r")  # from the list
    c.wait_for(f"\u21ba GET {origin.url}/again")
    wait_requests(origin, 2)

    c.keys("Enter")
    c.wait_for("Flow details")
    c.keys("r")  # from the view
    assert [r["path"] for r in wait_requests(origin, 3)] == ["/again"] * 3

    c.keys("e", "m", "p")  # an edit, then revert it
    c.wait_for(f"POST {origin.url}/again")
    c.keys("V")
    c.wait_for(f"GET {origin.url}/again", "Reverted.")

    script = tmp_path / "mark.py"
    script.write_text("def response(flow):\n    flow.response.headers['X-Script'] = 'ran'\n")
    c.keys("Tab", "|")  # a script on this flow alone
    c.wait_for("Run script on this flow:")
    c.type(str(script))
    c.keys("Enter")
    c.wait_for("X-Script:", "ran")

    c.keys("D")  # the copy is shown
    c.wait_for("Duplicated.", "X-Script:")
    c.keys("d")  # delete it: back to the list
    c.wait_for("Flows", "[1]")
    c.keys("D")
    c.wait_for("[2]")
    c.keys("d")
    c.wait_for("[1]")
    c.keys("d")
    text = c.wait_for("[0]")
    assert "/again" not in text


def test_kill_an_intercepted_flow_from_the_list_and_the_view(console, origin):
    c = console("-i", "~q")
    first = c.curl_background(f"{origin.url}/first")
    c.wait_for(f"GET {origin.url}/first")
    c.keys("X")
    first.communicate(timeout=KILL_WAIT)  # promptly, not curl's own timeout
    assert first.returncode != 0
    c.wait_for("\u2190 Connection killed")

    second = c.curl_background(f"{origin.url}/second")
    c.wait_for(f"GET {origin.url}/second")
    c.keys("G", "Enter")
    c.wait_for("Request intercepted")
    c.keys("X")
    second.communicate(timeout=KILL_WAIT)
    assert second.returncode != 0
    c.wait_for(f"GET {origin.url}/second \u2190 Connection killed")
    assert origin.requests == []


# --- save and load -------------------------------------------------------------------------------

def test_save_then_read_in_a_new_console_then_load(console, origin, tmp_path):
    path = tmp_path / "session.flows"
    c = console()
    c.curl(f"{origin.url}/one")
    c.curl("-d", "x=1", f"{origin.url}/two")
    c.wait_for(f"GET {origin.url}/one", f"POST {origin.url}/two", "[2]")
    c.keys("w")
    c.wait_for("Save (all flows(a), this flow(t), marked flows(m))")
    c.keys("a")
    c.wait_for("Save flows to:")
    c.type(str(path))
    c.keys("Enter")
    c.wait_for("Saved 2 flows")
    with open(path, "rb") as f:
        assert [fl.request.path for fl in FlowReader(f).stream()] == ["/one", "/two"]

    again = console("-r", str(path))
    again.wait_for(f"GET {origin.url}/one", f"POST {origin.url}/two", "[2]")
    again.keys("G", "Enter", "Tab")  # the body came back too
    again.wait_for('"path": "/two"')
    again.keys("q", "L")
    again.wait_for("Load flows:")
    again.type(str(path))
    again.keys("Enter")
    again.wait_for("Loaded 2 flows", "[4]")


# --- export --------------------------------------------------------------------------------------

def export(c, key: str, what: str, path) -> bytes:
    """``E`` then ``key``, saved to ``path`` (no clipboard here); the file's content."""
    c.keys("E")
    c.wait_for("Export (curl command(c), python requests code(p), raw request(r), "
               "raw response(s))")
    c.keys(key)
    c.wait_for(f"Save the {what} to file:")
    c.type(str(path))
    c.keys("Enter")
    c.wait_for(f"Saved the {what} to {path}")
    return path.read_bytes()


def test_export_each_kind_to_a_file(console, origin, tmp_path):
    c = console()
    result = c.curl("-H", "X-Mine: 1", "--data-raw", "a=1&b=two", f"{origin.url}/export?q=1")
    c.wait_for(f"POST {origin.url}/export?q=1", "\u2190 200")
    recorded = wait_requests(origin, 1)[0]

    raw = export(c, "r", "raw request", tmp_path / "request.txt")
    assert raw.startswith(f"POST {origin.url}/export?q=1 HTTP/1.1\r\n".encode())
    assert b"\r\nX-Mine: 1\r\n" in raw and raw.endswith(b"\r\n\r\na=1&b=two")

    raw = export(c, "s", "raw response", tmp_path / "response.txt")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(b"\r\n\r\n" + result.stdout)

    # The two programs send the same request again, straight to the server.
    command = export(c, "c", "curl command", tmp_path / "request.sh").decode()
    assert command.startswith("curl ") and "Proxy-Connection" not in command
    subprocess.run(["sh", "-c", command], capture_output=True, timeout=WAIT,
                   env=no_proxy_env(), check=True)
    code = export(c, "p", "python requests code", tmp_path / "request.py").decode()
    assert "import requests" in code
    subprocess.run([sys.executable, str(tmp_path / "request.py")], capture_output=True,
                   timeout=WAIT, env=no_proxy_env(), check=True)

    for again in wait_requests(origin, 3)[1:]:
        assert (again["method"], again["path"], again["body"]) == \
            ("POST", "/export?q=1", b"a=1&b=two")
        assert header(again, "X-Mine") == "1"
        assert header(again, "User-Agent") == header(recorded, "User-Agent")
        assert header(again, "Content-Type") == "application/x-www-form-urlencoded"


# --- options -------------------------------------------------------------------------------------

def test_options_anticache_takes_effect_at_once(console, origin):
    c = console()
    validators = ("-H", 'If-None-Match: "v1"', "-H",
                  "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT")
    c.curl(*validators, f"{origin.url}/cached")
    assert header(wait_requests(origin, 1)[0], "If-None-Match") == '"v1"'

    c.keys("o")
    c.wait_for("Options", "Anti-Cache")
    c.keys("a")
    c.wait_until(lambda s: re.search(r"Anti-Cache\s+on", s), "Anti-Cache on")
    c.keys("q")
    c.wait_for("Flows", "[anticache]")
    c.curl(*validators, f"{origin.url}/cached")
    second = wait_requests(origin, 2)[1]
    assert header(second, "If-None-Match") is None
    assert header(second, "If-Modified-Since") is None

    c.keys("o", "a")  # and off again
    c.wait_until(lambda s: re.search(r"Anti-Cache\s+off", s), "Anti-Cache off")
    c.keys("q")
    c.wait_gone("[anticache]")
    c.curl(*validators, f"{origin.url}/cached")
    assert header(wait_requests(origin, 3)[2], "If-None-Match") == '"v1"'


def test_replacement_patterns_in_the_grid_editor(console, origin):
    c = console()
    c.keys("o", "R")
    c.wait_for("Editing replacement patterns", "Filter", "Regex", "Replacement")
    c.keys("a")
    c.wait_for(EDITING)
    c.type("~s")
    c.keys("Tab")
    c.type("wanted")
    c.keys("Tab")
    c.type("REPLACED")
    stop_editing(c)
    c.keys("q")
    c.wait_for("Options", "/~s/wanted/REPLACED")
    c.keys("q")
    c.wait_for("Flows", "[R:1]")
    result = c.curl(f"{origin.url}/wanted")
    assert b'"path": "/REPLACED"' in result.stdout
    assert wait_requests(origin, 1)[0]["path"] == "/wanted"  # responses only


# --- help ----------------------------------------------------------------------------------------

# A help screen is longer than the terminal; more pages than this means it never ends.
HELP_PAGES = 20


def help_screen(c, *expected: str) -> None:
    """``?`` shows the screen's keys, then the global ones (read page by page, to the
    filter expressions at its end); ``q`` comes back."""
    c.keys("?")
    page = c.wait_for("Help")
    assert page.splitlines()[0].startswith("Help")
    text = page
    for _ in range(HELP_PAGES):
        if "Filter expressions" in text:
            break
        c.keys("PageDown")
        page = c.wait_until(lambda s, before=page: s != before, "the next page of help")
        text += page
    assert "Global keys" in text
    for key_description in expected:
        assert key_description in text
    c.keys("q")
    c.wait_gone("Global keys")


def test_help_on_every_screen_lists_its_keys(console, origin):
    c = console()
    help_screen(c, "accept all intercepted flows", "toggle the event log")
    c.curl(f"{origin.url}/help")
    c.wait_for(f"GET {origin.url}/help", "\u2190 200")
    c.keys("Enter")
    c.wait_for("Flow details")
    help_screen(c, "change body display mode for this entity", "repeat search forward",
                "run a script on this flow", "previous tab, next tab")
    c.keys("e", "h")
    c.wait_for("Editing request headers")
    help_screen(c, "add row after cursor", "delete row", "add User-Agent header",
                "spawn external editor on current field")
    c.keys("q", "o")
    c.wait_for("Options", "Anti-Cache")
    help_screen(c, "activate option", "Replacement Patterns", "Sticky Cookies")
    c.keys("R")
    c.wait_for("Editing replacement patterns")
    help_screen(c, "add row after cursor")
    c.keys("q", "q", "q")
    c.wait_for("Flows")
    c.keys("?")
    c.wait_for("Help", "accept all intercepted flows")
    c.keys("?", "q")  # help on the help screen is the help itself: one q leaves it
    c.wait_for("Flows", "[1]")

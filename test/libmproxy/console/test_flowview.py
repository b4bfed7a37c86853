"""The flow view in the real console window (conftest's ``window``: a ConsoleMaster serving
nothing and the Window on it): keys are pressed as a user presses them, starting from the
flow list, and what the screen reads is asserted. The Detail tab of a TLS flow is checked on
a flow that the real mitmdump recorded (``-w``) between curl and a TLS origin.
"""
from __future__ import annotations

import gc
import gzip
import json
import os
import stat

import pytest

from libmproxy.console import flowdetail, flowview
from libmproxy.console.flowlist import FlowListView
from libmproxy.console.window import Window
from libmproxy.controller.reply import Reply
from libmproxy.flow import FlowReader
from libmproxy.models import ClientConnection, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection

SIZE = (100, 40)
JSON_BODY = b'{"name": "mitm", "items": [1, 2, {"deep": true}]}'


def http_flow(path: str = "/path?q=1", body: bytes = JSON_BODY, response: bool = True,
              request_headers=(), response_headers=None, method: str = "GET") -> HTTPFlow:
    now = 1_700_000_000.0
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 51000), timestamp_start=now - 0.5),
                    ServerConnection(("example.com", 80), timestamp_start=now - 0.4,
                                     timestamp_tcp_setup=now - 0.35))
    flow.request = HTTPRequest(
        "absolute", method, "http", "example.com", 80, path, "HTTP/1.1",
        [("Host", "example.com"), ("User-Agent", "curl/7.88"), *request_headers], b"",
        now - 0.3, now - 0.3)
    if response:
        headers = response_headers or [("Content-Type", "application/json"),
                                       ("Content-Length", str(len(body)))]
        flow.response = HTTPResponse("HTTP/1.1", 200, "OK", headers, body, now - 0.1, now)
    return flow


class Console:
    """The window of a console without a proxy (conftest's ``window``), and what a user
    does with it."""

    def __init__(self, window: Window, flows: tuple[HTTPFlow, ...],
                 size: tuple[int, int]) -> None:
        self.size = size
        self.window = window
        self.master = window.master
        for flow in flows:
            self.master.state.add_flow(flow)

    def press(self, *keys: str) -> Console:
        """Each key as urwid's loop delivers it: to the window, then a redraw."""
        for key in keys:
            assert self.window.keypress(self.size, key) is None, f"{key!r} was not handled"
            self.render()
        return self

    def type(self, text: str) -> Console:
        return self.press(*text)

    def render(self):
        return self.window.render(self.size, focus=True)

    @property
    def screen(self) -> str:
        return "\n".join(row.decode().rstrip() for row in self.render().text)

    @property
    def view(self):
        return self.window.view

    def attr_of(self, text: str) -> str | None:
        """The palette attribute the first occurrence of ``text`` is drawn in."""
        for row in self.render().content():
            line = b"".join(part for _, _, part in row).decode()
            at = line.find(text)
            if at < 0:
                continue
            column = 0
            for attr, _, part in row:
                width = len(part.decode())
                if column <= at < column + width:
                    return attr
                column += width
        return None

    def open(self, tab: str = "Request") -> Console:
        """Enter on the focused flow in the flow list, then ``tab`` to the named tab."""
        self.press("enter")
        assert isinstance(self.view, flowview.FlowView)
        return self.press(*["tab"] * flowview.TAB_NAMES.index(tab))

    def clear_prompt(self) -> Console:
        """Empty the text prompt (backspace from the end, as a user would)."""
        return self.press("end", *["backspace"] * 200)


@pytest.fixture
def ui(window: Window):
    """ui(*flows, size=SIZE) -> the Console with ``flows`` in its flow list."""
    def make(*flows: HTTPFlow, size: tuple[int, int] = SIZE) -> Console:
        return Console(window, flows, size)
    return make


def value_of(screen: str, label: str) -> str:
    """What a key/value table says for ``label`` (its first row)."""
    for line in screen.splitlines():
        if line.strip().startswith(label + " "):
            return line.strip()[len(label):].strip()
    raise AssertionError(f"no {label!r} row on the screen:\n{screen}")


def tab_line(console: Console) -> str:
    return console.screen.splitlines()[2]


# --- the header and the tabs ------------------------------------------------------------------


def test_summary_headers_and_pretty_json(ui):
    c = ui(http_flow()).open()
    lines = c.screen.splitlines()
    assert lines[0].startswith("Flow details")
    assert "GET http://example.com/path?q=1" in lines[1]
    assert "200 OK" in lines[1]
    assert "Request" in lines[2] and "Response" in lines[2] and "Detail" in lines[2]
    assert "Host:       example.com" in c.screen
    assert "User-Agent: curl/7.88" in c.screen
    c.press("tab")
    screen = c.screen
    assert "Content-Type:   application/json" in screen
    mode_line = next(line for line in screen.splitlines() if line.startswith("JSON"))
    assert mode_line.endswith("[m:Auto]")
    assert '  "name": "mitm",' in screen
    assert '      "deep": true' in screen


def test_tab_cycles_and_highlights_the_current_tab(ui):
    c = ui(http_flow()).open()
    assert c.attr_of("Request") == "heading"
    assert c.attr_of("Response") == "heading_inactive"
    c.press("tab")
    assert c.attr_of("Response") == "heading"
    assert c.attr_of("Request") == "heading_inactive"
    c.press("l")
    assert c.attr_of("Detail") == "heading"
    assert "Client Connection:" in c.screen
    c.press("tab")
    assert c.attr_of("Request") == "heading"
    c.press("h")
    assert c.attr_of("Detail") == "heading"
    c.press("left", "left")
    assert c.attr_of("Request") == "heading"
    c.press("right")
    assert c.attr_of("Response") == "heading"


def test_intercepted_request_is_marked_on_the_request_tab(ui):
    """The spec's screenshot: "Request intercepted      Response"."""
    flow = http_flow(response=False)
    flow.intercepted = True
    c = ui(flow).open()
    assert "Request intercepted" in tab_line(c)
    assert "Response intercepted" not in tab_line(c)
    c.press("tab")
    assert "No response. Press e and edit any aspect to add one." in c.screen


def test_intercepted_response_is_marked_on_the_response_tab(ui):
    flow = http_flow()
    flow.intercepted = True
    c = ui(flow).open()
    assert "Response intercepted" in tab_line(c)
    assert c.attr_of("intercepted") == "intercept"


def test_request_without_body_points_to_the_response(ui):
    c = ui(http_flow(path="/plain")).open()
    assert "No request content (press tab to view response)" in c.screen


# --- bodies and view modes ------------------------------------------------------------------------


def test_m_then_hex_key_shows_a_hex_dump(ui):
    c = ui(http_flow()).open("Response")
    c.press("m")
    assert "Display mode (auto(a), raw(r), hex(e), json(s)" in c.screen.replace("\n", "")
    c.press("e")
    screen = c.screen
    mode_line = next(line for line in screen.splitlines() if line.startswith("Hex"))
    assert mode_line.endswith("[m:Hex]")
    assert "0000000000 7b 22 6e 61 6d 65 22 3a" in screen
    c.press("m", "C")  # clear: back to the default mode
    assert any(line.startswith("JSON") and line.endswith("[m:Auto]")
               for line in c.screen.splitlines())


def test_every_content_view_is_offered_and_shown(ui):
    c = ui(http_flow()).open("Response")
    for view in flowview.contentviews.views:
        c.press("m", view.prompt[1])
        assert f"[m:{view.name}]" in c.screen


def test_default_mode_is_the_options_one(ui):
    c = ui(http_flow()).open("Response")
    c.press("M", "r")
    assert c.master.options.default_view == "Raw"
    assert "[m:Raw]" in c.screen
    assert JSON_BODY.decode() in c.screen


def test_gzip_body_is_decoded_and_says_so(ui):
    body = gzip.compress(JSON_BODY)
    flow = http_flow(body=body, response_headers=[("Content-Type", "application/json"),
                                                  ("Content-Encoding", "gzip")])
    c = ui(flow).open("Response")
    assert "[decoded gzip] JSON" in c.screen
    assert '  "name": "mitm",' in c.screen
    assert flow.response.raw_content == body  # shown decoded, kept as it came


def test_a_view_that_fails_falls_back_to_raw_with_a_note(ui):
    flow = http_flow(body=b"{not json", response_headers=[("Content-Type", "application/json")])
    c = ui(flow).open("Response")
    assert "Couldn't parse: falling back to Raw" in c.screen
    assert "{not json" in c.screen


def test_hostile_bytes_are_shown_escaped(ui):
    flow = http_flow(body=b"\x1b[2Jwiped", response_headers=[
        ("Content-Type", "text/plain"), ("X-Evil", "a\x1b[31mred"),
        ("X-" + "Long" * 40, "value")])
    c = ui(flow).open("Response")
    assert "\x1b" not in c.screen
    assert "\\x1b[2Jwiped" in c.screen
    assert "a\\x1b[31mred" in c.screen
    assert "value" in c.screen  # a very long name wraps in its column, the value stays


def test_large_body_is_cut_with_a_marker_then_extended_and_shown_whole(ui):
    lines = [f"line {i}" for i in range(flowview.VIEW_LINES * 5)]
    flow = http_flow(body="\n".join(lines).encode(),
                     response_headers=[("Content-Type", "text/plain")])
    c = ui(flow).open("Response")
    c.press("G")  # to the end of what is formatted: the marker
    assert c.screen.rstrip().splitlines()[-2] == (
        f"(cut off after {flowview.VIEW_LINES} lines; {len(lines) - flowview.VIEW_LINES} "
        "more; scroll on for more, press f to see all)")
    assert f"line {flowview.VIEW_LINES - 1}" in c.screen
    c.press("down")  # on from the marker: more lines in its place
    assert f"line {flowview.VIEW_LINES}" in c.screen
    c.press("G")
    assert f"(cut off after {flowview.VIEW_LINES * flowview.EXTEND_FACTOR} lines;" in c.screen
    c.press("f", "G")
    assert c.screen.rstrip().splitlines()[-2] == f"line {len(lines) - 1}"
    assert "cut off" not in c.screen


def test_five_megabyte_json_opens_pretty_and_cut(ui):
    items = [{"id": i, "name": f"item {i}", "tags": ["a", "b"], "nested": {"x": i / 2}}
             for i in range(60000)]
    body = json.dumps(items).encode()
    assert len(body) > 4_000_000
    c = ui(http_flow(body=body)).open("Response")
    screen = c.screen
    assert any(line.startswith("JSON") for line in screen.splitlines())
    assert '    "name": "item 0",' in screen
    c.press("G")
    assert "(cut off after 2000 lines;" in c.screen


def test_content_missing(ui):
    flow = http_flow()
    flow.response.raw_content = None
    assert "[content missing]" in ui(flow).open("Response").screen


# --- search ------------------------------------------------------------------------------------


def test_search_highlights_and_jumps_n_and_N(ui):
    lines = [f"row {i}" + (" needle" if i in (100, 200) else "") for i in range(300)]
    flow = http_flow(body="\n".join(lines).encode(),
                     response_headers=[("Content-Type", "text/plain")])
    c = ui(flow).open("Response")
    assert "row 100 needle" not in c.screen
    c.press("/").type("needle").press("enter")
    assert "row 100 needle" in c.screen
    assert c.attr_of("needle") == flowview.SEARCH_ATTR
    assert c.attr_of("row 100") == "text"
    c.press("n")
    assert "row 200 needle" in c.screen
    c.press("n")  # wraps around
    assert "row 100 needle" in c.screen
    assert "continuing at top" in c.screen
    c.press("N")
    assert "row 200 needle" in c.screen
    c.press("/").clear_prompt().type("absent").press("enter")
    assert "Not found: absent" in c.screen


def test_search_finds_header_names_and_values(ui):
    c = ui(http_flow()).open()
    c.press("/").type("curl").press("enter")
    assert c.attr_of("curl") == flowview.SEARCH_ATTR


def test_highlight_spans_fragments_of_different_styles():
    line = [("key", '"name"'), ("text", ": "), ("value", '"mitm"')]
    assert flowview._marked(line, 'e": "m') == [
        ("key", '"nam'), (flowview.SEARCH_ATTR, 'e"'), (flowview.SEARCH_ATTR, ": "),
        (flowview.SEARCH_ATTR, '"m'), ("value", 'itm"')]


# --- editing -----------------------------------------------------------------------------------


def test_edit_header_in_the_grid_editor_changes_the_flow_and_V_reverts(ui):
    flow = http_flow()
    c = ui(flow).open()
    c.press("e")
    assert "Edit request (query(q), path(p), url(u), header(h)" in c.screen.replace("\n", "")
    c.press("h")
    assert c.window.title.text == "Editing request headers"
    c.press("j", "tab", "enter", "end").type("-edited").press("esc", "q")
    assert isinstance(c.view, flowview.FlowView)
    assert flow.request.headers["User-Agent"] == "curl/7.88-edited"
    assert "User-Agent: curl/7.88-edited" in c.screen
    assert flow.modified()
    c.press("V")
    assert flow.request.headers["User-Agent"] == "curl/7.88"
    assert "User-Agent: curl/7.88" in c.screen and "edited" not in c.screen
    assert "Reverted." in c.screen


def test_edit_method_with_the_spec_prompt(ui):
    flow = http_flow()
    c = ui(flow).open().press("e", "m")
    assert "Method (get(g), post(p), put(u), head(h), trace(t), delete(d), options(o), " \
           "edit raw(e))?" in c.screen.replace("\n", "")
    c.press("o")
    assert flow.request.method == "OPTIONS"
    assert "OPTIONS http://example.com/path?q=1" in c.screen
    c.press("e", "m", "e").clear_prompt().type("PURGE").press("enter")
    assert flow.request.method == "PURGE"


def test_edit_url_refuses_a_bad_one_as_typed(ui):
    flow = http_flow()
    c = ui(flow).open().press("e", "u").clear_prompt().type("not a url")
    assert c.window.statusbar.prompting
    c.press("enter")
    assert c.window.statusbar.prompting  # refused: the prompt stays
    c.clear_prompt().type("https://other.example:8443/new?x=2").press("enter")
    assert flow.request.url == "https://other.example:8443/new?x=2"
    assert "GET https://other.example:8443/new?x=2" in c.screen


def test_edit_query_and_form(ui):
    flow = http_flow()
    c = ui(flow).open().press("e", "q")
    assert c.window.title.text == "Editing query"
    c.press("tab", "enter", "end").type("9").press("esc", "q")
    assert flow.request.query["q"] == "19"
    c.press("e", "f")
    assert c.window.title.text == "Editing URL-encoded form"
    c.press("a").type("user").press("tab").type("me").press("esc", "q")
    assert flow.request.urlencoded_form["user"] == "me"
    assert flow.request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_edit_form_over_another_body_asks_first(ui):
    flow = http_flow()
    flow.request.content = b"not a form"
    flow.request.headers["content-type"] = "text/plain"
    c = ui(flow).open().press("e", "f")
    assert "Existing body is not a URL-encoded form. Clear and edit?" in c.screen
    c.press("n")
    assert isinstance(c.view, flowview.FlowView)
    assert flow.request.content == b"not a form"


def test_edit_response_code_and_message(ui):
    flow = http_flow()
    c = ui(flow).open("Response").press("e")
    assert "Edit response (code(o), message(m), header(h), raw body(r), set-cookies(c))?" \
        in c.screen
    c.press("o").clear_prompt().type("4x4").press("enter")
    assert c.window.statusbar.prompting
    c.clear_prompt().type("404").press("enter")
    assert (flow.response.status_code, flow.response.reason) == (404, "Not Found")
    c.press("e", "m").clear_prompt().type("Gone Fishing").press("enter")
    assert flow.response.reason == "Gone Fishing"
    assert "404 Gone Fishing" in c.screen


def test_edit_request_cookies_writes_one_cookie_header_and_V_reverts(ui):
    flow = http_flow(request_headers=[("Cookie", "sid=old"), ("Cookie", "theme=dark")])
    c = ui(flow).open().press("e")
    assert "raw body(r), method(m), cookies(c))?" in c.screen.replace("\n", "")
    c.press("c")
    assert c.window.title.text == "Editing request cookies"
    assert [line.split() for line in c.screen.splitlines()[2:4]] == [["sid", "old"],
                                                                      ["theme", "dark"]]
    c.press("l", "enter", *["backspace"] * 3).type("new value").press("esc")
    c.press("G", "a").type("lang").press("tab").type("en").press("esc", "q")
    assert isinstance(c.view, flowview.FlowView)
    # What the server gets: one Cookie header, a value with a space quoted.
    assert flow.request.headers.get_all("cookie") == ['sid="new value"; theme=dark; lang=en']
    assert 'Cookie:     sid="new value"; theme=dark; lang=en' in c.screen
    c.press("V")
    assert flow.request.headers.get_all("cookie") == ["sid=old", "theme=dark"]
    assert "Reverted." in c.screen


def test_deleting_every_request_cookie_removes_the_header(ui):
    flow = http_flow(request_headers=[("Cookie", "sid=old")])
    c = ui(flow).open().press("e", "c", "d", "q")
    assert "cookie" not in flow.request.headers
    assert "Cookie:" not in c.screen


def test_a_bad_cookie_name_keeps_the_editor_and_the_flow(ui):
    flow = http_flow(request_headers=[("Cookie", "sid=old")])
    c = ui(flow).open().press("e", "c", "enter", "end").type("=x").press("esc", "q")
    assert c.window.title.text == "Editing request cookies"
    assert "Row 1, Name: a cookie name cannot hold '='" in c.screen
    assert flow.request.headers["cookie"] == "sid=old" and not flow.modified()


SET_COOKIE_HEADERS = [("Content-Type", "text/html"),
                      ("Set-Cookie", "sid=abc; Path=/; HttpOnly"),
                      ("Set-Cookie", "theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT")]


def test_edit_set_cookies_and_their_attributes_then_V_reverts(ui):
    flow = http_flow(response_headers=SET_COOKIE_HEADERS)
    c = ui(flow).open("Response").press("e", "c")
    assert c.window.title.text == "Editing Set-Cookie headers"
    assert c.screen.splitlines()[2].split() == ["sid", "abc", "Path=/;", "HttpOnly"]
    c.press("l", "enter", "end").type("2").press("esc")  # sid=abc2
    c.press("l", "enter")
    assert c.window.title.text == "Editing attributes of sid"
    c.press("l", "enter").type("app").press("esc")  # Path=/app; HttpOnly stays unary
    c.press("G", "a").type("Domain").press("tab").type("example.com").press("esc", "q")
    assert c.window.title.text == "Editing Set-Cookie headers"
    c.press("q")
    assert isinstance(c.view, flowview.FlowView)
    assert flow.response.headers.get_all("set-cookie") == [
        "sid=abc2; Path=/app; HttpOnly; Domain=example.com",
        "theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT"]
    assert "Set-Cookie:   sid=abc2; Path=/app; HttpOnly; Domain=example.com" in c.screen
    value, attrs = flow.response.cookies["sid"]
    assert value == "abc2" and attrs["HttpOnly"] is None
    c.press("V")
    assert flow.response.headers.get_all("set-cookie") == [v for k, v in SET_COOKIE_HEADERS
                                                           if k == "Set-Cookie"]
    assert "HttpOnly; Domain" not in c.screen


def test_set_cookie_rows_added_and_deleted(ui):
    flow = http_flow(response_headers=SET_COOKIE_HEADERS)
    c = ui(flow).open("Response").press("e", "c", "d", "G", "a")
    c.type("new").press("tab").type("1").press("esc", "q")
    assert flow.response.headers.get_all("set-cookie") == [
        "theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT", "new=1"]
    c.press("e", "c", "d", "d", "q")
    assert "set-cookie" not in flow.response.headers
    assert flow.response.headers["content-type"] == "text/html"


def test_a_nameless_set_cookie_must_be_named_before_saving(ui):
    flow = http_flow(response_headers=[("Set-Cookie", "orphan; Path=/")])
    c = ui(flow).open("Response").press("e", "c", "l", "enter").type("x").press("esc", "q")
    assert "Row 1, Name: a cookie needs a name" in c.screen
    assert flow.response.headers["set-cookie"] == "orphan; Path=/"
    c.press("enter").type("id").press("esc", "q")
    assert flow.response.headers["set-cookie"] == "id=orphanx; Path=/"


def test_editing_a_missing_response_makes_one(ui):
    flow = http_flow(response=False)
    c = ui(flow).open("Response").press("e", "o").clear_prompt().type("204")
    c.press("enter")
    assert flow.response.status_code == 204
    assert "204 No Content" in c.screen


def test_edit_raw_body_in_the_external_editor(ui, tmp_path, monkeypatch):
    editor = tmp_path / "editor"
    editor.write_text('#!/bin/sh\nsed -i s/mitm/proxy/ "$1"\nprintf "\\n" >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(editor))
    body = gzip.compress(JSON_BODY)
    flow = http_flow(body=body, response_headers=[("Content-Type", "application/json"),
                                                  ("Content-Encoding", "gzip")])
    c = ui(flow).open("Response").press("e", "r")
    # Edited decoded, stored encoded again, the editor's final newline dropped.
    assert flow.response.headers["content-encoding"] == "gzip"
    assert flow.response.content == JSON_BODY.replace(b"mitm", b"proxy")
    assert '"name": "proxy"' in c.screen
    assert flow.modified()


# --- bodies: encode, delete, save, view ---------------------------------------------------------


def test_z_encodes_and_decodes(ui):
    flow = http_flow()
    c = ui(flow).open("Response").press("z")
    assert "Select encoding (gzip(z), deflate(d), brotli(b))?" in c.screen
    c.press("z")
    assert flow.response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(flow.response.raw_content) == JSON_BODY
    assert "[decoded gzip] JSON" in c.screen
    c.press("z")
    assert "content-encoding" not in flow.response.headers
    assert flow.response.raw_content == JSON_BODY


def test_z_on_a_corrupt_body_says_so(ui):
    flow = http_flow(body=b"not gzip", response_headers=[("Content-Encoding", "gzip")])
    c = ui(flow).open("Response").press("z")
    assert "Could not decode - invalid data?" in c.screen
    assert flow.response.raw_content == b"not gzip"


def test_x_deletes_the_body(ui):
    flow = http_flow()
    c = ui(flow).open("Response").press("x", "c")
    assert flow.response.content == b""
    assert "No content" in c.screen
    c.press("x", "m")
    assert "[content missing]" in c.screen


def test_b_saves_the_decoded_body(ui, tmp_path):
    flow = http_flow(body=gzip.compress(JSON_BODY),
                     response_headers=[("Content-Encoding", "gzip")])
    path = tmp_path / "body.json"
    c = ui(flow).open("Response").press("b").type(str(path)).press("enter")
    assert path.read_bytes() == JSON_BODY
    assert f"Saved the body to {path}" in c.screen
    c.press("b").type(str(tmp_path / "no" / "such" / "dir")).press("enter")
    assert "Could not save the body: No such file or directory" in c.screen


def test_v_opens_the_body_in_the_pager(ui, tmp_path, monkeypatch):
    monkeypatch.setenv("PAGER", f"cp -t {tmp_path}")  # the "pager" keeps what it was shown
    flow = http_flow()
    ui(flow).open("Response").press("v")
    copied = [p for p in tmp_path.iterdir() if p.name.startswith("mitmproxy-")]
    assert [p.read_bytes() for p in copied] == [JSON_BODY]
    assert copied[0].suffix == ".json"


def test_body_keys_on_the_detail_tab_say_where_to_go(ui):
    c = ui(http_flow()).open("Detail").press("v")
    assert "Tab to the request or response" in c.screen


def test_b_asks_which_body_when_both_have_one(ui, tmp_path):
    flow = http_flow(method="POST")
    flow.request.content = b"sent=1"
    path = tmp_path / "request.body"
    c = ui(flow).open("Detail").press("b")
    assert "Save body of the (request(q), response(s))?" in c.screen
    c.press("q").type(str(path)).press("enter")
    assert path.read_bytes() == b"sent=1"


# --- flows: save, export, navigate, duplicate, delete, accept, kill, replay -----------------


def test_W_saves_this_flow_and_w_the_flows_in_view(ui, tmp_path):
    one, two = http_flow("/one"), http_flow("/two")
    c = ui(one, two).open()
    c.press("W").type(str(tmp_path / "this")).press("enter")
    c.press("w").type(str(tmp_path / "all")).press("enter")
    with open(tmp_path / "this", "rb") as f:
        assert [f.request.path for f in FlowReader(f).stream()] == ["/one"]
    with open(tmp_path / "all", "rb") as f:
        assert [f.request.path for f in FlowReader(f).stream()] == ["/one", "/two"]
    assert "Saved 2 flows" in c.screen


def test_E_exports_to_a_file_without_a_clipboard(ui, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no clipboard tool here
    c = ui(http_flow()).open().press("E")
    assert "Export (curl command(c), python requests code(p), raw request(r), " \
           "raw response(s))?" in c.screen.replace("\n", "")
    path = tmp_path / "export.sh"
    c.press("c").type(str(path)).press("enter")
    assert path.read_text().startswith("curl -H 'Host: example.com' -H 'User-Agent: curl/7.88'")
    # The status line is clipped at the screen's width; the path is long.
    assert "Saved the curl command to " + str(path)[:20] in c.screen


def test_E_copies_to_the_clipboard_when_there_is_one(ui, tmp_path, monkeypatch):
    copied = tmp_path / "copied"
    tool = tmp_path / "xclip"
    tool.write_text(f'#!/bin/sh\ncat > {copied}\n')
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    c = ui(http_flow()).open().press("E", "s")
    assert copied.read_bytes().startswith(b"HTTP/1.1 200 OK\r\nContent-Type: application/json")
    assert "Copied the raw response to the clipboard" in c.screen


def test_E_falls_back_to_a_file_when_the_clipboard_fails(ui, tmp_path, monkeypatch):
    tool = tmp_path / "xclip"
    tool.write_text("#!/bin/sh\nexit 1\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":99")
    c = ui(http_flow()).open().press("E", "r")
    assert "xclip failed (exit status 1)" in c.screen
    path = tmp_path / "request"
    c.type(str(path)).press("enter")
    assert path.read_bytes().startswith(b"GET http://example.com/path?q=1 HTTP/1.1\r\n")


def test_export_of_what_cannot_be_exported_says_why(ui):
    c = ui(http_flow(response=False)).open().press("E", "s")
    assert "Cannot export the raw response: the flow has no response" in c.screen


def test_space_and_p_move_between_flows(ui):
    c = ui(http_flow("/one"), http_flow("/two")).open("Response")
    c.press(" ")
    assert "http://example.com/two" in c.screen.splitlines()[1]
    assert c.attr_of("Response") == "heading"  # the tab is kept
    assert c.master.state.focus == 1
    c.press(" ")
    assert "No more flows!" in c.screen
    c.press("p")
    assert "http://example.com/one" in c.screen.splitlines()[1]


def test_D_duplicates_and_shows_the_copy(ui):
    flow = http_flow()
    c = ui(flow).open().press("D")
    assert len(c.master.state.flows) == 2
    assert c.view.flow is c.master.state.flows[1] is not flow
    assert "Duplicated." in c.screen


def test_d_deletes_and_goes_back_to_the_list(ui):
    c = ui(http_flow()).open().press("d")
    assert isinstance(c.view, FlowListView)
    assert c.master.state.flows == []


def test_a_accepts_and_X_kills_an_intercepted_flow(ui):
    accepted, killed = http_flow(response=False), http_flow("/kill", response=False)
    c = ui(accepted, killed)
    for flow in (accepted, killed):
        flow.reply = Reply(flow)
        flow.intercept(c.master)
    c.open()
    assert "Request intercepted" in tab_line(c)
    c.press("a")
    assert accepted.reply.acked and not accepted.intercepted
    assert "intercepted" not in tab_line(c)
    c.press(" ", "X")
    assert killed.reply.killed
    assert "Connection killed" in c.screen


def test_killing_a_held_response_shows_the_error_beside_it(ui):
    flow = http_flow()
    c = ui(flow)
    flow.reply = Reply(flow)
    flow.intercept(c.master)
    c.open("Response")
    assert "Response intercepted" in tab_line(c)
    c.press("X")
    assert flow.reply.killed
    assert "← 200 OK (Connection killed)" in c.screen.splitlines()[1]


def test_pipe_runs_a_script_on_this_flow(ui, tmp_path):
    script = tmp_path / "tag.py"
    script.write_text("def response(flow):\n    flow.response.headers['X-Tag'] = 'seen'\n")
    c = ui(http_flow()).open("Response").press("|")
    assert "Run script on this flow:" in c.screen
    c.type(str(script)).press("enter")
    assert value_of(c.screen, "X-Tag:") == "seen"
    # A relative name keeps the message short enough for the status line.
    c.press("|").type("no-such-script.py").press("enter")
    assert "no-such-script.py" in c.screen.splitlines()[-1]  # said, not raised


def test_A_accepts_all(ui):
    flows = [http_flow(f"/{i}", response=False) for i in range(3)]
    c = ui(*flows)
    for flow in flows:
        flow.reply = Reply(flow)
        flow.intercept(c.master)
    c.open().press("A")
    assert not any(flow.intercepted for flow in flows)


def test_replay_problems_are_shown_not_raised(ui):
    flow = http_flow()
    flow.intercepted = True
    c = ui(flow).open().press("r")
    assert "Can't replay while intercepting." in c.screen


def test_the_view_follows_changes_to_its_flow(ui):
    """A response that arrives while the flow is open is shown."""
    flow = http_flow(response=False)
    c = ui(flow).open("Response")
    assert "No response" in c.screen
    flow.response = HTTPResponse("HTTP/1.1", 201, "Created", [("Content-Type", "text/plain")],
                                 b"made it")
    c.master.state.update_flow(flow)
    assert "201 Created" in c.screen
    assert "made it" in c.screen


def test_a_closed_view_stops_listening_to_the_store(ui):
    c = ui(http_flow()).open()
    listening = len(c.master.state.listeners)
    c.press("q")
    assert isinstance(c.view, FlowListView)
    gc.collect()
    assert len(c.master.state.listeners) == listening - 1


def test_help_lists_the_flow_view_keys(ui):
    c = ui(http_flow()).open().press("?")
    screen = c.screen
    for text in ("change body display mode for this entity", "load full body data",
                 "export (curl, python, raw request, raw response)"):
        assert text in screen
    keys = {key for _, entries in flowview.FlowView.help_keys for key, _ in entries}
    assert {"m", "e", "/", "n", "N", "E", "r", "D", "d", "V", "X", "a", "A", "w", "W", "b",
            "v", "z", "f", "p", "space", "tab", "|"} <= keys


# --- the Detail tab -------------------------------------------------------------------------------


def test_detail_tab_of_a_live_tls_flow(ui, pki):
    cert = pki.proxy_store.get_cert("origin.test", ["origin.test", "alt.origin.test"]).cert
    flow = http_flow()
    flow.client_conn.ssl_established = True
    flow.client_conn.sni = "origin.test"
    flow.client_conn.tls_version = "TLSv1.3"
    flow.client_conn.cipher_name = "TLS_AES_256_GCM_SHA384"
    flow.client_conn.alpn_proto_negotiated = b"h2"
    server = flow.server_conn
    server.address = ("origin.test", 443)
    server.ip_address = ("127.0.0.1", 443)
    server.ssl_established = True
    server.sni = "origin.test"
    server.tls_version = "TLSv1.2"
    server.cert = cert
    server.timestamp_ssl_setup = server.timestamp_tcp_setup + 0.02
    c = ui(flow, size=(100, 80)).open("Detail")
    screen = c.screen
    assert "Client Connection:" in screen
    assert value_of(screen, "TLS version") == "TLSv1.3"  # the client's, listed first
    assert value_of(screen, "Cipher") == "TLS_AES_256_GCM_SHA384"
    assert value_of(screen, "ALPN") == "h2"
    assert value_of(screen, "Resolved address") == "127.0.0.1:443"
    assert "Server Certificate:" in screen
    assert value_of(screen, "Subject") == "CN=origin.test"
    assert value_of(screen, "Issuer") == "CN=mitmproxy, O=mitmproxy"
    assert value_of(screen, "Alt names") == "origin.test, alt.origin.test"
    assert value_of(screen, "Type") == "RSA, 2048 bits"
    assert value_of(screen, "Server conn. TLS handshake").endswith("(+170ms)")
    assert value_of(screen, "Server TLS handshake") == "20ms"
    assert value_of(screen, "Waiting for the server") == "200ms"
    assert value_of(screen, "Total") == "300ms"


def test_detail_tab_of_a_tls_flow_recorded_by_mitmdump(ui, mitmdump, tls_origin, pki, tmp_path):
    path = tmp_path / "flows"
    m = mitmdump("--upstream-trusted-ca", pki.origin_ca_cert, "-w", str(path)).started()
    body = m.fetch("--cacert", pki.proxy_ca_cert, f"https://localhost:{tls_origin.port}/tls")
    assert b'"path": "/tls"' in body
    m.wait_for("<<")
    assert m.stop()[0] == 0
    with open(path, "rb") as f:
        (flow,) = list(FlowReader(f).stream())
    sections = dict(flowdetail.details(flow))
    server = dict(sections["Server Connection"])
    assert server["Address"] == f"localhost:{tls_origin.port}"
    assert server["SNI"] == "localhost"
    assert server["TLS version"] == "established"  # the version is not saved in a flow file
    certificate = dict(sections["Server Certificate"])
    assert certificate["Subject"] == "CN=origin.test"
    assert "origin.test" in certificate["Alt names"]
    c = ui(flow, size=(100, 80)).open("Detail")
    screen = c.screen
    assert "Server Certificate:" in screen
    assert value_of(screen, "Subject") == "CN=origin.test"
    assert value_of(screen, "SNI") == "localhost"
    for moment in ("Client conn. established", "First request byte", "Response complete"):
        assert moment in screen
    assert "Total" in screen


def test_detail_of_a_flow_without_connections_or_times(ui):
    flow = HTTPFlow(None, None)
    flow.request = HTTPRequest("relative", "GET", "http", "example.com", 80, "/", "HTTP/1.1",
                               [], b"")
    assert flowdetail.details(flow) == []
    c = ui(flow).open("Detail")
    assert "No details known about this flow." in c.screen


def test_detail_shows_the_error():
    flow = http_flow(response=False)
    from libmproxy.models import Error
    flow.error = Error("Connection refused")
    sections = dict(flowdetail.details(flow))
    assert dict(sections["Error"])["Message"] == "Connection refused"


# --- TCP flows ----------------------------------------------------------------------------------


def test_a_tcp_flow_shows_each_sides_messages(ui):
    from libmproxy.models import TCPFlow, TCPMessage
    flow = TCPFlow(ClientConnection(("127.0.0.1", 51000)), ServerConnection(("example.com", 25)))
    flow.messages = [TCPMessage(True, b"EHLO client\r\n", 1_700_000_000.0),
                     TCPMessage(False, b"250 hello\r\n", 1_700_000_000.5)]
    c = ui(flow).open()
    assert "TCP 127.0.0.1:51000 <-> example.com:25" in c.screen
    assert "EHLO client" in c.screen and "250 hello" not in c.screen
    c.press("tab")
    assert "250 hello" in c.screen and "EHLO" not in c.screen
    c.press("m", "e")
    assert "32 35 30 20 68 65 6c 6c 6f" in c.screen
    c.press("e")
    assert "Not available for a TCP flow" in c.screen
    c.press("E", "c")
    assert "Cannot export the curl command: the flow has no request" in c.screen


# --- the real mitmproxy in tmux: the spec's interception example, in the flow view ------------


def test_intercept_edit_method_accept_then_read_the_response(console, origin):
    """Spec 6.4: set ``~q``, open the intercepted request, ``e`` ``m`` to change the
    method, ``a`` to send it on; then the response's JSON pretty, and in hex after ``m e``."""
    c = console()
    c.set_intercept("~q")
    client = c.curl_background(f"{origin.url}/held")
    c.wait_for(f"GET {origin.url}/held")
    c.keys("Enter")
    c.wait_for("Flow details", "Request intercepted", "Host:")
    c.keys("e")
    c.wait_for("Edit request (")
    c.keys("m")
    c.wait_for("Method (get(g), post(p), put(u)")
    c.keys("o")
    c.wait_for(f"OPTIONS {origin.url}/held")
    c.keys("a")
    out, err = client.communicate(timeout=30)
    assert client.returncode == 0, err
    assert origin.last()["method"] == "OPTIONS"
    c.wait_gone("Request intercepted")
    c.keys("Tab")
    text = c.wait_for('  "method": "OPTIONS",', "[m:Auto]")
    assert any(line.startswith("JSON") for line in text.splitlines())
    c.keys("m")
    c.wait_for("Display mode (")
    c.keys("e")
    c.wait_for("[m:Hex]", "0000000000 7b 22")

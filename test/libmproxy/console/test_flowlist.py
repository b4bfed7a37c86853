"""The flow list as the user reads it (rendered to text) and drives it (keys)."""
from __future__ import annotations

from libmproxy.console import flowlist
from libmproxy.controller.reply import Reply
from libmproxy.models import Error

SIZE = (80, 24)


def attr_of(widget, text, size=SIZE):
    """The palette attribute ``text`` is drawn with (the first place it appears)."""
    for row in widget.render(size, focus=True).content():
        for attr, _, segment in row:
            if text.encode() in segment:
                return attr
    raise AssertionError(f"{text!r} is not on the screen")


def add(master, *flows):
    for f in flows:
        master.state.add_flow(f)


def test_an_entry_is_the_request_then_the_response_line(window, master, make_flow, screen):
    add(master, make_flow("/index.html", content=b"x" * 2048))
    lines = screen(window)
    assert lines[0] == "Flows"
    assert lines[1] == ">> GET http://example.com/index.html"
    assert lines[2] == "   \u2190 200 text/html 2k"


def test_waiting_and_failed_flows(window, master, make_flow, screen):
    waiting = make_flow("/waiting", status=None)
    failed = make_flow("/failed", status=None)
    failed.error = Error("Connection refused")
    add(master, waiting, failed)
    lines = screen(window)
    assert lines[1:4] == [">> GET http://example.com/waiting",
                          "   GET http://example.com/failed",
                          "   \u2190 Connection refused"]
    assert attr_of(window, "Connection refused") == "error"


def test_status_codes_have_their_colours(window, master, make_flow):
    add(master, make_flow("/a", status=302), make_flow("/b", status=503))
    assert attr_of(window, "302") == "code_300"
    assert attr_of(window, "503") == "code_500"


def test_intercepted_flows_are_orange(window, master, make_flow):
    held = make_flow("/held", status=None)
    held.reply = Reply(held)
    add(master, make_flow("/free"), held)
    held.intercept(master)
    assert attr_of(window, "http://example.com/held") == "intercept"
    assert attr_of(window, "http://example.com/free") == "text"
    master.accept(held)
    assert held.reply.done
    assert attr_of(window, "http://example.com/held") == "text"


def test_marks_and_replays(window, master, make_flow, screen, press):
    flow = make_flow("/again")
    flow.request.is_replay = True
    add(master, flow)
    press(window, "m")
    assert screen(window)[1] == ">> \u25cf \u21ba GET http://example.com/again"
    press(window, "U")
    assert "\u25cf" not in screen(window)[1]


def test_showhost_shows_the_host_header(window, master, make_flow, screen):
    flow = make_flow("/")
    flow.request.headers["Host"] = "example.org"
    add(master, flow)
    assert screen(window)[1] == ">> GET http://example.com/"
    master.set_options(showhost=True)
    assert screen(window)[1] == ">> GET http://example.org/"


def test_the_status_bar(window, master, make_flow, screen):
    add(master, make_flow("/1"), make_flow("/2"))
    master.set_options(intercept="~q", limit="~s", anticache=True, showhost=True)
    bar = screen(window)[-2]
    assert bar.startswith("[2]")
    assert "[i:~q] [l:~s]" in bar and "[anticache:showhost]" in bar
    assert bar.endswith("?:help")


def test_keys_move_the_focus(window, master, make_flow, press):
    flows = [make_flow(f"/{i}") for i in range(30)]
    add(master, *flows)
    press(window, "G")
    assert master.state.focus_flow is flows[-1]
    press(window, "g")
    assert master.state.focus_flow is flows[0]
    press(window, "down", "j")
    assert master.state.focus_flow is flows[2]
    press(window, "k")
    assert master.state.focus_flow is flows[1]
    press(window, " ")
    assert master.state.focus > 5  # a page further


def test_follow_mode(window, master, make_flow, press, screen):
    add(master, make_flow("/old"))
    press(window, "F")
    assert "[follow]" in screen(window)[-2]
    add(master, make_flow("/new"))
    assert screen(window)[3] == ">> GET http://example.com/new"


def test_delete_duplicate_clear(window, master, make_flow, press):
    first, second = make_flow("/first"), make_flow("/second")
    add(master, first, second)
    press(window, "D")
    assert [f.request.path for f in master.state.flows] == ["/first", "/second", "/first"]
    press(window, "d")
    assert master.state.flows[0] is second
    press(window, "z")
    assert master.state.flows == []


def test_delete_releases_an_intercepted_client(window, master, make_flow, press):
    held = make_flow("/held", status=None)
    held.reply = Reply(held)
    add(master, held)
    held.intercept(master)
    press(window, "d")
    assert held.reply.done and held.reply.killed
    assert master.state.flows == []


def test_limit_prompt(window, master, make_flow, press, screen):
    add(master, make_flow("/a", status=200), make_flow("/b", status=404))
    press(window, "l", *"~c 404", "enter")
    lines = screen(window)
    assert lines[1] == ">> GET http://example.com/b"
    assert "[l:~c 404]" in lines[-2]
    press(window, "l", *["backspace"] * 6, "enter")
    assert len(master.state.view) == 2 and "[l:" not in screen(window)[-2]


def test_the_event_log_pane(window, master, press, screen):
    master.add_event("something happened")
    assert "something happened" not in "\n".join(screen(window))
    press(window, "e")
    lines = screen(window)
    assert "Event log" in lines and "something happened" in lines
    for i in range(30):
        master.add_event(f"entry {i}")
    press(window, "tab", "g")  # the pane takes the keys: g goes to its first entry
    assert "something happened" in screen(window)
    press(window, "G")
    assert "entry 29" in screen(window) and "something happened" not in screen(window)
    press(window, "z")
    assert "entry 29" not in screen(window)
    press(window, "tab", "e")
    assert "Event log" not in screen(window)


def test_a_click_focuses_then_a_second_opens(window, master, make_flow):
    flows = [make_flow("/one"), make_flow("/two")]
    add(master, *flows)
    window.render(SIZE, focus=True)
    window.mouse_event(SIZE, "mouse press", 1, 5, 3, True)  # row 3: the second entry
    assert master.state.focus_flow is flows[1]


def test_only_the_rows_shown_are_built(window, master, make_flow, monkeypatch, press):
    """With 50,000 flows the list formats only what it draws."""
    add(master, *[make_flow(f"/{i}") for i in range(50_000)])
    formatted = []
    real = flowlist.common.format_flow
    monkeypatch.setattr(flowlist.common, "format_flow",
                        lambda flow, *a: formatted.append(flow) or real(flow, *a))
    press(window, "G", "page up", "page up", "g")
    window.render(SIZE, focus=True)
    assert 0 < len(formatted) < 200


def test_a_tcp_flow(window, master, screen):
    from libmproxy.models import ClientConnection, ServerConnection, TCPFlow, TCPMessage
    flow = TCPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 25)))
    flow.messages.append(TCPMessage(True, b"HELO"))
    master.dispatch("tcp_open", flow)
    assert screen(window)[1:3] == [">> TCP 127.0.0.1:5000 <-> example.com:25",
                                   "   1 messages"]


def test_every_key_the_help_lists_does_something(window):
    """The ``?`` screen lists no key the flow list ignores."""
    view = window.view
    for key_names, _ in flowlist.HELP_KEYS[0][1]:
        for key in key_names.split(" / "):
            assert key in view.actions, key


def test_a_new_request(window, master, press, screen):
    """n: method by key, then the URL (0.18's default to start from); the new flow is
    focused, waiting for a response (r sends it)."""
    press(window, "n")
    assert "Method (get(g), post(p), put(u)" in screen(window)[-2]  # the prompt wraps
    press(window, "p")
    assert screen(window)[-1] == "URL: http://www.example.com/"
    press(window, "backspace", *"/form", "enter")
    (flow,) = master.state.flows
    assert master.state.focus_flow is flow
    assert screen(window)[1] == ">> POST http://www.example.com/form"


def test_a_new_request_with_a_method_typed_and_a_bad_url(window, master, press, screen):
    press(window, "n", "e", *"PURGE", "enter")
    assert screen(window)[-1] == "URL: http://www.example.com/"
    press(window, *["backspace"] * 30, *"nonsense", "enter")
    assert window.statusbar.prompting and "invalid URL" in screen(window)[-1]
    press(window, "esc")
    assert master.state.flows == []
    press(window, "n", "e", *"BAD METHOD", "enter")
    assert window.statusbar.prompting and "not a method name" in screen(window)[-1]


def test_only_the_marked_flows(window, master, make_flow, press, screen):
    flows = [make_flow(f"/{i}") for i in range(4)]
    add(master, *flows)
    press(window, "m", "down", "down", "m")  # mark the first and the third
    press(window, "M")
    lines = screen(window)
    assert "[Marked Flows]" in lines[-2] and lines[-2].startswith("[2]")
    assert [line for line in lines if "GET" in line] == [
        "   \u25cf GET http://example.com/0", ">> \u25cf GET http://example.com/2"]
    press(window, "m")  # unmarked: it leaves the marked view
    assert [f.request.path for f in master.state.view] == ["/0"]
    press(window, "U")
    assert master.state.view == [] and "[0]" in screen(window)[-2]
    press(window, "M")
    assert len(master.state.view) == 4 and "Marked" not in screen(window)[-2]


def test_save_a_body(window, master, make_flow, press, screen, tmp_path):
    """b: which body when both have one, then the file; the body is written decoded."""
    flow = make_flow(content=b"the response")
    flow.request.content = b"the request"
    flow.response.encode("gzip")
    add(master, flow)
    press(window, "b")
    assert screen(window)[-1] == "Save body of the (request(q), response(s))?"
    press(window, "s", *str(tmp_path / "body"), "enter")
    assert (tmp_path / "body").read_bytes() == b"the response"
    assert screen(window, (200, 24))[-1] == f"Saved the body to {tmp_path / 'body'}"
    flow.request.content = b""
    press(window, "b", *str(tmp_path / "only"), "enter")  # one body: no question
    assert (tmp_path / "only").read_bytes() == b"the response"


def test_send_a_flow_to_a_script(window, master, make_flow, press, tmp_path):
    script = tmp_path / "once.py"
    script.write_text("def response(flow): flow.response.status_code = 418\n")
    add(master, make_flow())
    press(window, "|", *str(script), "enter")
    assert master.state.flows[0].response.status_code == 418


def test_export_to_the_clipboard_is_the_export_menu(window, master, make_flow, press,
                                                    screen):
    add(master, make_flow())
    press(window, "C")
    assert screen(window)[-2].startswith("Export (curl command(c)")  # it wraps

"""The grid editor in the real console window: what the user reads on the screen, and
what the editor hands back after keys are pressed."""
from __future__ import annotations

import random
from typing import Any

import pytest

from libmproxy.console import grideditor
from libmproxy.console.grideditor._escape import (
    escape_bytes, escape_text, unescape_bytes, unescape_text,
)


class Calls(list):
    """A callback that records what it was given."""

    def __call__(self, value: Any) -> None:
        self.append(value)


@pytest.fixture
def calls() -> Calls:
    return Calls()


def attrs_of(window: Any, needle: str) -> set[Any]:
    """The palette attributes of the screen's segments that contain ``needle``."""
    found = set()
    for row in window.render((80, 24), focus=True).content():
        for attr, _, segment in row:
            if needle.encode() in segment:
                found.add(attr)
    return found


HEADERS = [(b"Host", b"example.com"), (b"Accept", b"*/*"), (b"X-Dup", b"one"),
           (b"X-Dup", b"two")]


def test_headers_grid_shows_every_header_in_order_duplicates_included(window, calls, screen):
    grideditor.edit_headers(window, "Editing headers", HEADERS, calls)
    lines = screen(window)
    assert lines[0] == "Editing headers"
    assert lines[1].split() == ["Key", "Value"]
    assert [line.split() for line in lines[2:6]] == [
        ["Host", "example.com"], ["Accept", "*/*"], ["X-Dup", "one"], ["X-Dup", "two"]]


def test_unchanged_grid_leaves_without_calling_back(window, calls, screen, press):
    grideditor.edit_headers(window, "Editing headers", HEADERS, calls)
    press(window, "j", "l", "enter", "esc", "q")
    assert calls == []
    assert screen(window)[0] == "Flows"


def test_editing_a_cell_in_place(window, calls, screen, press):
    grideditor.edit_headers(window, "Editing headers", HEADERS, calls)
    press(window, "j", "j", "j", "l")  # the second X-Dup's value
    assert "focusfield" in attrs_of(window, "two")
    press(window, "enter")
    assert "editfield" in attrs_of(window, "two"), "the cell being edited looks different"
    assert "Editing: esc or enter to stop" in "\n".join(screen(window))
    press(window, *"-2")
    press(window, "esc")
    assert screen(window)[5].split() == ["X-Dup", "two-2"]
    press(window, "q")
    assert calls == [[(b"Host", b"example.com"), (b"Accept", b"*/*"), (b"X-Dup", b"one"),
                      (b"X-Dup", b"two-2")]]


def test_enter_also_ends_editing_and_arrows_move(window, calls, press):
    grideditor.edit_headers(window, "Editing headers", HEADERS, calls)
    press(window, "down", "right", "enter", "backspace", "backspace", "backspace", "enter",
          "left", "up", "enter")  # the cursor starts at the end of the text
    press(window, *"-name")
    press(window, "enter", "q")
    assert calls[0][:2] == [(b"Host-name", b"example.com"), (b"Accept", b"")]


def test_add_row_after_and_before_the_focus(window, calls, screen, press):
    grideditor.edit_headers(window, "Editing headers", HEADERS[:2], calls)
    press(window, "a")  # after Host; editing its name at once
    press(window, *"X-After")
    press(window, "tab")  # on to the value, still editing
    press(window, *"1")
    press(window, "esc", "G", "A")  # before the last row (Accept)
    press(window, *"X-Before")
    press(window, "tab")
    press(window, *"2")
    press(window, "esc")
    assert [line.split() for line in screen(window)[2:6]] == [
        ["Host", "example.com"], ["X-After", "1"], ["X-Before", "2"], ["Accept", "*/*"]]
    press(window, "q")
    assert calls == [[(b"Host", b"example.com"), (b"X-After", b"1"), (b"X-Before", b"2"),
                      (b"Accept", b"*/*")]]


def test_delete_rows(window, calls, screen, press):
    grideditor.edit_headers(window, "Editing headers", HEADERS, calls)
    press(window, "j", "j", "d", "d")  # both X-Dup
    assert [line.split()[0] for line in screen(window)[2:4]] == ["Host", "Accept"]
    assert screen(window)[4] == ""
    press(window, "g", "d")
    press(window, "q")
    assert calls == [[(b"Accept", b"*/*")]]


def test_an_empty_grid_says_how_to_add_and_blank_rows_are_dropped(window, calls, screen,
                                                                  press):
    grideditor.edit_headers(window, "Editing headers", [], calls)
    assert "No values. Press a to add some." in "\n".join(screen(window))
    press(window, "a", "esc", "a", "esc")  # two rows left blank
    assert "No values" not in "\n".join(screen(window))
    press(window, "q")
    assert calls == []  # nothing but blank rows: no change
    assert screen(window)[0] == "Flows"


def test_help_lists_the_editor_keys(window, calls, screen, press):
    grideditor.edit_headers(window, "Editing headers", HEADERS, calls)
    press(window, "?")
    shown = "\n".join(screen(window, (80, 60)))
    for line in ("insert row before cursor", "add row after cursor", "delete row",
                 "spawn external editor on current field", "read unescaped value from file",
                 "save changes and exit editor", "escaped Python-style strings"):
        assert line in shown
    press(window, "q")
    assert screen(window)[0] == "Editing headers"


# --- U: a User-Agent from the shortcut list ----------------------------------------------------

def test_U_replaces_the_user_agent_with_a_known_clients(window, calls, screen, press):
    from netlib.http import user_agents
    grideditor.edit_headers(window, "Editing headers",
                            [(b"Host", b"example.com"), (b"user-agent", b"curl/8"),
                             (b"Accept", b"*/*")], calls)
    press(window, "U")
    prompt = "\n".join(screen(window, (120, 24))[-2:])
    assert "Add User-Agent header (android(a), blackberry(l), bingbot(b), chrome(c)" in prompt
    press(window, "c")
    chrome = user_agents.get_by_key("c").string
    lines = screen(window, (160, 24))
    assert lines[3].split(None, 1) == ["user-agent", chrome]  # in place, name as it was
    press(window, "q")
    assert calls == [[(b"Host", b"example.com"), (b"user-agent", chrome.encode()),
                      (b"Accept", b"*/*")]]


def test_U_adds_a_user_agent_row_when_there_is_none(window, calls, screen, press):
    from netlib.http import user_agents
    grideditor.edit_headers(window, "Editing headers", HEADERS[:2], calls)
    press(window, "U", "g")
    googlebot = user_agents.get_by_key("g").string
    assert screen(window, (160, 24))[4].split(None, 1) == ["User-Agent", googlebot]
    press(window, "U", "esc")  # escape: nothing changes
    press(window, "q")
    assert calls == [[*HEADERS[:2], (b"User-Agent", googlebot.encode())]]


def test_U_is_text_while_a_cell_is_edited_and_listed_in_help(window, calls, screen, press):
    grideditor.edit_headers(window, "Editing headers", HEADERS[:1], calls)
    press(window, "l", "enter", "end", "U", "esc")
    assert screen(window)[2].split() == ["Host", "example.comU"]
    press(window, "?")
    assert "add User-Agent header" in "\n".join(screen(window, (80, 60)))
    press(window, "q", "q")
    assert calls == [[(b"Host", b"example.comU")]]


# --- escaped values ---------------------------------------------------------------------------

def test_non_printable_header_bytes_are_shown_escaped_and_survive_editing(window, calls, screen,
                                                                         press):
    odd = b"\x00\x7f\xff\xfe caf\xc3\xa9 \\ \r\n\t\xe2\x80\x8b end"
    grideditor.edit_headers(window, "Editing headers", [(b"X-Odd", odd), (b"Host", b"a")],
                            calls)
    assert screen(window)[2].split(maxsplit=1) == [
        "X-Odd", "\\x00\\x7f\\xff\\xfe café \\\\ \\r\\n\\t\\xe2\\x80\\x8b end"]
    press(window, "j", "l", "enter")
    press(window, *"b")
    press(window, "esc", "q")
    assert calls == [[(b"X-Odd", odd), (b"Host", b"ab")]]


def test_escapes_typed_into_a_cell_become_bytes(window, calls, press):
    grideditor.edit_headers(window, "Editing headers", [(b"X", b"")], calls)
    press(window, "l", "enter")
    press(window, *"a\\x01\\xffé\\u00e9")
    press(window, "esc", "q")
    assert calls == [[(b"X", b"a\x01\xff\xc3\xa9\xc3\xa9")]]


def test_a_bad_escape_is_refused_with_its_reason(window, calls, screen, press):
    grideditor.edit_headers(window, "Editing headers", [(b"X", b"")], calls)
    press(window, "l", "enter")
    press(window, *"C:\\q")
    press(window, "esc")
    assert "Value: invalid escape '\\q' at position 3" in screen(window)[-1]
    assert "field_error" in attrs_of(window, "C:\\q") or \
        "focusfield_error" in attrs_of(window, "C:\\q")
    press(window, "q")
    assert calls == []
    assert screen(window)[0] == "Editing headers"
    assert "Row 1, Value: invalid escape" in screen(window)[-1]
    press(window, "enter", "backspace", "backspace")
    press(window, *"\\\\q")
    press(window, "esc", "q")
    assert calls == [[(b"X", b"C:\\q")]]


def test_a_header_needs_a_name(window, calls, screen, press):
    grideditor.edit_headers(window, "Editing headers", [], calls)
    press(window, "a", "tab")
    press(window, *"v")
    press(window, "esc", "q")
    assert "Row 1, Key: a header needs a name" in screen(window)[-1]
    assert calls == []


def test_escape_round_trip_for_all_bytes():
    rng = random.Random(18)
    samples = [bytes(range(256)), b"", b"\\x41", "ünïcödé ✓ 𝄞".encode()]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(300)]
    for data in samples:
        shown = escape_bytes(data)
        assert shown.isprintable(), shown
        assert unescape_bytes(shown) == data
    for value in ["", "a\\b", "tab\tnew\nline", "\x00\x1b[2J", "é✓𝄞\u200b", "\udc80"]:
        shown = escape_text(value)
        assert shown.isprintable()
        assert unescape_text(shown) == value


def test_query_and_form_editors_give_text_pairs(window, calls, screen, press):
    grideditor.edit_query(window, "Editing query", [("q", "a b"), ("q", "\n")], calls)
    assert screen(window)[0] == "Editing query"
    assert [line.split() for line in screen(window)[2:4]] == [["q", "a", "b"], ["q", "\\n"]]
    press(window, "j", "d", "q")
    assert calls == [[("q", "a b")]]
    grideditor.edit_form(window, "Editing URL-encoded form", [("name", "x")], calls)
    press(window, "l", "enter")
    press(window, *"\\t")
    press(window, "esc", "q")
    assert calls[1] == [("name", "x\t")]


# --- patterns ---------------------------------------------------------------------------------

def test_an_invalid_filter_is_refused_with_its_message(window, calls, screen, press):
    grideditor.edit_replacements(window, [("~q", "foo", "bar")], calls)
    lines = screen(window)
    assert lines[0] == "Editing replacement patterns"
    assert lines[1].split() == ["Filter", "Regex", "Replacement"]
    press(window, "enter", "backspace", "backspace")
    press(window, *"~zz")
    press(window, "esc")
    assert "Filter: invalid filter expression '~zz': unknown operator '~zz'" in screen(window)[-1]
    press(window, "q")
    assert calls == []
    assert screen(window)[0] == "Editing replacement patterns"
    assert "Row 1, Filter: invalid filter expression '~zz'" in screen(window)[-1]
    press(window, "enter", "backspace", "backspace", "backspace")
    press(window, *"~s")
    press(window, "esc", "q")
    assert calls == [[("~s", "foo", "bar")]]
    assert screen(window)[0] == "Flows"


def test_an_invalid_regex_or_replacement_is_refused(window, calls, screen, press):
    grideditor.edit_replacements(window, [], calls)
    press(window, "a")
    press(window, *"~q")
    press(window, "tab")
    press(window, *"fo(o")
    press(window, "esc", "q")
    assert "Row 1, Regex: invalid regular expression 'fo(o'" in screen(window)[-1]
    press(window, "enter")
    press(window, *")")
    press(window, "tab")
    press(window, *"\\9")  # a group the regex does not have
    press(window, "esc", "q")
    assert "Row 1, Replacement: invalid replacement" in screen(window)[-1]
    assert calls == []
    press(window, "enter", "backspace")
    press(window, *"1")
    press(window, "esc", "q")
    assert calls == [[("~q", "fo(o)", "\\1")]]


def test_setheaders_editor(window, calls, screen, press):
    grideditor.edit_setheaders(window, [("~q", "Host", "example.com")], calls)
    assert screen(window)[0] == "Editing header set patterns"
    assert screen(window)[1].split() == ["Filter", "Header", "Value"]
    press(window, "a")
    press(window, *"~s")
    press(window, "tab")
    press(window, *"X-Foo")
    press(window, "tab")
    press(window, *"bar")
    press(window, "esc", "q")
    assert calls == [[("~q", "Host", "example.com"), ("~s", "X-Foo", "bar")]]


def test_edit_list_validates_each_item(window, calls, screen, press):
    def validate(item: str) -> str | None:
        return None if item.endswith(":443") else f"{item!r} has no port 443"

    grideditor.edit_list(window, "Editing ignore patterns", ["a:443"], calls, validate,
                         heading="Regex")
    assert screen(window)[1].strip() == "Regex"
    press(window, "a")
    press(window, *"b:80")
    press(window, "esc", "q")
    assert "Row 2, Regex: 'b:80' has no port 443" in screen(window)[-1]
    press(window, "enter", "backspace", "backspace")
    press(window, *"443")
    press(window, "esc", "q")
    assert calls == [["a:443", "b:443"]]


def test_a_refusing_callback_keeps_the_editor_open(window, screen, press):
    def refuse(value: Any) -> None:
        raise ValueError("the master said no\nsecond line")

    grideditor.edit_list(window, "Editing scripts", [], refuse)
    press(window, "a")
    press(window, *"x")
    press(window, "esc", "q")
    assert screen(window)[0] == "Editing scripts"
    assert screen(window)[-1] == "the master said no"


# --- files and editors ------------------------------------------------------------------------

def test_external_editor_edits_the_escaped_cell(window, calls, monkeypatch, screen, press):
    # A real editor program: sed edits the file in place, as an editor saving would.
    monkeypatch.setenv("EDITOR", "sed -i s/two/2\\\\\\\\x00/")
    grideditor.edit_headers(window, "Editing headers", HEADERS, calls)
    press(window, "G", "l", "e")
    assert screen(window)[5].split() == ["X-Dup", "2\\x00"]
    press(window, "q")
    assert calls[0][-1] == (b"X-Dup", b"2\x00")


def test_a_failing_editor_changes_nothing(window, calls, monkeypatch, screen, press):
    monkeypatch.setenv("EDITOR", "false")
    grideditor.edit_headers(window, "Editing headers", HEADERS, calls)
    press(window, "e")
    assert screen(window)[2].split() == ["Host", "example.com"]
    press(window, "q")
    assert calls == []


def test_read_a_value_from_a_file(window, calls, tmp_path, screen, press):
    escaped = tmp_path / "escaped.txt"
    escaped.write_bytes(b"line\\x01\n")
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"\x00raw\n")
    grideditor.edit_headers(window, "Editing headers", [(b"A", b""), (b"B", b"")], calls)
    press(window, "l", "r")
    assert "Read file:" in screen(window)[-1]
    press(window, *str(escaped))
    press(window, "enter", "j", "R")
    assert "Read unescaped file:" in screen(window)[-1]
    press(window, *str(raw))
    press(window, "enter")
    assert [line.split() for line in screen(window)[2:4]] == [
        ["A", "line\\x01"], ["B", "\\x00raw\\n"]]
    press(window, "r")
    press(window, *str(tmp_path / "missing"))
    press(window, "enter")
    assert screen(window, (200, 24))[-1] == \
        f"Cannot read {tmp_path / 'missing'}: No such file or directory"
    press(window, "q")
    assert calls == [[(b"A", b"line\x01"), (b"B", b"\x00raw\n")]]


def test_a_click_ends_editing_and_picks_a_row(window, calls, screen, press):
    grideditor.edit_headers(window, "Editing headers", HEADERS, calls)
    press(window, "G", "l", "enter", *"!")
    window.mouse_event((80, 24), "mouse press", 1, 3, 2, True)  # on the Host row
    assert "Editing: esc" not in "\n".join(screen(window))
    assert screen(window)[5].split() == ["X-Dup", "two!"]  # the edit stayed in its cell
    assert "focusfield" in attrs_of(window, "example.com")
    press(window, "q")
    assert calls[0][0] == (b"Host", b"example.com") and calls[0][3] == (b"X-Dup", b"two!")


def test_vi_keys_and_tab_move_the_focus(window, calls, press):
    grideditor.edit_replacements(window, [("~q", "a", "b"), ("~s", "c", "d")], calls)
    assert "focusfield" in attrs_of(window, "~q")
    press(window, "l", "l", "l")  # stops at the last column
    assert "focusfield" in attrs_of(window, "b")
    press(window, "tab")  # wraps to the next row's first field
    assert "focusfield" in attrs_of(window, "~s")
    press(window, "k", "h")
    assert "focusfield" in attrs_of(window, "~q")
    press(window, "G")
    assert "focusfield" in attrs_of(window, "~s")
    press(window, "g")
    assert "focusfield" in attrs_of(window, "~q")


# --- cookies ----------------------------------------------------------------------------------

SET_COOKIES = [("sid", "abc", [("Path", "/"), ("HttpOnly", None)]),
               ("theme", "dark", [("Expires", "Wed, 21 Oct 2037 07:28:00 GMT")])]


def test_request_cookies_grid_keeps_a_bare_cookie_bare(window, calls, screen, press):
    grideditor.edit_cookies(window, "Editing request cookies",
                            [("sid", "abc"), ("flag", None), ("empty", "")], calls)
    lines = screen(window)
    assert lines[0] == "Editing request cookies"
    assert [line.split() for line in lines[1:5]] == [
        ["Name", "Value"], ["sid", "abc"], ["flag"], ["empty"]]
    press(window, "l", "enter", *"-2", "esc", "q")
    assert calls == [[("sid", "abc-2"), ("flag", None), ("empty", "")]]


def test_a_bare_cookie_given_a_value_gets_it(window, calls, press):
    grideditor.edit_cookies(window, "Editing request cookies", [("flag", None)], calls)
    press(window, "l", "enter", *"on", "esc", "q")
    assert calls == [[("flag", "on")]]


@pytest.mark.parametrize("name, message", [
    ("", "Row 1, Name: a cookie needs a name"),
    ("a=b", "Row 1, Name: a cookie name cannot hold '='"),
    ("two words", "Row 1, Name: a cookie name cannot hold ' '"),
    ("semi;colon", "Row 1, Name: a cookie name cannot hold ';'"),
    ("caf\\u00e9", "Row 1, Name: a cookie name cannot hold 'é'"),
])
def test_a_bad_cookie_name_is_refused_with_its_reason(window, calls, screen, press, name,
                                                      message):
    grideditor.edit_cookies(window, "Editing request cookies", [], calls)
    press(window, "a", *name, "tab", *"v", "esc", "q")
    assert message in screen(window)[-1]
    assert calls == []
    assert screen(window)[0] == "Editing request cookies"


def test_cookie_names_browsers_take_are_kept(window, calls, press):
    """Not an RFC token, but sent by real servers (PHP arrays) and kept by browsers."""
    grideditor.edit_cookies(window, "Editing request cookies", [], calls)
    press(window, "a", *"cart[1]", "tab", *"2", "esc", "q")
    assert calls == [[("cart[1]", "2")]]


def test_set_cookie_grid_shows_attributes_in_cookie_syntax(window, calls, screen, press):
    grideditor.edit_set_cookies(window, "Editing Set-Cookie headers", SET_COOKIES, calls)
    lines = screen(window, (100, 24))
    assert lines[1].split() == ["Name", "Value", "Attributes"]
    assert lines[2].split() == ["sid", "abc", "Path=/;", "HttpOnly"]
    assert lines[3].split(maxsplit=2) == ["theme", "dark",
                                          "Expires=Wed, 21 Oct 2037 07:28:00 GMT"]
    press(window, "q")
    assert calls == []  # nothing changed


def test_enter_on_attributes_opens_their_own_grid(window, calls, screen, press):
    grideditor.edit_set_cookies(window, "Editing Set-Cookie headers", SET_COOKIES, calls)
    press(window, "l", "l", "enter")
    lines = screen(window)
    assert lines[0] == "Editing attributes of sid"
    assert [line.split() for line in lines[1:4]] == [["Name", "Value"], ["Path", "/"],
                                                     ["HttpOnly"]]  # unary: no value
    press(window, "l", "enter", *"app", "esc")  # Path=/app
    press(window, "G", "a", *"Domain", "tab", *"example.com", "esc", "q")
    assert screen(window)[0] == "Editing Set-Cookie headers"
    assert screen(window, (100, 24))[2].split() == [
        "sid", "abc", "Path=/app;", "HttpOnly;", "Domain=example.com"]
    press(window, "q")
    assert calls == [[("sid", "abc", [("Path", "/app"), ("HttpOnly", None),
                                      ("Domain", "example.com")]), SET_COOKIES[1]]]


def test_an_emptied_attribute_value_makes_it_unary(window, calls, press):
    grideditor.edit_set_cookies(window, "Editing Set-Cookie headers", SET_COOKIES[:1], calls)
    press(window, "l", "l", "enter", "l", "enter", "backspace", "esc", "q", "q")
    assert calls == [[("sid", "abc", [("Path", None), ("HttpOnly", None)])]]


def test_bad_attributes_are_refused_in_their_grid(window, calls, screen, press):
    grideditor.edit_set_cookies(window, "Editing Set-Cookie headers", SET_COOKIES[:1], calls)
    press(window, "l", "l", "enter", "a", "tab", *"x", "esc", "q")
    assert "Row 2, Name: an attribute needs a name" in screen(window)[-1]
    press(window, "h", "enter", *"Max Age", "esc", "q")
    assert "Row 2, Name: an attribute name cannot hold ' '" in screen(window)[-1]
    press(window, "enter", *["backspace"] * len("Max Age"), *"Domain", "esc")
    press(window, "l", "enter", *";y", "esc", "q")
    assert "Row 2, Value: ';' would end the attribute" in screen(window)[-1]
    assert screen(window)[0] == "Editing attributes of sid"
    press(window, "d", "q", "q")
    assert calls == []  # the bad row deleted: nothing changed


def test_tab_while_editing_stops_before_the_attributes(window, calls, screen, press):
    grideditor.edit_set_cookies(window, "Editing Set-Cookie headers", SET_COOKIES[:1], calls)
    press(window, "l", "enter", *"2", "tab")
    assert "Editing: esc" not in "\n".join(screen(window))
    assert "focusfield" in attrs_of(window, "Path=/")
    press(window, "q")
    assert calls == [[("sid", "abc2", SET_COOKIES[0][2])]]


def test_the_attributes_line_in_the_external_editor(window, calls, monkeypatch, screen,
                                                    press):
    monkeypatch.setenv("EDITOR", "sed -i s/HttpOnly/Secure;SameSite=Lax/")
    grideditor.edit_set_cookies(window, "Editing Set-Cookie headers", SET_COOKIES[:1], calls)
    press(window, "l", "l", "e")
    assert screen(window)[2].split() == ["sid", "abc", "Path=/;", "Secure;SameSite=Lax"]
    press(window, "q")
    assert calls == [[("sid", "abc", [("Path", "/"), ("Secure", None),
                                      ("SameSite", "Lax")])]]


def test_an_unreadable_attributes_line_says_why_and_opens_nothing(window, calls, monkeypatch,
                                                                  screen, press):
    monkeypatch.setenv("EDITOR", "sed -i s/Path=/=/")
    grideditor.edit_set_cookies(window, "Editing Set-Cookie headers", SET_COOKIES[:1], calls)
    press(window, "l", "l", "e")
    assert "Attributes: an attribute needs a name" in screen(window)[-1]
    press(window, "enter")
    assert screen(window)[0] == "Editing Set-Cookie headers"
    assert "Attributes: an attribute needs a name (e edits the text)" in screen(window)[-1]
    press(window, "q")
    assert "Row 1, Attributes: an attribute needs a name" in screen(window)[-1]
    assert calls == []


def test_attributes_read_from_a_file(window, calls, tmp_path, press):
    raw = tmp_path / "attrs"
    raw.write_bytes(b"Path=/x; HttpOnly")
    grideditor.edit_set_cookies(window, "Editing Set-Cookie headers", SET_COOKIES[:1], calls)
    press(window, "l", "l", "R", *str(raw), "enter", "q")
    assert calls == [[("sid", "abc", [("Path", "/x"), ("HttpOnly", None)])]]


def test_set_cookie_help_says_enter_opens_the_attributes(window, calls, screen, press):
    grideditor.edit_set_cookies(window, "Editing Set-Cookie headers", SET_COOKIES, calls)
    press(window, "?")
    assert "on Attributes: edit them in a grid of their own" in "\n".join(
        screen(window, (80, 60)))

"""The options screen (``o``) on a real ConsoleMaster: every option's key changes the
master's options (and so what happens to the next flow), the screen shows the values, and
a refused change is shown and changes nothing. The last tests run the real ``mitmproxy``
in tmux with curl through it."""
from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from libmproxy.console.options import OptionsView
from libmproxy.flow.io import FlowWriter

TALL = (160, 40)  # every option on one screen, long paths whole


@pytest.fixture
def options_view(window: Any) -> OptionsView:
    window.push(OptionsView(window))
    return window.view


def option_line(window: Any, screen: Any, label: str) -> list[str]:
    """[key, label, value] of the option ``label`` as shown."""
    line = next(line for line in screen(window, TALL) if re.search(rf"\s{label}\s", line + " "))
    return re.split(r"\s{2,}", line.strip())


def status(window: Any, screen: Any) -> str:
    return screen(window, (200, 24))[-1]


def test_the_screen_lists_every_option_with_key_and_value(window, options_view, screen):
    lines = screen(window, TALL)
    assert lines[0] == "Options"
    for heading in ("Traffic Manipulation", "Interface", "Network", "Utility", "Replay"):
        assert heading in lines
    expected = [
        ("H", "Header Set Patterns", "off"), ("I", "Ignore Patterns", "off"),
        ("R", "Replacement Patterns", "off"), ("S", "Scripts", "off"),
        ("M", "Default Display Mode", "auto"), ("P", "Palette", "dark"),
        ("w", "Show Host", "off"),
        ("U", "No Upstream Certs", "off"), ("T", "TCP Proxying", "off"),
        ("b", "Stream Large Bodies", "off"), ("a", "Anti-Cache", "off"),
        ("o", "Anti-Compression", "off"), ("x", "Kill Extra", "off"),
        ("f", "No Refresh", "off"), ("A", "Sticky Auth", "off"),
        ("t", "Sticky Cookies", "off"), ("c", "Client Replay", "off"),
        ("s", "Server Replay", "off"),
    ]
    for key, label, value in expected:
        assert option_line(window, screen, label) == [key, label, value]


@pytest.mark.parametrize("key, label, name, on", [
    ("a", "Anti-Cache", "anticache", True),
    ("o", "Anti-Compression", "anticomp", True),
    ("w", "Show Host", "showhost", True),
    ("x", "Kill Extra", "kill", True),
    ("f", "No Refresh", "refresh_server_playback", False),
    ("U", "No Upstream Certs", "no_upstream_cert", True),
])
def test_toggles(window, options_view, master, screen, press, key, label, name, on):
    press(window, key)
    assert getattr(master.options, name) is on
    assert option_line(window, screen, label)[2] == "on"
    press(window, key)
    assert getattr(master.options, name) is not on
    assert option_line(window, screen, label)[2] == "off"


def test_enter_and_space_activate_the_focused_option(window, options_view, master, screen,
                                                     press):
    press(window, "enter")  # the first option: header set patterns
    assert screen(window)[0] == "Editing header set patterns"
    press(window, "q")
    assert screen(window)[0] == "Options"
    for _ in range(len(options_view.walker)):
        if options_view.walker.get_focus()[0].option.label == "Anti-Cache":
            break
        press(window, "j")
    press(window, " ")
    assert master.options.anticache is True
    press(window, "k", "enter")  # up to Stream Large Bodies (above the heading): its prompt
    assert "Stream bodies larger than" in status(window, screen)


@pytest.mark.parametrize("key, label, name, prompt", [
    ("t", "Sticky Cookies", "stickycookie", "Sticky cookie filter"),
    ("A", "Sticky Auth", "stickyauth", "Sticky auth filter"),
])
def test_filter_options_are_prompted_and_checked_as_typed(window, options_view, master, screen,
                                                          press, key, label, name, prompt):
    press(window, key)
    assert status(window, screen).startswith(f"{prompt}:")
    press(window, *"~zz", "enter")
    assert "unknown operator '~zz'" in status(window, screen)  # refused, the prompt stays
    assert getattr(master.options, name) is None
    press(window, "backspace", "backspace", "backspace", *"~d example.com", "enter")
    assert getattr(master.options, name) == "~d example.com"
    assert option_line(window, screen, label) == [key, label, "~d example.com"]
    press(window, key)
    assert status(window, screen) == f"{prompt}: ~d example.com"  # the current value
    press(window, *["backspace"] * len("~d example.com"), "enter")
    assert getattr(master.options, name) is None


def test_stream_large_bodies(window, options_view, master, screen, press):
    press(window, "b", *"lots", "enter")
    assert "invalid size 'lots'" in status(window, screen)
    press(window, "esc")
    assert master.options.stream_large_bodies is None
    press(window, "b", *"1.5m", "enter")
    assert master.options.stream_large_bodies == 1572864
    assert option_line(window, screen, "Stream Large Bodies")[2] == "1.5m"
    press(window, "b", "backspace", "backspace", "backspace", "backspace", "enter")
    assert master.options.stream_large_bodies is None


def write_flows(path: Any, flows: list[Any]) -> str:
    with open(path, "wb") as f:
        writer = FlowWriter(f)
        for flow in flows:
            writer.add(flow)
    return str(path)


@pytest.mark.parametrize("key, label, name", [
    ("c", "Client Replay", "client_replay"),
    ("s", "Server Replay", "server_replay"),
])
def test_replay_files(window, options_view, master, screen, press, make_flow, tmp_path, key,
                      label, name):
    missing = str(tmp_path / "missing")
    press(window, key, *missing, "enter")
    assert "cannot read flows: No such file or directory" in status(window, screen)
    assert getattr(master.options, name) == []  # refused: nothing changed
    path = write_flows(tmp_path / "saved", [make_flow()])
    press(window, key, *path, "enter")
    assert getattr(master.options, name) == [path]
    assert option_line(window, screen, label)[2] == path
    press(window, key, *["backspace"] * len(path), "enter")
    assert getattr(master.options, name) == []


def test_default_display_mode(window, options_view, master, screen, press):
    press(window, "M")
    assert "Global default display mode (auto(a), raw(r), hex(e), json(s)" in \
        status(window, screen)
    press(window, "s")
    assert master.options.default_view == "JSON"
    assert option_line(window, screen, "Default Display Mode")[2] == "JSON"
    press(window, "C")
    assert master.options.default_view == "auto"


def test_palette_is_chosen_with_one_key(window, options_view, master, screen, press):
    press(window, "P")
    assert "Palette (dark(d), light(l), lowdark(o)" in status(window, screen)
    press(window, "l")
    assert master.options.palette == "light"
    assert option_line(window, screen, "Palette")[2] == "light"


# --- list options in the grid editor ----------------------------------------------------------

def test_replacement_patterns(window, options_view, master, screen, press):
    press(window, "R")
    assert screen(window)[0] == "Editing replacement patterns"
    press(window, "a", *"~zz", "tab", *"foo", "tab", *"bar", "esc", "q")
    assert "Row 1, Filter: invalid filter expression '~zz'" in status(window, screen)
    assert master.options.replacements == []
    press(window, "enter", "backspace", "backspace", "backspace", *"~q", "esc", "q")
    assert master.options.replacements == [("~q", "foo", "bar")]
    assert screen(window)[0] == "Options"
    assert option_line(window, screen, "Replacement Patterns")[2] == "/~q/foo/bar"
    press(window, "R")
    assert screen(window)[2].split() == ["~q", "foo", "bar"]  # the current patterns


def test_header_set_patterns(window, options_view, master, screen, press):
    press(window, "H", "a", *"~q", "tab", *"X-Foo", "tab", *"bar", "esc", "q")
    assert master.options.setheaders == [("~q", "X-Foo", "bar")]
    assert option_line(window, screen, "Header Set Patterns")[2] == "/~q/X-Foo/bar"


@pytest.mark.parametrize("key, label, name, title", [
    ("I", "Ignore Patterns", "ignore_hosts", "Editing ignore patterns"),
    ("T", "TCP Proxying", "tcp_hosts", "Editing TCP host patterns"),
])
def test_host_patterns(window, options_view, master, screen, press, key, label, name, title):
    press(window, key)
    assert screen(window)[0] == title
    assert screen(window)[1].strip() == "Regex (matched on hostname:port / ip:port)"
    press(window, "a", *"example(", "esc", "q")
    assert "Row 1, Regex (matched on hostname:port / ip:port): invalid host pattern " \
        "'example('" in status(window, screen)
    assert getattr(master.options, name) == []
    press(window, "enter", "backspace", *r"\.com:443", "esc", "q")
    assert getattr(master.options, name) == [r"example\.com:443"]
    assert option_line(window, screen, label)[2] == r"example\.com:443"


def test_scripts(window, options_view, master, screen, press, tmp_path):
    good = tmp_path / "good.py"
    good.write_text("def request(flow):\n    flow.request.headers['X-Script'] = 'yes'\n")
    broken = tmp_path / "broken.py"
    broken.write_text("def request(flow:\n")
    press(window, "S")
    assert screen(window)[1].strip() == "Command"
    press(window, "a", *str(tmp_path / "nothere.py"), "esc", "q")
    assert "script file not found" in status(window, screen)
    press(window, "d", "a", *str(broken), "esc", "q")
    assert screen(window)[0] == "Editing scripts"  # the master refused it: still editing
    assert "broken.py" in status(window, screen)
    assert master.options.scripts == []
    press(window, "d", "a", *str(good), "esc", "q")
    assert master.options.scripts == [str(good)]
    assert option_line(window, screen, "Scripts")[2] == str(good)


# --- clear all, refusals, help ----------------------------------------------------------------

def test_clear_all_resets_every_option_but_the_palette(window, options_view, master, screen,
                                                       press):
    master.set_options(anticache=True, showhost=True, refresh_server_playback=False,
                       stickycookie="~q", replacements=[("~q", "a", "b")],
                       ignore_hosts=["x:443"], stream_large_bodies=100, palette="light")
    options_view.refresh()
    assert option_line(window, screen, "Anti-Cache")[2] == "on"
    press(window, "C")
    assert status(window, screen) == "All options cleared."
    defaults = type(master.options)()
    for option in ("anticache", "showhost", "refresh_server_playback", "stickycookie",
                   "replacements", "ignore_hosts", "stream_large_bodies"):
        assert getattr(master.options, option) == getattr(defaults, option), option
    assert master.options.palette == "light"
    assert option_line(window, screen, "Anti-Cache")[2] == "off"
    assert option_line(window, screen, "Sticky Cookies")[2] == "off"


def test_a_refused_change_is_shown_and_changes_nothing(window, options_view, master, screen,
                                                       press):
    def refuse(**changes: Any) -> None:
        raise ValueError("anticache: not today\n(details)")

    before = dataclasses.replace(master.options)
    master.set_options = refuse
    press(window, "a")
    assert status(window, screen) == "anticache: not today"
    assert master.options == before
    assert option_line(window, screen, "Anti-Cache")[2] == "off"


def test_help_lists_every_option_key(window, options_view, screen, press):
    press(window, "?")
    text = "\n".join(screen(window, (80, 80)))
    for key, label in (("a", "Anti-Cache"), ("R", "Replacement Patterns"),
                       ("C", "clear all options"), ("enter / space", "activate option")):
        assert re.search(rf"{re.escape(key)}\s+{re.escape(label)}", text), label


def test_q_goes_back_to_the_flow_list(window, options_view, screen, press):
    press(window, "q")
    assert screen(window)[0] == "Flows"


# --- the option takes effect for the next flow ------------------------------------------------

def test_anticache_from_the_screen_strips_conditional_headers_of_the_next_flow(
        window, options_view, master, press, make_flow):
    def request_through_chain() -> Any:
        flow = make_flow(status=None)
        flow.request.headers["If-None-Match"] = '"abc"'
        flow.request.headers["If-Modified-Since"] = "Mon, 01 Jan 2024 00:00:00 GMT"
        master.dispatch("request", flow)
        return flow.request.headers

    assert "If-None-Match" in request_through_chain()
    press(window, "a")
    headers = request_through_chain()
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers
    press(window, "a")
    assert "If-None-Match" in request_through_chain()


def test_anticache_in_the_real_console_with_curl(console, origin):
    c = console()
    conditional = ["-H", 'If-None-Match: "abc"']
    assert c.curl(*conditional, f"{origin.url}/before").returncode == 0
    assert ("If-None-Match", '"abc"') in origin.last()["headers"]
    c.keys("o")
    c.wait_for("Anti-Cache")
    c.keys("a")
    c.wait_until(lambda s: re.search(r"Anti-Cache\s+on", s) is not None, "Anti-Cache on")
    c.keys("q")
    c.wait_for("Flows")
    assert c.curl(*conditional, f"{origin.url}/after").returncode == 0
    assert origin.last()["path"] == "/after"
    assert "If-None-Match" not in [name for name, _ in origin.last()["headers"]]


def test_replacements_edited_in_the_real_console_apply_to_the_next_request(console, origin):
    c = console()
    c.keys("o")
    c.wait_for("Replacement Patterns")
    c.keys("R")
    c.wait_for("Editing replacement patterns", "No values. Press a to add some.")
    c.keys("a")
    c.type("~q")
    c.keys("Tab")
    c.type("/before")
    c.keys("Tab")
    c.type("/after")
    c.keys("Escape")
    c.wait_gone("Editing: esc or enter")  # urwid has read the escape on its own
    c.keys("q")
    c.wait_until(lambda s: re.search(r"Replacement Patterns\s+/~q//before//after", s) is not None,
                 "the new pattern on the options screen")
    c.keys("q")
    c.wait_for("Flows")
    assert c.curl(f"{origin.url}/before").returncode == 0
    assert origin.last()["path"] == "/after"

"""The window: the view stack, prompts, status messages, help, external programs, and that
a failing view never ends the console."""
from __future__ import annotations

import sys

import urwid


class Screen(urwid.WidgetWrap):
    """A view as views are made: a widget with a title, help keys and refresh()."""

    title = "Test screen"
    help_keys = [("Test screen", [("x", "do the thing")])]

    def __init__(self) -> None:
        self.refreshed = 0
        super().__init__(urwid.Filler(urwid.Text("test screen body")))

    def refresh(self) -> None:
        self.refreshed += 1

    def selectable(self) -> bool:
        return True

    def keypress(self, size, key):
        if key == "x":
            raise RuntimeError("the view broke")
        return key


def test_push_and_pop(window, screen, press):
    view = Screen()
    window.push(view)
    lines = screen(window)
    assert lines[0] == "Test screen" and "test screen body" in lines
    assert lines[-2].endswith("?:help q:back")
    below = Screen()
    window.push(below)
    window.pop()
    assert view.refreshed == 1
    press(window, "q")  # q goes back
    assert screen(window)[0] == "Flows"
    window.pop()  # the flow list stays
    assert screen(window)[0] == "Flows"


def test_prompt_with_validation(window, screen, press):
    answers = []
    window.prompt("Number", answers.append,
                  validate=lambda t: None if t.isdigit() else "digits only")
    press(window, "1", "x")
    assert "Number: 1x" in screen(window)[-1] and "digits only" in screen(window)[-1]
    press(window, "enter")
    assert answers == [] and window.statusbar.prompting  # refused: the prompt stays
    press(window, "backspace", "2", "enter")
    assert answers == ["12"] and not window.statusbar.prompting


def test_prompt_escape_cancels(window, press):
    answers = []
    window.prompt("Text", answers.append, text="preset")
    press(window, "esc")
    assert answers == [] and not window.statusbar.prompting


def test_prompt_onekey(window, screen, press):
    answers = []
    window.prompt_onekey("Choose", [("apple", "a"), ("banana", "b")], answers.append)
    assert screen(window)[-1] == "Choose (apple(a), banana(b))?"
    press(window, "z")  # not a choice: ignored
    press(window, "b")
    assert answers == ["b"] and not window.statusbar.prompting


def test_status_message(window, screen):
    window.status("Hello there")
    assert screen(window)[-1] == "Hello there"


def test_help_shows_the_views_keys_and_the_global_ones(window, screen, press):
    window.push(Screen())
    press(window, "?")
    text = "\n".join(screen(window, (80, 200)))
    assert "do the thing" in text and "set the interception pattern" in text
    assert "~q" in text  # the filter expressions
    press(window, "q")
    assert screen(window)[0] == "Test screen"


def test_intercept_prompt(window, master, screen, press):
    press(window, "i", "~", "z", "enter")
    assert window.statusbar.prompting  # a bad filter is refused
    press(window, "backspace", "q", "enter")
    assert master.options.intercept == "~q" and "[i:~q]" in screen(window)[-2]
    press(window, "i", "backspace", "backspace", "enter")
    assert master.options.intercept is None


def test_a_failing_view_does_not_end_the_console(window, master, screen, press):
    window.push(Screen())
    press(window, "x")
    assert "the view broke" in screen(window)[-1]
    assert any("RuntimeError" in message for _, message in master.events)


def test_quit_asks_first(window, master, press):
    press(window, "q", "n")
    assert not master.should_exit.is_set()
    press(window, "q", "y")
    assert master.should_exit.is_set()


def test_spawn_editor(window, tmp_path, monkeypatch):
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\np = sys.argv[1]\n"
                      "open(p, 'ab').write(b' edited')\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    assert window.spawn_editor(b"text") == b"text edited"
    monkeypatch.setenv("EDITOR", "false")
    assert window.spawn_editor(b"text") is None
    monkeypatch.setenv("EDITOR", str(tmp_path / "no-such-editor"))
    assert window.spawn_editor(b"text") is None


def test_spawn_viewer(window, tmp_path, monkeypatch):
    seen = tmp_path / "seen"
    viewer = tmp_path / "viewer.py"
    viewer.write_text(f"import sys, shutil\nshutil.copy(sys.argv[1], {str(seen)!r})\n"
                      f"open({str(seen)!r} + '.name', 'w').write(sys.argv[1])\n")
    monkeypatch.setenv("PAGER", f"{sys.executable} {viewer}")
    window.spawn_viewer(b"{}", "application/json")
    assert seen.read_bytes() == b"{}"
    assert (tmp_path / "seen.name").read_text().endswith(".json")


def test_the_bind_address_of_all_interfaces_is_a_star():
    from libmproxy.console.statusbar import bind_address

    class Server:
        address = ("", 8080)

    class Master:
        servers = [Server()]

    assert bind_address(Master()) == "[*:8080]"
    Server.address = ("::1", 8080)
    assert bind_address(Master()) == "[[::1]:8080]"

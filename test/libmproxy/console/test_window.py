"""The window: the view stack, prompts, status messages, help, external programs, and that
a failing view never ends the console."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

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


def test_spawn_viewer_uses_the_pager(window, tmp_path, monkeypatch):
    monkeypatch.setenv("MAILCAPS", str(tmp_path / "no-mailcap"))
    seen = tmp_path / "seen"
    viewer = tmp_path / "viewer.py"
    viewer.write_text(f"import sys, shutil\nshutil.copy(sys.argv[1], {str(seen)!r})\n"
                      f"open({str(seen)!r} + '.name', 'w').write(sys.argv[1])\n")
    monkeypatch.setenv("PAGER", f"{sys.executable} {viewer}")
    window.spawn_viewer(b"{}", "application/json")
    assert seen.read_bytes() == b"{}"
    assert (tmp_path / "seen.name").read_text().endswith(".json")


def test_spawn_viewer_uses_the_mailcap_entry_of_the_type(window, tmp_path, monkeypatch):
    """~/.mailcap names the viewer of a type (the spec's OS X section sets one up); the
    body reaches it as the file its command names."""
    monkeypatch.delenv("MAILCAPS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PAGER", "false")
    marker = tmp_path / "marker"
    (tmp_path / ".mailcap").write_text(
        "# the user's viewers\n"
        "text/plain; false %s\n"
        f"image/*; cp %s {marker}; test=true\n")
    window.spawn_viewer(b"\x89PNG", "image/png; charset=binary")
    assert marker.read_bytes() == b"\x89PNG"


def test_spawn_viewer_mailcap_details(window, tmp_path, monkeypatch):
    """A failing test= skips its entry; copiousoutput goes through the pager; a command
    without %s reads the file on stdin; %t is the content type."""
    out = tmp_path / "out"
    mailcap = tmp_path / "mailcap"
    mailcap.write_text(
        f"text/html; echo skipped > {out}; test=false\n"
        "text/html; cat %s; \\\n  copiousoutput\n"
        f"application/*; (echo %t\\; cat) > {out}\n")
    monkeypatch.setenv("MAILCAPS", f"{tmp_path / 'missing'}:{mailcap}")
    monkeypatch.setenv("PAGER", f"tee {out}")
    window.spawn_viewer(b"<p>hi</p>", "text/html")
    assert out.read_bytes() == b"<p>hi</p>"
    window.spawn_viewer(b"data", "application/x-thing")
    assert out.read_bytes() == b"application/x-thing\ndata"


def test_mailcap_lines():
    from libmproxy.console.mailcap import Entry, parse
    assert parse("# comment\n\nnot an entry\ntext/plain;\n"
                 "Text; less %s ; needsterminal\n"
                 "image/png; view \\; %s; test=test -n x; copiousoutput\n") == [
        Entry("text/*", "less %s"),
        Entry("image/png", "view ; %s", "test -n x", True),
    ]


def test_the_bind_address_of_all_interfaces_is_a_star():
    from libmproxy.console.statusbar import bind_address

    class Server:
        address = ("", 8080)

    class Master:
        servers = [Server()]

    assert bind_address(Master()) == "[*:8080]"
    Server.address = ("::1", 8080)
    assert bind_address(Master()) == "[[::1]:8080]"


# --- palettes ----------------------------------------------------------------------------------

CONSOLE = Path(__file__).resolve().parents[3] / "libmproxy" / "console"
# Where a name holds a palette attribute: ATTR_X, LEVEL_ATTRS, key_attr, attr, status_attr.
ATTR_NAME = re.compile(r"(^|_)ATTRS?(_|$)|(^|_)attr$")


def _strings(node, constants, keys=True):
    """The str constants in ``node``, following names of module constants once; a dict's
    keys only with ``keys`` (an attribute map's are names, a table by level's are not)."""
    if isinstance(node, ast.Dict) and not keys:
        return set().union(*(_strings(v, constants) for v in node.values))
    if isinstance(node, ast.Name) and node.id in constants:
        return _strings(constants[node.id], {}, keys)
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            found.add(sub.value)
        elif isinstance(sub, ast.Name) and sub.id in constants:
            found |= _strings(constants[sub.id], {}, keys)
    return found


def _names_used_in_source():
    """Palette names the console's source gives by name: AttrMap arguments, constants and
    variables named like attributes (ATTR_*, *_attr), what *_attr functions return.
    (Markup tuples are found by drawing, in the next test.)"""
    used = {}
    for path in CONSOLE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        constants = {t.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                     for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            found = set()
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in (
                    "AttrMap", "AttrWrap"):
                for arg in [*node.args[1:], *(k.value for k in node.keywords)]:
                    found |= _strings(arg, constants)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if node.value is not None and any(
                        ATTR_NAME.search(getattr(t, "id", getattr(t, "attr", "")))
                        for t in targets):
                    found |= _strings(node.value, constants, keys=False)
            elif isinstance(node, ast.keyword) and node.arg and ATTR_NAME.search(node.arg):
                found |= _strings(node.value, constants)
            elif isinstance(node, ast.arguments):
                params = [*node.posonlyargs, *node.args]
                defaults = dict(zip(params[len(params) - len(node.defaults):], node.defaults))
                defaults.update(zip(node.kwonlyargs, node.kw_defaults))
                for param, default in defaults.items():
                    if default is not None and ATTR_NAME.search(param.arg):
                        found |= _strings(default, constants)
            elif isinstance(node, ast.FunctionDef) and ATTR_NAME.search(node.name):
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and ret.value is not None:
                        found |= _strings(ret.value, constants)
            for name in found:
                used.setdefault(name, f"{path.name}:{getattr(node, 'lineno', '?')}")
    return used


def test_every_palette_colours_every_name_the_source_uses():
    from libmproxy.console import palettes
    used = _names_used_in_source()
    assert {"heading", "editfield", "code_200", "option_selected", "warn"} <= set(used)
    missing = {name: where for name, where in used.items()
               if name not in palettes.ATTRIBUTES}
    assert not missing, missing
    for name, palette in palettes.PALETTES.items():
        for transparent in (False, True):
            entries = palette.entries(transparent)
            assert [e[0] for e in entries] == list(palettes.ATTRIBUTES)
            for attr, fg, bg, _, high_fg, high_bg in entries:
                urwid.AttrSpec(fg, bg, 16)  # raises for a colour urwid cannot draw
                urwid.AttrSpec(high_fg, high_bg, 256)


def _attrs_drawn(widget, size=(100, 40)):
    """The palette names on the screen (an attribute drawn over another counts as both)."""
    return {layer for row in widget.render(size, focus=True).content()
            for attr, _, _ in row if attr is not None
            for layer in getattr(attr, "layers", (attr,))}


def test_every_name_drawn_is_in_every_palette(window, master, make_flow, press, tmp_path):
    """Draw the screens with flows of every kind, prompts, messages, the event log, help,
    the flow view with a search, options and the grid editor in edit mode; every
    attribute on them is a palette name."""
    from libmproxy.console import grideditor, palettes
    from libmproxy.console.flowview import FlowView
    from libmproxy.console.options import OptionsView
    from libmproxy.controller.reply import Reply
    from libmproxy.models import Error

    flows = [make_flow(f"/{code}", status=code) for code in (200, 302, 404, 503, 999)]
    held = make_flow("/held", status=None)
    held.reply = Reply(held)
    failed = make_flow("/failed", status=None)
    failed.error = Error("refused")
    flows[0].request.is_replay = flows[0].marked = True
    for flow in [*flows, held, failed]:
        master.state.add_flow(flow)
    held.intercept(master)
    for level in ("debug", "info", "warn", "error"):
        master.add_event(f"a {level} entry", level)
    master.set_options(intercept="~q", anticache=True)
    seen = set()
    press(window, "e", "M")
    seen |= _attrs_drawn(window)
    press(window, "M", "l", "~", "z")  # a prompt with a complaint
    seen |= _attrs_drawn(window)
    press(window, "esc", "q")  # a one-key prompt
    seen |= _attrs_drawn(window)
    press(window, "esc")
    window.error("an error message")
    seen |= _attrs_drawn(window)
    for view in (lambda: window.push(FlowView(window, flows[0])),
                 lambda: window.push(OptionsView(window))):
        view()
        seen |= _attrs_drawn(window)
        press(window, "?")
        seen |= _attrs_drawn(window)
        press(window, "q", "q")
    window.push(FlowView(window, flows[0]))
    press(window, "tab", "/", *"ello", "enter")
    seen |= _attrs_drawn(window)
    for _ in range(3):
        press(window, "tab")
        seen |= _attrs_drawn(window)
    grideditor.edit_headers(window, "Editing headers", [(b"Name", b"value")], print)
    seen |= _attrs_drawn(window)
    press(window, "enter")
    seen |= _attrs_drawn(window)
    assert {"editfield", "intercept", "code_500", "warn", "heading_key"} <= seen
    assert seen <= set(palettes.ATTRIBUTES), seen - set(palettes.ATTRIBUTES)


def test_what_must_stand_out_has_a_background_in_every_palette():
    """The cell being edited (the spec: "The background color will change"), the focused
    cell and search matches: a background of their own, also when transparent."""
    from libmproxy.console import palettes
    for name, palette in palettes.PALETTES.items():
        for transparent in (False, True):
            entries = {e[0]: e for e in palette.entries(transparent)}
            back = entries["background"]
            for attr in ("editfield", "focusfield", "search_match", "heading"):
                _, _, bg, _, _, high_bg = entries[attr]
                assert bg not in ("default", back[2]), (name, attr)
                assert high_bg not in ("default", back[5]), (name, attr)
            assert entries["editfield"][2] != entries["focusfield"][2], name
        transparent = {e[0]: e for e in palette.entries(True)}
        for attr in ("background", "text", "method"):  # the terminal's own shows through
            assert transparent[attr][2] == transparent[attr][5] == "default", (name, attr)


def test_a_very_long_key_does_not_push_its_value_off_the_screen(screen):
    from libmproxy.console import common
    name = "X-" + "n" * 98
    rows = common.format_keyvals([("Host", "example.com"), (name, "the value")], indent=4)
    lines = screen(urwid.ListBox(urwid.SimpleListWalker(rows)), (80, 10))
    key_width = common.KEY_COLUMN_MAX
    assert lines[0] == "    Host" + " " * (key_width - 2) + "example.com"
    assert lines[1] == "    X-" + "n" * (key_width - 2) + "  the value"
    assert lines[2] == "    " + "n" * key_width  # the rest of the name wraps in its column
    key_column = "".join(line[4:4 + key_width] for line in lines[1:5])
    assert key_column == name

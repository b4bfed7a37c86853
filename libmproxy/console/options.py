"""The options screen (``o``): the options a user changes while the proxy runs, each with its
key and current value, as 0.18's options screen listed them.

Keys are 0.18's: ``H`` header set patterns, ``I`` ignore patterns, ``R`` replacement
patterns, ``S`` scripts, ``M`` default display mode, ``P`` palette, ``w`` show host, ``U``
no upstream certs, ``T`` TCP proxying, ``a`` anti-cache, ``o`` anti-compression, ``x`` kill
extra, ``f`` no refresh, ``A`` sticky auth, ``t`` sticky cookies, ``C`` clears them all.
Beyond 0.18 (which set these from the flow list or only on the command line), ``c`` and
``s`` start or stop client and server replay from a file and ``b`` sets the size above
which response bodies are streamed: everything mitmdump's flags set is changeable here.

Rules of this file:

- Every change goes through ``master.set_options(**changes)``, which validates and makes
  the change take effect for the next flow; a ValueError it raises is shown in the status
  bar and nothing changes. This screen keeps no option of its own.
- What is shown is read from ``master.options`` each time the screen is drawn anew
  (``refresh``), so it is never stale after a change made elsewhere.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import urwid

from netlib import human

from libmproxy import contentviews
from libmproxy.console import common, grideditor, palettes
from libmproxy.exceptions import ScriptException
from libmproxy.proxy.config import HostMatcher
from libmproxy.script import parse_command

__all__ = ["OptionsView", "OPTIONS"]

# Palette entries (console.palettes).
ATTR_HEADING = "heading"
ATTR_KEY = "key"
ATTR_ACTIVE = "option_active"
# The line in focus: each attribute above mapped to its "selected" form.
FOCUS_MAP = {None: "option_selected", ATTR_KEY: "option_selected_key",
             ATTR_ACTIVE: "option_active_selected"}

# Widths of the key and name columns: the longest name ("Replacement Patterns") fits.
KEY_WIDTH = 5
NAME_WIDTH = 24

# A list option's value is shown as its items until it is this long, then as a count
# (a single item is always shown, cut off at the screen's edge).
VALUE_CHARS = 60

HOST_PATTERN_HEADING = "Regex (matched on hostname:port / ip:port)"


# --- how values look ------------------------------------------------------------------------

OFF = "off"


def _shown_list(items: list[Any], noun: str) -> str:
    """Items as the command line takes them (patterns as ``/filter/regex/replacement``),
    or how many there are when that is too long to read at a glance."""
    if not items:
        return OFF
    text = ", ".join(item if isinstance(item, str) else "/" + "/".join(item) for item in items)
    if len(items) == 1 or len(text) <= VALUE_CHARS:
        return text
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _shown_toggle(value: Any) -> str:
    return "on" if value else OFF


def _size_error(text: str) -> str | None:
    if not text.strip():
        return None
    try:
        human.parse_size(text)
    except ValueError as e:
        return str(e)
    return None


def _host_pattern_error(pattern: str) -> str | None:
    try:
        HostMatcher([pattern])
    except ValueError as e:
        return str(e)
    return None


def _script_error(command: str) -> str | None:
    try:
        parse_command(command)
    except ScriptException as e:
        return str(e)
    return None


# --- the options ----------------------------------------------------------------------------

class Option(NamedTuple):
    """One line of the screen. ``names`` are the options it changes; ``active(options)``
    whether it is on, ``shown(options)`` its value as text; ``activate(view)`` changes it
    (directly, by a prompt or in a grid editor); ``C`` resets it unless not ``clearable``."""

    section: str
    label: str
    key: str
    names: tuple[str, ...]
    active: Callable[[Any], bool]
    shown: Callable[[Any], str]
    activate: Callable[[OptionsView], None]
    clearable: bool = True


def _toggle(section: str, label: str, key: str, name: str, inverted: bool = False) -> Option:
    """An on/off option; ``inverted`` when the screen names the opposite of the flag
    ("No Refresh" is ``refresh_server_playback`` off)."""
    def active(options: Any) -> bool:
        return bool(getattr(options, name)) != inverted

    return Option(section, label, key, (name,), active,
                  lambda options: _shown_toggle(active(options)),
                  lambda view: view.set_options(**{name: not getattr(view.options, name)}))


def _filter_prompt(section: str, label: str, key: str, name: str, prompt: str) -> Option:
    """A filter expression option (sticky cookies, sticky auth); empty turns it off."""
    def activate(view: OptionsView) -> None:
        view.ui.prompt(prompt, lambda text: view.set_options(**{name: text.strip() or None}),
                       text=getattr(view.options, name) or "", validate=common.validate_filter)

    return Option(section, label, key, (name,), lambda options: bool(getattr(options, name)),
                  lambda options: getattr(options, name) or OFF, activate)


def _replay_prompt(section: str, label: str, key: str, name: str, prompt: str) -> Option:
    """A replay file (client or server replay); empty stops the replay."""
    def activate(view: OptionsView) -> None:
        def set_path(path: str) -> None:
            view.set_options(**{name: [path.strip()] if path.strip() else []})

        current = getattr(view.options, name)
        view.ui.prompt(prompt, set_path, text=current[0] if len(current) == 1 else "")

    return Option(section, label, key, (name,), lambda options: bool(getattr(options, name)),
                  lambda options: _shown_list(getattr(options, name), "file"), activate)


def _grid(section: str, label: str, key: str, name: str, noun: str,
          edit: Callable[[OptionsView, list[Any], Callable[[list[Any]], None]], Any]) -> Option:
    """A list option edited in a grid editor. Its callback lets set_options' ValueError
    through: the grid editor shows it and stays open, so the edit is not lost."""
    def activate(view: OptionsView) -> None:
        edit(view, list(getattr(view.options, name)),
             lambda value: view.ui.master.set_options(**{name: value}))

    return Option(section, label, key, (name,), lambda options: bool(getattr(options, name)),
                  lambda options: _shown_list(getattr(options, name), noun), activate)


def _stream_prompt(view: OptionsView) -> None:
    current = view.options.stream_large_bodies
    view.ui.prompt(
        "Stream bodies larger than (e.g. 1m; empty: off)",
        lambda text: view.set_options(
            stream_large_bodies=human.parse_size(text) if text.strip() else None),
        text=human.pretty_size(current) if current is not None else "",
        validate=_size_error)


def _display_mode_prompt(view: OptionsView) -> None:
    view.ui.prompt_onekey(
        "Global default display mode",
        [view_.prompt for view_ in contentviews.views],
        lambda key: view.set_options(default_view=next(
            v.name for v in contentviews.views if v.prompt[1] == key)))


def _onekey_choices(names: list[str]) -> list[tuple[str, str]]:
    """``(name, key)`` for a one-key prompt: each name's first letter not taken before."""
    taken: set[str] = set()
    choices = []
    for name in names:
        key = next(c for c in name + "0123456789" if c.isalnum() and c not in taken)
        taken.add(key)
        choices.append((name, key))
    return choices


def _palette_prompt(view: OptionsView) -> None:
    choices = _onekey_choices(list(palettes.PALETTES))
    view.ui.prompt_onekey(
        "Palette", choices,
        lambda key: view.set_options(palette=next(n for n, k in choices if k == key)))


TRAFFIC, INTERFACE, NETWORK, UTILITY, REPLAY = (
    "Traffic Manipulation", "Interface", "Network", "Utility", "Replay")

OPTIONS: list[Option] = [
    _grid(TRAFFIC, "Header Set Patterns", "H", "setheaders", "pattern",
          lambda view, value, done: grideditor.edit_setheaders(view.ui, value, done)),
    _grid(TRAFFIC, "Ignore Patterns", "I", "ignore_hosts", "pattern",
          lambda view, value, done: grideditor.edit_list(
              view.ui, "Editing ignore patterns", value, done, _host_pattern_error,
              heading=HOST_PATTERN_HEADING)),
    _grid(TRAFFIC, "Replacement Patterns", "R", "replacements", "pattern",
          lambda view, value, done: grideditor.edit_replacements(view.ui, value, done)),
    _grid(TRAFFIC, "Scripts", "S", "scripts", "script",
          lambda view, value, done: grideditor.edit_list(
              view.ui, "Editing scripts", value, done, _script_error, heading="Command")),
    Option(INTERFACE, "Default Display Mode", "M", ("default_view",),
           lambda options: options.default_view.lower() != "auto",
           lambda options: options.default_view, _display_mode_prompt),
    Option(INTERFACE, "Palette", "P", ("palette",),
           lambda options: options.palette != palettes.DEFAULT,
           lambda options: options.palette, _palette_prompt, clearable=False),
    _toggle(INTERFACE, "Show Host", "w", "showhost"),
    _toggle(NETWORK, "No Upstream Certs", "U", "no_upstream_cert"),
    _grid(NETWORK, "TCP Proxying", "T", "tcp_hosts", "pattern",
          lambda view, value, done: grideditor.edit_list(
              view.ui, "Editing TCP host patterns", value, done, _host_pattern_error,
              heading=HOST_PATTERN_HEADING)),
    Option(NETWORK, "Stream Large Bodies", "b", ("stream_large_bodies",),
           lambda options: options.stream_large_bodies is not None,
           lambda options: (OFF if options.stream_large_bodies is None
                            else human.pretty_size(options.stream_large_bodies)),
           _stream_prompt),
    _toggle(UTILITY, "Anti-Cache", "a", "anticache"),
    _toggle(UTILITY, "Anti-Compression", "o", "anticomp"),
    _toggle(UTILITY, "Kill Extra", "x", "kill"),
    _toggle(UTILITY, "No Refresh", "f", "refresh_server_playback", inverted=True),
    _filter_prompt(UTILITY, "Sticky Auth", "A", "stickyauth", "Sticky auth filter"),
    _filter_prompt(UTILITY, "Sticky Cookies", "t", "stickycookie", "Sticky cookie filter"),
    _replay_prompt(REPLAY, "Client Replay", "c", "client_replay",
                   "Client replay file (empty: stop)"),
    _replay_prompt(REPLAY, "Server Replay", "s", "server_replay",
                   "Server replay file (empty: stop)"),
]


# --- the screen -----------------------------------------------------------------------------

class _OptionLine(urwid.WidgetWrap):
    """One option: key, name, value; highlighted when on, marked when in focus."""

    def __init__(self, option: Option) -> None:
        self.option = option
        super().__init__(urwid.Text(""))

    def selectable(self) -> bool:
        return True

    def keypress(self, size: tuple[int], key: str) -> str | None:
        return key

    def update(self, options: Any) -> None:
        option = self.option
        active = option.active(options)
        name_attr = ATTR_ACTIVE if active else None
        self._w = urwid.AttrMap(urwid.Columns([
            (KEY_WIDTH, urwid.Text(["  ", (ATTR_KEY, option.key)])),
            (NAME_WIDTH, urwid.Text((name_attr, option.label) if name_attr else option.label)),
            urwid.Text(option.shown(options), wrap="ellipsis"),
        ]), None, focus_map=FOCUS_MAP)


class OptionsView(urwid.WidgetWrap):
    """The options screen; ``OptionsView(ui)``, pushed by the flow list's ``o``."""

    title = "Options"
    help_keys = [
        ("Options", [("enter / space", "activate option"), ("C", "clear all options"),
                     ("q", "back")]),
        ("Option keys", [(option.key, option.label) for option in OPTIONS]),
    ]

    def __init__(self, ui: Any) -> None:
        self.ui = ui
        lines: list[urwid.Widget] = []
        self._lines: list[_OptionLine] = []
        self._by_key: dict[str, Option] = {}
        section = None
        # A master without some option (an embedder's) simply does not offer it.
        names = {field.name for field in dataclasses.fields(self.options)}
        for option in OPTIONS:
            if not set(option.names) <= names:
                continue
            self._by_key[option.key] = option
            if option.section != section:
                section = option.section
                if lines:
                    lines.append(urwid.Divider())
                lines.append(urwid.AttrMap(urwid.Text(section), ATTR_HEADING))
            line = _OptionLine(option)
            self._lines.append(line)
            lines.append(line)
        self.walker = urwid.SimpleFocusListWalker(lines)
        self._listbox = urwid.ListBox(self.walker)
        # The first option in focus, its section heading above it still in view.
        self._listbox.set_focus(lines.index(self._lines[0]), coming_from="above")
        super().__init__(self._listbox)
        self.refresh()

    @property
    def options(self) -> Any:
        return self.ui.master.options

    def refresh(self) -> None:
        """Show the options' current values."""
        for line in self._lines:
            line.update(self.options)

    def set_options(self, **changes: Any) -> bool:
        """Change options through the master; a refusal is shown and changes nothing."""
        try:
            self.ui.master.set_options(**changes)
        except ValueError as e:
            self.ui.status(str(e).splitlines()[0])
            return False
        finally:
            self.refresh()
            self.ui.redraw()
        return True

    def clear_all(self) -> None:
        """Every option of this screen back to its default (the palette stays)."""
        names = [name for line in self._lines if line.option.clearable
                 for name in line.option.names]
        defaults = type(self.options)()
        if self.set_options(**{name: getattr(defaults, name) for name in names}):
            self.ui.status("All options cleared.")

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        if key in ("enter", " "):
            focus = self.walker.get_focus()[0]
            if isinstance(focus, _OptionLine):
                focus.option.activate(self)
        elif key == "C":
            self.clear_all()
        elif key in self._by_key:
            self._by_key[key].activate(self)
        elif key in ("q", "esc"):
            self.ui.pop()
        elif key in ("j", "k"):
            self._listbox.keypress(size, "down" if key == "j" else "up")
        else:
            return self._listbox.keypress(size, key)
        return None

"""The flow list: the console's first screen, one entry per flow (spec: Flow list), with
the event log pane under it when toggled (``e``).

The list is a ListWalker over the store's view (console/state.py): urwid asks it only for
the entries it draws, so a list of 50,000 flows costs what a screenful costs. Entries are
built when first drawn and kept until their flow changes (``ROW_CACHE`` of them).
"""
from __future__ import annotations

import os
from typing import Any, Callable

import urwid

from libmproxy.console import common
# Imported now, not at the first enter: the flow view and what it needs (content views,
# the grid editor) take ~70 ms to import, which the first open would otherwise show.
from libmproxy.console.export import export_menu
from libmproxy.console.flowview import METHOD_KEYS, FlowView

__all__ = ["FlowListView", "FlowListWalker", "FlowRow", "HELP_KEYS"]

# Entries kept built: several screens' worth, so scrolling back and forth does not
# rebuild them; beyond it the cache starts over (a rebuild costs one entry per row shown).
ROW_CACHE = 1000

# vi and less keys for moving in the list, as 0.18 took them.
NAVIGATION_KEYS = {"j": "down", "k": "up", " ": "page down", "ctrl f": "page down",
                   "ctrl b": "page up"}

# 0.18's flow list keys (its "?" screen), with c and S, which 0.18 took on every screen.
HELP_KEYS = [
    ("Flow list", [
        ("A", "accept all intercepted flows"),
        ("a", "accept this intercepted flow"),
        ("b", "save request/response body"),
        ("C", "export flow to the clipboard (the same menu as E)"),
        ("c", "client replay of the flows saved in a file"),
        ("d", "delete flow"),
        ("D", "duplicate flow"),
        ("e", "toggle the event log"),
        ("E", "export flow (curl command, python code, raw request or response) to the "
              "clipboard, or to a file where there is no clipboard"),
        ("f / l", "filter view: set the limit pattern (show only matching flows)"),
        ("F", "toggle follow: focus the newest flow"),
        ("L", "load saved flows"),
        ("m", "toggle the mark of this flow"),
        ("M", "toggle marked flow view (show only the marked flows)"),
        ("n", "create a new request"),
        ("r", "replay request"),
        ("S", "server replay of the responses saved in a file"),
        ("U", "unmark all marked flows"),
        ("V", "revert changes to this flow"),
        ("w", "save flows (all shown, this one, or the marked ones)"),
        ("W", "stream flows to a file (empty: stop)"),
        ("X", "kill this flow (its connection is dropped)"),
        ("z", "clear the flow list (intercepted flows stay), or the event log in its pane"),
        ("|", "run a script on this flow"),
        ("tab", "move between the flow list and the event log"),
        ("enter", "view flow"),
    ]),
    ("Movement", [
        ("j, k", "down, up"),
        ("g, G", "go to the first, the last flow"),
        ("space, ctrl f", "page down"),
        ("ctrl b", "page up"),
        ("arrows, page up/down, home/end", "as they say"),
    ]),
]

# The URL a new request (n) starts from, as 0.18's prompt did.
NEW_REQUEST_URL = "http://www.example.com/"


class FlowRow(urwid.Widget):
    """One flow's entry: two lines of text, with the ">>" marker when focused."""

    _sizing = frozenset([urwid.Sizing.FLOW])
    _selectable = True

    def __init__(self, view: FlowListView, flow: Any) -> None:
        super().__init__()
        self.view = view
        self.flow = flow
        self._texts: dict[bool, urwid.Text] = {}

    def _text(self, focus: bool) -> urwid.Text:
        text = self._texts.get(focus)
        if text is None:
            showhost = self.view.master.options.showhost
            text = self._texts[focus] = urwid.Text(
                common.format_flow(self.flow, focus, showhost), wrap="ellipsis")
        return text

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return self._text(focus).rows(size)

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        return self._text(focus).render(size)

    def keypress(self, size: tuple[int], key: str) -> str:
        return key

    def mouse_event(self, size: tuple[int], event: str, button: int, col: int, row: int,
                    focus: bool) -> bool:
        """A click on the focused entry opens it (the first click focuses it)."""
        if event == "mouse press" and button == 1 and focus:
            self.view.open_flow(self.flow)
            return True
        return False


class FlowListWalker(urwid.ListWalker):
    """Positions are indices into ``state.view``; the focus is ``state.focus``."""

    def __init__(self, view: FlowListView) -> None:
        self.view = view
        self.state = view.master.state
        self._rows: dict[int, FlowRow] = {}
        self.state.listeners.append(self._changed)

    def _changed(self, flow: Any) -> None:
        if flow is None:
            self._rows.clear()
        else:
            self._rows.pop(id(flow), None)
        self._modified()

    def _row(self, position: int) -> FlowRow:
        flow = self.state.view[position]
        row = self._rows.get(id(flow))
        if row is None:
            if len(self._rows) >= ROW_CACHE:
                self._rows.clear()
            row = self._rows[id(flow)] = FlowRow(self.view, flow)
        return row

    def get_focus(self) -> tuple[FlowRow | None, int | None]:
        focus = self.state.focus
        if focus is None:
            return None, None
        return self._row(focus), focus

    def set_focus(self, position: int) -> None:
        self.state.focus = position
        self._modified()

    def get_next(self, position: int) -> tuple[FlowRow | None, int | None]:
        if position + 1 >= len(self.state.view):
            return None, None
        return self._row(position + 1), position + 1

    def get_prev(self, position: int) -> tuple[FlowRow | None, int | None]:
        if position <= 0:
            return None, None
        return self._row(position - 1), position - 1


def _empty(text: str) -> str | None:
    return text.strip() or None


class FlowListView(urwid.WidgetWrap):
    """The flow list screen (the bottom of the window's stack)."""

    title = "Flows"
    help_keys = HELP_KEYS

    def __init__(self, ui: Any) -> None:
        self.ui = ui
        self.master = ui.master
        self.state = self.master.state
        self.walker = FlowListWalker(self)
        self.listbox = urwid.ListBox(self.walker)
        self.eventlog = ui.eventlog
        self.pile = urwid.Pile([self.listbox])
        super().__init__(self.pile)
        self.actions = self._actions()
        if self.master.options.eventlog:
            self.toggle_eventlog()

    # --- the event log pane ----------------------------------------------------------------

    @property
    def eventlog_shown(self) -> bool:
        return len(self.pile.contents) > 1

    def toggle_eventlog(self) -> None:
        if self.eventlog_shown:
            del self.pile.contents[1:]
            self.pile.focus_position = 0
        else:
            header = urwid.AttrMap(urwid.Text("Event log"), "heading")
            self.pile.contents.append((header, ("pack", None)))
            self.pile.contents.append((self.eventlog, ("weight", 1)))

    # --- actions ---------------------------------------------------------------------------

    @property
    def flow(self) -> Any:
        return self.state.focus_flow

    def open_flow(self, flow: Any) -> None:
        self.state.set_focus_flow(flow)
        self.ui.push(FlowView(self.ui, flow))

    def _go(self, position: int, valign: str) -> None:
        if self.state.view:
            self.listbox.set_focus(position)
            self.listbox.set_focus_valign(valign)

    def _save(self, which: str) -> None:
        if which == "t":
            flows = [self.flow] if self.flow is not None else []
        elif which == "m":
            flows = [f for f in self.state.view if f.marked]
        else:
            flows = list(self.state.view)
        if not flows:
            self.ui.status("No flows to save.")
            return
        self.ui.prompt("Save flows to", lambda path: self.master.save_flows(path, flows))

    def _on_flow(self, action: Any) -> None:
        """Run ``action(flow)`` on the focused flow, if there is one."""
        if self.flow is not None:
            action(self.flow)

    def _toggle_mark(self, flow: Any) -> None:
        flow.marked = not flow.marked
        self.state.update_flow(flow)

    def _toggle_marked_only(self) -> None:
        self.state.set_marked_only(not self.state.marked_only)

    def _set_option(self, **changes: Any) -> None:
        try:
            self.master.set_options(**changes)
        except ValueError as e:
            self.ui.error(str(e))

    def _path_option(self, label: str, name: str) -> None:
        def done(text: str) -> None:
            path = os.path.expanduser(text.strip())
            self._set_option(**{name: [path] if path else []})
        self.ui.prompt(label, done)

    def _export(self, flow: Any) -> None:
        export_menu(self.ui, flow)

    def _toggle_follow(self) -> None:
        self.state.set_follow(not self.state.follow)
        self.ui.status("Follow " + ("on" if self.state.follow else "off"))

    def _focus_eventlog(self) -> None:
        if self.eventlog_shown:
            self.pile.focus_position = len(self.pile.contents) - 1

    def _ask_limit(self) -> None:
        self.ui.prompt("Limit", lambda text: self._set_option(limit=_empty(text)),
                       self.master.options.limit or "", common.validate_filter)

    def _ask_save(self) -> None:
        self.ui.prompt_onekey("Save", [("all flows", "a"), ("this flow", "t"),
                                       ("marked flows", "m")], self._save)

    def _ask_stream(self) -> None:
        outfile = self.master.options.outfile

        def done(text: str) -> None:
            path = os.path.expanduser(text.strip())
            self._set_option(outfile=(path, "ab") if path else None)
        self.ui.prompt("Stream flows to", done, outfile[0] if outfile else "")

    def _ask_script(self, flow: Any) -> None:
        self.ui.prompt("Run script on this flow",
                       lambda command: self.master.run_script_once(command, flow))

    def _ask_new_request(self) -> None:
        """n: the method (one key, or "edit raw" to type one), then the URL."""

        def method_key(key: str) -> None:
            if key == "e":
                self.ui.prompt("Method", lambda text: self._ask_url(text.strip()),
                               validate=common.validate_method)
            else:
                self._ask_url(next(name for name, k in METHOD_KEYS if k == key).upper())
        self.ui.prompt_onekey("Method", METHOD_KEYS, method_key)

    def _ask_url(self, method: str) -> None:
        def create(url: str) -> None:
            flow = self.master.create_request(method, url)
            self.state.set_focus_flow(flow)
        self.ui.prompt("URL", create, NEW_REQUEST_URL, common.validate_url)

    def _actions(self) -> dict[str, Callable[[], Any]]:
        """Key -> what it does (the keys of HELP_KEYS)."""
        master, state, on_flow = self.master, self.state, self._on_flow
        return {
            "enter": lambda: on_flow(self.open_flow),
            "a": lambda: on_flow(master.accept),
            "A": master.accept_all,
            "d": lambda: on_flow(state.delete_flow),
            "D": lambda: on_flow(state.duplicate_flow),
            "V": lambda: on_flow(master.revert),
            "X": lambda: on_flow(master.kill_flow),
            "r": lambda: on_flow(master.replay),
            "m": lambda: on_flow(self._toggle_mark),
            "M": self._toggle_marked_only,
            "U": state.unmark_all,
            "n": self._ask_new_request,
            "b": lambda: on_flow(lambda flow: common.ask_save_body(self.ui, flow)),
            "z": state.clear,
            "e": self.toggle_eventlog,
            "tab": self._focus_eventlog,
            "F": self._toggle_follow,
            "g": lambda: self._go(0, "top"),
            "home": lambda: self._go(0, "top"),
            "G": lambda: self._go(len(state.view) - 1, "bottom"),
            "end": lambda: self._go(len(state.view) - 1, "bottom"),
            "l": self._ask_limit,
            "f": self._ask_limit,
            "w": self._ask_save,
            "W": self._ask_stream,
            "L": lambda: self.ui.prompt("Load flows", master.load_flows_file),
            "c": lambda: self._path_option("Client replay of", "client_replay"),
            "S": lambda: self._path_option("Server replay from", "server_replay"),
            "|": lambda: on_flow(self._ask_script),
            "E": lambda: on_flow(self._export),
            "C": lambda: on_flow(self._export),
        }

    def keypress(self, size: Any, key: str) -> str | None:
        if self.eventlog_shown and self.pile.focus_position > 0:
            # The event log pane has the focus: it scrolls; tab and e leave it.
            if key == "tab":
                self.pile.focus_position = 0
                return None
            if key != "e":
                return self.pile.keypress(size, key)
        key = NAVIGATION_KEYS.get(key, key)
        action = self.actions.get(key)
        if action is None:
            return self.pile.keypress(size, key)
        action()
        return None

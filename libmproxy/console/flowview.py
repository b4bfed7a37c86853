"""The flow view (spec: "Flow view"): one flow in three tabs, Request, Response and Detail.

The Request and Response tabs show the headers as a key/value table, the view-mode line
(``[decoded gzip] JSON`` on the left, ``[m:Auto]`` on the right) and the body through
``libmproxy.contentviews``. The keys are 0.18's (its ``?`` screen for this view), plus
``X`` to kill the flow.

Rules of this file:

- Speed: a body is shown through the content view with a line limit (VIEW_LINES) and a
  marker line saying how much more there is. Scrolling on from the marker formats
  EXTEND_FACTOR times as many lines; ``f`` formats them all (for a 5 MB JSON body about
  0.6 s, scripts/bench_console.py). Rows become widgets only when urwid
  draws them (``_Rows``), so even a whole large body costs its formatting, not a widget per
  line.
- The view is rebuilt from the flow whenever it may have changed: after every action here,
  when the window shows it again (``refresh``, after a grid editor), and when the flow
  store says the flow changed (a response arrived, a script changed it).
- Every edit backs the flow up first (``flow.backup()``), so ``V`` reverts it, and tells
  the flow store (``state.update_flow``) so that the flow list shows the change.
- Everything from the network is shown escaped (contentviews and ``common.printable``).
"""
from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import urwid

from netlib import human
from netlib.http import Headers, status_codes

from libmproxy import contentviews
from libmproxy.contentviews import Line
from libmproxy.console import common, export, flowdetail, grideditor
from libmproxy.console.ui import UI
from libmproxy.models import HTTPFlow, HTTPRequest, HTTPResponse

__all__ = ["FlowView", "TAB_REQUEST", "TAB_RESPONSE", "TAB_DETAIL", "VIEW_LINES"]

TAB_REQUEST, TAB_RESPONSE, TAB_DETAIL = 0, 1, 2
TAB_NAMES = ("Request", "Response", "Detail")

# How many lines of a body are formatted before the cut-off marker: a screenful many times
# over, and few enough to cost little next to parsing (a 5 MB JSON response tab opens in
# about 0.1 s, most of it json.loads: scripts/bench_console.py).
VIEW_LINES = 2000
LIMIT_HINT = "scroll on for more, press f to see all"

# Scrolling on from the cut-off marker formats this many times as many lines: each step
# costs about as much as all the steps before it, so pauses stay rare as a body gets long.
EXTEND_FACTOR = 4

# Widgets made for rows are kept for redraws, up to this many (a few screens' worth).
ROW_CACHE = 1024

# Palette entry of a search match (every palette defines it).
SEARCH_ATTR = "search_match"

# 0.18's method prompt (the spec shows it: "Method (get,post,put,head,trace,delete,options,
# edit raw)?").
METHOD_KEYS = (("get", "g"), ("post", "p"), ("put", "u"), ("head", "h"), ("trace", "t"),
               ("delete", "d"), ("options", "o"), ("edit raw", "e"))

ENCODING_KEYS = (("gzip", "z"), ("deflate", "d"), ("brotli", "b"))
_ENCODINGS = {"z": "gzip", "d": "deflate", "b": "br"}



# --- rows and the lazy list of them ---------------------------------------------------------

class _Pair(NamedTuple):
    """A key/value row: the value wraps under itself, beside a key column ``width`` wide.

    Not common.format_keyvals: that makes every row's widget at once from plain-text keys,
    while a tab's rows become widgets only when drawn (``_Rows``) and search marks its
    term inside header names as well as values. The width rule is the same
    (common.KEY_COLUMN_MAX)."""

    key: str
    value: str
    width: int
    key_attr: str = "header"
    value_attr: str = "text"


Row = Line | _Pair | urwid.Widget


def _row_texts(row: Row) -> tuple[str, ...]:
    """The text of a row that search looks at (none for a prebuilt widget)."""
    if isinstance(row, _Pair):
        return row.key, row.value
    if isinstance(row, list):
        return ("".join(text for _, text in row),)
    return ()


def _marked(line: Line, term: str) -> Line:
    """``line`` with every occurrence of ``term`` drawn in SEARCH_ATTR, also where an
    occurrence spans fragments of different styles."""
    text = "".join(t for _, t in line)
    spans = [(m.start(), m.end()) for m in re.finditer(re.escape(term), text)]
    if not spans:
        return line
    marked: Line = []
    offset = 0
    for style, fragment in line:
        start, end = offset, offset + len(fragment)
        cursor = start
        for span_start, span_end in spans:
            lo, hi = max(span_start, start), min(span_end, end)
            if lo >= hi:
                continue
            if lo > cursor:
                marked.append((style, text[cursor:lo]))
            marked.append((SEARCH_ATTR, text[lo:hi]))
            cursor = hi
        if cursor < end:
            marked.append((style, text[cursor:end]))
        offset = end
    return marked


def _widget(row: Row, term: str | None) -> urwid.Widget:
    if isinstance(row, _Pair):
        key: Line = [(row.key_attr, row.key)]
        value: Line = [(row.value_attr, row.value)]
        if term:
            key, value = _marked(key, term), _marked(value, term)
        return urwid.Columns([("fixed", row.width, urwid.Text(key)), urwid.Text(value)],
                             dividechars=1)
    if isinstance(row, list):
        line = _marked(row, term) if term else row
        return urwid.Text(line or "")
    return row


class _Rows(urwid.ListWalker):
    """The rows of a tab, made into widgets only when urwid asks for them."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = rows
        self.focus = 0
        self.term: str | None = None
        self._widgets: dict[int, urwid.Widget] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, position: int) -> urwid.Widget:
        if not 0 <= position < len(self.rows):
            raise IndexError(position)
        widget = self._widgets.get(position)
        if widget is None:
            if len(self._widgets) >= ROW_CACHE:
                self._widgets.clear()
            widget = self._widgets[position] = _widget(self.rows[position], self.term)
        return widget

    def next_position(self, position: int) -> int:
        if position + 1 >= len(self.rows):
            raise IndexError(position)
        return position + 1

    def prev_position(self, position: int) -> int:
        if position <= 0:
            raise IndexError(position)
        return position - 1

    def positions(self, reverse: bool = False) -> Iterator[int]:
        return iter(range(len(self.rows) - 1, -1, -1) if reverse else range(len(self.rows)))

    def set_focus(self, position: int) -> None:
        self.focus = position
        self._modified()

    def highlight(self, term: str | None) -> list[int]:
        """Mark ``term`` in every row from now on; the positions of the rows holding it."""
        self.term = term or None
        self._widgets.clear()
        self._modified()
        if not term:
            return []
        return [i for i, row in enumerate(self.rows)
                if any(term in text for text in _row_texts(row))]


# --- what the tabs show ---------------------------------------------------------------------

def _pairs(entries: Sequence[tuple[str, str]], key_attr: str = "header") -> list[_Pair]:
    """A key/value table: keys padded to the longest (at most common.KEY_COLUMN_MAX,
    as every key/value table of the console)."""
    width = min(max((len(k) for k, _ in entries), default=0), common.KEY_COLUMN_MAX)
    return [_Pair(k, v, width, key_attr) for k, v in entries]


def _header_rows(headers: Headers) -> list[_Pair]:
    return _pairs([(common.printable(k) + ":", common.printable(v))
                   for k, v in headers.fields])


def _mode_line(description: str, mode: contentviews.View) -> urwid.Widget:
    """0.18's view-mode line: what is shown on the left, ``[m:Mode]`` on the right."""
    return urwid.AttrMap(urwid.Columns([
        urwid.Text(("heading", description)),
        ("pack", urwid.Text([("heading", "["), ("heading_key", "m"),
                             ("heading", f":{mode.name}]")])),
    ], dividechars=1), "heading")


def _detail_rows(flow: HTTPFlow) -> list[Row]:
    rows: list[Row] = []
    for title, entries in flowdetail.details(flow):
        if rows:
            rows.append([])
        rows.append([("head", title + ":")])
        rows.extend(_pairs([("    " + k, common.printable(v)) for k, v in entries], "key"))
    return rows or [[("highlight", "No details known about this flow.")]]


def _summary(flow: Any, showhost: bool) -> Any:
    """The flow in one line: when, method, URL, and the response's status once there is
    one. A TCP flow as the flow list shows it."""
    request = getattr(flow, "request", None)
    if request is None:
        return common.format_flow(flow)
    line: Line = []
    if request.timestamp_start:
        line += [("highlight", human.format_timestamp(request.timestamp_start)), ("text", " ")]
    url = request.pretty_url if showhost else request.url
    line += [("method", common.printable(request.method)), ("text", " "),
             ("text", common.printable(url))]
    response = flow.response
    if response is not None:
        line += [("text", f" {common.symbol_return()} "),
                 (common.status_attr(response.status_code),
                  f"{response.status_code} {common.printable(response.reason)}")]
        if flow.error is not None:  # killed after its response came, or cut off sending it
            line += [("error", f" ({common.printable(flow.error.msg)})")]
    elif flow.error is not None:
        line += [("error", f" {common.symbol_return()} {common.printable(flow.error.msg)}")]
    return line


def _fingerprint(flow: HTTPFlow) -> tuple:
    """What the view shows of ``flow``, cheap to compare (same bytes objects compare by
    identity): a changed fingerprint means the view must be rebuilt."""
    request, response = getattr(flow, "request", None), getattr(flow, "response", None)
    return (
        flow.intercepted, flow.error, len(getattr(flow, "messages", ())),
        request.data.copy() if request is not None else None,
        response.data.copy() if response is not None else None,
        flow.server_conn.cert if flow.server_conn is not None else None,
    )


def _watch(state: Any, view: FlowView) -> None:
    """Tell ``view`` about every change the flow store announces, for as long as the view
    exists (it is dropped when the user leaves it; nothing else says when)."""
    ref = weakref.ref(view)

    def listener(flow: Any) -> None:
        alive = ref()
        if alive is not None:
            alive.flow_changed(flow)

    state.listeners.append(listener)
    weakref.finalize(view, _unlisten, state, listener)


def _unlisten(state: Any, listener: Callable[[Any], None]) -> None:
    # A new list instead of a removal: the garbage collector may run this while the
    # store walks its listeners.
    state.listeners = [other for other in state.listeners if other is not listener]


# --- the view -------------------------------------------------------------------------------

def _help_keys() -> list[tuple[str, list[tuple[str, str]]]]:
    modes = [(f"  {view.prompt[1]}", view.name) for view in contentviews.views]
    return [
        ("Flow view", [
            ("A", "accept all intercepted flows"),
            ("a", "accept this intercepted flow"),
            ("b", "save request/response body"),
            ("D", "duplicate flow"),
            ("d", "delete flow"),
            ("E", "export (curl, python, raw request, raw response)"),
            ("e", "edit request/response"),
            ("e c", "edit the cookies (Request) or the Set-Cookie cookies (Response)"),
            ("f", "load full body data"),
            ("m", "change body display mode for this entity"),
            *modes,
            ("M", "change default body display mode"),
            ("p", "previous flow"),
            ("r", "replay request"),
            ("V", "revert changes to request"),
            ("v", "view body in external viewer"),
            ("w", "save all flows matching current limit"),
            ("W", "save this flow"),
            ("X", "kill this flow"),
            ("x", "delete body"),
            ("z", "encode/decode a request/response"),
            ("tab", "next tab"),
            ("h, l", "previous tab, next tab"),
            ("space", "next flow"),
            ("/", "search (case sensitive)"),
            ("n", "repeat search forward"),
            ("N", "repeat search backwards"),
            ("|", "run a script on this flow"),
        ]),
        ("Movement", [
            ("j, k", "down, up"),
            ("g, G", "go to beginning, end"),
            ("ctrl b, ctrl f", "page up, page down"),
        ]),
    ]


# Keys that move within the tab, 0.18's vi-style ones included.
_MOVEMENT = {"j": "down", "k": "up", "g": "home", "G": "end", "ctrl f": "page down",
             "ctrl b": "page up", "up": "up", "down": "down", "page up": "page up",
             "page down": "page down", "home": "home", "end": "end"}
# Those that go on from the cut-off marker, and so format more of the body.
_ONWARD = {"down", "page down", "end"}


class FlowView(urwid.WidgetWrap):
    """One flow: the summary line, the tab bar, and the current tab's rows."""

    title = "Flow details"
    help_keys = _help_keys()

    def __init__(self, ui: UI, flow: HTTPFlow, tab: int = TAB_REQUEST) -> None:
        self.ui = ui
        self.state = ui.master.state
        self.tab = tab
        self._summary = urwid.Text("")
        self._tabs = urwid.Columns([])
        self._list = urwid.ListBox(_Rows([]))
        header = urwid.Pile([self._summary, self._tabs, urwid.Divider()])
        super().__init__(urwid.Frame(self._list, header=header))
        self._show_flow(flow)
        _watch(self.state, self)

    # --- building -------------------------------------------------------------------------

    def _show_flow(self, flow: HTTPFlow) -> None:
        self.flow = flow
        self._modes: dict[int, str | None] = {TAB_REQUEST: None, TAB_RESPONSE: None}
        # How many lines of each body to format (None: all).
        self._limits: dict[int, int | None] = {TAB_REQUEST: VIEW_LINES,
                                               TAB_RESPONSE: VIEW_LINES}
        self._content_cache: dict[tuple, contentviews.ContentView] = {}
        self._term: str | None = None
        self.refresh()

    def refresh(self) -> None:
        """Rebuild everything from the flow (the window calls this when it shows the view
        again; the view calls it after each change)."""
        self._shown = _fingerprint(self.flow)
        self._summary.set_text(_summary(self.flow, self.ui.master.options.showhost))
        self._tabs.contents = [(urwid.Text(markup), self._tabs.options("pack"))
                               for markup in self._tab_markup()]
        focus = self._list.body.focus if self._list.body.rows else 0
        rows = _Rows(self._rows())
        rows.focus = min(focus, max(len(rows) - 1, 0))
        self._list.body = rows
        self._matches = rows.highlight(self._term)
        self._invalidate()

    def flow_changed(self, flow: Any) -> None:
        """The flow store changed (``flow``, or None for many flows at once)."""
        if (flow is None or flow is self.flow) and _fingerprint(self.flow) != self._shown:
            self.refresh()

    def _tab_markup(self) -> list[list[tuple[str, str]]]:
        waiting = TAB_RESPONSE if getattr(self.flow, "response", None) else TAB_REQUEST
        markups = []
        for tab, name in enumerate(TAB_NAMES):
            attr = "heading" if tab == self.tab else "heading_inactive"
            markup = [(attr, f" {name}")]
            if self.flow.intercepted and tab == waiting:
                markup.append(("intercept" if tab != self.tab else attr, " intercepted"))
            markup.append((attr, " "))
            markups.append(markup + [("text", " ")])
        return markups

    def _message(self) -> HTTPRequest | HTTPResponse | None:
        """The message the tab shows (None on the Detail tab, and for TCP flows)."""
        if self.tab == TAB_REQUEST:
            return getattr(self.flow, "request", None)
        if self.tab == TAB_RESPONSE:
            return getattr(self.flow, "response", None)
        return None

    def _mode(self, tab: int) -> contentviews.View:
        name = self._modes.get(tab) or self.ui.master.options.default_view
        try:
            return contentviews.get(name)
        except contentviews.ContentViewException:  # a name from a hand-edited config
            return contentviews.get("auto")

    def _rows(self) -> list[Row]:
        if self.tab == TAB_DETAIL:
            return _detail_rows(self.flow)
        if not isinstance(self.flow, HTTPFlow):
            return self._stream_rows()
        message = self._message()
        if message is None:
            rows: list[Row] = [[]]
            if self.flow.error is not None:
                rows += [[("error", f"Error: {common.printable(self.flow.error.msg)}")], []]
            return rows + [[("highlight", "No response. Press "), ("key", "e"),
                            ("highlight", " and edit any aspect to add one.")]]
        rows = list(_header_rows(message.headers))
        if message.raw_content is None:
            return rows + [_mode_line("", self._mode(self.tab)),
                           [("error", "[content missing]")]]
        content = self._content(message)
        description = content.description
        if description == "No content" and self.tab == TAB_REQUEST:
            description = "No request content (press tab to view response)"
        rows.append(_mode_line(description, self._mode(self.tab)))
        rows.extend(content.lines)
        return rows

    def _stream_rows(self) -> list[Row]:
        """A TCP flow: the Request tab shows what the client sent, the Response tab what
        the server sent, message by message, each through the tab's view mode."""
        from_client = self.tab == TAB_REQUEST
        mode = self._mode(self.tab)
        rows: list[Row] = []
        for message in getattr(self.flow, "messages", ()):
            if message.from_client != from_client:
                continue
            content = contentviews.get_content_view(mode, message.content, limit=VIEW_LINES)
            when = human.format_timestamp_with_milli(message.timestamp)
            rows.append(_mode_line(f"{when}  {human.pretty_size(len(message.content))}  "
                                   f"{content.description}", mode))
            rows.extend(content.lines)
        return rows or [[("highlight", "No messages from the "
                          + ("client." if from_client else "server."))]]

    def _content(self, message: HTTPRequest | HTTPResponse) -> contentviews.ContentView:
        """The body through the tab's view mode; kept for as long as nothing it depends on
        changes, so switching tabs does not format a large body again."""
        mode = self._mode(self.tab)
        limit = self._limits[self.tab]
        query = message.query if isinstance(message, HTTPRequest) else None
        key = (self.tab, mode.name, limit, message.raw_content, message.headers.fields,
               message.path if isinstance(message, HTTPRequest) else None)
        content = self._content_cache.get(key)
        if content is None:
            content = contentviews.get_content_view(
                mode, message.raw_content, headers=message.headers, query=query,
                limit=limit, limit_hint=LIMIT_HINT)
            if content.error:
                self.ui.master.add_event(f"content view: {content.error}", "debug")
            self._content_cache = {k: v for k, v in self._content_cache.items()
                                   if k[0] != self.tab}
            self._content_cache[key] = content
        return content

    # --- keys -----------------------------------------------------------------------------

    def keypress(self, size: Any, key: str) -> str | None:
        if key in _MOVEMENT:
            movement = _MOVEMENT[key]
            if movement in _ONWARD and self._at_marker():
                self._extend()
                return None
            return self._list.keypress(self._list_size(size), movement)
        action = self._ACTIONS.get(key)
        if action is not None:
            action(self)
            return None
        if key in self._MESSAGE_ACTIONS:
            message = self._message()
            if self.tab == TAB_DETAIL:
                self.ui.status("Tab to the request or response")
            elif not isinstance(self.flow, HTTPFlow) and key != "m":
                self.ui.status("Not available for a TCP flow")
            elif message is None and key not in ("m", "e"):
                self.ui.status("No response yet: press e to make one")
            else:
                self._MESSAGE_ACTIONS[key](self, message)
            return None
        return key

    def _list_size(self, size: Any) -> tuple[int, int]:
        header_rows = self._w.header.rows((size[0],))
        return size[0], max(size[1] - header_rows, 1)

    def mouse_event(self, size: Any, event: str, button: int, col: int, row: int,
                    focus: bool) -> bool | None:
        # The wheel scrolls the tab, as arrow keys do.
        if button in (4, 5) and event == "mouse press":
            if button == 5 and self._at_marker():
                self._extend()
            else:
                self._list.keypress(self._list_size(size), "up" if button == 4 else "down")
            return True
        return super().mouse_event(size, event, button, col, row, focus)

    # tabs

    def _set_tab(self, tab: int) -> None:
        self.tab = tab % len(TAB_NAMES)
        self._list.body = _Rows([])
        self.refresh()

    def _next_tab(self) -> None:
        self._set_tab(self.tab + 1)

    def _prev_tab(self) -> None:
        self._set_tab(self.tab - 1)

    # flows

    def _go_to(self, neighbour: Callable[[Any], Any]) -> None:
        flow = neighbour(self.flow)
        if flow is None:
            self.ui.status("No more flows!")
            return
        self.state.set_focus_flow(flow)
        self._list.body = _Rows([])
        self._show_flow(flow)

    def _next_flow(self) -> None:
        self._go_to(self.state.next_flow)

    def _prev_flow(self) -> None:
        self._go_to(self.state.prev_flow)

    def _changed(self, message: str | None = None) -> None:
        """After an edit: the store hears of it (the flow list redraws it), the view shows
        it."""
        self.state.update_flow(self.flow)
        self.refresh()
        if message:
            self.ui.status(message)

    def _accept(self) -> None:
        self.ui.master.accept(self.flow)
        self.refresh()

    def _accept_all(self) -> None:
        self.ui.master.accept_all()
        self.refresh()

    def _kill(self) -> None:
        self.ui.master.kill_flow(self.flow)
        self.refresh()

    def _delete(self) -> None:
        self.state.delete_flow(self.flow)
        self.ui.pop()

    def _duplicate(self) -> None:
        copy = self.state.duplicate_flow(self.flow)
        self.state.set_focus_flow(copy)
        self._list.body = _Rows([])
        self._show_flow(copy)
        self.ui.status("Duplicated.")

    def _replay(self) -> None:
        self.ui.master.replay(self.flow)
        self.refresh()

    def _revert(self) -> None:
        self.ui.master.revert(self.flow)
        self.refresh()

    def _save_flow(self) -> None:
        self.ui.prompt("Save this flow",
                       lambda path: self._save([self.flow], path))

    def _save_view(self) -> None:
        self.ui.prompt("Save flows matching the limit",
                       lambda path: self._save(list(self.state.view), path))

    def _save(self, flows: list[Any], path: str) -> None:
        if path.strip():
            self.ui.master.save_flows(path, flows)

    def _export(self) -> None:
        export.export_menu(self.ui, self.flow)

    def _script_prompt(self) -> None:
        self.ui.prompt("Run script on this flow", self._run_script)

    def _run_script(self, command: str) -> None:
        if command.strip():
            self.ui.master.run_script_once(command.strip(), self.flow)

    # view modes, full bodies, search

    def _choose_mode(self, message: Any) -> None:
        keys = [view.prompt for view in contentviews.views] + [("clear", "C")]
        self.ui.prompt_onekey("Display mode", keys, self._set_mode)

    def _set_mode(self, key: str) -> None:
        self._modes[self.tab] = None if key == "C" else _view_for_key(key).name
        self._limits[self.tab] = VIEW_LINES  # another mode starts cut again: it may be slow
        self.refresh()

    def _choose_default_mode(self) -> None:
        self.ui.prompt_onekey("Global default display mode",
                              [view.prompt for view in contentviews.views],
                              self._set_default_mode)

    def _set_default_mode(self, key: str) -> None:
        try:
            self.ui.master.set_options(default_view=_view_for_key(key).name)
        except ValueError as e:
            self.ui.status(str(e))
            return
        self.refresh()

    def _cut_off(self) -> bool:
        """Whether the current tab's body is shown only in part."""
        limit = self._limits.get(self.tab)
        content = next((v for k, v in self._content_cache.items()
                        if k[0] == self.tab and k[2] == limit), None)
        return content is not None and limit is not None and len(content.lines) > limit

    def _at_marker(self) -> bool:
        """Whether the focus is on the cut-off marker (the last row of a cut body)."""
        rows = self._list.body
        return bool(rows.rows) and rows.focus == len(rows.rows) - 1 and self._cut_off()

    def _extend(self) -> None:
        """Moving on from the marker: format more of the body, in place of the marker."""
        self._limits[self.tab] *= EXTEND_FACTOR
        self.refresh()

    def _load_full(self, message: Any) -> None:
        if self._cut_off():
            self._limits[self.tab] = None
            self.refresh()

    def _search_prompt(self) -> None:
        self.ui.prompt("Search", self._search, text=self._term or "")

    def _search(self, term: str) -> None:
        self._term = term or None
        self._matches = self._list.body.highlight(self._term)
        if self._term:
            self._jump(forward=True, first=True)

    def _jump(self, forward: bool, first: bool = False) -> None:
        if not self._term:
            self.ui.status("No search term: press / to search")
            return
        if not self._matches:
            self.ui.status(f"Not found: {self._term}" + (" (in the lines shown; f shows all)"
                                                         if self._cut_off() else ""))
            return
        focus = self._list.body.focus
        if forward:
            later = [i for i in self._matches if i > focus or (first and i == focus)]
            target = later[0] if later else self._matches[0]
            if not later:
                self.ui.status("Search hit bottom, continuing at top")
        else:
            earlier = [i for i in self._matches if i < focus]
            target = earlier[-1] if earlier else self._matches[-1]
            if not earlier:
                self.ui.status("Search hit top, continuing at bottom")
        self._list.set_focus(target)
        self._list.set_focus_valign("middle")

    def _search_next(self) -> None:
        self._jump(forward=True)

    def _search_prev(self) -> None:
        self._jump(forward=False)

    # --- editing --------------------------------------------------------------------------

    def _edit_menu(self, message: Any) -> None:
        if self.tab == TAB_REQUEST:
            keys = [("query", "q"), ("path", "p"), ("url", "u"), ("header", "h"),
                    ("form", "f"), ("raw body", "r"), ("method", "m"), ("cookies", "c")]
            self.ui.prompt_onekey("Edit request", keys, self._edit_request)
        else:
            keys = [("code", "o"), ("message", "m"), ("header", "h"), ("raw body", "r"),
                    ("set-cookies", "c")]
            self.ui.prompt_onekey("Edit response", keys, self._edit_response)

    def _edit(self, apply: Callable[..., Any]) -> Callable[..., None]:
        """A callback that backs the flow up, runs ``apply`` with the callback's
        arguments, and shows the change."""
        def callback(*args: Any) -> None:
            self.flow.backup()
            apply(*args)
            self._changed()
        return callback

    def _edit_request(self, key: str) -> None:
        request = self.flow.request
        if key == "m":
            self.ui.prompt_onekey("Method", METHOD_KEYS, self._edit_method)
        elif key == "u":
            self.ui.prompt("URL", self._edit(lambda text: setattr(request, "url", text.strip())),
                           text=request.url, validate=common.validate_url)
        elif key == "p":
            grideditor.edit_list(self.ui, "Editing path components",
                                 list(request.path_components),
                                 self._edit(lambda items: setattr(request, "path_components",
                                                                  items)),
                                 heading="Component")
        elif key == "c":
            grideditor.edit_cookies(self.ui, "Editing request cookies",
                                    list(request.cookies.items(multi=True)),
                                    self._edit(lambda rows: setattr(request, "cookies", rows)))
        elif key == "q":
            grideditor.edit_query(self.ui, "Editing query", list(request.query.items(multi=True)),
                                  self._edit(lambda rows: setattr(request, "query", rows)))
        elif key == "f":
            if request.raw_content and not request.urlencoded_form:
                self.ui.prompt_onekey("Existing body is not a URL-encoded form. Clear and edit?",
                                      [("yes", "y"), ("no", "n")],
                                      lambda answer: answer == "y" and self._edit_form())
            else:
                self._edit_form()
        else:
            self._edit_common(request, key)

    def _edit_form(self) -> None:
        request = self.flow.request
        grideditor.edit_form(self.ui, "Editing URL-encoded form",
                             list(request.urlencoded_form.items(multi=True)),
                             self._edit(lambda rows: setattr(request, "urlencoded_form", rows)))

    def _edit_method(self, key: str) -> None:
        request = self.flow.request
        if key == "e":
            self.ui.prompt("Method", self._edit(lambda text: setattr(request, "method",
                                                                     text.strip())),
                           text=request.method, validate=common.validate_method)
            return
        name = next(name for name, k in METHOD_KEYS if k == key)
        self._edit(lambda: setattr(request, "method", name.upper()))()

    def _edit_response(self, key: str) -> None:
        if self.flow.response is None:
            # 0.18: editing a missing response makes one, which an intercepted flow then
            # sends to its client without asking the server.
            self.flow.backup()
            self.flow.response = HTTPResponse(self.flow.request.http_version, 200, "OK",
                                              Headers(), b"")
            self._changed()
        response = self.flow.response
        if key == "o":
            self.ui.prompt("Code", self._edit(lambda text: _set_status(response, int(text))),
                           text=str(response.status_code), validate=_status_error)
        elif key == "m":
            self.ui.prompt("Message", self._edit(lambda text: setattr(response, "reason", text)),
                           text=response.reason)
        elif key == "c":
            self._edit_set_cookies(response)
        else:
            self._edit_common(response, key)

    def _edit_set_cookies(self, response: HTTPResponse) -> None:
        """Set-Cookie cookies, written back one header per cookie (response.cookies)."""
        cookies = [(name, value, list(attrs.items(multi=True)))
                   for name, (value, attrs) in response.cookies.items(multi=True)]
        grideditor.edit_set_cookies(
            self.ui, "Editing Set-Cookie headers", cookies,
            self._edit(lambda rows: setattr(response, "cookies",
                                            [(name, (value, attrs))
                                             for name, value, attrs in rows])))

    def _edit_common(self, message: HTTPRequest | HTTPResponse, key: str) -> None:
        if key == "h":
            what = "request" if message is self.flow.request else "response"
            grideditor.edit_headers(self.ui, f"Editing {what} headers",
                                    list(message.headers.fields),
                                    self._edit(lambda rows: setattr(message, "headers",
                                                                    Headers(rows))))
        elif key == "r":
            self._edit_body(message)

    def _edit_body(self, message: HTTPRequest | HTTPResponse) -> None:
        try:
            body = message.get_content() or b""
        except ValueError as e:
            self.ui.status(f"Cannot edit the body: {e}")
            return
        edited = self.ui.spawn_editor(body)
        if edited is None or edited == body:
            return
        # Editors end the file with a newline; a body that had none keeps none.
        if edited.endswith(b"\n") and not body.endswith(b"\n"):
            edited = edited.rstrip(b"\r\n")
        self._edit(lambda: message.set_content(edited))()

    # --- bodies ---------------------------------------------------------------------------

    def _save_body(self) -> None:
        common.ask_save_body(self.ui, self.flow)

    def _view_body(self, message: HTTPRequest | HTTPResponse) -> None:
        body = message.get_content(strict=False)
        if not body:
            self.ui.status("No body to view")
            return
        self.ui.spawn_viewer(body, message.headers.get("content-type"))

    def _delete_body(self, message: HTTPRequest | HTTPResponse) -> None:
        def delete(key: str) -> None:
            self.flow.backup()
            if key == "c":
                message.content = b""
            else:
                message.raw_content = None
            self._changed()
        self.ui.prompt_onekey("Delete body", [("completely", "c"), ("mark as missing", "m")],
                              delete)

    def _encoding(self, message: HTTPRequest | HTTPResponse) -> None:
        if message.raw_content is None:
            self.ui.status("The body was not kept (it was streamed)")
            return
        coding = message.headers.get("content-encoding", "identity").strip().lower()
        if coding and coding != "identity":
            try:
                message.get_content()
            except ValueError as e:
                self.ui.status(f"Could not decode - invalid data? ({e})")
                return
            self.flow.backup()
            message.decode()
            self._changed(f"Decoded ({coding})")
            return

        def encode(key: str) -> None:
            self.flow.backup()
            message.encode(_ENCODINGS[key])
            self._changed(f"Encoded ({_ENCODINGS[key]})")
        self.ui.prompt_onekey("Select encoding", ENCODING_KEYS, encode)

    _ACTIONS: dict[str, Callable[[FlowView], None]] = {
        "tab": _next_tab, "l": _next_tab, "right": _next_tab,
        "h": _prev_tab, "left": _prev_tab,
        " ": _next_flow, "p": _prev_flow,
        "a": _accept, "A": _accept_all, "X": _kill, "d": _delete, "D": _duplicate,
        "r": _replay, "V": _revert, "W": _save_flow, "w": _save_view, "E": _export,
        "M": _choose_default_mode, "/": _search_prompt, "n": _search_next, "N": _search_prev,
        "|": _script_prompt, "b": _save_body,
    }

    # Keys about the tab's message: not on the Detail tab; "m" on a TCP flow's messages
    # too, "e" also where the response is still missing (it makes one).
    _MESSAGE_ACTIONS: dict[str, Callable[[FlowView, Any], None]] = {
        "e": _edit_menu, "m": _choose_mode, "f": _load_full,
        "v": _view_body, "x": _delete_body, "z": _encoding,
    }


def _view_for_key(key: str) -> contentviews.View:
    return next(view for view in contentviews.views if view.prompt[1] == key)


def _status_error(text: str) -> str | None:
    try:
        code = int(text)
    except ValueError:
        return "not a number"
    return None if 100 <= code <= 999 else "a status code has three digits"


def _set_status(response: HTTPResponse, code: int) -> None:
    """Set the status code, and the reason phrase that goes with it (as 0.18 did)."""
    response.status_code = code
    if code in status_codes.RESPONSES:
        response.reason = status_codes.RESPONSES[code]

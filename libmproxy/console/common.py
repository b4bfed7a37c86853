"""Formatting shared by the console's screens: sizes, the one-entry summary of a flow,
key/value tables, and the filter-expression check every filter prompt uses.

Text that came from the network is shown through ``printable``: a header or URL with
control characters must not move the cursor or fake a line on the user's terminal.
"""
from __future__ import annotations

from typing import Any, Sequence

import urwid

from netlib import human

__all__ = [
    "SYMBOL_MARK", "SYMBOL_REPLAY", "format_flow", "format_keyvals", "pretty_size",
    "printable", "status_attr", "validate_filter", "symbol_return",
]

# The marks of 0.18's flow list.
SYMBOL_MARK = "\u25cf"  # ● a marked flow
SYMBOL_REPLAY = "\u21ba"  # ↺ a replayed request or response
SYMBOL_FOCUS = ">>"  # the focused flow
SYMBOL_FOCUS_BLANK = "  "
INDENT = "   "  # the response line sits under the request's method


def symbol_return() -> str:
    """The arrow before a response: the spec's "←" on a UTF-8 terminal, "<-" elsewhere."""
    return "\u2190" if urwid.util.get_encoding_mode() == "utf8" else "<-"


def pretty_size(size: int) -> str:
    """A byte count as the flow list shows it (``16.75k``)."""
    return human.pretty_size(size)


def printable(value: str | bytes | None) -> str:
    """``value`` as one line of safe text: undecodable bytes and control characters are
    shown as escapes."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in value)


def status_attr(code: int) -> str:
    """The palette attribute of a status code."""
    if 200 <= code < 300:
        return "code_200"
    if 300 <= code < 400:
        return "code_300"
    if 400 <= code < 500:
        return "code_400"
    if 500 <= code < 600:
        return "code_500"
    return "code_other"


def validate_filter(text: str) -> str | None:
    """For filter prompts: None if ``text`` is empty or a valid filter expression, else
    the parser's message (its first line; the rest draws a caret under the error)."""
    if not text.strip():
        return None
    from libmproxy import filt
    try:
        filt.parse(text)
    except ValueError as e:
        return str(e).splitlines()[0]
    return None


# --- the flow list's entry ---------------------------------------------------------------------

Markup = list[Any]


def format_flow(flow: Any, focused: bool = False, showhost: bool = False) -> Markup:
    """The flow list's entry for ``flow`` as urwid text markup: the request line, then the
    response line (status, content type, size) once there is a response or an error.
    Intercepted parts are drawn in the "intercept" colour (orange)."""
    head: Markup = [("focus", SYMBOL_FOCUS if focused else SYMBOL_FOCUS_BLANK), " "]
    if flow.marked:
        head.append(("mark", SYMBOL_MARK + " "))
    request = getattr(flow, "request", None)
    if request is None:
        return head + _format_stream(flow)
    response = flow.response
    waiting = flow.intercepted and response is None
    if request.is_replay:
        head.append(("replay", SYMBOL_REPLAY + " "))
    url = request.pretty_url if showhost else request.url
    head += [("intercept" if waiting else "method", printable(request.method)), " ",
             ("intercept" if waiting else "text", printable(url))]
    if request.http_version not in ("HTTP/1.1", "HTTP/1.0"):
        head.append(("text", " " + printable(request.http_version)))
    tail = _format_response(flow)
    return head + tail


def _format_response(flow: Any) -> Markup:
    response = flow.response
    arrow = symbol_return()
    if response is not None:
        attr = "intercept" if flow.intercepted else status_attr(response.status_code)
        line: Markup = ["\n", INDENT, (attr, arrow + " ")]
        if response.is_replay:
            line.append(("replay", SYMBOL_REPLAY + " "))
        line.append((attr, str(response.status_code)))
        content_type = response.headers.get("content-type")
        text_attr = "intercept" if flow.intercepted else "text"
        if content_type:
            line.append((text_attr, " " + printable(content_type.split(";")[0].strip())))
        content = response.raw_content
        size = "[content missing]" if content is None else pretty_size(len(content))
        line.append((text_attr, " " + size))
        return line
    if flow.error is not None:
        return ["\n", INDENT, ("error", f"{arrow} {printable(flow.error.msg)}")]
    return []


def _format_stream(flow: Any) -> Markup:
    """A TCP flow: its endpoints and how many messages went each way."""
    client = flow.client_conn.address if flow.client_conn is not None else None
    server = flow.server_conn.address if flow.server_conn is not None else None
    messages = getattr(flow, "messages", ())
    line: Markup = [("method", "TCP"), " ",
                    ("text", f"{_address(client)} <-> {_address(server)}"),
                    "\n", INDENT, ("text", f"{len(messages)} messages")]
    if flow.error is not None:
        line += [" ", ("error", printable(flow.error.msg))]
    return line


def _address(address: Any) -> str:
    if address is None:
        return "?"
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None:
        host, port = address[0], address[1]
    return f"{host}:{port}"


# --- key/value tables --------------------------------------------------------------------------

def format_keyvals(entries: Sequence[tuple[str, Any] | None], key: str = "key",
                   value: str = "text", indent: int = 0) -> list[urwid.Widget]:
    """A two-column table: each key padded to the widest, its value beside it (text or
    markup; a value may be a widget). None entries give blank lines."""
    width = max((len(e[0]) for e in entries if e is not None), default=0)
    rows: list[urwid.Widget] = []
    for entry in entries:
        if entry is None:
            rows.append(urwid.Text(""))
            continue
        k, v = entry
        if isinstance(v, urwid.Widget):
            cell = v
        else:
            cell = urwid.Text([(value, v)] if isinstance(v, str) else v)
        columns: list[Any] = [("fixed", indent, urwid.Text(""))] if indent else []
        columns += [("fixed", width + 2, urwid.Text([(key, k)])), cell]
        rows.append(urwid.Columns(columns))
    return rows

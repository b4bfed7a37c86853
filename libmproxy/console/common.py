"""Formatting shared by the console's screens: sizes, the one-entry summary of a flow,
key/value tables; the checks prompts use as the user types (filter expressions, URLs,
methods); saving a body to a file.

Text that came from the network is shown through ``printable``: a header or URL with
control characters must not move the cursor or fake a line on the user's terminal.
"""
from __future__ import annotations

import os
import re
from typing import Any, Sequence

import urwid

from netlib import human

__all__ = [
    "KEY_COLUMN_MAX", "SYMBOL_MARK", "SYMBOL_REPLAY", "ask_save_body", "format_flow",
    "format_keyvals", "pretty_size", "printable", "status_attr", "symbol_return",
    "validate_filter", "validate_method", "validate_url",
]

# The marks of 0.18's flow list.
SYMBOL_MARK = "\u25cf"  # ● a marked flow
SYMBOL_REPLAY = "\u21ba"  # ↺ a replayed request or response
SYMBOL_FOCUS = ">>"  # the focused flow
SYMBOL_FOCUS_BLANK = "  "
INDENT = "   "  # the response line sits under the request's method

# The widest a key/value table's key column gets (the flow view's header rows keep to the
# same): a longer key wraps inside it, so a hostile header name cannot push the values off
# the screen.
KEY_COLUMN_MAX = 32

# An HTTP method is a token (RFC 7230).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


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
    return filt.problem(text)


def validate_url(text: str) -> str | None:
    """For URL prompts: None for an absolute URL, else what is wrong with it."""
    from netlib.http import url
    try:
        url.parse(text.strip())
    except ValueError as e:
        return str(e)
    return None


def validate_method(text: str) -> str | None:
    """For method prompts: None for a method name (an HTTP token), else why not."""
    return None if _TOKEN.match(text.strip()) else "not a method name"


# --- saving a body ------------------------------------------------------------------------------

def ask_save_body(ui: Any, flow: Any) -> None:
    """``b``: ask for a file and write a body to it, decoded from its Content-Encoding where
    that works (someone saving an image wants the image, not its gzip); first ask which
    body when both the request and the response have one."""
    bodies = {key: message for key, message in
              (("q", getattr(flow, "request", None)), ("s", getattr(flow, "response", None)))
              if message is not None and message.raw_content}
    if not bodies:
        ui.status("No body to save.")
        return

    def ask_path(key: str) -> None:
        message = bodies[key]
        ui.prompt("Save body to", lambda path: _write_body(ui, message, path))
    if len(bodies) == 1:
        ask_path(next(iter(bodies)))
    else:
        ui.prompt_onekey("Save body of the", [("request", "q"), ("response", "s")], ask_path)


def _write_body(ui: Any, message: Any, path: str) -> None:
    path = os.path.expanduser(path.strip())
    if not path:
        return
    try:
        with open(path, "wb") as f:
            f.write(message.get_content(strict=False) or b"")
    except OSError as e:
        ui.status(f"Could not save the body: {e.strerror or e}: {path}")
        return
    ui.status(f"Saved the body to {path}")


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
        if flow.error is not None:  # killed or broken after its response came
            line.append(("error", " " + printable(flow.error.msg)))
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

def format_keyvals(entries: Sequence[tuple[str, Any] | None], key_attr: str = "key",
                   value_attr: str = "text", indent: int = 0) -> list[urwid.Widget]:
    """A two-column table: each key in a column as wide as the widest (at most
    KEY_COLUMN_MAX, longer keys wrap in it), its value beside it (text or markup; a value
    may be a widget). None entries give blank lines."""
    width = min(max((len(e[0]) for e in entries if e is not None), default=0),
                KEY_COLUMN_MAX)
    rows: list[urwid.Widget] = []
    for entry in entries:
        if entry is None:
            rows.append(urwid.Text(""))
            continue
        k, v = entry
        if isinstance(v, urwid.Widget):
            cell = v
        else:
            cell = urwid.Text([(value_attr, v)] if isinstance(v, str) else v)
        row: urwid.Widget = urwid.Columns(
            [("fixed", max(width, 1), urwid.Text([(key_attr, k)], wrap="any")), cell],
            dividechars=2)
        rows.append(urwid.Padding(row, left=indent) if indent else row)
    return rows

"""mitmdump's master: prints each completed flow and writes it to the flow file.

Output keeps 0.18's shape, one flow at a time, printed when the flow is complete::

    127.0.0.1 GET http://example.com/path
     << 200 OK 1.2k

``-d`` adds the headers (indented), ``-dd`` the bodies cut off after ``BODY_LINES`` lines,
``-ddd`` whole bodies; an error prints `` << error: message``. Log entries are printed by
level and verbosity (``LOG_LEVELS``); errors go to stderr, everything else to stdout.

Rules of this file:

- mitmdump only observes: it never changes or holds a flow, so it asks the proxy to *tell*
  it the events it prints or writes, and to skip the others (``wanted_events``). The
  connection threads never wait for it. It keeps no flows in memory, only the ids of the
  last ``RECENT_IDS`` flows written, so that a flow that fails after its response (the
  client went away) is not written twice.
- Each flow is written and flushed as it completes (``FlowWriter``): a killed mitmdump
  loses at most the flow in progress.
"""
from __future__ import annotations

import collections
import dataclasses
import sys
from typing import Any, BinaryIO, Iterable, TextIO

from netlib import human
from netlib.http import Headers

from libmproxy import controller
from libmproxy.controller import SKIP, TELL, Server
from libmproxy.flow import FlowWriter
from libmproxy.models import HTTPFlow, HTTPRequest, HTTPResponse

__all__ = ["DumpMaster", "DumpError", "Options", "LOG_LEVELS", "BODY_LINES"]

# The verbosity a log entry of each level needs to be shown, as in 0.18: -q is 0 (errors
# only, on stderr), the default 1, -v 2 (adds the debug entries: connections, server
# addresses). Unknown levels count as "info".
LOG_LEVELS = {"error": 0, "warn": 1, "info": 1, "debug": 2}

# Flow detail levels (-d adds one): what echo_flow prints at each.
DETAIL_LINES = 1
DETAIL_HEADERS = 2
DETAIL_BODIES = 3
DETAIL_FULL_BODIES = 4

# At -dd a body is cut off after this many lines (as 0.18 did): enough to recognise it,
# short enough that a large page does not scroll every other flow away.
BODY_LINES = 70

# Bytes per line of a binary body's hex dump.
HEXDUMP_WIDTH = 16

# A body is shown as text if at most this share of its characters are control characters
# (other than whitespace); otherwise it is a hex dump.
BINARY_THRESHOLD = 0.3

# How many written flow ids are remembered to avoid writing a flow again on its error.
# An error follows its response at once, so a short memory is enough; the bound keeps a
# long-running mitmdump's memory flat.
RECENT_IDS = 1024

INDENT = "    "


class DumpError(Exception):
    """A startup problem of the master (the flow file cannot be opened)."""


@dataclasses.dataclass
class Options:
    """What mitmdump shows and writes (``cmdline.get_common_options`` makes these)."""

    flow_detail: int = DETAIL_LINES
    verbosity: int = 1
    outfile: tuple[str, str] | None = None  # (path, "wb" or "ab")
    showhost: bool = False

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> Options:
        """Options from a dict that may hold other tools' options too."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names})


# --- text helpers ---------------------------------------------------------------------------

def _escape(value: str | bytes) -> str:
    """``value`` as one printable line: control characters (and undecodable bytes) are
    shown as escapes, so a hostile header cannot move the cursor or fake a line."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value
    )


def _is_text(text: str) -> bool:
    controls = sum(1 for c in text if not c.isprintable() and c not in "\r\n\t")
    return controls <= BINARY_THRESHOLD * len(text)


def _hexdump(data: bytes) -> Iterable[str]:
    for offset in range(0, len(data), HEXDUMP_WIDTH):
        chunk = data[offset:offset + HEXDUMP_WIDTH]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        yield f"{offset:010x} {hexes:<{HEXDUMP_WIDTH * 3}} {ascii_}"


def body_lines(content: bytes, headers: Headers | None = None) -> list[str]:
    """The lines mitmdump shows for a (decoded) body: its text if it reads as text in its
    declared charset (UTF-8 if none), a hex dump otherwise."""
    charset = "utf-8"
    if headers is not None:
        content_type = headers.get("content-type", "")
        for param in content_type.split(";")[1:]:
            name, _, value = param.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
    try:
        text = content.decode(charset)
    except (UnicodeDecodeError, LookupError):
        text = None
    if text is not None and _is_text(text):
        return [_escape(line) for line in text.splitlines()]
    return list(_hexdump(content))


# --- the master -----------------------------------------------------------------------------

class DumpMaster(controller.Master):
    """Prints flows and log entries; writes flows to ``options.outfile``.

    ``outfile``/``errfile`` are the text streams printed to (stdout and stderr). Close the
    master (``close``) when done to close the flow file.
    """

    def __init__(self, server: Server | None, options: Options,
                 outfile: TextIO | None = None, errfile: TextIO | None = None) -> None:
        self.options = options
        self.outfile = sys.stdout if outfile is None else outfile
        self.errfile = sys.stderr if errfile is None else errfile
        self.flow_file: BinaryIO | None = None
        self.writer: FlowWriter | None = None
        self._written: collections.OrderedDict[str, None] = collections.OrderedDict()
        if options.outfile is not None:
            path, mode = options.outfile
            try:
                self.flow_file = open(path, mode)
            except OSError as e:
                raise DumpError(f"{path}: cannot open flow file: {e.strerror}") from e
            self.writer = FlowWriter(self.flow_file)
        super().__init__(server)
        self.set_event_policy(self.wanted_events(), default=SKIP)
        # Entries add_event would not print are not queued (read live: verbosity may change).
        self.event_policy.log_filter = self._shows_level

    # --- what the proxy tells us ------------------------------------------------------------

    def wanted_events(self) -> dict[str, str]:
        """event -> "tell" for the events this master prints or writes, else "skip".

        Printing and writing only observe, so no event is ever "ask": the connection
        thread goes on at once. Events that would print nothing at these options are
        skipped, so a quiet mitmdump costs the proxy nothing.
        """
        printing = self.options.flow_detail > 0
        wanted = {
            "response": printing or self.writer is not None,
            "error": printing or self.writer is not None,
            "log": True,  # errors are shown even with -q
            "tcp_message": printing,
        }
        return {event: TELL if on else SKIP for event, on in wanted.items()}

    # --- output -----------------------------------------------------------------------------

    def echo(self, text: str, indent: int = 0, err: bool = False) -> None:
        """Print ``text`` (each line indented by ``indent`` levels). If the reader of our
        output went away (``mitmdump | head``), stop, as tcpdump does."""
        stream = self.errfile if err else self.outfile
        if indent:
            text = "\n".join(INDENT * indent + line for line in text.splitlines())
        encoding = getattr(stream, "encoding", None) or "utf-8"
        text = text.encode(encoding, "backslashreplace").decode(encoding)
        try:
            stream.write(text + "\n")
            stream.flush()
        except BrokenPipeError:
            self.options.flow_detail = 0
            self.options.verbosity = -1
            self.shutdown()

    def _shows_level(self, level: str) -> bool:
        return self.options.verbosity >= LOG_LEVELS.get(level, LOG_LEVELS["info"])

    def add_event(self, e: str, level: str = "info") -> None:
        if self._shows_level(level):
            self.echo(e, err=(level == "error"))

    def _echo_headers(self, headers: Headers) -> None:
        lines = [f"{_escape(k)}: {_escape(v)}" for k, v in headers.fields]
        if lines:
            self.echo("\n".join(lines), indent=1)

    def _echo_body(self, message: Any) -> None:
        content = message.get_content(strict=False) if hasattr(message, "get_content") \
            else message.content
        if content is None:
            self.echo("(content missing)", indent=1)
            return
        if not content:
            return
        lines = body_lines(content, getattr(message, "headers", None))
        cut = self.options.flow_detail < DETAIL_FULL_BODIES and len(lines) > BODY_LINES
        self.echo("")
        self.echo("\n".join(lines[:BODY_LINES] if cut else lines), indent=1)
        if cut:
            self.echo("(cut off)", indent=1)

    def _echo_message(self, message: HTTPRequest | HTTPResponse) -> None:
        detail = self.options.flow_detail
        if detail >= DETAIL_HEADERS:
            self._echo_headers(message.headers)
        if detail >= DETAIL_BODIES:
            self._echo_body(message)
        if detail >= DETAIL_HEADERS:
            self.echo("")

    def _request_line(self, flow: HTTPFlow) -> str:
        request = flow.request
        address = flow.client_conn.address if flow.client_conn is not None else None
        client = _escape(address.host) if address is not None else "[replay]"
        url = request.pretty_url if self.options.showhost else request.url
        # HTTP/1.x is the norm and not shown; HTTP/2 (and anything odd) is.
        version = "" if request.http_version in ("HTTP/1.1", "HTTP/1.0") \
            else f" {_escape(request.http_version)}"
        sticky = "[stickycookie] " if request.stickycookie else ""
        return f"{sticky}{client} {_escape(request.method)} {_escape(url)}{version}"

    @staticmethod
    def _response_line(response: HTTPResponse) -> str:
        replay = "[replay]" if response.is_replay else ""
        content = response.raw_content
        size = "(content missing)" if content is None else human.pretty_size(len(content))
        return f"{replay} << {response.status_code} {_escape(response.reason)} {size}"

    def echo_flow(self, flow: HTTPFlow) -> None:
        """Print ``flow`` at the options' detail level."""
        if self.options.flow_detail <= 0:
            return
        if flow.request is not None:
            self.echo(self._request_line(flow))
            self._echo_message(flow.request)
        if flow.response is not None:
            self.echo(self._response_line(flow.response))
            self._echo_message(flow.response)
        if flow.error is not None:
            self.echo(f" << error: {_escape(flow.error.msg)}")

    # --- writing ----------------------------------------------------------------------------

    def _write(self, flow: HTTPFlow) -> None:
        if self.writer is None or flow.id in self._written:
            return
        self.writer.add(flow)
        self._written[flow.id] = None
        if len(self._written) > RECENT_IDS:
            self._written.popitem(last=False)

    def close(self) -> None:
        """Close the flow file. Every flow is already flushed; this only releases it."""
        if self.flow_file is not None:
            self.flow_file.close()
            self.flow_file = None
            self.writer = None

    # --- handlers ---------------------------------------------------------------------------

    @controller.handler
    def response(self, flow: HTTPFlow) -> None:
        self.echo_flow(flow)
        self._write(flow)

    @controller.handler
    def error(self, flow: HTTPFlow) -> None:
        self.echo_flow(flow)
        self._write(flow)

    @controller.handler
    def log(self, entry: Any) -> None:
        self.add_event(entry.msg, getattr(entry, "level", "info"))

    @controller.handler
    def tcp_message(self, flow: Any) -> None:
        """One payload of a raw TCP connection: its direction, and at -dd its content."""
        if self.options.flow_detail <= 0 or not flow.messages:
            return
        message = flow.messages[-1]
        arrow = "->" if message.from_client else "<-"
        client = flow.client_conn.address if flow.client_conn is not None else None
        server = flow.server_conn.address if flow.server_conn is not None else None
        self.echo(f"{client} {arrow} tcp {arrow} {server}")
        if self.options.flow_detail >= DETAIL_BODIES:
            self._echo_body(message)

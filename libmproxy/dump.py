"""mitmdump's master: a FlowMaster whose chain ends with a printer of completed flows.

Output keeps 0.18's shape, one flow at a time, printed when the flow is complete::

    127.0.0.1 GET http://example.com/path
     << 200 OK 1.2k

``-d`` adds the headers (indented), ``-dd`` the bodies cut off after ``BODY_LINES`` lines,
``-ddd`` whole bodies; bodies are shown through the auto content view (``contentviews``:
decoded, pretty-printed, in colour on a terminal and plain when piped); an error prints
`` << error: message``. Log entries are printed by
level and verbosity (``LOG_LEVELS``); errors go to stderr, everything else to stdout.

Rules of this file:

- The printer only observes: it never changes or holds a flow, so on its own it makes the
  proxy *tell* it the events it prints and skip the others; features and scripts that
  change flows make their events asked (see ``flow/master.py``). Events that would print
  nothing at these options are not handled at all, so a quiet mitmdump costs the proxy
  nothing.
- mitmdump keeps no flows in memory. The positional filter expression limits what is
  printed and what is written to the flow file.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, TextIO

from netlib import human
from netlib.http import Headers

from libmproxy.controller import Server
from libmproxy.exceptions import FlowReadException, ProxyException
from libmproxy.features import build_chain
from libmproxy.flow.io import FlowReader
from libmproxy.flow.master import Feature, FlowMaster
from libmproxy.models import HTTPFlow, HTTPRequest, HTTPResponse

__all__ = ["DumpMaster", "Dumper", "DumpError", "Options", "LOG_LEVELS", "BODY_LINES"]

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
# short enough that a large page does not scroll every other flow away. -ddd shows all.
BODY_LINES = 70

# ANSI SGR codes for the content views' styles, used when printing to a terminal.
BODY_COLOURS = {"header": "1;32", "key": "34", "value": "32", "offset": "36",
                "highlight": "1", "error": "1;31"}

INDENT = "    "


class DumpError(Exception):
    """A startup problem of the master (the flow file cannot be opened, a feature cannot be
    set up): one message for the user."""


@dataclasses.dataclass
class Options:
    """mitmdump's options (``cmdline.get_common_options`` makes these; embedders and tests
    pass only what they need). The FlowMaster's features read theirs from here."""

    flow_detail: int = DETAIL_LINES
    verbosity: int = 1
    outfile: tuple[str, str] | None = None  # (path, "wb" or "ab")
    showhost: bool = False
    filtstr: str | None = None  # the positional filter expression
    rfile: str | None = None  # -r
    keepserving: bool = False
    scripts: list[str] = dataclasses.field(default_factory=list)
    anticache: bool = False
    anticomp: bool = False
    stickycookie: str | None = None
    stickyauth: str | None = None
    replacements: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    setheaders: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    stream_large_bodies: int | None = None
    client_replay: list[str] = dataclasses.field(default_factory=list)
    server_replay: list[str] = dataclasses.field(default_factory=list)
    kill: bool = False  # -k: kill requests server replay has no response for
    rheaders: list[str] = dataclasses.field(default_factory=list)
    refresh_server_playback: bool = True
    nopop: bool = False
    replay_ignore_content: bool = False
    replay_ignore_payload_params: list[str] = dataclasses.field(default_factory=list)
    replay_ignore_params: list[str] = dataclasses.field(default_factory=list)
    replay_ignore_host: bool = False

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> Options:
        """Options from a dict that may hold other tools' options too."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names})

    @property
    def filter(self) -> Any:
        """The compiled filter expression, or None (compiled once, cached by filt)."""
        if not self.filtstr:
            return None
        from libmproxy import filt
        return filt.parse(self.filtstr)


# --- text helpers ---------------------------------------------------------------------------

def _escape(value: str | bytes) -> str:
    """``value`` as one printable line: control characters (and undecodable bytes) are
    shown as escapes, so a hostile header cannot move the cursor or fake a line."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value
    )


def _paint(line: list[tuple[str, str]], colour: bool) -> str:
    """A content view's line as text, its styles as ANSI colours when ``colour``."""
    if not colour:
        return "".join(text for _, text in line)
    return "".join(
        f"\x1b[{BODY_COLOURS[style]}m{text}\x1b[0m" if text and style in BODY_COLOURS else text
        for style, text in line
    )


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed
        return False


# --- the master -----------------------------------------------------------------------------

class Dumper(Feature):
    """The printer: completed flows and log entries, at the options' detail and verbosity.

    ``outfile``/``errfile`` are the text streams printed to (stdout and stderr).
    """

    observes = frozenset({"response", "error", "log", "tcp_message", "websocket_message"})

    def __init__(self, options: Options, outfile: TextIO | None = None,
                 errfile: TextIO | None = None) -> None:
        self.options = options
        self.outfile = sys.stdout if outfile is None else outfile
        self.errfile = sys.stderr if errfile is None else errfile
        self.filt = options.filter
        self.master: Any = None
        if options.flow_detail <= 0:
            # Nothing to print per flow: not handling these events spares the proxy.
            self.response = self.error = self.tcp_message = None  # type: ignore[assignment]
            self.websocket_message = None  # type: ignore[assignment]

    def configure(self, master: Any) -> None:
        self.master = master
        # Entries this printer would not print are not queued (read live: verbosity may
        # change, e.g. when the reader of our output goes away).
        master.event_policy.log_filter = self._shows_level

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
            if self.master is not None:
                self.master.shutdown()

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
        """The body through the auto content view (decoded, pretty-printed, cut off at
        ``BODY_LINES`` below -ddd), under the view's description unless it is plain Raw."""
        if hasattr(message, "raw_content"):  # HTTP: the view undoes the Content-Encoding
            content = message.raw_content
        else:
            content = message.content
            if isinstance(content, str):  # a WebSocket text message
                content = content.encode("utf-8", "surrogateescape")
        if content is None:
            self.echo("(content missing)", indent=1)
            return
        if not content:
            return
        full = self.options.flow_detail >= DETAIL_FULL_BODIES
        from libmproxy import contentviews  # loaded with the first body shown (-dd)
        view = contentviews.get_content_view(
            "auto", content, headers=getattr(message, "headers", None),
            limit=None if full else BODY_LINES, limit_hint="use -ddd for all")
        if view.error is not None:
            self.add_event(f"content view failed: {_escape(view.error)}", "debug")
        colour = _is_terminal(self.outfile)
        self.echo("")
        if view.description != "Raw":
            style = "header" if view.error is None else "error"
            self.echo(_paint([(style, view.description)], colour), indent=1)
        self.echo("\n".join(_paint(line, colour) for line in view.lines), indent=1)

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

    # --- handlers ---------------------------------------------------------------------------

    def response(self, flow: HTTPFlow) -> None:
        if self.filt is None or self.filt(flow):
            self.echo_flow(flow)

    def error(self, flow: HTTPFlow) -> None:
        if self.filt is None or self.filt(flow):
            self.echo_flow(flow)

    def log(self, entry: Any) -> None:
        self.add_event(entry.msg, getattr(entry, "level", "info"))

    def tcp_message(self, flow: Any) -> None:
        """One payload of a raw TCP connection: its direction, and at -dd its content."""
        self._echo_stream_message(flow, "tcp")

    def websocket_message(self, flow: Any) -> None:
        """One WebSocket message, shown as a TCP payload is; the filter expression is
        matched against the connection's handshake flow."""
        handshake = flow.handshake_flow
        if self.filt is None or handshake is None or self.filt(handshake):
            self._echo_stream_message(flow, "ws")

    def _echo_stream_message(self, flow: Any, protocol: str) -> None:
        """The event's message is ``flow.messages[-1]`` even though the connection thread
        may have read more since: the layers hand over a snapshot (``models.tcp``)."""
        if self.options.flow_detail <= 0 or not flow.messages:
            return
        message = flow.messages[-1]
        arrow = "->" if message.from_client else "<-"
        client = flow.client_conn.address if flow.client_conn is not None else None
        server = flow.server_conn.address if flow.server_conn is not None else None
        self.echo(f"{client} {arrow} {protocol} {arrow} {server}")
        if self.options.flow_detail >= DETAIL_BODIES:
            self._echo_body(message)


class DumpMaster(FlowMaster):
    """mitmdump: the features ``options`` ask for, then the printer.

    ``outfile``/``errfile`` are the text streams printed to (stdout and stderr). Raises
    DumpError when a feature cannot be set up (the flow file cannot be opened, ...). Close
    the master (``close``) when done: the features' ``done`` runs then (at the latest).
    """

    def __init__(self, server: Server | None, options: Options,
                 outfile: TextIO | None = None, errfile: TextIO | None = None) -> None:
        self.options = options
        self.dumper = Dumper(options, outfile, errfile)
        super().__init__(server)
        try:
            # Features set up when added (scripts run their ``start``) may refuse too.
            for feature in build_chain(options):
                self.add_feature(feature)
        except (ProxyException, ValueError) as e:
            raise DumpError(str(e)) from e
        self.add_feature(self.dumper)

    @property
    def outfile(self) -> TextIO:
        return self.dumper.outfile

    @property
    def errfile(self) -> TextIO:
        return self.dumper.errfile

    def echo(self, text: str, indent: int = 0, err: bool = False) -> None:
        self.dumper.echo(text, indent, err)

    def echo_flow(self, flow: HTTPFlow) -> None:
        self.dumper.echo_flow(flow)

    def add_event(self, e: str, level: str = "info") -> None:
        self.dumper.add_event(e, level)

    def read_flow_file(self, path: str) -> int:
        """``-r``: run every flow of ``path`` through the chain (scripts, features, output,
        flow file), in the file's order; returns how many. A damaged file has its complete
        flows processed first, then raises DumpError naming the damage."""
        try:
            with open(path, "rb") as fo:
                return self.load_flows(FlowReader(fo).stream())
        except FlowReadException as e:
            raise DumpError(f"{path}: {e}") from e
        except OSError as e:
            raise DumpError(f"{path}: cannot read flow file: {e.strerror}") from e

    def close(self) -> None:
        """Run the features' ``done`` (closing the flow file) if the loop did not."""
        self.done()

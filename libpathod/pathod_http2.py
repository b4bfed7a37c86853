"""pathod's HTTP/2 server side: one connection, answering its request streams in turn.

Used by ``libpathod.pathod.PathodHandler`` when a TLS client picks ``h2`` by ALPN. The
language renders each response's frames; this module does what RFC 7540 asks of the server
around them (preface, SETTINGS/PING acknowledgements, the client's frame size, window
updates for request bodies, flow control for responses, RST_STREAM and GOAWAY).
"""
from __future__ import annotations

import collections
import dataclasses
from typing import TYPE_CHECKING

from hyperframe import frame as h2frames

from netlib import exceptions
from netlib.http import http2
from netlib.http.headers import Headers, to_str

from libpathod import language

if TYPE_CHECKING:
    from libpathod.pathod import PathodHandler

__all__ = ["Http2Connection"]

# The header list an HTTP/2 client may send (decoded size, as SETTINGS_MAX_HEADER_LIST_SIZE
# counts it): the same bound as netlib's HTTP/1 header block.
MAX_HTTP2_HEADER_LIST = 256 * 1024

# HTTP/2's initial flow-control window (RFC 7540 6.9.2) and the DATA frame type.
DEFAULT_H2_WINDOW = 65535
FRAME_TYPE_DATA = 0x0

@dataclasses.dataclass
class Http2Request:
    """What the log needs of an HTTP/2 request (the attributes netlib's Request has)."""

    method: str
    path: str
    headers: Headers
    http_version: str = "HTTP/2.0"


@dataclasses.dataclass
class _Stream:
    """A request stream: its header block while it arrives, then its fields."""

    header_block: bytes = b""
    fields: list | None = None
    end_stream: bool = False


class _GoAway(ConnectionError):
    """The client sent GOAWAY while a response was being written. A ConnectionError, so
    the language's writer reports it as a disconnect and the connection ends."""


class Http2Connection:
    """The server side of an HTTP/2 connection, answering one request stream at a time.

    A response is written once its request (headers and body) is complete; the language
    renders the frames (with a fresh HPACK encoder per message, so this side keeps only a
    decoder). The connection does the rest of what RFC 7540 asks of a server: the
    preface, SETTINGS and PING acknowledgements, the client's maximum frame size,
    WINDOW_UPDATEs for request bodies, and flow control for responses: a DATA frame is
    held back until the client's connection and stream windows admit it
    (``_FlowControlledWriter``), reading the client's frames meanwhile. Requests that
    complete while a response is being written are answered after it, in order.
    """

    def __init__(self, handler: "PathodHandler") -> None:
        self.handler = handler
        self.server = handler.server
        self.codec = http2.HeaderCodec(max_header_list_size=MAX_HTTP2_HEADER_LIST)
        self.framing = language.http2.Http2Framing(is_client=False)
        self.settings = dataclasses.replace(self.server.settings, protocol=self.framing)
        self.streams: dict[int, _Stream] = {}
        self.ready: collections.deque[int] = collections.deque()
        self.initial_window = DEFAULT_H2_WINDOW
        self.connection_window = DEFAULT_H2_WINDOW
        self.stream_windows: dict[int, int] = {}
        self.goaway = False

    def _send(self, frame: h2frames.Frame) -> None:
        self.handler.wfile.write(frame.serialize())

    def serve(self) -> None:
        rfile, wfile = self.handler.rfile, self.handler.wfile
        preface = rfile.read(len(http2.CLIENT_CONNECTION_PREFACE))
        if preface != http2.CLIENT_CONNECTION_PREFACE:
            self.handler.log_error(
                "HTTP/2 was negotiated, but the client sent no connection preface")
            return
        self._send(h2frames.SettingsFrame(0))
        wfile.flush()
        while not self.goaway:
            if not self.read_frame():
                return
            while self.ready and not self.goaway:
                if not self._respond(self.ready.popleft()):
                    return
            wfile.flush()

    def read_frame(self) -> bool:
        """Read and act on one frame from the client; False at the end of the connection."""
        try:
            frame = http2.read_frame(self.handler.rfile)
        except (exceptions.TcpDisconnect, exceptions.TcpReadIncomplete):
            return False
        if self.server.http2_framedump:
            self.handler.console.write(f"{self.handler.peer}: << {frame!r}")
        if isinstance(frame, h2frames.SettingsFrame):
            if "ACK" not in frame.flags:
                self._apply_settings(frame.settings)
                self._send(h2frames.SettingsFrame(0, flags=["ACK"]))
        elif isinstance(frame, h2frames.PingFrame):
            if "ACK" not in frame.flags:
                self._send(h2frames.PingFrame(0, frame.opaque_data, flags=["ACK"]))
        elif isinstance(frame, h2frames.GoAwayFrame):
            self.goaway = True
        elif isinstance(frame, (h2frames.HeadersFrame, h2frames.ContinuationFrame)):
            self._on_headers(frame)
        elif isinstance(frame, h2frames.DataFrame):
            self._on_data(frame)
        elif isinstance(frame, h2frames.WindowUpdateFrame):
            if frame.stream_id == 0:
                self.connection_window += frame.window_increment
            elif frame.stream_id in self.stream_windows:
                self.stream_windows[frame.stream_id] += frame.window_increment
        elif isinstance(frame, h2frames.RstStreamFrame):
            # Forget the stream: a response being written to it is dropped (its window is
            # gone), one waiting to be written is never started.
            self.streams.pop(frame.stream_id, None)
            self.stream_windows.pop(frame.stream_id, None)
            if frame.stream_id in self.ready:
                self.ready.remove(frame.stream_id)
        return True

    def _apply_settings(self, settings: dict) -> None:
        table_size = settings.get(h2frames.SettingsFrame.HEADER_TABLE_SIZE)
        if table_size is not None:
            self.codec.apply_settings(table_size)
        frame_size = settings.get(h2frames.SettingsFrame.MAX_FRAME_SIZE)
        if frame_size is not None:
            self.framing.max_frame_size = frame_size
        window = settings.get(h2frames.SettingsFrame.INITIAL_WINDOW_SIZE)
        if window is not None:
            # RFC 7540 6.9.2: the change applies to every open stream's window.
            delta = window - self.initial_window
            self.initial_window = window
            for stream_id in self.stream_windows:
                self.stream_windows[stream_id] += delta

    def _on_headers(self, frame: h2frames.Frame) -> None:
        stream = self.streams.setdefault(frame.stream_id, _Stream())
        stream.header_block += frame.data
        if isinstance(frame, h2frames.HeadersFrame):
            stream.end_stream = "END_STREAM" in frame.flags
        if "END_HEADERS" in frame.flags:
            stream.fields = self.codec.decode_headers(stream.header_block)
            stream.header_block = b""
            self.stream_windows[frame.stream_id] = self.initial_window
            if stream.end_stream:
                self.ready.append(frame.stream_id)

    def _on_data(self, frame: h2frames.DataFrame) -> None:
        length = frame.flow_controlled_length
        ended = "END_STREAM" in frame.flags
        if length:
            self._send(h2frames.WindowUpdateFrame(0, window_increment=length))
            if not ended:
                self._send(h2frames.WindowUpdateFrame(frame.stream_id, window_increment=length))
        stream = self.streams.get(frame.stream_id)
        if ended and stream is not None and stream.fields is not None:
            self.ready.append(frame.stream_id)

    def wait_for_window(self, stream_id: int, size: int) -> bool:
        """Read client frames until ``size`` bytes of DATA may be sent on ``stream_id``,
        then take them from the windows. False if the stream was reset meanwhile."""
        self.handler.wfile.flush()
        while True:
            stream_window = self.stream_windows.get(stream_id)
            if stream_window is None:
                return False
            if min(self.connection_window, stream_window) >= size:
                self.connection_window -= size
                self.stream_windows[stream_id] -= size
                return True
            if self.goaway or not self.read_frame():
                raise _GoAway("the client ended the HTTP/2 connection during a response")
            self.handler.wfile.flush()

    def _respond(self, stream_id: int) -> bool:
        fields = self.streams.pop(stream_id).fields
        pseudo = {to_str(name): to_str(value) for name, value in fields if name.startswith(b":")}
        request = Http2Request(
            method=pseudo.get(":method", ""), path=pseudo.get(":path", ""),
            headers=Headers([(n, v) for n, v in fields if not n.startswith(b":")]),
        )
        entry = self.handler.request_log(request, "http2")
        kind, what = self.server.choose(request.path, False, True)
        writer = _FlowControlledWriter(self, stream_id)
        keep, _ = self.handler.serve_messages(kind, what, self.settings, writer, entry, stream_id)
        self.stream_windows.pop(stream_id, None)
        return keep


class _FlowControlledWriter:
    """Passes a response's frames to the socket writer, holding each DATA frame back
    until the client's windows admit it. It follows the frame boundaries in the byte
    stream it is given (the language writes blocks that ignore them), and drops the rest
    of the response if the client resets the stream."""

    def __init__(self, connection: Http2Connection, stream_id: int) -> None:
        self.connection = connection
        self.stream_id = stream_id
        self.out = connection.handler.wfile
        self.header = b""        # the part of the next frame header seen so far
        self.frame_left = 0      # payload bytes of the current frame still to pass on
        self.dropped = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while len(view):
            if self.frame_left:
                piece = view[:self.frame_left]
                if not self.dropped:
                    self.out.write(bytes(piece))
                self.frame_left -= len(piece)
                view = view[len(piece):]
                continue
            need = http2.FRAME_HEADER_LENGTH - len(self.header)
            self.header += bytes(view[:need])
            view = view[need:]
            if len(self.header) == http2.FRAME_HEADER_LENGTH:
                self._start_frame(self.header)
                self.header = b""

    def _start_frame(self, header: bytes) -> None:
        length = int.from_bytes(header[:3], "big")
        if header[3] == FRAME_TYPE_DATA and length and not self.dropped:
            self.dropped = not self.connection.wait_for_window(self.stream_id, length)
        if not self.dropped:
            self.out.write(header)
        self.frame_left = length

    def flush(self) -> None:
        self.out.flush()

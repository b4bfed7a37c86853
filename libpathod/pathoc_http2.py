"""pathoc's HTTP/2 client side: enough of the protocol to read responses to crafted requests.

The language writes the request frames and asks ``Http2Session`` (through
``Settings.protocol``) for stream ids and the frame size limit; the session does the rest of
the connection's bookkeeping (see its docstring).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import hyperframe.frame as h2frames

from netlib import exceptions, tcp
from netlib.http import Headers, Response
from netlib.http import http2 as nhttp2

from libpathod import language

if TYPE_CHECKING:
    from libpathod.pathoc import Pathoc

__all__ = ["Http2Session"]

# What HTTP/2 settings pathoc announces: no server push (we would have nowhere to put it),
# and a large window, so a response body is not stalled waiting for WINDOW_UPDATEs.
HTTP2_INITIAL_WINDOW_SIZE = 2 ** 31 - 1
HTTP2_CLIENT_SETTINGS = {
    h2frames.SettingsFrame.ENABLE_PUSH: 0,
    h2frames.SettingsFrame.INITIAL_WINDOW_SIZE: HTTP2_INITIAL_WINDOW_SIZE,
}
# The connection window starts at 65535 whatever SETTINGS say (RFC 7540 6.9.2), so every
# DATA frame is credited back to it (and to its stream) as it arrives.



class Http2Session:
    """The client side of an HTTP/2 connection, as much as reading responses needs.

    The language writes the request frames; it asks this object (through
    ``Settings.protocol``) for each request's stream id and the frame size limit. This
    object sends the preface and our SETTINGS, answers the server's SETTINGS and PINGs,
    credits received DATA back to the flow-control windows, and collects one stream's
    HEADERS and DATA into a netlib Response. Frames of other streams are dropped, a
    RST_STREAM of ours or a GOAWAY is an error.
    """

    def __init__(self, client: Pathoc, dump_frames: bool = False) -> None:
        self.client = client
        self.dump_frames = dump_frames
        # What the language asks for (stream ids, the server's frame size limit).
        self.framing = language.http2.Http2Framing(is_client=True)
        self.header_codec = nhttp2.HeaderCodec()

    def _send(self, *frames: h2frames.Frame) -> None:
        for frame in frames:
            self._dump(">>", frame)
            self.client.wfile.write(frame.serialize())
        self.client.wfile.flush()

    def _dump(self, direction: str, frame: h2frames.Frame) -> None:
        if self.dump_frames:
            log = self.client._new_log()
            log(f"{direction} {frame!r}")
            log.write()

    def dump_sent(self, data: bytes) -> None:
        """Log the frames the language wrote (--http2-framedump)."""
        if not self.dump_frames:
            return
        rfile = tcp.Reader.from_bytes(data)
        while rfile.peek(1):
            try:
                frame = nhttp2.read_frame(rfile, nhttp2.MAX_ALLOWED_FRAME_SIZE)
            except exceptions.NetlibException:
                return  # crafted garbage: nothing more to show as frames
            self._dump(">>", frame)

    def perform_connection_preface(self) -> None:
        """The client preface and our SETTINGS (RFC 7540 3.5)."""
        self.client.wfile.write(nhttp2.CLIENT_CONNECTION_PREFACE)
        settings = h2frames.SettingsFrame(0, settings=dict(HTTP2_CLIENT_SETTINGS))
        self._send(settings)

    def _read_frame(self) -> h2frames.Frame:
        frame = nhttp2.read_frame(self.client.rfile, nhttp2.MAX_ALLOWED_FRAME_SIZE)
        self._dump("<<", frame)
        return frame

    def read_response(self, stream_id: int) -> Response:
        """Frames until ``stream_id`` ends; its status, headers and body as a Response."""
        timestamp_start = None
        block = b""
        in_block = ended = False
        header_fields: list[tuple[bytes, bytes]] | None = None
        body: list[bytes] = []
        while not ended or in_block:
            frame = self._read_frame()
            if timestamp_start is None:
                timestamp_start = time.time()
            if isinstance(frame, h2frames.SettingsFrame):
                self._on_settings(frame)
            elif isinstance(frame, h2frames.PingFrame):
                if "ACK" not in frame.flags:
                    self._send(h2frames.PingFrame(0, opaque_data=frame.opaque_data, flags=["ACK"]))
            elif isinstance(frame, h2frames.GoAwayFrame):
                raise exceptions.Http2Exception(
                    f"the server sent GOAWAY (error code {frame.error_code})")
            elif frame.stream_id != stream_id:
                continue
            elif isinstance(frame, h2frames.RstStreamFrame):
                raise exceptions.Http2Exception(
                    f"the server reset stream {stream_id} (error code {frame.error_code})")
            elif isinstance(frame, (h2frames.HeadersFrame, h2frames.ContinuationFrame)):
                block += frame.data
                in_block = "END_HEADERS" not in frame.flags
                if not in_block:
                    # A second header block holds trailers, which pathoc does not show.
                    if header_fields is None:
                        header_fields = self.header_codec.decode_headers(block)
                    block = b""
            elif isinstance(frame, h2frames.DataFrame):
                body.append(frame.data)
                self._credit(frame)
            ended = ended or "END_STREAM" in frame.flags
        if header_fields is None:
            raise exceptions.Http2Exception(f"stream {stream_id} ended without response headers")
        return self._make_response(header_fields, b"".join(body), timestamp_start)

    def _on_settings(self, frame: h2frames.SettingsFrame) -> None:
        if "ACK" in frame.flags:
            return
        size = frame.settings.get(h2frames.SettingsFrame.MAX_FRAME_SIZE)
        if size:
            self.framing.max_frame_size = size
        self._send(h2frames.SettingsFrame(0, flags=["ACK"]))

    def _credit(self, frame: h2frames.DataFrame) -> None:
        """Give back the window the DATA frame used, on the connection and the stream."""
        length = frame.flow_controlled_length
        if length:
            self._send(h2frames.WindowUpdateFrame(0, window_increment=length),
                       h2frames.WindowUpdateFrame(frame.stream_id, window_increment=length))

    @staticmethod
    def _make_response(fields: list[tuple[bytes, bytes]], body: bytes,
                       timestamp_start: float | None) -> Response:
        status = None
        headers = []
        for name, value in fields:
            if name == b":status":
                status = value
            elif not name.startswith(b":"):
                headers.append((name, value))
        try:
            code = int(status)
        except (TypeError, ValueError):
            raise exceptions.Http2Exception(
                f"response without a valid :status pseudo-header: {status!r}") from None
        return Response(b"HTTP/2.0", code, None, Headers(headers), body,
                        timestamp_start, time.time())


# --- the client --------------------------------------------------------------------------


"""HTTP/2 request and response specs: the same text as HTTP/1, rendered as frames.

A message becomes one HEADERS frame (CONTINUATION frames when the header block exceeds the
peer's frame size) and DATA frames for the body, END_STREAM on the last frame. Requests
send ``:method``, ``:scheme`` (https: h2 is negotiated over TLS), ``:authority`` (the Host
header of the spec, else ``Settings.request_host``) and ``:path``; responses ``:status``.
A header of the spec named like a pseudo-header replaces the default one, so a pathological
``h':method'='FOO'`` is possible. Header names are lower-cased, as HTTP/2 requires.

Features without an HTTP/2 meaning are refused when parsing, with a message saying so: ``m``
(there is no reason phrase), ``d``/``i``/``p`` (byte offsets into a frame stream that
the connection interleaves), and ``ws``.

Header blocks are HPACK-encoded by a fresh encoder for each message: it refers to the static
table only, so the block is valid whatever the connection's dynamic table holds, and
rendering a message twice (once to measure it) cannot desynchronise the peer's decoder.

Stream ids: ``resolve`` takes ``stream_id`` from the spec when set (pathod answers on the
request's stream: ``spec.with_stream_id(n)``), else from ``Settings.protocol.next_stream_id()``
(pathoc; ``Http2Framing`` below does the counting).
"""
from __future__ import annotations

import dataclasses
import threading

import hyperframe.frame
import pyparsing as pp

from netlib.http.http2 import DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LENGTH, HeaderCodec, frame_to_bytes

from libpathod.language import generators, http
from libpathod.language.exceptions import RenderError
from libpathod.language.message import Message
from libpathod.language.settings import Settings

__all__ = ["Request", "Response", "Http2Framing", "DataFrames", "request_expr", "response_expr"]

SCHEME = b"https"
FRAME_TYPE_DATA = 0x0
FLAG_END_STREAM = 0x1
STREAM_ID_MASK = 0x7FFF_FFFF

_ACTIONS_REASON = "is HTTP/1 only: HTTP/2 frames are interleaved by the connection, so byte offsets have no meaning"
REJECTED = {
    "m": "the m (reason) feature is HTTP/1 only: HTTP/2 has no reason phrase",
    "d": f"the d (disconnect) feature {_ACTIONS_REASON}",
    "i": f"the i (inject) feature {_ACTIONS_REASON}",
    "p": f"the p (pause) feature {_ACTIONS_REASON}",
}


class Http2Framing:
    """The connection-level facts an HTTP/2 spec needs: the next stream id of this side
    (clients odd, servers even) and the peer's SETTINGS_MAX_FRAME_SIZE."""

    def __init__(self, is_client: bool = True, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self._next_id = 1 if is_client else 2
        self._lock = threading.Lock()

    def next_stream_id(self) -> int:
        with self._lock:
            stream_id = self._next_id
            self._next_id += 2
            return stream_id


def _data_frame_header(length: int, flags: int, stream_id: int) -> bytes:
    """The 9 bytes before a DATA payload (RFC 7540 section 4.1): 24-bit length, type,
    flags, 31-bit stream id. Built by hand because the payload is never in memory whole."""
    return (length.to_bytes(3, "big") + bytes([FRAME_TYPE_DATA, flags])
            + (stream_id & STREAM_ID_MASK).to_bytes(4, "big"))


class DataFrames:
    """A body as DATA frames, produced slice by slice like any byte source, so that
    ``200:b@1g`` over HTTP/2 is streamed as well. The last frame has END_STREAM."""

    def __init__(self, body: generators.Source, stream_id: int, max_frame_size: int) -> None:
        self.body = body
        self.stream_id = stream_id
        self.chunk = max_frame_size
        body_length = len(body)
        self.count = max(1, -(-body_length // self.chunk))
        self.size = body_length + self.count * FRAME_HEADER_LENGTH

    def __len__(self) -> int:
        return self.size

    def _frame(self, index: int) -> tuple[int, int]:
        start = index * self.chunk
        return start, min(len(self.body), start + self.chunk)

    def __getitem__(self, key: slice) -> bytes:
        start, stop = generators.slice_bounds(key, self.size)
        span = self.chunk + FRAME_HEADER_LENGTH  # every frame but the last is this long
        out = []
        index = start // span
        while index < self.count and index * span < stop:
            body_start, body_stop = self._frame(index)
            flags = FLAG_END_STREAM if index == self.count - 1 else 0
            header = _data_frame_header(body_stop - body_start, flags, self.stream_id)
            frame = index * span
            # The part of this frame that the slice covers, in frame-relative offsets.
            lo = max(start - frame, 0)
            hi = min(stop - frame, FRAME_HEADER_LENGTH + body_stop - body_start)
            if lo < FRAME_HEADER_LENGTH:
                out.append(header[lo:min(hi, FRAME_HEADER_LENGTH)])
            if hi > FRAME_HEADER_LENGTH:
                skip = max(lo - FRAME_HEADER_LENGTH, 0)
                out.append(self.body[body_start + skip:body_start + hi - FRAME_HEADER_LENGTH])
            index += 1
        return b"".join(out)


def _stream_id(msg: "Request | Response", settings: Settings) -> int:
    if msg.stream_id is not None:
        return msg.stream_id
    protocol = settings.protocol
    if protocol is None or not hasattr(protocol, "next_stream_id"):
        raise RenderError("an HTTP/2 message needs a stream id: give Settings.protocol "
                          "(e.g. Http2Framing) or the spec's stream_id")
    return protocol.next_stream_id()


def _max_frame_size(settings: Settings) -> int:
    return getattr(settings.protocol, "max_frame_size", DEFAULT_MAX_FRAME_SIZE)


def _header_fields(msg: Message, settings: Settings, pseudo: list[tuple[bytes, bytes]],
                   skip: tuple[bytes, ...] = ()) -> list[tuple[bytes, bytes]]:
    """Pseudo-headers first (overridden by a spec header of the same name), then the
    spec's headers with lower-cased names."""
    fields = []
    for header in msg.headers:
        key, value = header.header_pair()
        name = generators.source_bytes(key.get_generator(settings)).lower()
        if name not in skip:
            fields.append((name, generators.source_bytes(value.get_generator(settings))))
    given = {name for name, _ in fields}
    return [(n, v) for n, v in pseudo if n not in given] + fields


def _frames(msg: "Request | Response", settings: Settings,
            fields: list[tuple[bytes, bytes]]) -> list[generators.Source]:
    if msg.stream_id is None:
        raise RenderError("resolve the HTTP/2 message first: it has no stream id yet")
    max_size = _max_frame_size(settings)
    block = HeaderCodec().encode_headers(fields)
    body = msg.body.value.get_generator(settings) if msg.body else b""
    chunks = [block[i:i + max_size] for i in range(0, len(block), max_size)] or [b""]
    frames: list[generators.Source] = []
    for index, chunk in enumerate(chunks):
        if index == 0:
            frame = hyperframe.frame.HeadersFrame(msg.stream_id, chunk)
            if not len(body):
                frame.flags.add("END_STREAM")
        else:
            frame = hyperframe.frame.ContinuationFrame(msg.stream_id, chunk)
        if index == len(chunks) - 1:
            frame.flags.add("END_HEADERS")
        frames.append(frame_to_bytes(frame, max_size))
    if len(body):
        frames.append(DataFrames(body, msg.stream_id, max_size))
    return frames


class _OnStream:
    """Stream id handling shared by requests and responses (see the module docstring)."""

    stream_id: int | None

    def with_stream_id(self, stream_id: int):
        return dataclasses.replace(self, stream_id=stream_id)

    def resolve(self, settings: Settings, msg: Message | None = None):
        with_id = self.with_stream_id(_stream_id(self, settings))
        return super(_OnStream, with_id).resolve(settings)


@dataclasses.dataclass(frozen=True, eq=False)
class Response(_OnStream, http.Response):
    stream_id: int | None = None

    def values(self, settings: Settings) -> list[generators.Source]:
        pseudo = [(b":status", str(self.status_code).encode("ascii"))]
        return _frames(self, settings, _header_fields(self, settings, pseudo))


@dataclasses.dataclass(frozen=True, eq=False)
class Request(_OnStream, http.Request):
    stream_id: int | None = None

    def values(self, settings: Settings) -> list[generators.Source]:
        path = generators.source_bytes(self.path.get_generator(settings))
        if self.nested_response:
            path += self.nested_response.wire_bytes()
        host = self.get_header(b"Host")
        if host:
            authority = generators.source_bytes(host.header_pair()[1].get_generator(settings))
        else:
            authority = http.host_bytes(settings.request_host or "")
        pseudo = [(b":method", generators.source_bytes(self.method.get_generator(settings))),
                  (b":scheme", SCHEME)]
        if authority:
            pseudo.append((b":authority", authority))
        pseudo.append((b":path", path))
        return _frames(self, settings, _header_fields(self, settings, pseudo, skip=(b"host",)))

    def host_header(self, settings: Settings) -> list:
        return []  # the host travels as :authority


def response_expr() -> pp.ParserElement:
    return http.response_expr(Response, http.response_features(http1=False), REJECTED, allow_ws=False)


def request_expr() -> pp.ParserElement:
    features = http.request_features(response_expr, http1=False)
    return http.request_expr(Request, features, REJECTED, allow_ws=False)


"""HTTP/2 frames on a buffered connection, and HPACK header blocks, over hyperframe and hpack.

These are the blocking-I/O edges of HTTP/2 (RFC 7540): read one frame's bytes from a netlib
Reader, turn bytes into hyperframe Frame objects and back, and encode/decode header blocks.
The state machine itself (streams, flow control, settings) is h2's; pathod and pathoc, which
craft and check frames one by one, use these helpers directly.

Errors from hyperframe and hpack are translated here into Http2Exception, naming what was
wrong, so callers catch one netlib class. A peer that hangs up mid-frame raises
TcpReadIncomplete from ``safe_read``.
"""
from __future__ import annotations

from collections.abc import Iterable

import hpack
import hpack.exceptions
import hyperframe.exceptions
import hyperframe.frame

from netlib.exceptions import Http2Exception

__all__ = [
    "CLIENT_CONNECTION_PREFACE", "FRAME_HEADER_LENGTH", "DEFAULT_MAX_FRAME_SIZE",
    "MAX_ALLOWED_FRAME_SIZE", "read_raw_frame", "parse_frame", "read_frame",
    "frame_to_bytes", "HeaderCodec",
]

# What a client sends first, before its SETTINGS frame (RFC 7540 section 3.5).
CLIENT_CONNECTION_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Every frame starts with 9 bytes: 24-bit length, type, flags, 31-bit stream id (section 4.1).
FRAME_HEADER_LENGTH = 9

# SETTINGS_MAX_FRAME_SIZE: its initial value, which holds until the peer's SETTINGS says
# otherwise, and the largest value a peer may set (section 6.5.2).
DEFAULT_MAX_FRAME_SIZE = 2 ** 14
MAX_ALLOWED_FRAME_SIZE = 2 ** 24 - 1

# What an HTTP/1 peer's first bytes look like where a frame header was expected. Read as a
# frame, b"HTTP/1.1 ..." claims a 4.7 MB payload; the size error then says what it is.
_HTTP1_STARTS = (b"HTTP/", b"GET ", b"POST ", b"PUT ", b"HEAD ", b"PRI *")

_HYPERFRAME_ERRORS = (hyperframe.exceptions.HyperframeError, ValueError)
_HPACK_ERRORS = (hpack.exceptions.HPACKError, UnicodeDecodeError)


def _check_size(length: int, max_frame_size: int, what: str, hint: str = "") -> None:
    if length > max_frame_size:
        raise Http2Exception(
            f"{what} frame payload of {length} bytes exceeds SETTINGS_MAX_FRAME_SIZE "
            f"({max_frame_size} bytes){hint}")


def read_raw_frame(rfile, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> bytes:
    """The bytes of the next frame (header and payload). A frame larger than
    ``max_frame_size`` (what we advertised) is refused before its payload is read, so a
    peer cannot make us buffer 16 MB we never agreed to."""
    header = rfile.safe_read(FRAME_HEADER_LENGTH)
    length = int.from_bytes(header[:3], "big")
    hint = ""
    if header.startswith(_HTTP1_STARTS):
        hint = f"; this looks like HTTP/1, not HTTP/2: {header + rfile.peek(20)!r}"
    _check_size(length, max_frame_size, "received", hint)
    return header + rfile.safe_read(length)


def parse_frame(raw: bytes) -> tuple[hyperframe.frame.Frame, int]:
    """The frame in ``raw`` (exactly one frame's bytes) and its payload length.

    Frame types hyperframe does not know come back as ExtensionFrame: RFC 7540 says to
    ignore them, which is the caller's decision, not a parse error.
    """
    view = memoryview(raw)
    if len(raw) < FRAME_HEADER_LENGTH:
        raise Http2Exception(f"HTTP/2 frame of {len(raw)} bytes is shorter than its 9-byte header")
    try:
        frame, length = hyperframe.frame.Frame.parse_frame_header(view[:FRAME_HEADER_LENGTH])
        if len(raw) != FRAME_HEADER_LENGTH + length:
            raise Http2Exception(
                f"HTTP/2 frame header says {length} payload bytes, got "
                f"{len(raw) - FRAME_HEADER_LENGTH}")
        frame.parse_body(view[FRAME_HEADER_LENGTH:])
    except _HYPERFRAME_ERRORS as e:
        raise Http2Exception(f"invalid HTTP/2 frame {bytes(view[:FRAME_HEADER_LENGTH]).hex()}: {e}") from e
    return frame, length


def read_frame(rfile, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> hyperframe.frame.Frame:
    """Read and parse the next frame."""
    frame, _ = parse_frame(read_raw_frame(rfile, max_frame_size))
    return frame


def frame_to_bytes(frame: hyperframe.frame.Frame, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> bytes:
    """Serialize a frame, refusing one larger than the peer accepts (its advertised
    SETTINGS_MAX_FRAME_SIZE): it would answer with a FRAME_SIZE_ERROR and close."""
    data = frame.serialize()
    _check_size(len(data) - FRAME_HEADER_LENGTH, max_frame_size, type(frame).__name__)
    return data


class HeaderCodec:
    """The HPACK state of one connection: an encoder for what we send, a decoder for what we
    receive. Both keep a dynamic table that must see every header block of the connection
    in order, which is why there is one pair per connection and never a shared one.

    Header names and values are returned as bytes, exactly as sent, so a proxy relays them
    unchanged; for encoding, str and bytes are both accepted.
    """

    def __init__(self, max_header_list_size: int | None = None) -> None:
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        if max_header_list_size is not None:
            self.decoder.max_header_list_size = max_header_list_size

    def encode_headers(self, headers: Iterable[tuple[bytes | str, bytes | str]]) -> bytes:
        """The header block for ``headers`` (pseudo-headers first, as RFC 7540 requires)."""
        return self.encoder.encode(list(headers))

    def decode_headers(self, block: bytes) -> list[tuple[bytes, bytes]]:
        """The header fields in a complete header block (HEADERS plus CONTINUATIONs)."""
        try:
            return [(bytes(name), bytes(value)) for name, value in self.decoder.decode(block, raw=True)]
        except _HPACK_ERRORS as e:
            raise Http2Exception(f"invalid HPACK header block: {e}") from e

    def apply_settings(self, header_table_size: int) -> None:
        """The peer's SETTINGS_HEADER_TABLE_SIZE bounds the table our encoder may use."""
        self.encoder.header_table_size = header_table_size

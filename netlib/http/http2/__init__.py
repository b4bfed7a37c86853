"""HTTP/2 frames and header blocks on a netlib connection (see ``framereader``)."""
from netlib.http.http2.framereader import (
    CLIENT_CONNECTION_PREFACE,
    DEFAULT_MAX_FRAME_SIZE,
    FRAME_HEADER_LENGTH,
    MAX_ALLOWED_FRAME_SIZE,
    HeaderCodec,
    frame_to_bytes,
    parse_frame,
    read_frame,
    read_raw_frame,
)

__all__ = [
    "CLIENT_CONNECTION_PREFACE", "FRAME_HEADER_LENGTH", "DEFAULT_MAX_FRAME_SIZE",
    "MAX_ALLOWED_FRAME_SIZE", "read_raw_frame", "parse_frame", "read_frame",
    "frame_to_bytes", "HeaderCodec",
]

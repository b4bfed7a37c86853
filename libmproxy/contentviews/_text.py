"""The views that show bytes as they are: Raw (the text) and Hex (a hex dump)."""
from __future__ import annotations

from collections.abc import Iterator

from netlib.http import Headers

from libmproxy.contentviews._base import Counted, Line, View, charset_of, text_lines

__all__ = ["ViewRaw", "ViewHex", "decode_text", "is_mostly_binary"]

# Bytes per line of a hex dump.
HEXDUMP_WIDTH = 16

# A body counts as binary (auto shows it as a hex dump) when more than this share of its
# first SNIFF_BYTES reads as control characters or undecodable bytes.
BINARY_THRESHOLD = 0.3
SNIFF_BYTES = 4096


def decode_text(data: bytes, headers: Headers | None = None) -> str:
    """``data`` as text: in its declared charset if that decodes it, else UTF-8 with
    undecodable bytes kept visible as ``\\xNN`` escapes (never an error)."""
    charset = charset_of(headers)
    if charset:
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            pass
    return data.decode("utf-8", "backslashreplace")


def is_mostly_binary(data: bytes, headers: Headers | None = None) -> bool:
    """Whether ``data`` (judged by its beginning) is better shown as a hex dump."""
    sample = data[:SNIFF_BYTES]
    charset = charset_of(headers) or "utf-8"
    try:
        text = sample.decode(charset, "replace")
    except LookupError:
        text = sample.decode("utf-8", "replace")
    unreadable = sum(1 for c in text
                     if c == "\ufffd" or (not c.isprintable() and c not in "\r\n\t"))
    return unreadable > BINARY_THRESHOLD * len(text)


class ViewRaw(View):
    """The body exactly as it is, as text (undecodable bytes escaped)."""

    name = "Raw"
    prompt = ("raw", "r")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        return "Raw", text_lines(decode_text(data, headers))


class ViewHex(View):
    """A hex dump: offset, sixteen bytes in hex, the same bytes as ASCII."""

    name = "Hex"
    prompt = ("hex", "e")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        rows = (len(data) + HEXDUMP_WIDTH - 1) // HEXDUMP_WIDTH
        return "Hex", Counted(_hexdump(data), rows)


# Each byte as the ASCII column shows it: itself when printable ASCII, else ".".
_ASCII_COLUMN = bytes(b if 32 <= b < 127 else ord(".") for b in range(256))


def _hexdump(data: bytes) -> Iterator[Line]:
    width = HEXDUMP_WIDTH * 3
    for offset in range(0, len(data), HEXDUMP_WIDTH):
        chunk = data[offset:offset + HEXDUMP_WIDTH]
        yield [("offset", f"{offset:010x}"), ("text", f" {chunk.hex(' '):<{width}} "),
               ("text", chunk.translate(_ASCII_COLUMN).decode("ascii"))]

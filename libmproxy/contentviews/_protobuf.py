"""The Protocol Buffer view: the wire format decoded without a schema, as
``protoc --decode_raw`` does.

Each field shows its number and value: varints as numbers, fixed 64- and 32-bit fields in
hex with their floating-point reading, and length-delimited fields as a string when they
are printable UTF-8, else as a nested message when they parse as one, else as escaped
bytes. Repeated fields simply appear once per value, in wire order. Groups (wire types 3
and 4, deprecated) are not supported: such a body falls back to Raw.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator

from libmproxy.contentviews._base import ContentViewException, Line, View

__all__ = ["ViewProtobuf", "decode_message"]

# Nested messages are looked for this deep at most: a bound on work and on indentation.
MAX_DEPTH = 32

INDENT = "  "

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5

Field = tuple[int, int, "int | bytes"]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ContentViewException("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value & 0xFFFF_FFFF_FFFF_FFFF, pos
        shift += 7
        if shift >= 64:
            raise ContentViewException("varint longer than ten bytes")


def decode_message(data: bytes) -> list[Field]:
    """The ``(field number, wire type, value)`` fields of a message, in wire order; raises
    ContentViewException when ``data`` is not one."""
    fields: list[Field] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ContentViewException("field number 0")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = _varint(data, pos)
        elif wire_type in (FIXED64, FIXED32, LENGTH_DELIMITED):
            if wire_type == LENGTH_DELIMITED:
                size, pos = _varint(data, pos)
            else:
                size = 8 if wire_type == FIXED64 else 4
            if pos + size > len(data):
                raise ContentViewException(f"field {number} runs past the end")
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ContentViewException(f"unsupported wire type {wire_type}")
        fields.append((number, wire_type, value))
    return fields


def _is_text(value: bytes) -> bool:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


_TEXT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quoted(value: bytes) -> str:
    """A string or bytes field as protoc writes it: in quotes, text as text, other bytes
    as ``\\xNN``."""
    if _is_text(value):
        text = value.decode("utf-8")
        return '"' + "".join(_TEXT_ESCAPES.get(c, c) for c in text) + '"'
    return '"' + "".join(
        _TEXT_ESCAPES.get(chr(b), chr(b)) if 32 <= b < 127 else f"\\x{b:02x}" for b in value
    ) + '"'


def _lines(fields: list[Field], depth: int) -> Iterator[Line]:
    indent = INDENT * depth
    for number, wire_type, value in fields:
        if isinstance(value, int):
            shown = str(value) if value < 1 << 63 else f"{value} ({value - (1 << 64)})"
        elif wire_type == FIXED64:
            shown = f"0x{value[::-1].hex()} (double {struct.unpack('<d', value)[0]!r})"
        elif wire_type == FIXED32:
            shown = f"0x{value[::-1].hex()} (float {struct.unpack('<f', value)[0]!r})"
        elif not value or _is_text(value) or depth + 1 >= MAX_DEPTH:
            shown = _quoted(value)
        else:
            try:
                nested = decode_message(value)
            except ContentViewException:
                shown = _quoted(value)
            else:
                yield [("text", indent), ("key", str(number)), ("text", " {")]
                yield from _lines(nested, depth + 1)
                yield [("text", indent + "}")]
                continue
        yield [("text", indent), ("key", f"{number}:"), ("value", f" {shown}")]


class ViewProtobuf(View):
    name = "Protocol Buffer"
    prompt = ("protobuf", "p")
    content_types = ("application/x-protobuf", "application/x-protobuffer",
                     "application/protobuf", "application/vnd.google.protobuf")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        fields = decode_message(data)
        if not fields:
            raise ContentViewException("no fields")
        return "Protobuf", _lines(fields, 0)

"""Tagged netstrings, the format of flow files.

A tnetstring is ``<length>:<payload><tag>``: the length in decimal ASCII digits, a colon, that
many payload bytes and one tag byte saying how to read the payload. The tags are those
mitmproxy writes, so flow files from other versions stay readable:

    ``,`` bytes   ``;`` str (UTF-8)   ``#`` int   ``^`` float   ``!`` bool ("true"/"false")
    ``~`` None (empty payload)   ``]`` list of tnetstrings   ``}`` dict of key, value pairs

Bytes and str are kept distinct (a header value stays bytes, a method name stays str), tuples
are written as lists, and dict keys may be bytes or str.

Rules of this file:
- Speed matters, a flow file holds thousands of flows. Encoding appends the pieces of the
  output to a list *in reverse* (a container's children before its own length prefix), so
  every byte is copied once, into the final join. Decoding walks one buffer by offsets and
  slices only leaf payloads, so no container payload is copied.
- Malformed input raises TnetstringException (a ValueError) naming what is wrong and where.
  ``load`` raises EOFError instead when the file ends cleanly before a value begins, so a
  reader of a stream of values can tell "no more values" from "the last value is damaged".
"""
from __future__ import annotations

from typing import Any, BinaryIO

from netlib.exceptions import TnetstringException

__all__ = ["dumps", "dump", "loads", "load", "pop", "Encoded"]

# The longest length prefix we accept: twelve digits is a payload of up to a terabyte, far
# beyond any real flow, and it bounds how far we look for the colon in damaged input.
MAX_LENGTH_DIGITS = 12

# A damaged length prefix can claim up to a terabyte; reading that in one call would make the
# file object allocate it. Reads above this size go in chunks, so memory follows the bytes
# that actually exist.
READ_CHUNK = 1024 * 1024

# Byte strings up to this size are copied into their encoding in one formatting step
# (fast for the many small values of a flow); larger ones (bodies) are never copied twice.
COPY_LIMIT = 64 * 1024

# The encodings of str dict keys seen so far: a flow's state uses the same few dozen keys
# every time, so each is encoded once. Bounded, in case someone encodes arbitrary dicts.
_KEYS: dict[str, bytes] = {}
MAX_CACHED_KEYS = 4096

_TRUE = b"true"
_FALSE = b"false"


# --- encoding --------------------------------------------------------------------------

class Encoded(bytes):
    """A value already encoded by ``dumps``, written as it is where it stands in a larger
    value. A writer that saves many values sharing a part (the flows of one connection
    share its client and server connection) encodes that part once."""


def _leaf(value: Any) -> bytes | None:
    """The whole encoding of a non-container ``value``, or None for a list, tuple or dict.
    Exact types are checked first: a flow's state is mostly bytes, str, int and None, and
    saving flows is on mitmdump's path (``-w``)."""
    kind = type(value)
    if kind is bytes:
        if len(value) > COPY_LIMIT:
            return None  # _encode appends it without copying
        return b"%d:%b," % (len(value), value)
    if kind is str:
        data = value.encode("utf-8")
        return b"%d:%b;" % (len(data), data)
    if value is None:
        return b"0:~"
    if kind is bool:
        return b"4:true!" if value else b"5:false!"
    if kind is int:
        data = b"%d" % value
        return b"%d:%b#" % (len(data), data)
    if kind is float:
        data = repr(value).encode("ascii")
        return b"%d:%b^" % (len(data), data)
    if kind in (list, tuple, dict):
        return None
    if kind is Encoded:
        return value
    # Subclasses (an IntEnum, a bytes subclass): the slow path, by isinstance.
    for base in (bool, int, float, bytes, str, list, tuple, dict):
        if isinstance(value, base):
            return _leaf(base(value)) if base not in (list, tuple, dict) else None
    raise TypeError(f"cannot encode {kind.__name__} as a tnetstring")


def _encode(value: Any, out: list[bytes]) -> int:
    """Append the encoding of ``value`` to ``out`` in reverse order; return its byte size.
    Containers are encoded without copying their children's bytes (large bodies are
    written once, by the final join)."""
    leaf = _leaf(value)
    if leaf is not None:
        out.append(leaf)
        return len(leaf)
    if isinstance(value, bytes):  # a large body: appended as it is, copied once by the join
        out.append(b",")
        out.append(value)
        prefix = b"%d:" % len(value)
        out.append(prefix)
        return len(prefix) + len(value) + 1
    size = 0
    if isinstance(value, dict):
        out.append(b"}")
        keys = _KEYS
        for key, item in reversed(value.items()):
            size += _encode(item, out)
            encoded = keys.get(key)
            if encoded is None:
                if not isinstance(key, (bytes, str)):
                    raise TypeError(f"tnetstring dict keys must be bytes or str, not "
                                    f"{type(key).__name__}")
                encoded = _leaf(key)
                if len(keys) < MAX_CACHED_KEYS and type(key) is str:
                    keys[key] = encoded
            out.append(encoded)
            size += len(encoded)
    else:
        out.append(b"]")
        for item in reversed(value):
            size += _encode(item, out)
    prefix = b"%d:" % size
    out.append(prefix)
    return len(prefix) + size + 1


def dumps(value: Any) -> bytes:
    """Encode ``value``. Raises TypeError for a type the format cannot carry."""
    out: list[bytes] = []
    _encode(value, out)
    out.reverse()
    return b"".join(out)


def dump(value: Any, file: BinaryIO) -> None:
    """Write the encoding of ``value`` to a binary file."""
    file.write(dumps(value))


# --- decoding --------------------------------------------------------------------------

def _read_prefix(data: bytes, start: int, limit: int) -> tuple[int, int]:
    """Parse ``<length>:`` at ``start``; return (payload start, payload end).

    ``limit`` is where the enclosing container (or the buffer) ends; a value reaching past it
    is truncated or lies about its length.
    """
    colon = data.find(b":", start, min(limit, start + MAX_LENGTH_DIGITS + 1))
    if colon < 0:
        if limit - start <= MAX_LENGTH_DIGITS and data[start:limit].isdigit():
            raise TnetstringException(f"truncated tnetstring at offset {start}: no colon after the length")
        raise TnetstringException(
            f"not a tnetstring at offset {start}: expected up to {MAX_LENGTH_DIGITS} digits and a "
            f"colon, got {bytes(data[start:start + MAX_LENGTH_DIGITS + 1])!r}")
    digits = data[start:colon]
    if not digits.isdigit():
        raise TnetstringException(f"not a tnetstring at offset {start}: bad length {bytes(digits)!r}")
    payload_start = colon + 1
    payload_end = payload_start + int(digits)
    if payload_end >= limit:
        raise TnetstringException(
            f"truncated tnetstring at offset {start}: length {int(digits)} runs past the end of "
            f"the data or of its container")
    return payload_start, payload_end


def _decode(data: bytes, start: int, limit: int) -> tuple[Any, int]:
    """Decode the value at ``start``, which must end before ``limit``; return it and the
    offset just after it."""
    begin, end = _read_prefix(data, start, limit)
    return _decode_payload(data, begin, end, start)


def _decode_payload(data: bytes, begin: int, end: int, start: int) -> tuple[Any, int]:
    """Decode the payload ``data[begin:end]`` by the tag at ``data[end]``; ``start`` is
    where the value began, for messages. Returns the value and the offset after the tag."""
    tag = data[end]
    if tag == 0x2C:  # ','
        return data[begin:end], end + 1
    if tag == 0x3B:  # ';'
        try:
            return data[begin:end].decode("utf-8"), end + 1
        except UnicodeDecodeError as e:
            raise TnetstringException(f"invalid UTF-8 in str at offset {start}: {e}") from None
    if tag == 0x5D:  # ']'
        items = []
        pos = begin
        while pos < end:
            item, pos = _decode(data, pos, end)
            items.append(item)
        return items, end + 1
    if tag == 0x7D:  # '}'
        result: dict = {}
        pos = begin
        while pos < end:
            key_at = pos
            key, pos = _decode(data, pos, end)
            if not isinstance(key, (bytes, str)):
                raise TnetstringException(
                    f"dict key at offset {key_at} is {type(key).__name__}, not bytes or str")
            if pos == end:
                raise TnetstringException(f"dict key at offset {key_at} has no value")
            result[key], pos = _decode(data, pos, end)
        return result, end + 1
    return _decode_scalar(tag, data[begin:end], start), end + 1


def _decode_scalar(tag: int, payload: bytes, offset: int) -> Any:
    """The value of a leaf whose tag is not bytes, str or a container."""
    if tag == 0x23:  # '#'
        try:
            return int(payload)
        except ValueError:
            raise TnetstringException(f"invalid int {payload!r} at offset {offset}") from None
    if tag == 0x5E:  # '^'
        try:
            return float(payload)
        except ValueError:
            raise TnetstringException(f"invalid float {payload!r} at offset {offset}") from None
    if tag == 0x21:  # '!'
        if payload == _TRUE:
            return True
        if payload == _FALSE:
            return False
        raise TnetstringException(f"invalid bool {payload!r} at offset {offset}")
    if tag == 0x7E:  # '~'
        if payload:
            raise TnetstringException(f"None with a payload {payload!r} at offset {offset}")
        return None
    raise TnetstringException(f"unknown type tag {bytes([tag])!r} at offset {offset}")


def _guard_depth(decode, *args) -> tuple[Any, int]:
    """Run a decode step, turning runaway nesting (hostile input) into a format error."""
    try:
        return decode(*args)
    except RecursionError:
        raise TnetstringException("tnetstring nested too deeply") from None


def pop(data: bytes) -> tuple[Any, bytes]:
    """Decode the first value of ``data``; return it and the bytes after it."""
    data = bytes(data)
    if not data:
        raise TnetstringException("empty input: expected a tnetstring")
    value, end = _guard_depth(_decode, data, 0, len(data))
    return value, data[end:]


def loads(data: bytes) -> Any:
    """Decode exactly one value; trailing bytes are an error, since they mean damage."""
    value, rest = pop(data)
    if rest:
        raise TnetstringException(f"{len(rest)} unexpected bytes after the tnetstring: {rest[:20]!r}")
    return value


def _read_upto(file: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes from ``file``, fewer only if it ends first."""
    if n <= READ_CHUNK:
        return file.read(n)
    parts = []
    while n > 0:
        part = file.read(min(n, READ_CHUNK))
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def load(file: BinaryIO) -> Any:
    """Read exactly one value from a binary file (or anything with ``read(n)``).

    Raises EOFError if the file ends before the first byte of a value, and
    TnetstringException if it ends inside one or the value is malformed.
    """
    head = bytearray()
    # The length prefix is at most a dozen bytes; reading it byte by byte is what lets us
    # then read the rest of the value at once, without consuming the next value.
    while True:
        c = file.read(1)
        if not c:
            if not head:
                raise EOFError("end of file before a tnetstring")
            raise TnetstringException(f"truncated tnetstring: file ends in its length {bytes(head)!r}")
        if c == b":":
            break
        if not c.isdigit() or len(head) >= MAX_LENGTH_DIGITS:
            raise TnetstringException(f"not a tnetstring: bad length prefix {bytes(head + c)!r}")
        head += c
    if not head:
        raise TnetstringException("not a tnetstring: empty length prefix")
    length = int(head)
    rest = _read_upto(file, length + 1)
    if len(rest) != length + 1:
        raise TnetstringException(
            f"truncated tnetstring: expected {length + 1} bytes after the length, got {len(rest)}")
    value, _ = _guard_depth(_decode_payload, rest, 0, length, 0)
    return value

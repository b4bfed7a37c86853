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

try:
    from netlib import _tnetstring
except ImportError:  # built without a C compiler: decoding is done here
    _tnetstring = None

__all__ = ["dumps", "dump", "loads", "load", "pop", "encode_leaf"]

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

def encode_leaf(value: Any) -> bytes | None:
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
    # Subclasses (an IntEnum, a bytes subclass): the slow path, by isinstance.
    for base in (bool, int, float, bytes, str, list, tuple, dict):
        if isinstance(value, base):
            return encode_leaf(base(value)) if base not in (list, tuple, dict) else None
    raise TypeError(f"cannot encode {kind.__name__} as a tnetstring")


def _encode(value: Any, out: list[bytes]) -> int:
    """Append the encoding of ``value`` to ``out`` in reverse order; return its byte size.
    Containers are encoded without copying their children's bytes (large bodies are
    written once, by the final join)."""
    leaf = encode_leaf(value)
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
                encoded = encode_leaf(key)
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

# How deep containers may nest. The states we write nest about five deep; the decoder itself
# keeps its open containers in a list, not on the call stack, but the code that uses a
# decoded value (==, copy, repr) recurses, and must not meet a RecursionError later.
MAX_DEPTH = 400

# A dict whose key has been read waits for its value; this marks "no key read yet".
_NO_KEY = object()


def _read_prefix(data: bytes, start: int, limit: int, base: int = 0) -> tuple[int, int]:
    """Parse ``<length>:`` at ``start``; return (payload start, payload end).

    ``limit`` is where the enclosing container (or the buffer) ends; a value reaching past it
    is truncated or lies about its length. Offsets in messages count from ``base``. The
    decoder's loop checks the same conditions inline and calls this for the message.
    """
    colon = data.find(b":", start, min(limit, start + MAX_LENGTH_DIGITS + 1))
    at = start - base
    if colon < 0:
        if limit - start <= MAX_LENGTH_DIGITS and data[start:limit].isdigit():
            raise TnetstringException(f"truncated tnetstring at offset {at}: no colon after the length")
        raise TnetstringException(
            f"not a tnetstring at offset {at}: expected up to {MAX_LENGTH_DIGITS} digits and a "
            f"colon, got {bytes(data[start:start + MAX_LENGTH_DIGITS + 1])!r}")
    digits = data[start:colon]
    if not digits.isdigit():
        raise TnetstringException(f"not a tnetstring at offset {at}: bad length {bytes(digits)!r}")
    payload_start = colon + 1
    payload_end = payload_start + int(digits)
    if payload_end >= limit:
        raise TnetstringException(
            f"truncated tnetstring at offset {at}: length {int(digits)} runs past the end of "
            f"the data or of its container")
    return payload_start, payload_end


def _decode_leaf(tag: int, data: bytes, begin: int, end: int, offset: int) -> Any:
    """The value of a leaf (any tag but a container's) whose payload is
    ``data[begin:end]``; ``offset`` is where it began, for messages."""
    payload = data[begin:end]
    if tag == 0x2C:  # ','
        return payload
    if tag == 0x3B:  # ';'
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TnetstringException(f"invalid UTF-8 in str at offset {offset}: {e}") from None
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


def _decode_value(data: bytes, begin: int, end: int, start: int, base: int) -> Any:
    """Decode the value whose payload is ``data[begin:end]`` and whose tag is ``data[end]``;
    it began (length prefix) at ``start``. Offsets in messages count from ``base``.

    One loop over the buffer, no Python call per value: the container being filled is
    held in local variables (``items``, its ``limit``, the dict ``key`` waiting for its
    value), and the containers around it in ``stack``. Str and bytes, the bulk of a
    flow, are decoded inline; other leaves go through ``_decode_leaf``, as do the error
    paths, so each message is written once.
    """
    tag = data[end]
    if tag != 0x5D and tag != 0x7D:
        return _decode_leaf(tag, data, begin, end, start - base)
    if begin == end:
        return [] if tag == 0x5D else {}
    find = data.find
    stack: list[tuple] = []
    items: Any = [] if tag == 0x5D else {}
    append = items.append if tag == 0x5D else None  # None while filling a dict
    limit = end  # the end of the payload of the container being filled
    key: Any = _NO_KEY
    pos = begin
    while True:
        # The length prefix of the next child of ``items``.
        start = pos
        colon = find(b":", pos, pos + MAX_LENGTH_DIGITS + 1)
        digits = data[pos:colon]
        if colon < 0 or colon >= limit or not digits.isdigit():
            begin, end = _read_prefix(data, pos, limit, base)  # raises, saying what is wrong
        else:
            begin = colon + 1
            end = begin + int(digits)
            if end >= limit:
                begin, end = _read_prefix(data, pos, limit, base)  # raises
        tag = data[end]
        if tag == 0x3B:  # ';'
            try:
                value: Any = data[begin:end].decode("utf-8")
            except UnicodeDecodeError:
                value = _decode_leaf(tag, data, begin, end, start - base)  # raises
        elif tag == 0x2C:  # ','
            value = data[begin:end]
        elif tag == 0x5D or tag == 0x7D:  # ']' '}'
            value = [] if tag == 0x5D else {}
            if begin < end:  # descend: fill the new container first
                if len(stack) >= MAX_DEPTH:
                    raise TnetstringException("tnetstring nested too deeply")
                stack.append((items, append, limit, key, start))
                items = value
                append = value.append if tag == 0x5D else None
                limit = end
                key = _NO_KEY
                pos = begin
                continue
        else:
            value = _decode_leaf(tag, data, begin, end, start - base)
        pos = end + 1
        # Hand the value to ``items``; a container this completes goes to its parent.
        while True:
            if append is not None:
                append(value)
            elif key is _NO_KEY:
                if type(value) is not str and type(value) is not bytes:
                    raise TnetstringException(
                        f"dict key at offset {start - base} is {type(value).__name__}, not "
                        f"bytes or str")
                if pos == limit:
                    raise TnetstringException(f"dict key at offset {start - base} has no value")
                key = value
            else:
                items[key] = value
                key = _NO_KEY
            if pos < limit:
                break
            if not stack:
                return items
            value = items
            pos += 1
            items, append, limit, key, start = stack.pop()  # ``start``: where ``value`` began


def _decode(data: bytes, begin: int, end: int) -> Any:
    """The value whose payload is ``data[begin:end]``, by the C decoder when it is built
    (about 10x faster). Damaged input makes it fail without saying how; then
    ``_decode_value`` decodes the same bytes again and raises the message that says what
    is wrong and where, so those messages are written once, here."""
    if _tnetstring is not None:
        try:
            return _tnetstring.decode(data, begin, end)
        except Exception:  # whatever it was, the Python decoder has the last word
            pass
    return _decode_value(data, begin, end, 0, 0)


def pop(data: bytes) -> tuple[Any, bytes]:
    """Decode the first value of ``data``; return it and the bytes after it."""
    data = bytes(data)
    if not data:
        raise TnetstringException("empty input: expected a tnetstring")
    begin, end = _read_prefix(data, 0, len(data))
    return _decode(data, begin, end), data[end + 1:]


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
    return _decode(rest, 0, length)

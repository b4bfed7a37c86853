"""Cells that hold data rather than prose (header bytes, query and form values) are shown
and typed as escaped Python-style strings, as 0.18's grid editor did: what cannot be shown
on a terminal (control characters, bytes that are not UTF-8) is written as an escape, so
any value survives a trip through the editor unchanged.

Rules of this file:

- ``unescape_*(escape_*(x)) == x`` for every value; the tests check it byte for byte.
- Printable text, UTF-8 included, is shown as itself: "é" stays "é", not ``\\xc3\\xa9``.
- The escapes understood are exactly those written: ``\\\\``, ``\\n``, ``\\r``, ``\\t``,
  ``\\xNN``, ``\\uNNNN`` and ``\\UNNNNNNNN``. Any other backslash is an error that says
  how to write a backslash, rather than a guess that silently changes the value.
- In bytes (``escape_bytes``) ``\\xNN`` is one byte; in text (``escape_text``) it is the
  character U+00NN. A ``\\u`` escape in bytes stands for that character's UTF-8 bytes.
"""
from __future__ import annotations

import re

__all__ = ["escape_bytes", "unescape_bytes", "escape_text", "unescape_text"]

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NAMED_BACK = {v[1]: k for k, v in _NAMED.items()}

# One backslash escape: its letter, then the hex digits the letter asks for.
_ESCAPE = re.compile(r"\\(?:([\\nrt])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))")

# Lone surrogates U+DC80..U+DCFF are how ``surrogateescape`` carries undecodable bytes.
_ESCAPED_BYTE_FIRST, _ESCAPED_BYTE_LAST = "\udc80", "\udcff"


def _escape_char(c: str) -> str:
    """The escape of one non-printable character (shortest form that holds it)."""
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_text(text: str) -> str:
    """``text`` with backslashes doubled and non-printable characters escaped."""
    return "".join(_NAMED.get(c) or (c if c.isprintable() else _escape_char(c)) for c in text)


def escape_bytes(data: bytes) -> str:
    """``data`` as text: valid printable UTF-8 as itself, every other byte as ``\\xNN``."""
    out = []
    for c in data.decode("utf-8", "surrogateescape"):
        if c in _NAMED:
            out.append(_NAMED[c])
        elif _ESCAPED_BYTE_FIRST <= c <= _ESCAPED_BYTE_LAST:
            out.append(f"\\x{ord(c) - 0xdc00:02x}")
        elif c.isprintable():
            out.append(c)
        else:
            out.extend(f"\\x{b:02x}" for b in c.encode("utf-8"))
    return "".join(out)


def _tokens(text: str) -> list[tuple[str, str]]:
    """``text`` as ``("text", chars)`` and ``("byte", "\\xNN digits")`` parts. Raises
    ValueError naming a backslash that starts no known escape."""
    parts: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = text.find("\\", pos)
        if start < 0:
            parts.append(("text", text[pos:]))
            return parts
        parts.append(("text", text[pos:start]))
        match = _ESCAPE.match(text, start)
        if match is None:
            bad = text[start:start + 2]
            raise ValueError(f"invalid escape '{bad}' at position {start + 1}: values are "
                             f"escaped Python-style strings (write a backslash as \\\\)")
        named, byte, short, long = match.groups()
        if named:
            parts.append(("text", _NAMED_BACK[named]))
        elif byte:
            parts.append(("byte", byte))
        else:
            code = int(short or long, 16)
            if code > 0x10FFFF:
                raise ValueError(f"invalid escape '{match.group()}' at position {start + 1}: "
                                 f"no such character")
            parts.append(("text", chr(code)))
        pos = match.end()


def unescape_text(text: str) -> str:
    """The inverse of ``escape_text``; raises ValueError for a bad escape."""
    return "".join(chr(int(value, 16)) if kind == "byte" else value
                   for kind, value in _tokens(text))


def unescape_bytes(text: str) -> bytes:
    """The inverse of ``escape_bytes``: characters as UTF-8, ``\\xNN`` as that byte;
    raises ValueError for a bad escape."""
    out = bytearray()
    for kind, value in _tokens(text):
        if kind == "byte":
            out.append(int(value, 16))
        else:
            try:
                out += value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate, typed as \udXXX
                raise ValueError(f"{value!r} is not a character that UTF-8 can hold; "
                                 f"write single bytes as \\xNN") from None
    return bytes(out)

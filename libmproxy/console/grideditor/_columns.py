"""The kinds of column a grid has: how a value is shown in its cell, read back from what
was typed, and checked.

A cell always holds text (what the user sees and types); ``Column.parse`` turns it into the
value handed to the editor's callback and raises ValueError with a message for the user
when it cannot (a bad escape, an invalid filter expression or regex, or whatever the
column's ``validate`` refuses). A ``SubgridColumn`` holds structured data (a cookie's
attributes) and keeps that rule: its cell is the data written as one line of text.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from libmproxy import filt
from libmproxy.console.grideditor._escape import (
    escape_bytes, escape_text, unescape_bytes, unescape_text,
)

__all__ = ["Column", "BytesColumn", "EscapedTextColumn", "UnaryValueColumn", "SubgridColumn",
           "FilterColumn", "RegexColumn"]

# validate(value) -> an error message for the user, or None when the value is fine.
Validator = Callable[[Any], "str | None"]


def _utf8(data: bytes) -> str:
    """A file's bytes as text; raises ValueError saying where they are not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"the file is not UTF-8 text ({e.reason} at byte {e.start})") \
            from None


class Column:
    """Plain text: the cell's text is the value (patterns, names, script commands), so a
    regex is typed as it is meant, backslashes and all."""

    escaped = False  # whether the cell shows an escaped form of the value (see _escape)

    def __init__(self, heading: str, validate: Validator | None = None) -> None:
        self.heading = heading
        self._validate = validate

    def display(self, value: Any) -> str:
        return value

    def convert(self, text: str) -> Any:
        """The value of ``text``; raises ValueError when there is none."""
        return text

    def parse(self, text: str) -> Any:
        """The checked value of ``text``; raises ValueError with the reason."""
        value = self.convert(text)
        if self._validate is not None:
            error = self._validate(value)
            if error:
                raise ValueError(error)
        return value

    def from_file(self, data: bytes) -> str:
        """Cell text holding ``data`` exactly ("read unescaped value from file")."""
        return self.display(_utf8(data))


class EscapedTextColumn(Column):
    """Text data (query and form values): non-printable characters shown escaped."""

    escaped = True

    def display(self, value: str) -> str:
        return escape_text(value)

    def convert(self, text: str) -> str:
        return unescape_text(text)


class UnaryValueColumn(EscapedTextColumn):
    """A value that may be absent, as that of a unary cookie attribute (``HttpOnly``): None
    is shown as an empty cell, and an empty cell is read back as None (0.18's rule)."""

    def display(self, value: str | None) -> str:
        return "" if value is None else super().display(value)

    def convert(self, text: str) -> str | None:
        return super().convert(text) or None


Pairs = list[tuple[str, "str | None"]]


def _join_pairs(pairs: Sequence[tuple[str, str | None]]) -> str:
    """``Path=/; HttpOnly``: the cookie-attribute syntax, a bare name for a None value."""
    return "; ".join(name if value is None else f"{name}={value}" for name, value in pairs)


def _split_pairs(text: str) -> Pairs:
    """The inverse of ``_join_pairs``; spaces around names and values go (a header's
    reader drops them too) and empty parts are skipped."""
    pairs: Pairs = []
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        if name.strip() or eq:
            pairs.append((name.strip(), value.strip() if eq else None))
    return pairs


class SubgridColumn(EscapedTextColumn):
    """(name, value) pairs, a cookie's attributes, edited in a grid of their own: enter on
    the cell opens it with ``subcolumns`` (GridEditor.open_subgrid), as in 0.18.

    The cell shows the pairs as one line in the cookie-attribute syntax (``Path=/;
    HttpOnly``), escaped like any text cell. Keeping the cell text lets every other key of
    the grid work on it unchanged (``e`` edits that line in $EDITOR, ``r`` reads it from a
    file), and the line is checked with the sub-grid's own columns, so both ways refuse
    the same things.
    """

    def __init__(self, heading: str, subcolumns: Sequence[Column]) -> None:
        super().__init__(heading)
        self.subcolumns = list(subcolumns)

    def display(self, value: Sequence[tuple[str, str | None]]) -> str:
        return super().display(_join_pairs(value))

    def convert(self, text: str) -> Pairs:
        return _split_pairs(super().convert(text))

    def parse(self, text: str) -> Pairs:
        """The pairs of ``text``, each checked as if typed into the sub-grid."""
        pairs = self.convert(text)
        for pair in pairs:
            for column, item in zip(self.subcolumns, pair):
                column.parse(column.display(item))
        return pairs

    def from_file(self, data: bytes) -> str:
        """The file holds the line as typed, unescaped (``Path=/; HttpOnly``)."""
        return super().display(_utf8(data))


class BytesColumn(Column):
    """Bytes (header names and values): shown as UTF-8 where they are, ``\\xNN`` where
    not, so any bytes survive the editor."""

    escaped = True

    def display(self, value: bytes) -> str:
        return escape_bytes(value)

    def convert(self, text: str) -> bytes:
        return unescape_bytes(text)

    def from_file(self, data: bytes) -> str:
        return escape_bytes(data)


def _regex_error(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as e:
        return f"invalid regular expression {pattern!r}: {e}"
    return None


class FilterColumn(Column):
    """A filter expression, checked with the filter parser as typed."""

    def __init__(self, heading: str = "Filter") -> None:
        super().__init__(heading, filt.problem)


class RegexColumn(Column):
    """A Python regular expression, checked by compiling it."""

    def __init__(self, heading: str = "Regex") -> None:
        super().__init__(heading, _regex_error)

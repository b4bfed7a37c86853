"""The kinds of column a grid has: how a value is shown in its cell, read back from what
was typed, and checked.

A cell always holds text (what the user sees and types); ``Column.parse`` turns it into the
value handed to the editor's callback and raises ValueError with a message for the user
when it cannot (a bad escape, an invalid filter expression or regex, or whatever the
column's ``validate`` refuses).
"""
from __future__ import annotations

import re
from typing import Any, Callable

from libmproxy import filt
from libmproxy.console.grideditor._escape import (
    escape_bytes, escape_text, unescape_bytes, unescape_text,
)

__all__ = ["Column", "BytesColumn", "EscapedTextColumn", "FilterColumn", "RegexColumn"]

# validate(value) -> an error message for the user, or None when the value is fine.
Validator = Callable[[Any], "str | None"]


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
        try:
            return self.display(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise ValueError(f"the file is not UTF-8 text ({e.reason} at byte {e.start})") \
                from None


class EscapedTextColumn(Column):
    """Text data (query and form values): non-printable characters shown escaped."""

    escaped = True

    def display(self, value: str) -> str:
        return escape_text(value)

    def convert(self, text: str) -> str:
        return unescape_text(text)


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

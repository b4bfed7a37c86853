"""What every content view shares: the View base class, styled lines, and small helpers.

A view turns a body into ``(description, lines)``. Each line is a list of
``(style, text)`` fragments; the styles are names, not colours, so the console maps them to
its urwid palette and mitmdump to ANSI colours (or none when piped):

- ``text``: plain content
- ``header``: a label that introduces content (a multipart part, an image property)
- ``key``: a name (a JSON key, a form field, a tag, a protobuf field number)
- ``value``: a literal value (a JSON scalar, a form value)
- ``offset``: a position (a hex dump's offsets) or a comment
- ``highlight``: something to notice (the cut-off marker)
- ``error``: a problem worth a look (mitmdump shows the fallback note in it)

Rules of this package: views may return their lines lazily (a generator) so that a large
body cut off after a few lines costs only those lines; a view whose line count is cheap to
know returns a ``Counted`` so the cut-off marker can say how many more there are. Views raise
(ContentViewException or anything else) on input they cannot show: the caller falls back to
Raw. Views do not escape control characters: the caller does that once for all of them, and
skips it for the lines of a ``Counted`` whose one check over the whole text finds nothing
to escape (far cheaper than a check per fragment when a large body is shown whole).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Callable, ClassVar

from netlib.http import Headers
from netlib.http.headers import parse_content_type

from libmproxy.exceptions import ContentViewException

__all__ = ["View", "Line", "Counted", "ContentViewException", "media_type", "charset_of",
           "format_pairs", "text_lines"]

Line = list[tuple[str, str]]


class View:
    """A way to show a body. Subclasses set the class attributes and implement ``__call__``.

    ``prompt`` is ``(label, key)`` for the console's view-mode chooser; ``content_types``
    are the media types (lower case, without parameters) that the auto view sends here.
    """

    name: ClassVar[str]
    prompt: ClassVar[tuple[str, str]]
    content_types: ClassVar[tuple[str, ...]] = ()

    def __call__(self, data: bytes, *, headers: Headers | None = None, query: Any = None,
                 limit: int | None = None) -> tuple[str, Iterable[Line]]:
        """``(description, lines)`` for ``data`` (already stripped of its Content-Encoding).

        ``limit`` is how many lines will be shown (None: all); a view that is slow per byte
        may use it to bound its work, and marks where it stopped.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Counted:
    """Lines produced lazily whose number is known up front (``len``), so a cut-off can say
    how many were left out without producing them.

    ``printable``, when given, tells (when called) whether every fragment of every line is
    printable (``str.isprintable``), judged in one pass over the view's whole text; the
    caller asks only when it is about to make every line, where that one pass is cheaper
    than a check per line.
    """

    def __init__(self, lines: Iterable[Line], total: int,
                 printable: Callable[[], bool] | None = None) -> None:
        self._lines = lines
        self._total = total
        self._printable = printable

    def __iter__(self) -> Iterator[Line]:
        return iter(self._lines)

    def __len__(self) -> int:
        return self._total

    def all_printable(self) -> bool:
        """Whether no line needs escaping, as far as one check over the text can tell."""
        return self._printable is not None and self._printable()


def media_type(headers: Headers | None) -> str | None:
    """``"type/subtype"`` of the Content-Type header, lower case, or None."""
    if headers is None:
        return None
    parsed = parse_content_type(headers.get("content-type", ""))
    return f"{parsed[0]}/{parsed[1]}" if parsed else None


def charset_of(headers: Headers | None) -> str | None:
    """The Content-Type's declared charset, or None."""
    if headers is None:
        return None
    parsed = parse_content_type(headers.get("content-type", ""))
    return parsed[2].get("charset") if parsed else None


def text_lines(text: str, style: str = "text") -> Counted:
    """The lines of ``text``, each made on demand, all in ``style``.

    Only line feeds (with an optional carriage return) end a line: ``splitlines()`` would
    also break on form feeds and other separators, which the escaping step shows instead.
    """
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return Counted(([(style, line)] for line in lines), len(lines),
                   printable=lambda: _lines_printable(text))


def _lines_printable(text: str) -> bool:
    """Whether every line ``text_lines`` makes of ``text`` is printable: the text without
    its line ends is (a carriage return ends a line only before a line feed, or at the
    very end)."""
    return text.removesuffix("\r").replace("\r\n", "").replace("\n", "").isprintable()


def format_pairs(pairs: Iterable[tuple[str, str]], key_style: str = "key",
                 value_style: str = "value") -> list[Line]:
    """``key: value`` lines with the values aligned in a column, as the forms and the image
    view show their fields. A multi-line value continues under its first line."""
    pairs = list(pairs)
    width = max((len(key) for key, _ in pairs), default=0) + 2
    lines: list[Line] = []
    for key, value in pairs:
        value_lines = value.splitlines() or [""]
        lines.append([(key_style, f"{key}:".ljust(width)), (value_style, value_lines[0])])
        lines.extend([("text", " " * width), (value_style, more)] for more in value_lines[1:])
    return lines

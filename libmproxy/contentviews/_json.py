"""The JSON view: the document re-indented (two spaces), keys and values styled apart.

Made for large bodies: parsing is the C parser; with a line limit the indented text is
produced lazily by the encoder, so a 5 MB document cut off after 70 lines encodes only those
lines, and the number of lines is counted from the parsed document without encoding it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from libmproxy.contentviews._base import ContentViewException, Counted, Line, View, text_lines

__all__ = ["ViewJSON"]

INDENT = 2

# An indented line that starts with a key: indentation, the key, ": ", the rest.
_KEY_LINE = re.compile(r'^(\s*)("(?:[^"\\]|\\.)*")(: )(.*)$')


class ViewJSON(View):
    name = "JSON"
    prompt = ("json", "s")
    content_types = ("application/json", "text/json", "application/x-json")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        try:
            document = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise ContentViewException(f"invalid JSON: {e}") from e
        encoder = json.JSONEncoder(indent=INDENT, ensure_ascii=False)
        if limit is None:  # all lines wanted: encoding in one go is faster
            return "JSON", text_lines(encoder.encode(document), styler=_style)
        return "JSON", Counted((_style(line) for line in _lines(encoder.iterencode(document))),
                               _count_lines(document))


def _lines(chunks: Iterable[str]) -> Iterator[str]:
    """Whole lines out of the encoder's chunks, as soon as each is complete."""
    pending: list[str] = []
    for chunk in chunks:
        if "\n" not in chunk:
            pending.append(chunk)
            continue
        first, *middle, last = chunk.split("\n")
        pending.append(first)
        yield "".join(pending)
        yield from middle
        pending = [last]
    yield "".join(pending)


# What a line holds when it holds no value: brackets, with a separating comma.
_BRACKETS = frozenset({"{", "}", "[", "]", "{}", "[]"})


def _value_style(text: str) -> str:
    return "text" if text.rstrip(",") in _BRACKETS else "value"


def _style(line: str) -> Line:
    match = _KEY_LINE.match(line)
    if match is None:
        stripped = line.lstrip()
        return [("text", line[:len(line) - len(stripped)]), (_value_style(stripped), stripped)]
    indent, key, colon, rest = match.groups()
    return [("text", indent), ("key", key), ("text", colon), (_value_style(rest), rest)]


def _count_lines(document: Any) -> int:
    """How many lines the indented encoding of ``document`` has: one, plus for each
    non-empty container a line per member and one for its closing bracket."""
    count = 1
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item:
                count += len(item) + 1
                stack.extend(item.values())
        elif isinstance(item, list):
            if item:
                count += len(item) + 1
                stack.extend(item)
    return count

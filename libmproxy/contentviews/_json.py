"""The JSON view: the document re-indented (two spaces), keys and values styled apart.

The lines are exactly those of ``json.dumps(document, indent=2, ensure_ascii=False)``, but
made for large bodies (a 5 MB response is ordinary) without running that encoder, which is
pure Python once it indents, nor splitting and re-parsing its text to style it:

- parsing is the C parser;
- the styled lines are made lazily, straight from the parsed document, one container
  member per line (strings encoded by the C string encoder), so a body cut off after 2,000
  lines costs only those lines and the whole body costs one pass;
- how many lines there are is counted by visiting the containers only, and whether any
  line needs escaping is judged once from the body's text.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from json.encoder import encode_basestring  # the C encoder's, as ensure_ascii=False uses
from typing import Any, Callable

from libmproxy.contentviews._base import ContentViewException, Counted, Line, View

__all__ = ["ViewJSON"]

INDENT = "  "


class ViewJSON(View):
    name = "JSON"
    prompt = ("json", "s")
    content_types = ("application/json", "text/json", "application/x-json")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        try:
            # Decoded as json.loads decodes bytes (UTF-8, -16 or -32, by sniffing), once:
            # the text is looked at again below.
            text = data.decode(json.detect_encoding(data), "surrogatepass")
            document = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise ContentViewException(f"invalid JSON: {e}") from e
        return "JSON", Counted(_styled_lines(document), _count_lines(document),
                               printable=lambda: _surely_printable(text))


def _surely_printable(text: str) -> bool:
    """Whether every line of the view is printable, judged from the body (one pass in C):
    the lines hold its strings, keys and numbers; the encoder writes control characters
    in strings as escapes, and the whitespace between tokens is not kept. A ``\\u`` escape
    can stand for anything, so a body with one is not judged here (its lines are then
    checked one by one, as any view's)."""
    return "\\u" not in text and \
        text.replace("\n", "").replace("\r", "").replace("\t", "").isprintable()


# What float.__repr__ writes for the values JSON has no number for, and what the json
# encoder writes instead (JavaScript's names, as json.loads reads them).
_SPECIAL_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _float(value: float) -> str:
    """A float as the json encoder writes it."""
    text = float.__repr__(value)
    return _SPECIAL_FLOATS.get(text, text)


# How each scalar type that json.loads makes is written; containers are not in here.
_SCALARS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    float: _float,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


def _opening(value: dict | list) -> str:
    if isinstance(value, dict):
        return "{" if value else "{}"
    return "[" if value else "[]"


_KEY_SEPARATOR = ("text", ": ")


def _styled_lines(document: Any) -> Iterator[Line]:
    """The indented lines, styled as ``key`` (a member's name), ``value`` (a scalar) and
    ``text`` (indentation, separators, brackets).

    Walks the document with an explicit stack of open containers rather than recursion:
    nesting as deep as the parser allows costs nothing per line. Fragments that repeat
    (an indentation, a key, the key separator) are one shared tuple: a whole large body
    makes hundreds of thousands of lines, and fewer objects make them faster.
    """
    scalars = _SCALARS
    scalar = scalars.get(type(document))
    if scalar is not None:
        yield [("text", ""), ("value", scalar(document))]
        return
    yield [("text", ""), ("text", _opening(document))]
    if not document:
        return
    names: dict[str, tuple[str, str]] = {}  # the key fragment of each key seen
    # Each open container: [its members not yet shown, how many, their indentation
    # fragment, whether they have keys, the container's closing line].
    stack: list[list[Any]] = [_frame(document, 1, "")]
    while stack:
        frame = stack[-1]
        members, left, pad, keyed, closing = frame
        for member in members:
            left -= 1
            if keyed:
                key, value = member
                name = names.get(key)
                if name is None:
                    name = names[key] = ("key", encode_basestring(key))
                line = [pad, name, _KEY_SEPARATOR]
            else:
                value = member
                line = [pad]
            scalar = scalars.get(type(value))
            if scalar is not None:
                line.append(("value", scalar(value) + "," if left else scalar(value)))
                yield line
            elif not value:
                line.append(("text", _opening(value) + "," if left else _opening(value)))
                yield line
            else:
                line.append(("text", _opening(value)))
                yield line
                frame[1] = left
                stack.append(_frame(value, len(stack) + 1, "," if left else ""))
                break
        else:
            stack.pop()
            yield closing


def _frame(container: dict | list, depth: int, comma: str) -> list[Any]:
    """The stack entry of a non-empty container ``depth`` levels in whose closing bracket
    is followed by ``comma``."""
    outer = INDENT * (depth - 1)
    if isinstance(container, dict):
        return [iter(container.items()), len(container), ("text", outer + INDENT), True,
                [("text", outer), ("text", "}" + comma)]]
    return [iter(container), len(container), ("text", outer + INDENT), False,
            [("text", outer), ("text", "]" + comma)]]


_CONTAINERS = frozenset({dict, list})


def _count_lines(document: Any) -> int:
    """How many lines the indented encoding of ``document`` has: one, plus for each
    non-empty container a line per member and one for its closing bracket. Only the
    containers go on the stack (their scalars are counted by ``len``)."""
    count = 1
    containers = _CONTAINERS
    stack = [document] if type(document) in containers else []
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if item:
            count += len(item) + 1
            for value in item.values() if type(item) is dict else item:
                if type(value) in containers:
                    push(value)
    return count

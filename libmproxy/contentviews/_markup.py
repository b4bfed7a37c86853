"""The XML/HTML view: markup re-indented, one tag or text run per line.

A tolerant tokenizer rather than a parser: real pages are often not well-formed, and a view
should still show them. It never expands entities or fetches anything (no XML bombs), works
lazily (a large page cut off after 70 lines tokenizes only its beginning) and keeps the
indentation honest on sloppy HTML by matching end tags against the open elements: an end
tag closes the elements left open inside it, and a stray end tag closes nothing.

Short elements holding only text stay on one line (``<title>Example</title>``); the
contents of ``<script>``, ``<style>``, ``<pre>`` and ``<textarea>`` keep their own lines
and relative indentation.
"""
from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator

from libmproxy.contentviews._base import Line, View
from libmproxy.contentviews._text import decode_text

__all__ = ["ViewXmlHtml", "looks_like_markup"]

INDENT = "  "

# Text up to this long is kept on the line of the element that holds it.
INLINE_TEXT = 80

# HTML elements that never have an end tag.
VOID_ELEMENTS = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "!doctype",
})

# HTML elements whose start tag ends an open element it cannot be inside (the end tags HTML
# lets authors leave out): <li>one<li>two are siblings.
IMPLIED_END = {
    "li": {"li"}, "p": {"p"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}, "tr": {"tr", "td", "th"},
    "td": {"td", "th"}, "th": {"td", "th"}, "option": {"option"},
}

# Elements whose content is not markup (or must keep its whitespace).
VERBATIM_ELEMENTS = frozenset({"script", "style", "pre", "textarea"})

# Every pattern stops at the next "<" (except comments, CDATA and quoted attribute values,
# which have their own end): unclosed tags then cost linear time, not quadratic.
_TOKEN = re.compile(
    r"""
    (?P<comment><!--.*?(?:-->|\Z))
  | (?P<cdata><!\[CDATA\[.*?(?:\]\]>|\Z))
  | (?P<special><[!?][^<>]*>)                   # doctype, processing instruction
  | (?P<end></[^\s<>]*\s*>)
  | (?P<start><[A-Za-z_:][^\s/<>]*(?:[^<>"']|"[^"]*"|'[^']*')*>)
  | (?P<text>(?:[^<]|<(?![A-Za-z_:/!?]))+)
  | (?P<stray><)                                # a "<" that starts no complete tag
    """,
    re.DOTALL | re.VERBOSE,
)

_TAG_NAME = re.compile(r"</?([^\s/>]+)")

_MARKUP_START = re.compile(rb"\s*(?:<\?xml|<!doctype|<!--|<[A-Za-z][\w:.-]*[\s>/])",
                           re.IGNORECASE)


def looks_like_markup(data: bytes) -> bool:
    """Whether ``data`` starts like an XML or HTML document (for the auto view)."""
    return _MARKUP_START.match(data[:1024]) is not None


class ViewXmlHtml(View):
    name = "XML/HTML"
    prompt = ("xml/html", "x")
    content_types = ("text/xml", "application/xml", "text/html", "application/xhtml+xml")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        text = decode_text(data, headers)
        head = text[:1024].lower()
        description = "HTML" if ("<html" in head or "<!doctype html" in head) else "XML"
        return description, _indent(text, html=(description == "HTML"))


def _tag_name(tag: str) -> str:
    match = _TAG_NAME.match(tag)
    return match.group(1).lower() if match else ""


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` tokens; the content of a verbatim element is one "verbatim" token."""
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match is not None  # "text" or "stray" matches any character
        kind, value = match.lastgroup or "text", match.group()
        if kind == "stray":
            kind = "text"
        pos = match.end()
        yield kind, value
        if kind == "start" and not value.endswith("/>") \
                and _tag_name(value) in VERBATIM_ELEMENTS:
            close = re.compile(rf"</{re.escape(_tag_name(value))}\s*>", re.IGNORECASE)
            found = close.search(text, pos)
            stop = found.start() if found else len(text)
            if stop > pos:
                yield "verbatim", text[pos:stop]
            pos = stop


def _indent(text: str, html: bool) -> Iterator[Line]:
    open_elements: list[str] = []
    tokens = _tokens(text)
    pending: tuple[str, str] | None = None  # a token read ahead
    while True:
        if pending is not None:
            token, pending = pending, None
        else:
            token = next(tokens, None)
            if token is None:
                return
        kind, value = token
        if kind == "start":
            name = _tag_name(value)
            if html:
                while open_elements and open_elements[-1] in IMPLIED_END.get(name, ()):
                    open_elements.pop()
        depth = INDENT * len(open_elements)
        if kind == "start":
            if value.endswith("/>") or (html and name in VOID_ELEMENTS):
                yield [("text", depth), ("key", value)]
                continue
            # <name></name> and <name>short text</name> on one line.
            following = next(tokens, None)
            if following is not None and following[0] == "end" \
                    and _tag_name(following[1]) == name:
                yield [("text", depth), ("key", value), ("key", following[1])]
                continue
            if following is not None and following[0] in ("text", "verbatim") \
                    and "\n" not in following[1].strip() \
                    and len(following[1].strip()) <= INLINE_TEXT:
                after = next(tokens, None)
                if after is not None and after[0] == "end" and _tag_name(after[1]) == name:
                    yield [("text", depth), ("key", value), ("text", following[1].strip()),
                           ("key", after[1])]
                    continue
                yield [("text", depth), ("key", value)]
                open_elements.append(name)
                yield from _text_lines(following, INDENT * len(open_elements))
                pending = after
                continue
            yield [("text", depth), ("key", value)]
            open_elements.append(name)
            pending = following
        elif kind == "end":
            name = _tag_name(value)
            if name in open_elements:
                while open_elements.pop() != name:
                    pass
            yield [("text", INDENT * len(open_elements)), ("key", value)]
        else:
            yield from _text_lines(token, depth)


def _text_lines(token: tuple[str, str], depth: str) -> Iterator[Line]:
    kind, value = token
    if kind == "verbatim":
        # Re-indent the block as a whole, keeping its own relative indentation.
        for line in textwrap.dedent(value.expandtabs(8)).strip("\n").split("\n"):
            yield [("text", depth + line.rstrip())]
        return
    style = {"comment": "offset", "special": "offset", "cdata": "text"}.get(kind, "text")
    for line in value.split("\n"):
        if line.strip():
            yield [("text", depth), (style, line.strip())]

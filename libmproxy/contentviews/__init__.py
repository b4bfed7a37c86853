"""Content views: how a request or response body is shown, by the console and by
``mitmdump -dd``.

``get_content_view(view, data, headers=..., query=..., limit=...)`` is the one entry point:

1. It undoes the Content-Encoding (gzip, deflate, br) of ``data`` and says so in the
   description (``[decoded gzip] JSON``); the caller's bytes are not changed. A body its
   Content-Encoding does not decode is shown Raw, as it is, with a note.
2. It runs the view: ``auto`` picks one by Content-Type, then by sniffing the body (an
   image's magic bytes, JSON, markup, binary), then Raw.
3. A view that fails, however it fails, is replaced by Raw with the note
   "Couldn't parse: falling back to Raw" (and the reason in ``error``): a view never
   crashes its caller.
4. With ``limit``, only that many lines are made, and a last line says how many more there
   are (when the view can tell cheaply) and ``limit_hint`` (how to see them all); lines
   longer than LINE_CHARS are cut the same way.
5. Control characters in every line are escaped, so a hostile body cannot move the cursor
   or rewrite the terminal.
6. Speed: views make their lines lazily, so a body cut off after a screenful costs about
   that screenful (and what parsing it needs); a whole body is checked for anything to
   escape in one pass when its view can (then not line by line), and the cycle collector
   pauses while the lines pile up.

Lines are lists of ``(style, text)``; see ``_base`` for the styles.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from netlib import encoding
from netlib.http import Headers
from netlib.http.message import as_headers

from libmproxy import collector
from libmproxy.contentviews._base import (
    ContentViewException, Counted, Line, View, media_type,
)
from libmproxy.contentviews._code import ViewCSS, ViewJavaScript
from libmproxy.contentviews._forms import ViewMultipart, ViewQuery, ViewURLEncoded
from libmproxy.contentviews._image import ViewImage, looks_like_image
from libmproxy.contentviews._json import ViewJSON
from libmproxy.contentviews._markup import ViewXmlHtml, looks_like_markup
from libmproxy.contentviews._protobuf import ViewProtobuf
from libmproxy.contentviews._text import ViewHex, ViewRaw, is_mostly_binary

__all__ = ["View", "Line", "ContentView", "ContentViewException", "views", "get",
           "get_content_view", "FALLBACK_NOTE"]

FALLBACK_NOTE = "Couldn't parse: falling back to Raw"

# With a line limit, each line is also cut after this many characters: a minified or
# one-line body must not print megabytes either.
LINE_CHARS = 4096

# Tabs in a body are shown as spaces up to the next multiple of this (as a terminal would).
TAB_SIZE = 8


class ViewAuto(View):
    """Picks the view for a body: by its Content-Type first, then by what it looks like."""

    name = "Auto"
    prompt = ("auto", "a")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        metadata = dict(headers=headers, query=query, limit=limit)
        if not data:
            if query:
                return get("Query")(data, **metadata)
            return "No content", []
        chosen = _by_content_type(media_type(headers))
        if chosen is not None:
            return chosen(data, **metadata)
        for looks_like, name in _SNIFFERS:
            if looks_like(data):
                try:
                    return get(name)(data, **metadata)
                except Exception:  # it only looked like one: keep guessing
                    pass
        if is_mostly_binary(data, headers):
            return get("Hex")(data, **metadata)
        return get("Raw")(data, **metadata)


def _looks_like_json(data: bytes) -> bool:
    return _JSON_START.match(data) is not None


_JSON_START = re.compile(rb"\s*[\[{]")


# What a body without a known Content-Type is tried as, in order.
_SNIFFERS = ((looks_like_image, "Image"), (_looks_like_json, "JSON"),
             (looks_like_markup, "XML/HTML"))

# Structured syntax suffixes (RFC 6839): image/svg+xml is markup, application/foo+json JSON.
_SUFFIXES = {"+json": "JSON", "+xml": "XML/HTML"}


def _by_content_type(media: str | None) -> View | None:
    if media is None:
        return None
    view = content_types_map.get(media)
    if view is not None:
        return view
    for suffix, name in _SUFFIXES.items():
        if media.endswith(suffix):
            return get(name)
    return None


views: list[View] = [
    ViewAuto(), ViewRaw(), ViewHex(), ViewJSON(), ViewXmlHtml(), ViewJavaScript(), ViewCSS(),
    ViewURLEncoded(), ViewMultipart(), ViewImage(), ViewProtobuf(), ViewQuery(),
]

content_types_map: dict[str, View] = {
    content_type: view for view in views for content_type in view.content_types
}

_by_name = {label.lower(): view for view in views for label in (view.name, view.prompt[0])}


def get(name: str) -> View:
    """The view called ``name`` or its prompt label, in any case ("auto", "JSON",
    "protobuf"). Raises ContentViewException for an unknown name."""
    try:
        return _by_name[name.lower()]
    except KeyError:
        raise ContentViewException(f"unknown content view {name!r}") from None


class ContentView(NamedTuple):
    """What ``get_content_view`` returns."""

    description: str  # e.g. "[decoded gzip] JSON", or the fallback note
    lines: list[Line]  # escaped, cut off at the limit, with the marker line if cut
    error: str | None  # why the chosen view failed (for a debug log), else None


def get_content_view(view: View | str, data: bytes, *, headers: Any = None,
                     query: Any = None, limit: int | None = None,
                     limit_hint: str = "") -> ContentView:
    """Show ``data`` (a body as on the wire) through ``view``; see the module docstring.

    ``headers`` are the message's (Headers, a mapping or pairs), ``query`` the request's
    query for the Query view, ``limit`` the most lines wanted (None: all) and
    ``limit_hint`` how the reader sees the rest ("use -ddd for all").
    """
    if isinstance(view, str):
        view = get(view)
    headers = as_headers(headers) if headers is not None else None
    with collector.paused():
        return _content_view(view, data, headers, query, limit, limit_hint)


def _content_view(view: View, data: bytes, headers: Headers | None, query: Any,
                  limit: int | None, limit_hint: str) -> ContentView:
    prefix = ""
    coding = headers.get("content-encoding", "").strip() if headers is not None else ""
    if coding and coding.lower() != "identity":
        try:
            data = encoding.decode(data, coding)
        except ValueError as e:
            return _raw(data, headers, limit, limit_hint,
                        f"Couldn't decode {coding}: falling back to Raw", str(e))
        prefix = f"[decoded {coding}] "
    try:
        description, lines = view(data, headers=headers, query=query, limit=limit)
        shown = _cut(lines, limit, limit_hint)
    except Exception as e:  # a view must never take its caller down
        reason = str(e) if isinstance(e, ContentViewException) else f"{type(e).__name__}: {e}"
        return _raw(data, headers, limit, limit_hint, prefix + FALLBACK_NOTE, reason)
    return ContentView(_escape_text(prefix + description), shown, None)


def _raw(data: bytes, headers: Headers | None, limit: int | None, limit_hint: str,
         description: str, error: str) -> ContentView:
    _, lines = get("Raw")(data, headers=headers, limit=limit)
    return ContentView(_escape_text(description), _cut(lines, limit, limit_hint), error)


def _cut(lines: Iterable[Line], limit: int | None, limit_hint: str) -> list[Line]:
    """The first ``limit`` lines, escaped, and the marker line if there are more."""
    if limit is None:
        if isinstance(lines, Counted) and lines.all_printable():
            return list(lines)
        return [_escaped(line) for line in lines]
    hint = f"; {limit_hint}" if limit_hint else ""
    iterator = iter(lines)
    shown = [_escaped(_shortened(line, hint)) for line in itertools.islice(iterator, limit)]
    if hasattr(lines, "__len__"):
        more: int | None = len(lines) - len(shown)  # type: ignore[arg-type]
    else:
        more = None if next(iterator, None) is not None else 0
    if more is None or more > 0:
        count = f"{more} more" if more is not None else "more follow"
        shown.append([("highlight", f"(cut off after {limit} lines; {count}{hint})")])
    return shown


def _shortened(line: Line, hint: str) -> Line:
    """``line`` cut after LINE_CHARS characters, with a marker saying how many more."""
    total = sum(len(text) for _, text in line)
    if total <= LINE_CHARS:
        return line
    kept: Line = []
    room = LINE_CHARS
    for style, text in line:
        if room <= 0:
            break
        kept.append((style, text[:room]))
        room -= len(text)
    kept.append(("highlight",
                 f" (cut off after {LINE_CHARS} characters; {total - LINE_CHARS} more{hint})"))
    return kept


def _escaped(line: Line) -> Line:
    for _, text in line:
        if not text.isprintable():
            return [(style, _escape_text(text)) for style, text in line]
    return line


def _escape_text(text: str) -> str:
    """Control and other invisible characters as Python escapes (``\\x1b``, ``\\u202e``);
    tabs as spaces."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c == "\t" else c.encode("unicode_escape").decode("ascii")
        for c in text
    ).expandtabs(TAB_SIZE)

"""The form views: URL-encoded forms, multipart forms and the request's query string, each
as ``name: value`` lines."""
from __future__ import annotations

import email.parser
import email.policy
import urllib.parse
from collections.abc import Iterable
from typing import Any

from netlib import human
from netlib.multidict import fields_of

from libmproxy.contentviews._base import (
    ContentViewException, Line, View, format_pairs, media_type,
)
from libmproxy.contentviews._text import is_mostly_binary

__all__ = ["ViewURLEncoded", "ViewMultipart", "ViewQuery"]

# A multipart part's value is shown inline up to this many characters, and as its size
# beyond (a file upload is not a form value to read).
PART_TEXT_MAX = 1024


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


class ViewURLEncoded(View):
    name = "URL-encoded"
    prompt = ("urlencoded", "u")
    content_types = ("application/x-www-form-urlencoded",)

    def __call__(self, data, *, headers=None, query=None, limit=None):
        text = data.decode("ascii", "backslashreplace")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, errors="backslashreplace")
        if not pairs and text.strip():
            raise ContentViewException("no name=value pairs")
        return "URLEncoded form", format_pairs(pairs)


class ViewQuery(View):
    """The request's query string (``query``: a multidict, a mapping or ``(name, value)``
    pairs); the auto view shows it for a request without a body."""

    name = "Query"
    prompt = ("query", "q")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        pairs = fields_of(query) if query is not None else ()
        if not pairs:
            raise ContentViewException("no query string")
        return "Query", format_pairs((_text(k), _text(v)) for k, v in pairs)


class ViewMultipart(View):
    """multipart/form-data: each part's name, then its filename and type if it has them, then
    its value (or, for a file or a binary part, its size)."""

    name = "Multipart Form"
    prompt = ("multipart form", "m")
    content_types = ("multipart/form-data",)

    def __call__(self, data, *, headers=None, query=None, limit=None):
        content_type = headers.get("content-type", "") if headers is not None else ""
        if media_type(headers) != "multipart/form-data":
            raise ContentViewException("not multipart/form-data")
        # The stdlib's MIME parser reads the parts' headers (name, filename, type) that
        # netlib.http.multipart, made for editing fields, leaves out.
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + data)
        if not message.is_multipart() or message.defects:
            raise ContentViewException(f"not a multipart body: {message.defects}")
        lines: list[Line] = []
        for part in message.iter_parts():
            lines.extend(_part_lines(part))
        return "Multipart form", lines


def _part_lines(part: Any) -> Iterable[Line]:
    name = part.get_param("name", header="content-disposition")
    filename = part.get_filename()
    payload = part.get_payload(decode=True) or b""
    fields = []
    if filename is not None:
        fields.append(("filename", _text(filename)))
    if part.get("content-type") is not None:
        fields.append(("type", part.get_content_type()))
    if filename is not None or len(payload) > PART_TEXT_MAX or is_mostly_binary(payload):
        fields.append(("content", f"({human.pretty_size(len(payload))})"))
    else:
        fields.append(("value", payload.decode(part.get_content_charset() or "utf-8",
                                               "backslashreplace")))
    yield [("header", f"{_text(name) if name is not None else '(no name)'}")]
    for line in format_pairs(fields):
        yield [("text", "  ")] + line

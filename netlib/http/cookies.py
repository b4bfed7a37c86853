"""Cookie and Set-Cookie header values (RFC 6265), read the way browsers read them.

Real-world cookies break the grammar all the time (spaces, stray quotes, commas in values,
attributes without values), and a proxy must pass them on rather than refuse them. So the
parsers here are lenient: every non-empty header yields cookies, and only a header with no
cookie in it at all is a ValueError.

Shapes:
- a Cookie header is a list of ``(name, value)``; value is None for a bare ``name``.
- a Set-Cookie header is a list of ``(name, value, attrs)`` with attrs a list of
  ``(attribute, value)``, value None for unary attributes such as ``HttpOnly``. It is a
  list because a header folded by some intermediary (``a=1, b=2``) carries several cookies.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable

from netlib.http.headers import (
    format_http_date, parse_http_date, quote_string, split_outside_quotes, unquote_string,
)

__all__ = [
    "parse_cookie_header", "format_cookie_header", "parse_set_cookie_header",
    "format_set_cookie_header", "refresh_set_cookie_header", "is_expired",
]

Pair = tuple[str, "str | None"]
SetCookie = tuple[str, str, list[Pair]]

# In a folded Set-Cookie header, a comma starts a new cookie only when "name=" follows.
# This keeps the comma of "Expires=Wed, 21 Oct 2015 ..." inside its attribute.
_NEXT_COOKIE = re.compile(r"\s*[^\s=;,]+=")

# Cookie values that must be sent as a quoted-string to survive a round trip.
_COOKIE_VALUE_NEEDS_QUOTES = re.compile(r'[\s",;\\]')


def _parse_pairs(text: str) -> list[Pair]:
    pairs = []
    for part in split_outside_quotes(text, ";"):
        name, eq, value = part.partition("=")
        name = name.strip()
        if eq:
            pairs.append((name, unquote_string(value.strip())))
        elif name:
            pairs.append((name, None))
    return pairs


def _format_value(value: str) -> str:
    return quote_string(value) if _COOKIE_VALUE_NEEDS_QUOTES.search(value) else value


def _format_pairs(pairs: Iterable[Pair], quote: bool) -> list[str]:
    return [
        name if value is None else f"{name}={_format_value(value) if quote else value}"
        for name, value in pairs
    ]


def parse_cookie_header(line: str) -> list[Pair]:
    """The ``(name, value)`` pairs of a Cookie header, in order."""
    return _parse_pairs(line)


def format_cookie_header(pairs: Iterable[Pair]) -> str:
    return "; ".join(_format_pairs(pairs, quote=True))


def _is_cookie_boundary(text: str, index: int) -> bool:
    return _NEXT_COOKIE.match(text, index + 1) is not None


def parse_set_cookie_header(line: str) -> list[SetCookie]:
    """The cookies of a Set-Cookie header (usually one, several if it was folded).

    A first pair without "=" is a cookie with an empty name (RFC 6265bis, as browsers do).
    Raises ValueError naming the header when it holds no cookie at all.
    """
    cookies = []
    for text in split_outside_quotes(line, ",", _is_cookie_boundary):
        pairs = _parse_pairs(text)
        if not pairs:
            continue
        (name, value), attrs = pairs[0], pairs[1:]
        if value is None:
            name, value = "", name
        cookies.append((name, value, attrs))
    if not cookies:
        raise ValueError(f"no cookie in Set-Cookie header: {line!r}")
    return cookies


def format_set_cookie_header(name: str, value: str, attrs: Iterable[Pair] = ()) -> str:
    """One Set-Cookie header value. Attribute values are written verbatim (an Expires date
    contains spaces and a comma and must not be quoted)."""
    first = _format_value(value) if not name else f"{name}={_format_value(value)}"
    return "; ".join([first] + _format_pairs(attrs, quote=False))


def refresh_set_cookie_header(line: str, delta: float) -> str:
    """Move every Expires date in a Set-Cookie header ``delta`` seconds later.

    Used when a recorded response is replayed: a cookie that was valid when recorded should
    be valid for as long again. Max-Age is relative and stays. Unreadable dates are left as
    they are; a header without any readable Expires is returned unchanged, byte for byte.
    Raises ValueError (from parse_set_cookie_header) when the header holds no cookie.
    """
    changed = False
    formatted = []
    for name, value, attrs in parse_set_cookie_header(line):
        new_attrs = []
        for attr, attr_value in attrs:
            if attr.lower() == "expires" and attr_value is not None:
                try:
                    attr_value = format_http_date(parse_http_date(attr_value) + delta)
                    changed = True
                except ValueError:
                    pass  # an unreadable date: keep it as sent
            new_attrs.append((attr, attr_value))
        formatted.append(format_set_cookie_header(name, value, new_attrs))
    return ", ".join(formatted) if changed else line


def is_expired(attrs: Iterable[Pair], now: float | None = None) -> bool:
    """Whether a cookie with these Set-Cookie attributes has expired (or is being deleted).

    Max-Age wins over Expires, as in RFC 6265 section 5.3; unreadable values count as "not
    expired", since a browser would keep such a cookie for the session.
    """
    now = time.time() if now is None else now
    by_name = {attr.lower(): value for attr, value in attrs}
    max_age = by_name.get("max-age")
    if max_age is not None:
        try:
            return int(max_age) <= 0
        except ValueError:
            pass
    expires = by_name.get("expires")
    if expires is not None:
        try:
            return parse_http_date(expires) <= now
        except ValueError:
            pass
    return False

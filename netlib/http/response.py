"""An HTTP response, its cookies, and making a recorded response look fresh again."""
from __future__ import annotations

import collections
import time
from typing import Any

from netlib.http import cookies, status_codes
from netlib.http.headers import Headers, format_http_date, parse_http_date, to_bytes, to_str
from netlib.http.message import Message, MessageData, as_headers
from netlib.multidict import MultiDictView, fields_of

__all__ = ["Response", "ResponseData"]

# Absolute dates in a response head that a replayed response must move forward in time.
REFRESH_HEADERS = ("date", "expires", "last-modified")


class ResponseData(MessageData):
    __slots__ = (
        "http_version", "status_code", "reason", "headers", "content", "timestamp_start",
        "timestamp_end", "trailers",
    )

    def __init__(self, http_version: bytes, status_code: int, reason: bytes, headers: Headers,
                 content: bytes | None, timestamp_start: float | None,
                 timestamp_end: float | None) -> None:
        self.http_version = http_version
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content
        self.timestamp_start = timestamp_start
        self.timestamp_end = timestamp_end
        self.trailers = None  # set by the body reader when trailers follow the body


def _reason_bytes(reason: str | bytes | None) -> bytes:
    return b"" if reason is None else to_bytes(reason)


class Response(Message):
    """An HTTP response.

    The str arguments may also be given as bytes (the HTTP/1 reader passes bytes). HTTP/2
    responses have no reason phrase: ``reason=None`` is stored, and shown, as "".
    ``content`` is the body as on the wire.
    """

    _data_class = ResponseData

    def __init__(self, http_version: str | bytes, status_code: int,
                 reason: str | bytes | None, headers: Any = (), content: bytes | None = None,
                 timestamp_start: float | None = None,
                 timestamp_end: float | None = None) -> None:
        if not isinstance(headers, Headers):
            headers = as_headers(headers)
        if content is not None and not isinstance(content, bytes):
            raise TypeError(f"content must be bytes or None, not {type(content).__name__}")
        self.data = ResponseData(
            to_bytes(http_version), status_code, _reason_bytes(reason), headers, content,
            timestamp_start, timestamp_end,
        )

    @classmethod
    def make(cls, status_code: int = 200, content: str | bytes = b"",
             headers: Any = ()) -> Response:
        """A complete HTTP/1.1 response, for scripts and tests: the reason phrase is the
        standard one for the code, ``content`` may be str (sent as text) or bytes, and
        Content-Length is set."""
        now = time.time()
        response = cls(b"HTTP/1.1", status_code, status_codes.RESPONSES.get(status_code, ""),
                       as_headers(headers), None, now, now)
        response._set_body(content)
        return response

    def __repr__(self) -> str:
        size = "no content" if self.raw_content is None else f"{len(self.raw_content)}b"
        content_type = self.headers.get("content-type", "unknown content type")
        return f"Response({self.status_code} {self.reason}, {content_type}, {size})"

    @property
    def status_code(self) -> int:
        """HTTP status code, e.g. 200."""
        return self.data.status_code

    @status_code.setter
    def status_code(self, value: int) -> None:
        self.data.status_code = value

    @property
    def reason(self) -> str:
        """HTTP reason phrase, e.g. "Not Found"; "" for HTTP/2, which has none."""
        return to_str(self.data.reason)

    @reason.setter
    def reason(self, value: str | bytes | None) -> None:
        self.data.reason = _reason_bytes(value)

    # --- cookies ------------------------------------------------------------------------

    def _parsed_cookies(self) -> list[cookies.SetCookie]:
        parsed = []
        for header in self.data.headers.get_all("set-cookie"):
            try:
                parsed.extend(cookies.parse_set_cookie_header(header))
            except ValueError:
                pass  # a Set-Cookie header without a cookie: nothing to show
        return parsed

    def _write_cookies(self, parsed: list[cookies.SetCookie]) -> None:
        self.data.headers.set_all("set-cookie", [
            cookies.format_set_cookie_header(name, value, fields_of(attrs))
            for name, value, attrs in parsed
        ])

    @staticmethod
    def _position(parsed: list[cookies.SetCookie], name: str, occurrence: int) -> int:
        """Index in ``parsed`` of the ``occurrence``-th cookie called ``name``."""
        return [i for i, cookie in enumerate(parsed) if cookie[0] == name][occurrence]

    def _cookie_attrs(self, name: str, occurrence: int) -> MultiDictView:
        """A view of one cookie's attributes; changes rewrite the Set-Cookie headers."""
        def getter() -> tuple:
            parsed = self._parsed_cookies()
            try:
                return tuple(parsed[self._position(parsed, name, occurrence)][2])
            except IndexError:
                return ()  # the cookie has been removed since
        def setter(attrs: tuple) -> None:
            parsed = self._parsed_cookies()
            try:
                position = self._position(parsed, name, occurrence)
            except IndexError:
                raise KeyError(f"cookie {name!r} is no longer in the response") from None
            parsed[position] = (name, parsed[position][1], list(attrs))
            self._write_cookies(parsed)
        return MultiDictView(getter, setter)

    def _get_cookies(self) -> tuple:
        fields = []
        seen: collections.Counter[str] = collections.Counter()
        for name, value, _ in self._parsed_cookies():
            fields.append((name, (value, self._cookie_attrs(name, seen[name]))))
            seen[name] += 1
        return tuple(fields)

    def _set_cookies(self, fields: Any) -> None:
        parsed = []
        for name, cookie in fields:
            value, attrs = (cookie, ()) if isinstance(cookie, str) else cookie
            parsed.append((name, value, fields_of(attrs)))
        self._write_cookies(parsed)

    @property
    def cookies(self) -> MultiDictView:
        """The cookies set by this response: name -> (value, attrs).

        attrs is a MultiDictView of the cookie's attributes, where a unary attribute such as
        HttpOnly has the value None. Changing either view rewrites the Set-Cookie headers,
        one per cookie. A value may also be assigned as a plain str (no attributes).
        """
        return MultiDictView(self._get_cookies, self._set_cookies)

    @cookies.setter
    def cookies(self, value: Any) -> None:
        self._set_cookies(fields_of(value))

    # --- replay -------------------------------------------------------------------------

    def refresh(self, now: float | None = None) -> None:
        """Move the response's absolute dates forward by the time since it was recorded.

        Server replay serves recorded responses; shifting Date, Expires, Last-Modified and
        cookie expiry dates keeps caches and cookie jars treating them as fresh. Values that
        are not readable dates are left alone; without ``timestamp_start`` there is no
        recording time to measure from, so nothing changes.
        """
        if self.data.timestamp_start is None:
            return
        delta = (time.time() if now is None else now) - self.data.timestamp_start
        headers = self.data.headers
        for name in REFRESH_HEADERS:
            value = headers.get(name)
            if value is None:
                continue
            try:
                headers[name] = format_http_date(parse_http_date(value) + delta)
            except ValueError:
                pass  # e.g. "Expires: 0": not a date, nothing to move
        refreshed = []
        for header in headers.get_all("set-cookie"):
            try:
                refreshed.append(cookies.refresh_set_cookie_header(header, delta))
            except ValueError:
                refreshed.append(header)
        if refreshed:
            headers.set_all("set-cookie", refreshed)

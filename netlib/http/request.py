"""An HTTP request, and the views a user edits it through (URL, query, cookies, forms)."""
from __future__ import annotations

import time
import urllib.parse
from typing import Any

from netlib import encoding
from netlib.http import cookies, multipart, url
from netlib.http.headers import Headers, bytes_pattern, parse_content_type, to_bytes, to_str
from netlib.http.message import Message, MessageData, as_headers
from netlib.multidict import MultiDictView, fields_of

__all__ = ["Request", "RequestData"]

FORM_URLENCODED = "application/x-www-form-urlencoded"
MULTIPART_FORM = "multipart/form-data"

# Request headers that let a server answer "304 Not Modified" from a cache.
CACHE_VALIDATORS = ("if-modified-since", "if-none-match")


class RequestData(MessageData):
    __slots__ = (
        "first_line_format", "method", "scheme", "host", "port", "path", "http_version",
        "headers", "content", "timestamp_start", "timestamp_end", "trailers",
    )

    def __init__(self, first_line_format: str, method: bytes, scheme: bytes | None,
                 host: bytes | None, port: int | None, path: bytes, http_version: bytes,
                 headers: Headers, content: bytes | None, timestamp_start: float | None,
                 timestamp_end: float | None) -> None:
        self.first_line_format = first_line_format
        self.method = method
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.http_version = http_version
        self.headers = headers
        self.content = content
        self.timestamp_start = timestamp_start
        self.timestamp_end = timestamp_end
        self.trailers = None  # set by the body reader when trailers follow the body


def _optional_bytes(value: str | bytes | None) -> bytes | None:
    return None if value is None else to_bytes(value)


class Request(Message):
    """An HTTP request.

    The str arguments may also be given as bytes (the HTTP/1 reader passes bytes, which are
    stored without conversion). ``scheme``, ``host`` and ``port`` may be None for a
    relative-form request whose target is not known yet. ``content`` is the body as on the
    wire.
    """

    _data_class = RequestData

    def __init__(self, first_line_format: str | bytes, method: str | bytes,
                 scheme: str | bytes | None, host: str | bytes | None, port: int | None,
                 path: str | bytes, http_version: str | bytes, headers: Any = (),
                 content: bytes | None = None, timestamp_start: float | None = None,
                 timestamp_end: float | None = None) -> None:
        if isinstance(first_line_format, bytes):
            first_line_format = first_line_format.decode("ascii")
        if isinstance(host, str):
            host = url.encode_host(host)
        if not isinstance(headers, Headers):
            headers = as_headers(headers)
        if content is not None and not isinstance(content, bytes):
            raise TypeError(f"content must be bytes or None, not {type(content).__name__}")
        self.data = RequestData(
            first_line_format, to_bytes(method), _optional_bytes(scheme), host, port,
            to_bytes(path), to_bytes(http_version), headers, content,
            timestamp_start, timestamp_end,
        )

    @classmethod
    def make(cls, method: str, target_url: str, content: str | bytes = b"",
             headers: Any = ()) -> Request:
        """A complete HTTP/1.1 request for ``target_url``, for scripts and tests.

        A Host header is added unless ``headers`` has one; ``content`` may be str (sent as
        text) or bytes, and sets Content-Length.
        """
        scheme, host, port, path = url.parse(target_url)
        now = time.time()
        request = cls("relative", method, scheme, host, port, path, b"HTTP/1.1",
                      as_headers(headers), None, now, now)
        if "host" not in request.headers:
            request.headers.insert(0, "Host", url.hostport(scheme, host, port))
        request._set_body(content)
        return request

    def __repr__(self) -> str:
        if self.data.host is None:
            return f"Request({self.method} {self.path})"
        target = url.hostport(self.data.scheme, self.data.host, self.port)
        return f"Request({self.method} {target}{self.path})"

    # --- the request line ---------------------------------------------------------------

    @property
    def first_line_format(self) -> str:
        """The request-target form (RFC 7230 section 5.3): "relative" (origin-form, and
        asterisk-form with path "*"), "absolute" or "authority"."""
        return self.data.first_line_format

    @first_line_format.setter
    def first_line_format(self, value: str) -> None:
        self.data.first_line_format = value

    @property
    def method(self) -> str:
        """HTTP request method, e.g. "GET"."""
        return to_str(self.data.method)

    @method.setter
    def method(self, value: str | bytes) -> None:
        self.data.method = to_bytes(value)

    @property
    def scheme(self) -> str | None:
        """HTTP request scheme, "http" or "https"."""
        return None if self.data.scheme is None else to_str(self.data.scheme)

    @scheme.setter
    def scheme(self, value: str | bytes | None) -> None:
        self.data.scheme = _optional_bytes(value)

    @property
    def host(self) -> str | None:
        """Target host, from the request line or from the proxy mode (e.g. the original
        destination IP in transparent mode). IDNA names are shown decoded.

        Setting it also updates the Host header, if there is one, so the two agree.
        """
        return None if self.data.host is None else url.decode_host(self.data.host)

    @host.setter
    def host(self, value: str | bytes | None) -> None:
        self.data.host = None if value is None else url.encode_host(value)
        if "host" in self.data.headers:
            if value is None:
                del self.data.headers["host"]
            else:
                self.data.headers["host"] = url.hostport(
                    self.data.scheme, self.data.host, self.port
                )

    @property
    def port(self) -> int | None:
        """Target port."""
        return self.data.port

    @port.setter
    def port(self, value: int | None) -> None:
        self.data.port = value

    @property
    def path(self) -> str:
        """The request path with its query string, e.g. "/index.html?a=1". Starts with a
        slash, except for "*" (OPTIONS) and authority-form requests."""
        return to_str(self.data.path)

    @path.setter
    def path(self, value: str | bytes) -> None:
        self.data.path = to_bytes(value)

    # --- URL ----------------------------------------------------------------------------

    def _url_for(self, host: str | bytes) -> str:
        if self.first_line_format == "authority":
            return url.hostport(None, host, self.port)
        return url.unparse(self.data.scheme, host, self.port, self.data.path)

    @property
    def url(self) -> str:
        """The URL, built from scheme, host, port and path ("host:port" for CONNECT). The
        host is in its IDNA form, so any HTTP client can use the URL as it is.

        Setting it sets those four (and the Host header, if present); raises ValueError for
        an invalid URL.
        """
        return self._url_for(self.data.host)

    @url.setter
    def url(self, value: str | bytes) -> None:
        scheme, host, port, path = url.parse(value)
        self.data.scheme, self.data.port, self.data.path = scheme, port, path
        self.host = host

    @property
    def host_header(self) -> str | None:
        """The Host header, or the :authority pseudo-header of an HTTP/2 request.

        Setting None removes it.
        """
        return self.data.headers.get("host", self.data.headers.get(":authority"))

    @host_header.setter
    def host_header(self, value: str | None) -> None:
        headers = self.data.headers
        name = ":authority" if ":authority" in headers and "host" not in headers else "host"
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value

    @property
    def pretty_host(self) -> str | None:
        """The host of the Host header (without its port) if there is a valid one, else
        ``host``. In transparent mode ``host`` is only an IP address; the Host header names
        the site (but may be spoofed by the client)."""
        authority = self.host_header
        if authority:
            try:
                return url.decode_host(url.parse_authority(authority)[0])
            except ValueError:
                pass  # an unusable Host header: fall back to the connection's host
        return self.host

    @property
    def pretty_url(self) -> str:
        """Like ``url``, but with ``pretty_host`` instead of ``host``."""
        return self._url_for(self.pretty_host)

    def _path_and_query(self) -> tuple[str, str]:
        path, _, query = self.path.partition("?")
        return path, query

    @property
    def path_components(self) -> tuple[str, ...]:
        """The path's segments, unquoted, without empty ones: "/a/b%20c" -> ("a", "b c")."""
        path, _ = self._path_and_query()
        return tuple(
            urllib.parse.unquote(part, errors="surrogateescape") for part in path.split("/") if part
        )

    @path_components.setter
    def path_components(self, components: Any) -> None:
        _, query = self._path_and_query()
        quoted = "/".join(
            urllib.parse.quote(part, safe="", errors="surrogateescape") for part in components
        )
        self.path = "/" + quoted + ("?" + query if query else "")

    def _get_query(self) -> tuple[tuple[str, str], ...]:
        return tuple(url.decode(self._path_and_query()[1]))

    def _set_query(self, fields: Any) -> None:
        path, _ = self._path_and_query()
        query = url.encode(fields)
        self.path = path + "?" + query if query else path

    @property
    def query(self) -> MultiDictView:
        """The query string as a MultiDictView; changes are written back to the path."""
        return MultiDictView(self._get_query, self._set_query)

    @query.setter
    def query(self, value: Any) -> None:
        self._set_query(fields_of(value))

    # --- cookies ------------------------------------------------------------------------

    def _get_cookies(self) -> tuple[tuple[str, str | None], ...]:
        return tuple(
            pair for header in self.data.headers.get_all("cookie")
            for pair in cookies.parse_cookie_header(header)
        )

    def _set_cookies(self, fields: Any) -> None:
        if fields:
            self.data.headers["cookie"] = cookies.format_cookie_header(fields)
        else:
            self.data.headers.pop("cookie", None)

    @property
    def cookies(self) -> MultiDictView:
        """The request cookies (from all Cookie headers) as a MultiDictView; a cookie
        without "=" has the value None. Changes are written as one Cookie header."""
        return MultiDictView(self._get_cookies, self._set_cookies)

    @cookies.setter
    def cookies(self, value: Any) -> None:
        self._set_cookies(fields_of(value))

    # --- caching and compression --------------------------------------------------------

    def anticache(self) -> None:
        """Remove the headers that let the server answer from a cache (304 Not Modified),
        so that the full response passes through the proxy."""
        for name in CACHE_VALIDATORS:
            self.data.headers.pop(name, None)

    def anticomp(self) -> None:
        """Ask for an uncompressed response, so that its body can be read and edited."""
        self.data.headers["accept-encoding"] = "identity"

    def constrain_encoding(self) -> None:
        """Keep only the Accept-Encoding codings we can decode (gzip, deflate, br, identity),
        in their order and with their q-values."""
        accept = self.data.headers.get("accept-encoding")
        if accept is None:
            return
        kept = [
            item.strip() for item in accept.split(",")
            if item.split(";")[0].strip().lower() in encoding.SUPPORTED
        ]
        self.data.headers["accept-encoding"] = ", ".join(kept) or "identity"

    # --- forms --------------------------------------------------------------------------

    def _has_content_type(self, expected: str) -> bool:
        parsed = parse_content_type(self.data.headers.get("content-type", ""))
        return parsed is not None and f"{parsed[0]}/{parsed[1]}" == expected

    def _get_urlencoded_form(self) -> tuple[tuple[str, str], ...]:
        if not self._has_content_type(FORM_URLENCODED):
            return ()
        return tuple(url.decode(to_str(self.get_content(strict=False) or b"")))

    def _set_urlencoded_form(self, fields: Any) -> None:
        self.data.headers["content-type"] = FORM_URLENCODED
        self.set_content(url.encode(fields).encode("ascii"))

    @property
    def urlencoded_form(self) -> MultiDictView:
        """The application/x-www-form-urlencoded body as a MultiDictView; empty when the
        Content-Type says the body is something else. Setting it sets body and type."""
        return MultiDictView(self._get_urlencoded_form, self._set_urlencoded_form)

    @urlencoded_form.setter
    def urlencoded_form(self, value: Any) -> None:
        self._set_urlencoded_form(fields_of(value))

    def _get_multipart_form(self) -> tuple[tuple[bytes, bytes], ...]:
        try:
            return tuple(multipart.decode(
                self.data.headers.get("content-type", ""), self.get_content(strict=False) or b""
            ))
        except ValueError:
            return ()  # not (or no longer) a well-formed multipart body

    def _set_multipart_form(self, fields: Any) -> None:
        content_type, body = multipart.encode(fields)
        self.data.headers["content-type"] = content_type
        self.set_content(body)

    @property
    def multipart_form(self) -> MultiDictView | None:
        """The multipart/form-data body as a MultiDictView of bytes names and values; None
        when the Content-Type is not multipart/form-data, empty when the body cannot be
        parsed. Setting it sets body and type."""
        if not self._has_content_type(MULTIPART_FORM):
            return None
        return MultiDictView(self._get_multipart_form, self._set_multipart_form)

    @multipart_form.setter
    def multipart_form(self, value: Any) -> None:
        self._set_multipart_form(fields_of(value))

    def replace(self, pattern: str | bytes, repl: str | bytes, flags: int = 0) -> int:
        """Replace a regex in the headers, the path and the (decoded) body; return the count."""
        count = super().replace(pattern, repl, flags)
        path, n = bytes_pattern(pattern, flags).subn(to_bytes(repl), self.data.path)
        if n:
            self.data.path = path
        return count + n

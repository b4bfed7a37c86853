"""HTTP/2 header blocks as the rest of the proxy sees messages, and back (protocol.http2).

A request from an HTTP/2 client is made to look like an HTTP/1 request to scripts and the
dump output: the pseudo-headers become method, scheme, path and a ``Host`` header (from
``:authority``, unless the client sent a Host header too); h2 has already joined split
``cookie`` fields; ``http_version`` is "HTTP/2.0". A response has an empty reason (HTTP/2
has none). On the way out the pseudo-headers are rebuilt from those fields, names are
lower-cased, and the headers HTTP/2 forbids (Connection, Transfer-Encoding, ...) are dropped.
Trailers are a message's ``.trailers`` (netlib Headers) and go out the same way, less the
fields a trailer block may not carry (``TRAILER_FORBIDDEN``: they may come from HTTP/1).

The outgoing blocks are normalized here rather than by h2 (its outbound normalization and
validation are off in protocol.http2, as in today's mitmproxy): h2's generator pipelines
cost about a quarter of the proxy's CPU per request, and these blocks are built here anyway:
pseudo-headers first and well-formed, names in lower case, none empty, no connection-specific
fields. That includes h2's protection of credentials against compression attacks:
Authorization, Proxy-Authorization and short cookies are never added to the HPACK table.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from hpack import NeverIndexedHeaderTuple

from netlib import exceptions as netlib_exceptions
from netlib.http import Headers, url
from netlib.http.headers import to_bytes

from libmproxy.models import HTTPRequest, HTTPResponse

__all__ = ["CONNECTION_SPECIFIC_HEADERS", "request_from_h2", "request_to_h2",
           "response_from_h2", "response_to_h2", "trailers_from_h2", "trailers_to_h2",
           "check_declared_size"]

# Header fields HTTP/2 forbids (RFC 7540 section 8.1.2.2), dropped from both directions on
# the way out; "host" becomes :authority. "te" may only be "trailers".
CONNECTION_SPECIFIC_HEADERS = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade",
})

# Fields a trailer block must not carry (RFC 9110 section 6.5.1: framing and routing belong
# in the head), besides the connection-specific ones; left out when trailers go out over
# HTTP/2, where an HTTP/1 peer's trailers may have them.
TRAILER_FORBIDDEN = CONNECTION_SPECIFIC_HEADERS | {b"content-length", b"host", b"trailer"}

# Never indexed by HPACK (RFC 7541 section 7.1.3), as h2 and browsers do: credentials, and
# cookies short enough to be guessed byte by byte.
SECRET_HEADERS = frozenset({b"authorization", b"proxy-authorization"})
SHORT_COOKIE = 20


def check_declared_size(message: HTTPRequest | HTTPResponse, limit: int | None) -> None:
    """Refuse a body whose Content-Length is over the limit before reading any of it."""
    if limit is None:
        return
    declared = message.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise netlib_exceptions.HttpBodyTooLarge(
            f"Content-Length {declared} is larger than the limit of {limit} bytes")


def request_from_h2(fields: list[tuple[bytes, bytes]], timestamp: float) -> HTTPRequest:
    """The request of a client's header block: pseudo-headers become method, scheme, path
    and a Host header (unless the client sent one too), as an HTTP/1 request has them."""
    pseudo: dict[bytes, bytes] = {}
    headers: list[tuple[bytes, bytes]] = []
    for name, value in fields:
        if name.startswith(b":"):
            pseudo[name] = value
        else:
            headers.append((name, value))
    authority = pseudo.get(b":authority")
    if authority is not None and not any(name == b"host" for name, _ in headers):
        headers.insert(0, (b"host", authority))
    method = pseudo.get(b":method", b"")
    if method == b"CONNECT":
        # Refused by the HttpLayer as any authority-form request inside TLS is.
        try:
            host, port = url.parse_authority(authority or b"")
        except ValueError as e:
            raise netlib_exceptions.HttpSyntaxException(str(e)) from e
        return HTTPRequest("authority", method, None, host, port, b"", b"HTTP/2.0",
                           Headers(headers), None, timestamp)
    return HTTPRequest("relative", method, pseudo.get(b":scheme"), None, None,
                       pseudo.get(b":path", b"/"), b"HTTP/2.0", Headers(headers), None,
                       timestamp)


def _wire_headers(headers: Headers, skip: frozenset[bytes], body: bytes | None,
                  drop_length: bool) -> Iterator[tuple[bytes, bytes]]:
    """The header fields that may go out over HTTP/2, names in lower case. A
    Content-Length is made to match ``body`` (a script may have changed the body
    without it; an HTTP/2 peer refuses a mismatch)."""
    for name, value in headers.fields:
        name = name.lower()
        if not name or name in skip or name.startswith(b":"):
            continue
        if name == b"te" and value.strip().lower() != b"trailers":
            continue
        if name == b"content-length":
            if drop_length:
                continue
            if body is not None:
                value = b"%d" % len(body)
        if name in SECRET_HEADERS or (name == b"cookie" and len(value) < SHORT_COOKIE):
            yield NeverIndexedHeaderTuple(name, value)
        else:
            yield name, value


_REQUEST_SKIP = CONNECTION_SPECIFIC_HEADERS | {b"host"}


def request_to_h2(request: HTTPRequest, body: bytes, strip: Iterable[str] = ()
                  ) -> list[tuple[bytes, bytes]]:
    """The header block for ``request``, with ``strip`` (proxy-only headers) left out."""
    data = request.data
    authority = next((value for name, value in data.headers.fields if name.lower() == b"host"),
                     None) or to_bytes(url.hostport(data.scheme, data.host, data.port))
    fields = [(b":method", data.method), (b":scheme", data.scheme or b"https"),
              (b":authority", authority), (b":path", data.path)]
    skip = _REQUEST_SKIP | {name.lower().encode("ascii") for name in strip}
    fields.extend(_wire_headers(data.headers, skip, body, False))
    return fields


def response_to_h2(response: HTTPResponse, body: bytes | None, drop_length: bool
                   ) -> list[tuple[bytes, bytes]]:
    """The header block for ``response``; ``drop_length`` when a streamed body is rewritten
    chunk by chunk and its length is not known."""
    fields = [(b":status", b"%d" % response.status_code)]
    fields.extend(_wire_headers(response.data.headers, CONNECTION_SPECIFIC_HEADERS, body,
                                drop_length))
    return fields


def response_from_h2(fields: list[tuple[bytes, bytes]], timestamp: float) -> HTTPResponse:
    status = 0
    headers = []
    for name, value in fields:
        if name == b":status":
            status = int(value)
        elif not name.startswith(b":"):
            headers.append((name, value))
    return HTTPResponse(b"HTTP/2.0", status, b"", Headers(headers), None, timestamp)


def trailers_from_h2(fields: list[tuple[bytes, bytes]]) -> Headers:
    """The trailers of a HEADERS frame after the DATA (h2 has checked them: no
    pseudo-headers, names in lower case)."""
    return Headers([(name, value) for name, value in fields])


def trailers_to_h2(trailers: Headers | None) -> list[tuple[bytes, bytes]] | None:
    """The trailer block for ``trailers`` (a message's, which may have come from HTTP/1 or
    a script), None when there is nothing to send: the stream then ends with its DATA."""
    if trailers is None or not trailers.fields:
        return None
    return list(_wire_headers(trailers, TRAILER_FORBIDDEN, None, False)) or None

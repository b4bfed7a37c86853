"""Turning requests and responses back into HTTP/1 bytes.

The head is built from the stored bytes (``message.data``) in one ``%`` format per line and
one join, so that what was read is written back byte for byte. Bodies are framed by what
the headers say: chunked when Transfer-Encoding says so, as they are otherwise.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from netlib import exceptions
from netlib.http.headers import Headers
from netlib.http.message import Message
from netlib.http.request import Request
from netlib.http.response import Response

__all__ = [
    "assemble_request", "assemble_request_head", "assemble_request_parts",
    "assemble_response", "assemble_response_head", "assemble_response_parts", "assemble_body",
]

_DEFAULT_PORTS = {b"http": 80, b"https": 443, b"ws": 80, b"wss": 443}

# A chunk at least this large is framed as three pieces (size line, chunk, CRLF) instead of
# being copied into one: a copy of a small chunk costs less than another write, a copy of a
# large one more.
_FRAME_COPY_LIMIT = 64 * 1024


def _authority(host: bytes, port: int | None, scheme: bytes | None) -> bytes:
    """``host:port``, with brackets around an IPv6 literal and without a port that the
    scheme implies (scheme None: the port is always written, as CONNECT needs it)."""
    if b":" in host:
        host = b"[%s]" % host
    if port is None or (scheme is not None and _DEFAULT_PORTS.get(scheme.lower()) == port):
        return host
    return b"%s:%d" % (host, port)


def _request_target(data) -> bytes:
    form = data.first_line_format
    if form == "relative":
        return data.path
    if form == "authority":
        return _authority(data.host, data.port, None)
    if form == "absolute":
        return b"%s://%s%s" % (data.scheme, _authority(data.host, data.port, data.scheme),
                               data.path)
    raise exceptions.HttpException(f"invalid request first line format: {form!r}")


def _is_chunked(headers: Headers) -> bool:
    codings = [value for name, value in headers.fields if name.lower() == b"transfer-encoding"]
    return bool(codings) and b",".join(codings).split(b",")[-1].strip(b" \t").lower() == b"chunked"


def _request_headers(data) -> bytes:
    """The header block; with a Host header first if the request knows its host but has
    none (as 0.18 did: a request that came in as HTTP/2, or was built by a script, must
    still go out as valid HTTP/1.1)."""
    headers = bytes(data.headers)
    if data.host and not any(name.lower() == b"host" for name, _ in data.headers.fields):
        # CONNECT's Host carries the port like its request line; otherwise the scheme's
        # default port is left out, as browsers do.
        scheme = None if data.first_line_format == "authority" else data.scheme or b"http"
        headers = b"Host: %s\r\n%s" % (_authority(data.host, data.port, scheme), headers)
    return headers


def assemble_request_head(request: Request) -> bytes:
    """Request line, header block and the empty line that ends the head."""
    data = request.data
    return b"%s %s %s\r\n%s\r\n" % (data.method, _request_target(data), data.http_version,
                                     _request_headers(data))


def _parts(message: Message, head: bytes, what: str) -> list[bytes]:
    """Head and framed body as separate pieces, so that a large body is never copied just
    to put its head in front (a Writer sends them as they are; see netlib.tcp.buffered).
    A message whose body was not read (content None) cannot be written: that would
    silently send it without its body."""
    data = message.data
    if data.content is None:
        raise exceptions.HttpException(f"cannot assemble a {what} whose content is missing")
    parts = [head]
    parts.extend(assemble_body(data.headers, [data.content], message))
    return parts


def assemble_request_parts(request: Request) -> list[bytes]:
    """The whole request as pieces to write one after another: head, then the body."""
    return _parts(request, assemble_request_head(request), "request")


def assemble_request(request: Request) -> bytes:
    """The whole request, head and body."""
    return b"".join(assemble_request_parts(request))


def assemble_response_head(response: Response) -> bytes:
    """Status line, header block and the empty line that ends the head."""
    data = response.data
    return b"%s %d %s\r\n%s\r\n" % (data.http_version, data.status_code, data.reason,
                                     bytes(data.headers))


def assemble_response_parts(response: Response) -> list[bytes]:
    """The whole response as pieces to write one after another: head, then the body."""
    return _parts(response, assemble_response_head(response), "response")


def assemble_response(response: Response) -> bytes:
    """The whole response, head and body."""
    return b"".join(assemble_response_parts(response))


def assemble_body(headers: Headers, body_chunks: Iterable[bytes],
                  message: Message | None = None) -> Iterator[bytes]:
    """The body as it goes on the wire: each non-empty chunk framed as a chunk and the
    terminating zero chunk when the headers say Transfer-Encoding: chunked (an empty chunk
    would end the body early, so it is skipped), the chunks unchanged otherwise.

    A chunked body ends with the trailers of ``message`` (the request or response whose
    body this is), looked up only after the last chunk: a relayed body's trailers are
    read after it. Any other framing has no place for trailers: they are not sent."""
    if _is_chunked(headers):
        for chunk in body_chunks:
            if len(chunk) >= _FRAME_COPY_LIMIT:
                yield b"%x\r\n" % len(chunk)
                yield chunk
                yield b"\r\n"
            elif chunk:
                yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        trailers = message.data.trailers if message is not None else None
        yield b"0\r\n%s\r\n" % bytes(trailers) if trailers else b"0\r\n\r\n"
    else:
        yield from body_chunks

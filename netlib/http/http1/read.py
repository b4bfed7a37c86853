"""Reading HTTP/1 messages from a buffered reader (netlib.tcp.Reader).

Rules of this file:

- A message head is read with two calls on the reader: ``readline`` for the start line
  (so that empty lines before it can be skipped, RFC 7230 §3.5, its own limit applies and
  it is checked before the headers are waited for) and one ``readuntil(b"\\r\\n\\r\\n")``
  for the whole header block, which is then split with bytes operations. There is no
  per-byte work in Python and no regular expression.
- Every limit is a named constant below and every overflow raises its own class:
  HttpLineTooLong (start line, one header line, chunk-size line), HttpHeadersTooLarge (header
  or trailer block, number of fields) and HttpBodyTooLarge (body_size_limit; a too large
  Content-Length is refused before a byte of the body is read).
- End of stream before the first byte of a message (empty lines aside) is
  HttpReadDisconnect: the peer simply closed an idle connection; so is a TcpDisconnect
  raised while the start line is read. End of stream anywhere later is
  HttpSyntaxException: the message is truncated, so it is not well-formed. A TcpDisconnect
  raised by the transport after the start line is not translated: the caller sees that
  the connection broke, not that the peer sent bad bytes.
- Lines end in CRLF. A head whose start line ends in a bare LF is read line by line
  instead, accepting LF or CRLF (RFC 7230 §3.5 allows this; hand-typed and very old peers
  do it), and forwarded with CRLF. In a CRLF head a bare CR or LF is refused, as are
  obs-fold (a header line that begins with whitespace) and whitespace between a field name
  and its colon (RFC 7230 §3.2.4 allows rejecting both): a proxy that splits a message
  differently from the server behind it is open to request smuggling. Chunked bodies
  always need CRLF.
- Parsers raise with a message that names the bad input; they never return None.
"""
from __future__ import annotations

import io
import time
from typing import Iterable, Iterator

from netlib import exceptions
from netlib.http.headers import Headers
from netlib.http.message import Message
from netlib.http.request import Request
from netlib.http.response import Response
from netlib.tcp.buffered import RECV_SIZE, Reader

__all__ = [
    "read_request", "read_request_head", "read_response", "read_response_head",
    "read_body", "join_body", "expected_http_body_size", "connection_close",
    "get_header_tokens",
    "MAX_START_LINE_SIZE", "MAX_HEADER_LINE_SIZE", "MAX_HEADERS_SIZE", "MAX_HEADER_FIELDS",
    "MAX_CHUNK_SIZE_LINE", "MAX_EMPTY_LINES",
    "parse_request_line", "parse_response_line", "parse_headers",
]

# --- Limits --------------------------------------------------------------------------
# A proxy must not be stricter than the servers behind it, or it breaks sites that work
# without it; but it must bound what one connection can make it buffer. The numbers sit
# above common server defaults (Apache and nginx allow 8 KiB per line and ~100 fields).

# Request or status line, CRLF included. Long URLs are real (search forms, tracking
# links); browsers send up to 2 MB but origin servers commonly refuse more than 8-16 KiB,
# so 64 KiB passes everything a server would accept.
MAX_START_LINE_SIZE = 64 * 1024

# One header line, CRLF included. Large Cookie and Content-Security-Policy headers reach
# tens of KiB.
MAX_HEADER_LINE_SIZE = 64 * 1024

# The whole header block (or trailer block) after the start line, final CRLF CRLF
# included: several big cookies plus everything else.
MAX_HEADERS_SIZE = 256 * 1024

# Number of header fields. Browsers send 10-25; Apache refuses more than 100. Bounds the
# work and the memory of one message independently of their size.
MAX_HEADER_FIELDS = 256

# One chunk-size line of a chunked body, chunk extensions and CRLF included. The size
# itself is at most 16 hex digits; extensions are rare and short.
MAX_CHUNK_SIZE_LINE = 4 * 1024

# Empty lines skipped before a start line (RFC 7230 §3.5 asks for at least one: some
# clients send a stray CRLF after a POST body). More than a few is not a confused client.
MAX_EMPTY_LINES = 8

# Bytes that may appear in a token (method, header field name): RFC 7230 §3.2.6 tchar.
_TCHAR = (b"!#$%&'*+-.^_`|~0123456789"
          b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEXDIG = b"0123456789abcdefABCDEF"
_DIGIT = b"0123456789"
_DEFAULT_PORTS = {b"http": 80, b"https": 443, b"ws": 80, b"wss": 443}
# Bytes that may appear in a host of a request target: RFC 3986 reg-name (unreserved,
# pct-encoded, sub-delims) and, between brackets, an IPv6 literal (hex digits, ":", ".").
_HOST_CHARS = (b"-._~%!$&'()*+,;=:0123456789"
               b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _is_token(data: bytes) -> bool:
    # translate(None, delete) drops every token byte in C; anything left is not a token.
    return bool(data) and not data.translate(None, _TCHAR)


def _is_digits(data: bytes) -> bool:
    return bool(data) and not data.translate(None, _DIGIT)


def _show(data: bytes, limit: int = 80) -> str:
    """The bad input, quoted and shortened so that a huge line does not flood a log."""
    if len(data) > limit:
        return f"{data[:limit]!r}... ({len(data)} bytes)"
    return repr(data)


# --- Heads -----------------------------------------------------------------------------

def _strip_line_end(line: bytes) -> bytes:
    return line[:-2] if line.endswith(b"\r\n") else line[:-1]


def _read_start_line(rfile: Reader, what: str) -> bytes:
    """The request or status line with its CRLF or LF, after skipping empty lines."""
    try:
        for _ in range(MAX_EMPTY_LINES + 1):
            line = rfile.readline(MAX_START_LINE_SIZE)
            if line != b"\r\n" and line != b"\n":
                break
        else:
            raise exceptions.HttpSyntaxException(
                f"more than {MAX_EMPTY_LINES} empty lines before the {what}")
    except exceptions.TcpDisconnect as e:
        raise exceptions.HttpReadDisconnect(f"connection closed before the {what}: {e}") from e
    if line.endswith(b"\n"):
        return line
    if not line:
        raise exceptions.HttpReadDisconnect(f"connection closed before the {what}")
    if len(line) >= MAX_START_LINE_SIZE:
        raise exceptions.HttpLineTooLong(
            f"{what} longer than {MAX_START_LINE_SIZE} bytes: {_show(line)}")
    raise exceptions.HttpSyntaxException(
        f"connection closed in the middle of the {what}: {_show(line)}")


def _read_header_block(rfile: Reader, what: str = "header block") -> bytes:
    """The header lines after a start line, CRLF-separated, without the final empty line
    (b"" when there are none)."""
    if rfile.peek(2) == b"\r\n":
        rfile.read(2)
        return b""
    block = rfile.readuntil(b"\r\n\r\n", MAX_HEADERS_SIZE)
    if block.endswith(b"\r\n\r\n"):
        return block[:-4]
    if len(block) >= MAX_HEADERS_SIZE:
        last_line = block[block.rfind(b"\r\n") + 2:]
        if len(last_line) >= MAX_HEADER_LINE_SIZE:
            raise exceptions.HttpLineTooLong(
                f"header line longer than {MAX_HEADER_LINE_SIZE} bytes: {_show(last_line)}")
        raise exceptions.HttpHeadersTooLarge(
            f"{what} larger than {MAX_HEADERS_SIZE} bytes")
    raise exceptions.HttpSyntaxException(
        f"connection closed in the middle of the {what} after {len(block)} bytes: "
        f"{_show(block[-80:])}")


def _read_lf_header_block(rfile: Reader) -> bytes:
    """The header block of a head whose lines end in LF (or some in CRLF), read line by
    line since it has no CRLF CRLF to search for; returned CRLF-joined like
    _read_header_block's, so the same parser and checks apply."""
    lines: list[bytes] = []
    size = 0
    while True:
        line = rfile.readline(MAX_HEADER_LINE_SIZE)
        size += len(line)
        if not line.endswith(b"\n"):
            if len(line) >= MAX_HEADER_LINE_SIZE:
                raise exceptions.HttpLineTooLong(
                    f"header line longer than {MAX_HEADER_LINE_SIZE} bytes: {_show(line)}")
            raise exceptions.HttpSyntaxException(
                f"connection closed in the middle of the header block after {size} bytes: "
                f"{_show(line)}")
        line = _strip_line_end(line)
        if not line:
            return b"\r\n".join(lines)
        if size > MAX_HEADERS_SIZE:
            raise exceptions.HttpHeadersTooLarge(
                f"header block larger than {MAX_HEADERS_SIZE} bytes")
        if len(lines) == MAX_HEADER_FIELDS:
            raise exceptions.HttpHeadersTooLarge(f"more than {MAX_HEADER_FIELDS} header fields")
        lines.append(line)


def _read_fields(rfile: Reader, start_line: bytes) -> list[tuple[bytes, bytes]]:
    """The header fields after ``start_line``, whose line end says how lines end."""
    if start_line.endswith(b"\r\n"):
        return parse_headers(_read_header_block(rfile))
    return parse_headers(_read_lf_header_block(rfile))


def _bad_header_line(line: bytes) -> exceptions.HttpException:
    """The exception that says what is wrong with a header line that failed parsing."""
    if len(line) > MAX_HEADER_LINE_SIZE:
        return exceptions.HttpLineTooLong(
            f"header line longer than {MAX_HEADER_LINE_SIZE} bytes: {_show(line)}")
    if line[:1] in (b" ", b"\t"):
        return exceptions.HttpSyntaxException(
            f"folded header line (obs-fold) is not supported: {_show(line)}")
    if b"\r" in line or b"\n" in line:
        return exceptions.HttpSyntaxException(
            f"bare CR or LF in header line: {_show(line)}")
    if b"\0" in line:
        return exceptions.HttpSyntaxException(f"NUL byte in header line: {_show(line)}")
    name, sep, _ = line.partition(b":")
    if not sep:
        return exceptions.HttpSyntaxException(f"header line without a colon: {_show(line)}")
    if name != name.rstrip(b" \t"):
        return exceptions.HttpSyntaxException(
            f"whitespace between header name and colon: {_show(line)}")
    return exceptions.HttpSyntaxException(f"invalid header name in line: {_show(line)}")


def _is_valid_header_line(line: bytes) -> bool:
    name, sep, _ = line.partition(b":")
    return (bool(sep) and _is_token(name) and len(line) <= MAX_HEADER_LINE_SIZE
            and b"\r" not in line and b"\n" not in line and b"\0" not in line)


def parse_headers(block: bytes) -> list[tuple[bytes, bytes]]:
    """Split a header block (lines joined by CRLF, no final empty line) into
    ``(name, value)`` fields, with the value's surrounding whitespace removed.

    Raises on the first bad line. The checks run over the whole block at once (a few scans
    in C: list comprehensions, one join of all names, counts of CR and LF); only when one
    fails are the lines looked at one by one, to name the bad one.
    """
    if not block:
        return []
    lines = block.split(b"\r\n")
    if len(lines) > MAX_HEADER_FIELDS:
        raise exceptions.HttpHeadersTooLarge(
            f"more than {MAX_HEADER_FIELDS} header fields ({len(lines)})")
    parts = [line.partition(b":") for line in lines]
    fields = [(name, value.strip(b" \t")) for name, sep, value in parts if sep and name]
    separators = len(lines) - 1
    if (len(fields) != len(lines)
            or b"".join([name for name, _ in fields]).translate(None, _TCHAR)
            or block.count(b"\r") != separators or block.count(b"\n") != separators
            or b"\0" in block
            or (len(block) > MAX_HEADER_LINE_SIZE and max(map(len, lines)) > MAX_HEADER_LINE_SIZE)):
        raise _bad_header_line(next(line for line in lines if not _is_valid_header_line(line)))
    return fields


def _check_http_version(version: bytes, line: bytes) -> None:
    if (len(version) != 8 or not version.startswith(b"HTTP/") or version[6:7] != b"."
            or not _is_digits(version[5:6]) or not _is_digits(version[7:8])):
        raise exceptions.HttpSyntaxException(
            f"invalid HTTP version {_show(version)} in {_show(line)}")


def _parse_port(port: bytes, line: bytes) -> int:
    if not _is_digits(port) or len(port) > 5 or not 0 < int(port) < 65536:
        raise exceptions.HttpSyntaxException(f"invalid port {_show(port)} in {_show(line)}")
    return int(port)


def _parse_authority(authority: bytes, default_port: int | None, line: bytes) -> tuple[bytes, int]:
    """``host[:port]`` or ``[v6]:port`` -> (host without brackets, port)."""
    if b"@" in authority:
        raise exceptions.HttpSyntaxException(
            f"user information in the request target is not supported: {_show(line)}")
    if authority.startswith(b"["):
        end = authority.find(b"]")
        host, rest = authority[1:end], authority[end + 1:]
        if end < 0 or not host or (rest and not rest.startswith(b":")):
            raise exceptions.HttpSyntaxException(
                f"invalid IPv6 authority {_show(authority)} in {_show(line)}")
        port = rest[1:]
    else:
        host, sep, port = authority.rpartition(b":")
        if not sep:
            host, port = authority, b""
        if not host or b":" in host:
            raise exceptions.HttpSyntaxException(
                f"invalid authority {_show(authority)} in {_show(line)}")
    if host.translate(None, _HOST_CHARS):
        raise exceptions.HttpSyntaxException(f"invalid host {_show(host)} in {_show(line)}")
    if port:
        return host, _parse_port(port, line)
    if default_port is None:
        raise exceptions.HttpSyntaxException(f"missing port in {_show(line)}")
    return host, default_port


RequestLine = tuple[str, bytes, bytes | None, bytes | None, int | None, bytes, bytes]


def parse_request_line(line: bytes) -> RequestLine:
    """``(first_line_format, method, scheme, host, port, path, http_version)`` of a request
    line without its CRLF. The format is the request-target form of RFC 7230 §5.3:
    "relative" (origin-form and "*"), "absolute" or "authority" (CONNECT)."""
    parts = line.split(b" ")
    if len(parts) != 3:
        raise exceptions.HttpSyntaxException(f"invalid request line: {_show(line)}")
    method, target, version = parts
    if not _is_token(method):
        raise exceptions.HttpSyntaxException(f"invalid method {_show(method)} in {_show(line)}")
    _check_http_version(version, line)
    if target.startswith(b"/") or target == b"*":
        return "relative", method, None, None, None, target, version
    if method.upper() == b"CONNECT":
        host, port = _parse_authority(target, None, line)
        return "authority", method, None, host, port, b"", version
    scheme, sep, rest = target.partition(b"://")
    scheme = scheme.lower()
    if not sep or not scheme or not scheme[:1].isalpha() or not rest:
        raise exceptions.HttpSyntaxException(
            f"invalid request target {_show(target)} in {_show(line)}")
    # The authority ends where the path, the query or the fragment begins.
    end = len(rest)
    for delimiter in (b"/", b"?", b"#"):
        i = rest.find(delimiter)
        if 0 <= i < end:
            end = i
    path = rest[end:]
    if not path.startswith(b"/"):
        path = b"/" + path
    host, port = _parse_authority(rest[:end], _DEFAULT_PORTS.get(scheme), line)
    return "absolute", method, scheme, host, port, path, version


def parse_response_line(line: bytes) -> tuple[bytes, int, bytes]:
    """``(http_version, status_code, reason)`` of a status line without its CRLF. The
    reason phrase may be empty or missing."""
    parts = line.split(b" ", 2)
    if len(parts) < 2:
        raise exceptions.HttpSyntaxException(f"invalid status line: {_show(line)}")
    version, code = parts[0], parts[1]
    _check_http_version(version, line)
    if len(code) != 3 or not _is_digits(code):
        raise exceptions.HttpSyntaxException(f"invalid status code {_show(code)} in {_show(line)}")
    return version, int(code), parts[2] if len(parts) == 3 else b""


# --- Framing rules ---------------------------------------------------------------------

def _field_values(headers: Headers, name: bytes) -> list[bytes]:
    """The raw values of every field called ``name`` (lower case), in wire order.

    Works on the stored bytes, so a framing decision never depends on how a value decodes.
    """
    return [value for field_name, value in headers.fields if field_name.lower() == name]


def get_header_tokens(headers: Headers, key: str) -> list[str]:
    """The comma-separated tokens of every ``key`` header, stripped and lower-cased
    (Connection, Transfer-Encoding and Upgrade are lists of case-insensitive tokens)."""
    return [token.strip().lower().decode("latin-1")
            for value in _field_values(headers, key.lower().encode("latin-1"))
            for token in value.split(b",") if token.strip()]


def _content_length(values: list[bytes]) -> int:
    """The single length that one or more Content-Length fields agree on.

    RFC 7230 §3.3.2 allows repeating the same value ("5, 5"); anything else is refused,
    since two parties that pick different values disagree on where the message ends.
    """
    lengths = {item.strip(b" \t") for value in values for item in value.split(b",")}
    if len(lengths) != 1:
        raise exceptions.HttpSyntaxException(
            f"conflicting Content-Length values: {_show(b', '.join(values))}")
    length = lengths.pop()
    if not _is_digits(length):
        raise exceptions.HttpSyntaxException(f"invalid Content-Length: {_show(length)}")
    return int(length)


def response_has_body(request: Request, response: Response) -> bool:
    """False for the responses that never carry a body, whatever their headers say
    (RFC 7230 §3.3.3): to HEAD, 1xx, 204 and 304, and 2xx to CONNECT. A writer must then
    send the head alone, without even the chunked terminator."""
    code = response.status_code
    method = request.data.method.upper()
    return not (method == b"HEAD" or 100 <= code < 200 or code in (204, 304)
                or (method == b"CONNECT" and 200 <= code < 300))


def expected_http_body_size(request: Request, response: Response | None = None) -> int | None:
    """How the body of ``request`` (or of ``response`` to it) is framed, RFC 7230 §3.3.3:
    an int for that many bytes, None for chunked, -1 for "read until the connection closes"
    (responses only).

    Responses to HEAD, 1xx, 204 and 304 responses, and 2xx responses to CONNECT have no
    body whatever their headers say. Transfer-Encoding wins over Content-Length. A request
    with neither has no body. A request with ``Expect: 100-continue`` is given size 0 as in
    mitmproxy 0.18: the proxy answers "100 Continue", removes the header and then reads the
    body with read_body.
    """
    message = request if response is None else response
    # One pass over the raw fields collects everything the decision needs.
    transfer_encoding, content_length, expect = [], [], []
    for name, value in message.headers.fields:
        name = name.lower()
        if name == b"content-length":
            content_length.append(value)
        elif name == b"transfer-encoding":
            transfer_encoding.append(value)
        elif name == b"expect":
            expect.append(value)
    if response is None:
        if any(value.strip(b" \t").lower() == b"100-continue" for value in expect):
            return 0
    elif not response_has_body(request, response):
        return 0
    if transfer_encoding:
        codings = b",".join(transfer_encoding).split(b",")
        if codings[-1].strip(b" \t").lower() == b"chunked":
            return None
        if response is None:
            # Without chunked last a request has no length at all (RFC 7230 §3.3.3 item 3).
            raise exceptions.HttpSyntaxException(
                f"request Transfer-Encoding does not end with chunked: "
                f"{_show(b', '.join(transfer_encoding))}")
        return -1
    if content_length:
        return _content_length(content_length)
    return 0 if response is None else -1


def connection_close(http_version: str | bytes, headers: Headers) -> bool:
    """Whether the connection ends after this message (RFC 7230 §6.3).

    ``Connection: close`` always closes; ``keep-alive`` keeps an HTTP/1.0 connection open;
    otherwise HTTP/1.1 and later stay open and earlier versions close.
    """
    tokens = get_header_tokens(headers, "connection")
    if "close" in tokens:
        return True
    if "keep-alive" in tokens:
        return False
    if isinstance(http_version, bytes):
        http_version = http_version.decode("latin-1")
    # Versions are "HTTP/d.d" (checked when read), so comparing the digits as text works.
    return http_version[5:] < "1.1"


# --- Bodies ----------------------------------------------------------------------------

def _truncated(what: str, received: int, expected: int | str) -> exceptions.HttpSyntaxException:
    return exceptions.HttpSyntaxException(
        f"connection closed after {received} of {expected} bytes of the {what}")


def _read_exactly(rfile: Reader, size: int, piece: int, what: str) -> Iterator[bytes]:
    """``size`` bytes in pieces of at most ``piece``, each yielded as soon as it arrived."""
    remaining = size
    while remaining:
        data = rfile.readsome(min(remaining, piece))
        if not data:
            raise _truncated(what, size - remaining, size)
        remaining -= len(data)
        yield data


def _read_chunked(rfile: Reader, limit: int | None, piece: int,
                  message: Message | None) -> Iterator[bytes]:
    """Decode a chunked body (RFC 7230 §4.1): chunk extensions are ignored; the trailer
    section is always read (so the next message starts in the right place) and, when
    there is one, parsed into ``message.trailers`` (without a ``message``, dropped)."""
    total = 0
    while True:
        line = rfile.readline(MAX_CHUNK_SIZE_LINE)
        if not line.endswith(b"\r\n"):
            if len(line) >= MAX_CHUNK_SIZE_LINE:
                raise exceptions.HttpLineTooLong(
                    f"chunk-size line longer than {MAX_CHUNK_SIZE_LINE} bytes: {_show(line)}")
            if line.endswith(b"\n"):
                raise exceptions.HttpSyntaxException(
                    f"chunk-size line ends with a bare LF: {_show(line)}")
            raise exceptions.HttpSyntaxException(
                f"connection closed in a chunked body after {total} bytes: {_show(line)}")
        size_field = line[:-2].split(b";", 1)[0].rstrip(b" \t")
        if not size_field or size_field.translate(None, _HEXDIG) or len(size_field) > 16:
            raise exceptions.HttpSyntaxException(f"invalid chunk size: {_show(line)}")
        size = int(size_field, 16)
        if size == 0:
            block = _read_header_block(rfile, "trailer block")
            if block and message is not None:
                message.data.trailers = _parse_trailers(block)
            return
        total += size
        if limit is not None and total > limit:
            raise exceptions.HttpBodyTooLarge(
                f"chunked body larger than the limit of {limit} bytes")
        yield from _read_exactly(rfile, size, piece, "chunk")
        if rfile.read(2) != b"\r\n":
            raise exceptions.HttpSyntaxException(f"chunk of {size} bytes not followed by CRLF")


def _parse_trailers(block: bytes) -> Headers:
    """The fields of a trailer block, with the same checks as a header block. They are
    kept apart from the headers (never merged into them), as RFC 7230 §4.1.2 asks: a field
    that only the head may carry (Content-Length, Host, ...) changes nothing there."""
    try:
        return Headers(parse_headers(block))
    except exceptions.HttpException as e:
        raise type(e)(f"trailer block: {e}") from e


def _read_until_close(rfile: Reader, limit: int | None, piece: int) -> Iterator[bytes]:
    total = 0
    while data := rfile.readsome(piece):
        total += len(data)
        if limit is not None and total > limit:
            raise exceptions.HttpBodyTooLarge(
                f"body read until close larger than the limit of {limit} bytes")
        yield data


def join_body(chunks: Iterable[bytes]) -> bytes:
    """The chunks of a body (read_body's) as one bytes object.

    A single chunk is returned as it is. Otherwise each chunk is copied once into a BytesIO
    as it arrives and dropped, and getvalue() hands over the BytesIO's own buffer: one copy
    of the body and one body-sized allocation, where keeping the chunks in a list and
    joining them would hold the body twice and copy it twice (the chunks are freshly
    allocated pages; the join touches another set).
    """
    it = iter(chunks)
    first = next(it, b"")
    second = next(it, None)
    if second is None:
        return first
    out = io.BytesIO()
    out.write(first)
    out.write(second)
    del first, second
    for chunk in it:
        out.write(chunk)
    return out.getvalue()


def read_body(rfile: Reader, expected_size: int | None, limit: int | None = None,
              max_chunk_size: int | None = None, message: Message | None = None
              ) -> Iterator[bytes]:
    """The body as a generator of byte chunks, for streaming; ``join_body`` makes it whole.

    ``expected_size`` is what expected_http_body_size returned: a length, None for chunked,
    -1 for until-close. Each chunk is at most ``max_chunk_size`` bytes (default: whatever
    one receive brings) and is yielded as soon as it has arrived, so a relay forwards data
    while it flows. ``limit`` bounds the decoded body; a Content-Length above it raises
    HttpBodyTooLarge before any of the body is read. The trailers of a chunked body are
    set on ``message`` (the request or response whose body this is) once the last chunk
    has been read: they come after it on the wire.
    """
    piece = max_chunk_size or RECV_SIZE
    if expected_size is None:
        return _read_chunked(rfile, limit, piece, message)
    if expected_size < 0:
        return _read_until_close(rfile, limit, piece)
    if limit is not None and expected_size > limit:
        raise exceptions.HttpBodyTooLarge(
            f"Content-Length {expected_size} is larger than the limit of {limit} bytes")
    return _read_exactly(rfile, expected_size, piece, "body")


# --- Messages --------------------------------------------------------------------------

def read_request_head(rfile: Reader) -> Request:
    """The next request's line and headers; its content is None (read the body with
    read_body, or use read_request). HttpReadDisconnect if the client closed instead of
    sending another request."""
    rfile.reset_timestamps()
    line = _read_start_line(rfile, "request line")
    # The line is checked before waiting for headers: a client that sent garbage (or TLS
    # to a plain port) is answered at once.
    form, method, scheme, host, port, path, version = parse_request_line(_strip_line_end(line))
    headers = Headers(_read_fields(rfile, line))
    return Request(form, method, scheme, host, port, path, version, headers, None,
                   rfile.first_byte_timestamp)


def read_request(rfile: Reader, body_size_limit: int | None = None) -> Request:
    """The next request, body included."""
    request = read_request_head(rfile)
    size = expected_http_body_size(request)
    content = b""
    if size != 0:
        content = join_body(read_body(rfile, size, body_size_limit, message=request))
    request.data.content = content
    request.timestamp_end = time.time()
    return request


def read_response_head(rfile: Reader) -> Response:
    """The next response's status line and headers; its content is None."""
    rfile.reset_timestamps()
    line = _read_start_line(rfile, "status line")
    version, code, reason = parse_response_line(_strip_line_end(line))
    headers = Headers(_read_fields(rfile, line))
    return Response(version, code, reason, headers, None, rfile.first_byte_timestamp)


def read_response(rfile: Reader, request: Request, body_size_limit: int | None = None) -> Response:
    """The next response to ``request``, body included (the request decides, for HEAD
    and CONNECT, whether there is one). An interim 1xx response is returned like any
    other; the caller reads again for the final one."""
    response = read_response_head(rfile)
    size = expected_http_body_size(request, response)
    content = b""
    if size != 0:
        content = join_body(read_body(rfile, size, body_size_limit, message=response))
    response.data.content = content
    response.timestamp_end = time.time()
    return response

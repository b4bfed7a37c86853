"""Reading bodies (Content-Length, chunked, until close), the body size limit, the
expected-body-size table of RFC 7230 §3.3.3 and the keep-alive rules."""
import pytest

from netlib import exceptions
from netlib.http.headers import Headers
from netlib.http.http1 import (
    connection_close, expected_http_body_size, join_body, read_body, read_request,
    read_request_head, read_response, read_response_head,
)
from netlib.http.http1 import read
from netlib.tcp.buffered import Reader

CHUNKS = [None, 1, 5]


def reader(data: bytes, chunk=None) -> Reader:
    return Reader.from_bytes(data, chunk=chunk)


def body(data: bytes, expected_size, chunk=None, **kwargs) -> bytes:
    return b"".join(read_body(reader(data, chunk), expected_size, **kwargs))


# --- Content-Length ----------------------------------------------------------------------

@pytest.mark.parametrize("chunk", CHUNKS)
def test_content_length_body_stops_at_the_length(chunk):
    rfile = reader(b"hello worldNEXT", chunk)
    assert b"".join(read_body(rfile, 11)) == b"hello world"
    assert rfile.read() == b"NEXT"


def test_content_length_body_is_streamed_in_pieces_of_max_chunk_size():
    chunks = list(read_body(reader(b"x" * 10), 10, max_chunk_size=4))
    assert chunks == [b"xxxx", b"xxxx", b"xx"]


def test_zero_length_body():
    assert body(b"ignored", 0) == b""


@pytest.mark.parametrize("chunk", CHUNKS)
def test_truncated_content_length_body_is_a_syntax_error(chunk):
    with pytest.raises(exceptions.HttpSyntaxException, match="after 3 of 10 bytes of the body"):
        body(b"abc", 10, chunk)


def test_content_length_over_the_limit_is_refused_before_reading():
    """The limit is checked against the advertised size; no byte of the body is read."""
    rfile = reader(b"x" * 100)
    with pytest.raises(exceptions.HttpBodyTooLarge, match="Content-Length 100 is larger than the limit of 10"):
        read_body(rfile, 100, limit=10)
    assert rfile.buffered == 0 and rfile.read(1) == b"x"


def test_content_length_at_the_limit_is_accepted():
    assert body(b"x" * 10, 10, limit=10) == b"x" * 10


# --- chunked -------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", CHUNKS)
def test_chunked_body_is_decoded(chunk):
    rfile = reader(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", chunk)
    assert b"".join(read_body(rfile, None)) == b"hello world"
    assert rfile.read() == b"NEXT"


@pytest.mark.parametrize("chunk", CHUNKS)
def test_chunk_extensions_are_ignored_and_trailers_consumed(chunk):
    rfile = reader(b"5;name=value\r\nhello\r\nA ; x=\"y\"\r\n0123456789\r\n"
                   b"0;last\r\nExpires: never\r\nX-Checksum: abc\r\n\r\nNEXT", chunk)
    assert b"".join(read_body(rfile, None)) == b"hello0123456789"
    assert rfile.read() == b"NEXT"


@pytest.mark.parametrize("chunk", CHUNKS)
def test_trailers_are_set_on_the_message_once_the_body_is_read(chunk):
    message = read_response_head(reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
    rfile = reader(b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\ngrpc-status:0\r\n\r\nNEXT", chunk)
    chunks = read_body(rfile, None, message=message)
    first = next(chunks)
    assert message.trailers is None  # they come after the body
    assert first + b"".join(chunks) == b"hello"
    assert message.trailers.fields == ((b"X-Checksum", b"abc"), (b"grpc-status", b"0"))
    assert message.headers.get("x-checksum") is None  # never merged into the head
    assert rfile.read() == b"NEXT"


def test_no_trailers_leave_the_message_without_any():
    message = read_response_head(reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
    assert b"".join(read_body(reader(b"1\r\nx\r\n0\r\n\r\n"), None, message=message)) == b"x"
    assert message.trailers is None


def test_read_response_and_request_keep_the_trailers():
    response = read_response(reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"2\r\nok\r\n0\r\nX-T: 1\r\n\r\n"),
                             read_request_head(reader(b"GET / HTTP/1.1\r\n\r\n")))
    assert (response.content, response.trailers["x-t"]) == (b"ok", "1")
    request = read_request(reader(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  b"0\r\nX-R: 2\r\n\r\n"))
    assert (request.content, request.trailers["x-r"]) == (b"", "2")


@pytest.mark.parametrize("trailer, error", [
    (b"no colon here", exceptions.HttpSyntaxException),
    (b"bad name: x", exceptions.HttpSyntaxException),
    (b" folded: x", exceptions.HttpSyntaxException),
])
def test_bad_trailers_are_refused_naming_the_trailer_block(trailer, error):
    message = read_response_head(reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
    with pytest.raises(error, match="trailer block: .*" + trailer.split()[0].decode()):
        body(b"0\r\n" + trailer + b"\r\n\r\n", None, message=message)


def test_chunk_size_is_hex_in_either_case():
    assert body(b"a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n", None) == b"0123456789" * 2


def test_large_chunks_are_yielded_in_pieces_of_max_chunk_size():
    chunks = list(read_body(reader(b"a\r\n0123456789\r\n0\r\n\r\n"), None, max_chunk_size=4))
    assert chunks == [b"0123", b"4567", b"89"]


@pytest.mark.parametrize("size_line", [b"x", b"", b"-1", b"0x10", b"+5", b"1_0", b" 5", b"1" * 17])
def test_invalid_chunk_size_is_refused(size_line):
    with pytest.raises(exceptions.HttpSyntaxException, match="invalid chunk size"):
        body(size_line + b"\r\nhello\r\n0\r\n\r\n", None)


def test_chunk_not_followed_by_crlf_is_refused():
    with pytest.raises(exceptions.HttpSyntaxException, match="chunk of 5 bytes not followed by CRLF"):
        body(b"5\r\nhelloXX0\r\n\r\n", None)


def test_chunk_size_line_with_bare_lf_is_refused():
    with pytest.raises(exceptions.HttpSyntaxException, match="bare LF"):
        body(b"5\nhello\r\n0\r\n\r\n", None)


@pytest.mark.parametrize("data, match", [
    (b"5\r\nhel", "after 3 of 5 bytes of the chunk"),
    (b"5\r\nhello\r\n", "connection closed in a chunked body after 5 bytes"),
    (b"5\r\nhello\r\n0\r\nTrailer: x\r\n", "middle of the trailer block"),
    (b"5\r", "connection closed in a chunked body"),
])
@pytest.mark.parametrize("chunk", CHUNKS)
def test_truncated_chunked_body_is_a_syntax_error(data, match, chunk):
    with pytest.raises(exceptions.HttpSyntaxException, match=match):
        body(data, None, chunk)


def test_chunk_size_line_too_long():
    line = b"5;" + b"e" * read.MAX_CHUNK_SIZE_LINE + b"\r\n"
    with pytest.raises(exceptions.HttpLineTooLong, match="chunk-size line longer than"):
        body(line + b"hello\r\n0\r\n\r\n", None)


def test_trailer_block_too_large():
    trailers = b"X: " + b"t" * 1000 + b"\r\n"
    data = b"0\r\n" + trailers * (read.MAX_HEADERS_SIZE // len(trailers) + 1) + b"\r\n"
    with pytest.raises(exceptions.HttpHeadersTooLarge, match="trailer block"):
        body(data, None)


def test_chunked_body_over_the_limit_is_refused_before_reading_the_chunk():
    """The limit counts decoded bytes across chunks, and a chunk that would cross it is
    refused from its size line."""
    rfile = reader(b"4\r\nabcd\r\n7\r\n" + b"x" * 7 + b"\r\n0\r\n\r\n")
    chunks = read_body(rfile, None, limit=10)
    assert next(chunks) == b"abcd"
    with pytest.raises(exceptions.HttpBodyTooLarge, match="chunked body larger than the limit of 10"):
        next(chunks)
    assert rfile.read(2) == b"xx"  # the oversize chunk itself was not read


def test_chunked_body_at_the_limit_is_accepted():
    assert body(b"4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n", None, limit=10) == b"abcdefghij"


# --- until close ---------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", CHUNKS)
def test_read_until_close(chunk):
    assert body(b"everything until the end", -1, chunk) == b"everything until the end"


def test_read_until_close_empty():
    assert body(b"", -1) == b""


def test_read_until_close_over_the_limit():
    with pytest.raises(exceptions.HttpBodyTooLarge, match="read until close larger than the limit of 5"):
        body(b"123456", -1, limit=5)


def test_read_until_close_at_the_limit_is_accepted():
    assert body(b"12345", -1, limit=5) == b"12345"


# --- whole messages --------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", CHUNKS)
def test_read_request_with_content_length_body(chunk):
    rfile = reader(b"POST /form HTTP/1.1\r\nContent-Length: 7\r\n\r\na=1&b=2GET / HTTP/1.1\r\n\r\n", chunk)
    req = read_request(rfile)
    assert req.raw_content == b"a=1&b=2"
    assert read_request(rfile).path == "/"


@pytest.mark.parametrize("chunk", CHUNKS)
def test_read_request_chunked(chunk):
    req = read_request(reader(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", chunk))
    assert req.raw_content == b"abc"
    assert req.headers["transfer-encoding"] == "chunked"


def test_read_request_without_length_has_an_empty_body():
    rfile = reader(b"POST / HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n")
    assert read_request(rfile).raw_content == b""
    assert read_request(rfile).path == "/next"


def test_read_request_body_size_limit():
    with pytest.raises(exceptions.HttpBodyTooLarge):
        read_request(reader(b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world"), body_size_limit=10)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_read_response_until_close(chunk):
    req = read_request(reader(b"GET / HTTP/1.0\r\n\r\n"))
    resp = read_response(reader(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", chunk), req)
    assert resp.raw_content == b"all of it"


def test_read_response_to_head_has_no_body_despite_content_length():
    req = read_request(reader(b"HEAD / HTTP/1.1\r\n\r\n"))
    rfile = reader(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    assert read_response(rfile, req).raw_content == b""
    assert read_response(rfile, req).status_code == 204


def test_read_response_body_size_limit():
    req = read_request(reader(b"GET / HTTP/1.1\r\n\r\n"))
    with pytest.raises(exceptions.HttpBodyTooLarge):
        read_response(reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"b\r\nhello world\r\n0\r\n\r\n"), req, body_size_limit=10)


def test_read_request_with_expect_100_continue_leaves_the_body_unread():
    """As in 0.18: the proxy first answers 100 Continue, then reads the body itself."""
    rfile = reader(b"PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\nbody")
    req = read_request(rfile)
    assert req.raw_content == b""
    del req.headers["expect"]
    assert b"".join(read_body(rfile, expected_http_body_size(req))) == b"body"


# --- expected body size ------------------------------------------------------------------------

def request(method=b"GET", headers=b"", target=b"/"):
    return read_request_head(reader(method + b" " + target + b" HTTP/1.1\r\n" + headers + b"\r\n"))


def response(code=200, headers=b""):
    return read_response_head(reader(b"HTTP/1.1 %d X\r\n%s\r\n" % (code, headers)))


@pytest.mark.parametrize("headers, expected", [
    (b"", 0),
    (b"Content-Length: 42\r\n", 42),
    (b"Content-Length: 0\r\n", 0),
    (b"Content-Length: 7\r\nContent-Length: 7\r\n", 7),
    (b"Content-Length: 7, 7\r\n", 7),
    (b"Transfer-Encoding: chunked\r\n", None),
    (b"Transfer-Encoding: gzip, Chunked\r\n", None),
    (b"Transfer-Encoding: chunked\r\nContent-Length: 10\r\n", None),
    (b"Expect: 100-continue\r\nContent-Length: 10\r\n", 0),
])
def test_expected_request_body_size(headers, expected):
    assert expected_http_body_size(request(b"POST", headers)) == expected


@pytest.mark.parametrize("headers, match", [
    (b"Content-Length: -1\r\n", "invalid Content-Length"),
    (b"Content-Length: +5\r\n", "invalid Content-Length"),
    (b"Content-Length: 0x10\r\n", "invalid Content-Length"),
    (b"Content-Length: \r\n", "invalid Content-Length"),
    (b"Content-Length: 5\r\nContent-Length: 6\r\n", "conflicting Content-Length"),
    (b"Content-Length: 5, 6\r\n", "conflicting Content-Length"),
    (b"Transfer-Encoding: gzip\r\n", "does not end with chunked"),
    (b"Transfer-Encoding: chunked, gzip\r\n", "does not end with chunked"),
])
def test_invalid_request_framing_is_refused(headers, match):
    with pytest.raises(exceptions.HttpSyntaxException, match=match):
        expected_http_body_size(request(b"POST", headers))


@pytest.mark.parametrize("method, code, headers, expected", [
    (b"GET", 200, b"", -1),
    (b"GET", 200, b"Content-Length: 5\r\n", 5),
    (b"GET", 200, b"Transfer-Encoding: chunked\r\n", None),
    (b"GET", 200, b"Transfer-Encoding: gzip\r\n", -1),
    (b"GET", 200, b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", None),
    (b"HEAD", 200, b"Content-Length: 5\r\n", 0),
    (b"HEAD", 200, b"Transfer-Encoding: chunked\r\n", 0),
    (b"GET", 100, b"", 0),
    (b"GET", 101, b"", 0),
    (b"GET", 204, b"Content-Length: 5\r\n", 0),
    (b"GET", 304, b"Content-Length: 5\r\n", 0),
    (b"CONNECT", 200, b"", 0),
    (b"CONNECT", 201, b"Content-Length: 5\r\n", 0),
    (b"CONNECT", 407, b"Content-Length: 5\r\n", 5),
    (b"GET", 404, b"Content-Length: 9\r\n", 9),
])
def test_expected_response_body_size(method, code, headers, expected):
    req = request(method, target=b"example.com:443" if method == b"CONNECT" else b"/")
    assert expected_http_body_size(req, response(code, headers)) == expected


def test_invalid_response_content_length_is_refused():
    with pytest.raises(exceptions.HttpSyntaxException, match="invalid Content-Length: b'abc'"):
        expected_http_body_size(request(), response(200, b"Content-Length: abc\r\n"))


# --- keep-alive --------------------------------------------------------------------------------

@pytest.mark.parametrize("version, headers, close", [
    ("HTTP/1.1", [], False),
    ("HTTP/1.1", [(b"Connection", b"close")], True),
    ("HTTP/1.1", [(b"Connection", b"Keep-Alive, CLOSE")], True),
    ("HTTP/1.1", [(b"connection", b"Upgrade"), (b"Connection", b" close ")], True),
    ("HTTP/1.1", [(b"Connection", b"keep-alive")], False),
    ("HTTP/1.0", [], True),
    ("HTTP/1.0", [(b"Connection", b"Keep-Alive")], False),
    ("HTTP/1.0", [(b"Connection", b"foo,keep-alive")], False),
    ("HTTP/1.0", [(b"Connection", b"close")], True),
    ("HTTP/0.9", [], True),
    (b"HTTP/1.1", [], False),
    (b"HTTP/1.0", [], True),
    ("HTTP/2.0", [], False),
])
def test_connection_close(version, headers, close):
    assert connection_close(version, Headers(headers)) is close


def test_get_header_tokens_splits_lowers_and_drops_empty_tokens():
    headers = Headers([(b"Connection", b"Upgrade, , HTTP2-Settings"), (b"connection", b"KEEP-ALIVE")])
    assert read.get_header_tokens(headers, "Connection") == ["upgrade", "http2-settings", "keep-alive"]


def test_join_body_returns_a_single_chunk_as_it_is():
    chunk = b"z" * 1000
    assert join_body(iter([chunk])) is chunk
    assert join_body([]) == b""


@pytest.mark.parametrize("chunk", CHUNKS + [100_000])
def test_join_body_of_a_body_read_in_pieces(chunk):
    body = bytes(range(256)) * 1000
    data = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    assert join_body(read_body(reader(data, chunk), None)) == body

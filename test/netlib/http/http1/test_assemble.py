"""Assembling request and response heads and bodies, and round trips through the reader."""
import pytest

from netlib import exceptions
from netlib.http.headers import Headers
from netlib.http.http1 import (
    assemble_body, assemble_request, assemble_request_head, assemble_response,
    assemble_response_head, assemble_response_parts, read_request, read_response,
)
from netlib.http.request import Request
from netlib.http.response import Response
from netlib.tcp.buffered import Reader


def make_request(form="relative", method=b"GET", scheme=None, host=None, port=None, path=b"/",
                 headers=((b"Host", b"example.com"),), content=b""):
    return Request(form, method, scheme, host, port, path, b"HTTP/1.1", Headers(headers), content)


def make_response(code=200, reason=b"OK", headers=((b"Content-Length", b"2"),), content=b"hi"):
    return Response(b"HTTP/1.1", code, reason, Headers(headers), content)


def test_relative_request_line_uses_the_path():
    assert assemble_request_head(make_request(path=b"/a?b=c")) == (
        b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n")


def test_asterisk_form():
    assert assemble_request_head(make_request(method=b"OPTIONS", path=b"*")).startswith(
        b"OPTIONS * HTTP/1.1\r\n")


@pytest.mark.parametrize("scheme, host, port, target", [
    (b"http", b"example.com", 80, b"http://example.com/x"),
    (b"https", b"example.com", 443, b"https://example.com/x"),
    (b"http", b"example.com", 8080, b"http://example.com:8080/x"),
    (b"https", b"example.com", 80, b"https://example.com:80/x"),
    (b"http", b"::1", 8080, b"http://[::1]:8080/x"),
])
def test_absolute_request_line_omits_default_ports(scheme, host, port, target):
    req = make_request("absolute", scheme=scheme, host=host, port=port, path=b"/x")
    assert assemble_request_head(req).split(b"\r\n")[0] == b"GET " + target + b" HTTP/1.1"


@pytest.mark.parametrize("host, port, target", [
    (b"example.com", 443, b"example.com:443"),
    (b"example.com", 80, b"example.com:80"),
    (b"2001:db8::1", 443, b"[2001:db8::1]:443"),
])
def test_authority_request_line_always_has_the_port(host, port, target):
    """...and so has the Host header added for it."""
    req = make_request("authority", method=b"CONNECT", host=host, port=port, path=b"", headers=())
    assert assemble_request_head(req) == (
        b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n\r\n")


def test_missing_host_header_is_added_from_the_request():
    req = make_request("absolute", scheme=b"https", host=b"example.com", port=8443, path=b"/",
                       headers=((b"Accept", b"*/*"),))
    assert assemble_request_head(req) == (
        b"GET https://example.com:8443/ HTTP/1.1\r\nHost: example.com:8443\r\nAccept: */*\r\n\r\n")


def test_existing_host_header_is_left_alone():
    req = make_request("absolute", scheme=b"http", host=b"example.com", port=80,
                       headers=((b"host", b"other.example"),))
    assert b"\r\nhost: other.example\r\n\r\n" in assemble_request_head(req)
    assert assemble_request_head(req).count(b"ost:") == 1


def test_unknown_first_line_format_is_refused():
    with pytest.raises(exceptions.HttpException, match="first line format: 'bogus'"):
        assemble_request_head(make_request("bogus"))


def test_assemble_request_with_body():
    req = make_request(method=b"POST", headers=((b"Content-Length", b"3"),), content=b"abc")
    assert assemble_request(req) == b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"


def test_assemble_request_without_content_is_refused():
    with pytest.raises(exceptions.HttpException, match="content is missing"):
        assemble_request(make_request(content=None))


def test_assemble_response():
    assert assemble_response(make_response()) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


def test_assemble_response_head_with_empty_reason():
    assert assemble_response_head(make_response(204, b"", ())) == b"HTTP/1.1 204 \r\n\r\n"


def test_assemble_response_without_content_is_refused():
    with pytest.raises(exceptions.HttpException, match="content is missing"):
        assemble_response(make_response(content=None))


def test_assemble_chunked_response_frames_the_body():
    resp = make_response(headers=((b"Transfer-Encoding", b"chunked"),), content=b"hello")
    assert assemble_response(resp) == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")


def test_assemble_body_chunked_skips_empty_chunks_and_terminates():
    """An empty chunk on the wire would end the body early, so it is not sent."""
    headers = Headers([(b"transfer-encoding", b"gzip, Chunked")])
    assert list(assemble_body(headers, [b"abc", b"", b"x" * 26])) == [
        b"3\r\nabc\r\n", b"1a\r\n" + b"x" * 26 + b"\r\n", b"0\r\n\r\n"]


def test_response_parts_keep_the_body_apart_from_the_head():
    """A large body is not copied to put its head in front of it."""
    body = b"x" * 100_000
    head, *rest = assemble_response_parts(make_response(
        headers=((b"Content-Length", b"100000"),), content=body))
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    assert rest == [body] and rest[0] is body


def test_assemble_body_chunked_frames_a_large_chunk_without_copying_it():
    chunk = b"y" * 70_000
    parts = list(assemble_body(Headers([(b"Transfer-Encoding", b"chunked")]), [chunk]))
    assert parts == [b"11170\r\n", chunk, b"\r\n", b"0\r\n\r\n"]
    assert parts[1] is chunk


def test_assemble_body_chunked_empty_body_is_just_the_terminator():
    assert list(assemble_body(Headers([(b"Transfer-Encoding", b"chunked")]), [])) == [b"0\r\n\r\n"]


def test_assemble_chunked_response_ends_with_its_trailers():
    resp = make_response(headers=((b"Transfer-Encoding", b"chunked"),), content=b"hello")
    resp.trailers = Headers([(b"X-Checksum", b"abc"), (b"grpc-status", b"0")])
    assert assemble_response(resp) == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        b"0\r\nX-Checksum: abc\r\ngrpc-status: 0\r\n\r\n")


def test_assemble_body_looks_the_trailers_up_after_the_last_chunk():
    """A relayed body's trailers are set by its reader when it ends: the writer must not
    look before."""
    resp = make_response(headers=((b"Transfer-Encoding", b"chunked"),), content=None)

    def chunks():
        yield b"abc"
        resp.trailers = [("X-Late", "yes")]
    assert list(assemble_body(resp.headers, chunks(), resp)) == [
        b"3\r\nabc\r\n", b"0\r\nX-Late: yes\r\n\r\n"]


def test_trailers_are_not_sent_without_chunked_framing():
    resp = make_response(content=b"hi")
    resp.trailers = [("X-T", "1")]
    assert assemble_response(resp) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


def test_assemble_body_not_chunked_passes_chunks_through():
    headers = Headers([(b"Content-Length", b"6"), (b"Transfer-Encoding-X", b"chunked")])
    assert list(assemble_body(headers, [b"abc", b"def"])) == [b"abc", b"def"]


# --- round trips -----------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nCookie: a=b; c=d\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET http://example.com:8080/p HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
    b"GET https://[::1]/p HTTP/1.1\r\nHost: [::1]\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"POST /submit HTTP/1.0\r\nContent-Length: 5\r\nX-Raw: caf\xe9\r\n\r\nhello",
    b"PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
])
def test_request_round_trip_is_byte_exact(raw):
    for chunk in (None, 1):
        assert assemble_request(read_request(Reader.from_bytes(raw, chunk))) == raw


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 404 Not Found\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
])
def test_response_round_trip_is_byte_exact(raw):
    req = read_request(Reader.from_bytes(b"GET / HTTP/1.1\r\n\r\n"))
    for chunk in (None, 1):
        assert assemble_response(read_response(Reader.from_bytes(raw, chunk), req)) == raw


def test_bare_lf_head_is_forwarded_with_crlf():
    req = read_request(Reader.from_bytes(b"GET / HTTP/1.0\nHost: a\n\n"))
    assert assemble_request(req) == b"GET / HTTP/1.0\r\nHost: a\r\n\r\n"


def test_chunked_body_is_reframed_in_one_chunk():
    """Chunk boundaries and extensions are not kept; the decoded body is sent as one chunk."""
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"
    req = read_request(Reader.from_bytes(b"GET / HTTP/1.1\r\n\r\n"))
    assert assemble_response(read_response(Reader.from_bytes(raw), req)).endswith(
        b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")

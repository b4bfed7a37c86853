"""Reading request and response heads: every request-target form, the start line and
header syntax, and what each kind of malformed or truncated input raises."""
import itertools
import time

import pytest

from netlib import exceptions
from netlib.http.http1 import read
from netlib.http.http1 import (
    read_request, read_request_head, read_response, read_response_head,
)
from netlib.tcp.buffered import Reader

# chunk=1 delivers one byte per recv: a message split anywhere must parse the same.
CHUNKS = [None, 1, 7]


def reader(data: bytes, chunk=None) -> Reader:
    return Reader.from_bytes(data, chunk=chunk)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_origin_form_request_is_relative(chunk):
    req = read_request_head(reader(
        b"GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", chunk))
    assert req.first_line_format == "relative"
    assert req.method == "GET"
    assert req.path == "/path?q=1"
    assert req.http_version == "HTTP/1.1"
    assert req.headers["host"] == "example.com"
    assert req.headers.fields == ((b"Host", b"example.com"), (b"Accept", b"*/*"))
    assert req.raw_content is None


def test_asterisk_form_is_relative_with_path_star():
    req = read_request_head(reader(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert (req.first_line_format, req.method, req.path) == ("relative", "OPTIONS", "*")


@pytest.mark.parametrize("chunk", CHUNKS)
def test_absolute_form_splits_scheme_host_port_path(chunk):
    req = read_request_head(reader(
        b"GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", chunk))
    assert req.first_line_format == "absolute"
    assert (req.scheme, req.host, req.port, req.path) == ("http", "example.com", 8080, "/a/b?c=d")


@pytest.mark.parametrize("target, scheme, host, port, path", [
    (b"http://example.com", "http", "example.com", 80, "/"),
    (b"https://example.com/", "https", "example.com", 443, "/"),
    (b"HTTP://Example.com?x=1", "http", "Example.com", 80, "/?x=1"),
    (b"http://[::1]:8080/x", "http", "::1", 8080, "/x"),
    (b"https://[2001:db8::1]/", "https", "2001:db8::1", 443, "/"),
    (b"ws://example.com/chat", "ws", "example.com", 80, "/chat"),
])
def test_absolute_form_defaults_and_ipv6(target, scheme, host, port, path):
    """The port defaults by scheme, an empty path becomes "/", IPv6 loses its brackets."""
    req = read_request_head(reader(b"GET " + target + b" HTTP/1.1\r\n\r\n"))
    assert (req.scheme, req.host, req.port, req.path) == (scheme, host, port, path)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_authority_form_connect(chunk):
    req = read_request_head(reader(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", chunk))
    assert req.first_line_format == "authority"
    assert (req.method, req.host, req.port, req.path) == ("CONNECT", "example.com", 443, "")


def test_authority_form_ipv6():
    req = read_request_head(reader(b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n"))
    assert (req.first_line_format, req.host, req.port) == ("authority", "::1", 8443)


@pytest.mark.parametrize("target", [
    b"example.com", b"example.com:", b"example.com:0", b"example.com:65536", b"example.com:8o",
    b":443", b"[::1]", b"[::1:443", b"[::1]x443", b"a:b:443", b"user@example.com:443",
    b"exa<mple.com:443",
])
def test_authority_form_invalid_is_refused(target):
    """CONNECT needs host:port with a valid port; the message names the bad part."""
    with pytest.raises(exceptions.HttpSyntaxException) as e:
        read_request_head(reader(b"CONNECT " + target + b" HTTP/1.1\r\n\r\n"))
    assert repr(target)[2:-1] in str(e.value)


@pytest.mark.parametrize("target", [
    b"example.com/x", b"http:/x", b"://x/", b"http://", b"http://:80/", b"ftp://example.com/",
    b"http://user:pw@example.com/",
])
def test_absolute_form_invalid_is_refused(target):
    with pytest.raises(exceptions.HttpSyntaxException, match="request target|authority|port|user"):
        read_request_head(reader(b"GET " + target + b" HTTP/1.1\r\n\r\n"))


def test_unknown_scheme_with_explicit_port_is_accepted():
    req = read_request_head(reader(b"GET ftp://example.com:21/file HTTP/1.1\r\n\r\n"))
    assert (req.scheme, req.host, req.port, req.path) == ("ftp", "example.com", 21, "/file")


@pytest.mark.parametrize("line, match", [
    (b"GET /", "invalid request line"),
    (b"GET  / HTTP/1.1", "invalid request line"),
    (b"GET / HTTP/1.1 x", "invalid request line"),
    (b"G(T / HTTP/1.1", "invalid method"),
    (b"GET / HTTP/11", "invalid HTTP version"),
    (b"GET / HTTP/1.x", "invalid HTTP version"),
    (b"GET / http/1.1", "invalid HTTP version"),
    (b"GET / HTTP/1.1\x00", "invalid HTTP version"),
])
def test_malformed_request_line_names_the_problem(line, match):
    with pytest.raises(exceptions.HttpSyntaxException, match=match) as e:
        read_request_head(reader(line + b"\r\n\r\n"))
    assert repr(line)[2:-1][:20] in str(e.value)


def test_http_1_0_request_without_headers():
    req = read_request_head(reader(b"GET / HTTP/1.0\r\n\r\n"))
    assert req.http_version == "HTTP/1.0"
    assert req.headers.fields == ()


@pytest.mark.parametrize("chunk", CHUNKS)
def test_leading_empty_lines_are_skipped(chunk):
    """RFC 7230 §3.5: a stray CRLF (e.g. after a previous POST body) precedes the request."""
    req = read_request_head(reader(b"\r\n\r\n\nGET / HTTP/1.1\r\n\r\n", chunk))
    assert req.path == "/"


def test_endless_empty_lines_are_refused():
    with pytest.raises(exceptions.HttpSyntaxException, match="empty lines"):
        read_request_head(reader(b"\r\n" * (read.MAX_EMPTY_LINES + 1) + b"GET / HTTP/1.1\r\n\r\n"))


@pytest.mark.parametrize("data", [b"", b"\r\n"])
def test_eof_before_a_request_is_a_read_disconnect(data):
    with pytest.raises(exceptions.HttpReadDisconnect):
        read_request_head(reader(data))


def test_tcp_disconnect_before_a_request_is_a_read_disconnect():
    def recv(n):
        raise exceptions.TcpDisconnect("connection reset")
    with pytest.raises(exceptions.HttpReadDisconnect, match="connection reset"):
        read_request_head(Reader(recv))


@pytest.mark.parametrize("data, match", [
    (b"GET / HT", "middle of the request line"),
    (b"GET / HTTP/1.1\r\nHost: a\r\n", "middle of the header block"),
    (b"GET / HTTP/1.1\r\n\r", "middle of the header block"),
])
@pytest.mark.parametrize("chunk", CHUNKS)
def test_eof_inside_a_head_is_a_syntax_error(data, match, chunk):
    with pytest.raises(exceptions.HttpSyntaxException, match=match):
        read_request_head(reader(data, chunk))


@pytest.mark.parametrize("chunk", CHUNKS)
def test_head_with_bare_lf_line_ends_is_accepted(chunk):
    """RFC 7230 §3.5: a head whose start line ends in LF is read line by line, LF or CRLF."""
    rfile = reader(b"GET / HTTP/1.1\nHost: a\nX-B:  b \r\n\nGET /next HTTP/1.1\r\n\r\n", chunk)
    req = read_request_head(rfile)
    assert (req.path, req.http_version) == ("/", "HTTP/1.1")
    assert req.headers.fields == ((b"Host", b"a"), (b"X-B", b"b"))
    assert read_request_head(rfile).path == "/next"


def test_bare_lf_head_without_headers():
    resp = read_response_head(reader(b"HTTP/1.0 200 OK\n\n"))
    assert (resp.status_code, resp.headers.fields) == (200, ())


@pytest.mark.parametrize("data, exception, match", [
    (b"GET / HTTP/1.1\nX: a\rb\n\n", exceptions.HttpSyntaxException, "bare CR"),
    (b"GET / HTTP/1.1\nHost : a\n\n", exceptions.HttpSyntaxException, "whitespace between"),
    (b"GET / HTTP/1.1\nHost: a\n", exceptions.HttpSyntaxException, "middle of the header block"),
    (b"GET / HTTP/1.1\nX: " + b"x" * read.MAX_HEADER_LINE_SIZE + b"\n\n",
     exceptions.HttpLineTooLong, "header line longer than"),
    (b"GET / HTTP/1.1\n" + (b"X: " + b"x" * 8000 + b"\n") * (read.MAX_HEADERS_SIZE // 8000 + 1) + b"\n",
     exceptions.HttpHeadersTooLarge, "header block larger than"),
    (b"GET / HTTP/1.1\n" + b"X: y\n" * (read.MAX_HEADER_FIELDS + 1) + b"\n",
     exceptions.HttpHeadersTooLarge, "more than 256 header fields"),
], ids=["bare-cr", "space-before-colon", "eof", "long-line", "large-block", "many-fields"])
def test_bare_lf_head_has_the_same_checks_and_limits(data, exception, match):
    """(cases: bare CR, space before colon, EOF, long line, large block, many fields)"""
    with pytest.raises(exception, match=match):
        read_request_head(reader(data))


def test_bad_request_line_is_refused_before_headers_arrive():
    """A client that sent garbage is answered at once, not after a header block it may
    never send."""
    sent = [b"\x16\x03\x01 garbage\r\n"]

    def recv(n):
        assert sent, "read beyond the request line"
        return sent.pop()
    with pytest.raises(exceptions.HttpSyntaxException, match="invalid request line"):
        read_request_head(Reader(recv))


@pytest.mark.parametrize("chunk", CHUNKS)
def test_header_values_are_trimmed_and_names_keep_case(chunk):
    req = read_request_head(reader(
        b"GET / HTTP/1.1\r\nX-A:  spaced \t\r\nx-b:tight\r\nX-Empty:\r\nX-C: a:b: c\r\n\r\n", chunk))
    assert req.headers.fields == (
        (b"X-A", b"spaced"), (b"x-b", b"tight"), (b"X-Empty", b""), (b"X-C", b"a:b: c"))


def test_repeated_headers_are_kept_in_order():
    req = read_request_head(reader(b"GET / HTTP/1.1\r\nCookie: a=1\r\nX: y\r\nCookie: b=2\r\n\r\n"))
    assert req.headers.get_all("cookie") == ["a=1", "b=2"]


def test_header_values_keep_non_utf8_bytes():
    req = read_request_head(reader(b"GET / HTTP/1.1\r\nX-Latin: caf\xe9\r\n\r\n"))
    assert req.headers.fields == ((b"X-Latin", b"caf\xe9"),)


@pytest.mark.parametrize("line, match", [
    (b"Host : example.com", "whitespace between header name and colon"),
    (b"Host\t: example.com", "whitespace between header name and colon"),
    (b" folded: value", "obs-fold"),
    (b"\tfolded", "obs-fold"),
    (b"no colon here", "without a colon"),
    (b": empty name", "invalid header name"),
    (b"Bad(Name): x", "invalid header name"),
    (b"X: a\rTransfer-Encoding: chunked", "bare CR or LF"),
    (b"X: a\nTransfer-Encoding: chunked", "bare CR or LF"),
    (b"X: a\x00b", "NUL"),
])
def test_malformed_header_line_is_refused_with_the_line_quoted(line, match):
    """Each of these is a request-smuggling vector if repaired differently from the server."""
    with pytest.raises(exceptions.HttpSyntaxException, match=match) as e:
        read_request_head(reader(b"GET / HTTP/1.1\r\nHost: a\r\n" + line + b"\r\n\r\n"))
    assert repr(line)[2:-1][:10] in str(e.value)


def test_obs_fold_after_the_start_line_is_refused():
    with pytest.raises(exceptions.HttpSyntaxException, match="obs-fold"):
        read_request_head(reader(b"GET / HTTP/1.1\r\n continued\r\n\r\n"))


# --- limits ----------------------------------------------------------------------------

def test_request_line_at_the_limit_is_accepted():
    path = b"/" + b"a" * (read.MAX_START_LINE_SIZE - len(b"GET / HTTP/1.1\r\n"))
    req = read_request_head(reader(b"GET " + path + b" HTTP/1.1\r\n\r\n"))
    assert len(req.data.path) == len(path)


@pytest.mark.parametrize("chunk", [None, 4096])
def test_request_line_too_long(chunk):
    path = b"/" + b"a" * read.MAX_START_LINE_SIZE
    with pytest.raises(exceptions.HttpLineTooLong, match="request line longer than"):
        read_request_head(reader(b"GET " + path + b" HTTP/1.1\r\n\r\n", chunk))


def test_status_line_too_long():
    with pytest.raises(exceptions.HttpLineTooLong, match="status line longer than"):
        read_response_head(reader(b"HTTP/1.1 200 " + b"O" * read.MAX_START_LINE_SIZE + b"\r\n\r\n"))


def test_single_header_line_too_long():
    line = b"Cookie: " + b"c" * read.MAX_HEADER_LINE_SIZE
    with pytest.raises(exceptions.HttpLineTooLong, match="header line longer than"):
        read_request_head(reader(b"GET / HTTP/1.1\r\n" + line + b"\r\n\r\n"))


def test_header_line_beyond_the_block_limit_is_still_a_long_line():
    """A line so long that it hits the block limit is reported as the line it is."""
    line = b"Cookie: " + b"c" * read.MAX_HEADERS_SIZE
    with pytest.raises(exceptions.HttpLineTooLong, match="header line longer than"):
        read_request_head(reader(b"GET / HTTP/1.1\r\nHost: a\r\n" + line + b"\r\n\r\n"))


def test_header_block_too_large():
    line = b"X-Filler: " + b"f" * 1000 + b"\r\n"
    count = read.MAX_HEADERS_SIZE // len(line) + 1
    with pytest.raises(exceptions.HttpHeadersTooLarge, match="header block larger than"):
        read_request_head(reader(b"GET / HTTP/1.1\r\n" + line * count + b"\r\n"))


def test_too_many_header_fields():
    fields = b"X: y\r\n" * (read.MAX_HEADER_FIELDS + 1)
    with pytest.raises(exceptions.HttpHeadersTooLarge, match="more than 256 header fields"):
        read_request_head(reader(b"GET / HTTP/1.1\r\n" + fields + b"\r\n"))


def test_max_header_fields_is_accepted():
    fields = b"X: y\r\n" * read.MAX_HEADER_FIELDS
    req = read_request_head(reader(b"GET / HTTP/1.1\r\n" + fields + b"\r\n"))
    assert len(req.headers.fields) == read.MAX_HEADER_FIELDS


# --- responses -------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", CHUNKS)
def test_response_head(chunk):
    resp = read_response_head(reader(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", chunk))
    assert (resp.http_version, resp.status_code, resp.reason) == ("HTTP/1.1", 404, "Not Found")
    assert resp.headers["content-length"] == "0"
    assert resp.raw_content is None


@pytest.mark.parametrize("line, reason", [
    (b"HTTP/1.1 200 OK", "OK"),
    (b"HTTP/1.1 200 ", ""),
    (b"HTTP/1.1 200", ""),
    (b"HTTP/1.0 500 Internal  Server Error ", "Internal  Server Error "),
])
def test_reason_phrase_may_be_empty_or_missing(line, reason):
    assert read_response_head(reader(line + b"\r\n\r\n")).reason == reason


@pytest.mark.parametrize("line, match", [
    (b"HTTP/1.1", "invalid status line"),
    (b"HTTP/1.1 2000 OK", "invalid status code"),
    (b"HTTP/1.1 20x OK", "invalid status code"),
    (b"HTTP/1.1  200 OK", "invalid status code"),
    (b"ICY 200 OK", "invalid HTTP version"),
])
def test_malformed_status_line_names_the_problem(line, match):
    with pytest.raises(exceptions.HttpSyntaxException, match=match):
        read_response_head(reader(line + b"\r\n\r\n"))


def test_eof_before_a_response_is_a_read_disconnect():
    with pytest.raises(exceptions.HttpReadDisconnect, match="status line"):
        read_response_head(reader(b""))


# --- timestamps ------------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """time.time() that advances by one second on every call, so that each timestamp
    taken is distinguishable from every other."""
    ticks = itertools.count(1000.0)
    monkeypatch.setattr(time, "time", lambda: next(ticks))


def test_timestamps_are_taken_at_the_first_byte_and_at_the_end_of_the_body(clock):
    req = read_request(reader(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"))
    assert req.timestamp_start == 1000.0
    assert req.timestamp_end > req.timestamp_start


def test_head_has_no_end_timestamp_until_the_body_is_read(clock):
    req = read_request_head(reader(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"))
    assert (req.timestamp_start, req.timestamp_end) == (1000.0, None)


def test_pipelined_messages_each_get_their_own_timestamps(clock):
    """The second request was already buffered: it starts when the first one ended."""
    rfile = reader(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")
    first = read_request(rfile)
    second = read_request(rfile)
    assert (first.path, second.path) == ("/1", "/2")
    assert first.timestamp_start < first.timestamp_end < second.timestamp_start < second.timestamp_end


def test_response_timestamps(clock):
    req = read_request(reader(b"GET / HTTP/1.1\r\n\r\n"))
    resp = read_response(reader(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), req)
    assert req.timestamp_end < resp.timestamp_start < resp.timestamp_end

"""Every example of the spec's chapters "Pathology 101" and "language spec", end to end.

One test per row of "33.3 Request Examples" (sent by pathoc, the library and the command
line, to a real ``test.Daemon``, or to a raw listening socket where the row is about the
bytes on the wire), one per row of "33.4 Response Examples" (fetched from the daemon with a
raw socket, reading the exact bytes), the pathoc chapter's command lines pointed at
127.0.0.1 with ``-p PORT``, and the VALUE/OFFSET examples of the language chapter.

The text's examples that drop a colon (``get:/b@100``) and the response example with broken
quotes (``200:b@100:h"Etag"="";drop table servers;"``) are, per NOTES.md, errors with a
clear message; the tests check that, and check the repaired forms against the wire.

No test sleeps for correctness: "nothing more arrives" is a socket timeout of QUIET seconds;
every other wait is bounded by CLIENT_TIMEOUT and only a hang would reach it.
"""
from __future__ import annotations

import io
import re
import socket
import string
import threading
import urllib.parse

import pytest

from netlib import exceptions
from libpathod import language, pathoc, pathoc_cmdline, test
from libpathod.language.values import unescape

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

# A bound on every wait that must succeed (not a timing assertion: only a hang reaches it).
CLIENT_TIMEOUT = 10
# How long "nothing more arrives" is watched for.
QUIET = 0.5
# What opens every pathoc log block: "07-06-16 12:13:43: " (DD-MM-YY HH:MM:SS).
STAMP = r"\d\d-\d\d-\d\d \d\d:\d\d:\d\d: "
# A canned answer a raw listener gives pathoc so that its request() returns.
OK_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def daemon():
    with test.Daemon() as d:
        yield d


@pytest.fixture
def logging_daemon():
    """A daemon that keeps the request bytes in its log (pathod -q)."""
    with test.Daemon(logreq=True) as d:
        yield d


class Raw:
    """A raw socket to the daemon that reads exact byte counts, EOFs and silences."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
        self.buf = b""

    def get(self, spec: str) -> None:
        """Ask the daemon's craft anchor for ``spec`` (percent-encoded, as d.p() does)."""
        path = "/p/" + urllib.parse.quote(spec, safe="")
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("ascii"))

    def _fill(self) -> bool:
        self.sock.settimeout(CLIENT_TIMEOUT)
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            assert self._fill(), f"EOF after {len(self.buf)} of {n} bytes: {self.buf[:200]!r}"
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_head(self) -> bytes:
        """The bytes up to and including the first blank line."""
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), f"EOF inside the head: {self.buf[:300]!r}"
        end = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:end], self.buf[end:]
        return head

    def read_to_eof(self) -> bytes:
        """Everything until the server closes (a hang fails with socket.timeout)."""
        while self._fill():
            pass
        data, self.buf = self.buf, b""
        return data

    def quiet(self, timeout: float = QUIET):
        """"silent" if nothing arrives within ``timeout`` (the connection stays open),
        "eof" if the server closed, else the unexpected bytes."""
        if self.buf:
            return self.buf
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return "silent"
        return chunk if chunk else "eof"

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Raw":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class Listener:
    """A listening socket that plays the server for pathoc, to see its exact bytes."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def accept(self) -> socket.socket:
        self.sock.settimeout(CLIENT_TIMEOUT)
        conn, _ = self.sock.accept()
        conn.settimeout(CLIENT_TIMEOUT)
        return conn

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def recv_to_eof(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def client(port: int, **kwargs) -> pathoc.Pathoc:
    kwargs.setdefault("fp", None)
    return pathoc.Pathoc(("127.0.0.1", port), **kwargs).connect()


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = pathoc_cmdline.main(args, out, err)
    return code, out.getvalue(), err.getvalue()


def header_values(entry: dict, name: str) -> list[str]:
    return [v for k, v in entry["request"]["headers"] if k.lower() == name.lower()]


def split_head(head: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """(status line, [(name, value)]) of a response head."""
    lines = head[:-4].split(b"\r\n")
    return lines[0], [tuple(line.split(b": ", 1)) for line in lines[1:]]


def logged_request_bytes(entry: dict) -> bytes:
    """The request bytes pathod -q kept (escaped in the log)."""
    return unescape(entry["request_bytes"])


def response_spec(d: test.Daemon) -> str:
    """The resolved spec of the newest response (logged before it is written)."""
    entries = d.expect_log(1)
    assert entries, "the daemon logged nothing"
    return entries[-1]["response"]["spec"]


def inserted_at(data: bytes, base: bytes) -> list[int]:
    """Every index k at which removing one byte of ``data`` gives ``base``."""
    if len(data) != len(base) + 1:
        return []
    return [k for k in range(len(data)) if data[:k] + data[k + 1:] == base]


# --- 33.3 Request Examples -------------------------------------------------------------

def test_request_example_get_path(daemon):
    """33.3 `get:/` -- Get path /."""
    with client(daemon.port) as p:
        response = p.request("get:/")
    assert response is not None
    entry = daemon.expect_log(1)[-1]
    assert entry["request"]["method"] == "GET"
    assert entry["request"]["path"] == "/"
    assert entry["request"]["http_version"] == "HTTP/1.1"
    assert header_values(entry, "Host") == [f"127.0.0.1:{daemon.port}"]


def test_request_example_body_100_random_bytes(logging_daemon):
    """33.3 `get:/b@100` -- 100 random bytes as the body (written `get:/:b@100`)."""
    d = logging_daemon
    with client(d.port) as p:
        with pytest.raises(language.ParseException) as e:
            p.request("get:/b@100")
        p.request("get:/:b@100")
    assert "did you mean 'get:/:b@100'" in str(e.value)
    entry = d.expect_log(1)[-1]
    assert (entry["request"]["method"], entry["request"]["path"]) == ("GET", "/")
    assert header_values(entry, "Content-Length") == ["100"]
    head, _, body = logged_request_bytes(entry).partition(b"\r\n\r\n")
    assert head.startswith(b"GET / HTTP/1.1\r\n")
    assert len(body) == 100
    assert len(d.log()) == 1, "the colon-less form must not have reached the server"


def test_request_example_body_100_random_bytes_cli(logging_daemon):
    """33.3 `get:/b@100` from the command line: the colon-less form is a usage error that
    points at the missing colon; `get:/:b@100` sends 100 bytes."""
    d = logging_daemon
    code, out, err = run_cli(["-p", str(d.port), "127.0.0.1", "get:/b@100"])
    assert code == 2
    assert out == ""
    assert "error parsing request spec" in err and "did you mean 'get:/:b@100'" in err
    assert d.log() == []
    code, out, err = run_cli(["-p", str(d.port), "127.0.0.1", "get:/:b@100"])
    assert code == 0, err
    entry = d.expect_log(1)[-1]
    assert header_values(entry, "Content-Length") == ["100"]
    assert len(logged_request_bytes(entry).partition(b"\r\n\r\n")[2]) == 100
    assert re.fullmatch(STAMP + r">> 'GET':/:b@100\n<< 404 Not Found: \d+ bytes\n", out)


def test_request_example_etag_header(daemon):
    """33.3 `get:/h"Etag"="&;drop table browsers;"` -- Add a header."""
    with client(daemon.port) as p:
        with pytest.raises(language.ParseException) as e:
            p.request('get:/h"Etag"="&;drop table browsers;"')
        p.request('get:/:h"Etag"="&;drop table browsers;"')
    assert "features are separated by ':'" in str(e.value)
    entry = daemon.expect_log(1)[-1]
    assert header_values(entry, "Etag") == ["&;drop table browsers;"]
    assert entry["request"]["path"] == "/"


def test_request_example_user_agent(daemon):
    """33.3 `get:/u"&;drop table browsers;"` -- Add a User-Agent header."""
    with client(daemon.port) as p:
        with pytest.raises(language.ParseException):
            p.request('get:/u"&;drop table browsers;"')
        p.request('get:/:u"&;drop table browsers;"')
    entry = daemon.expect_log(1)[-1]
    assert header_values(entry, "User-Agent") == ["&;drop table browsers;"]


def test_request_example_user_agent_shortcut(daemon):
    """34.1 `u` -- uSHORTCUT (firefox) sets a browser's User-Agent."""
    with client(daemon.port) as p:
        p.request("get:/:ufirefox")
    (agent,) = header_values(daemon.expect_log(1)[-1], "User-Agent")
    assert "Firefox" in agent


def test_request_example_drop_connection_randomly():
    """33.3 `get:/b@100:dr` -- Drop the connection randomly (written `get:/:b@100:dr`):
    pathoc sends a prefix of the request, at the resolved offset, and closes."""
    with pytest.raises(language.ParseException):
        list(language.parse_pathoc("get:/b@100:dr"))
    with Listener() as listener:
        with client(listener.port) as p:
            conn = listener.accept()
            (msg,) = language.parse_pathoc("get:/:b@100:dr", settings=p.settings)
            resolved = msg.resolve(p.settings)
            (offset,) = map(int, re.findall(r":d(\d+)", resolved.spec()))
            full = resolved.length(p.settings)
            with pytest.raises(pathoc.SpecDisconnect):
                p.request(resolved)
        with conn:
            data = recv_to_eof(conn)
    assert 0 <= offset <= full
    assert len(data) == offset
    head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{listener.port}\r\n".encode()
    assert full > len(head) + 100
    assert data == head[:len(data)] or data.startswith(head)


def test_request_example_drop_connection_randomly_to_daemon(daemon):
    """33.3 `get:/b@100:dr` against the daemon: pathoc reports the disconnect it asked for
    (SpecDisconnect, not an error) and the daemon survives it."""
    with client(daemon.port) as p:
        with pytest.raises(pathoc.SpecDisconnect):
            p.request("get:/:b@100:dr")
    with client(daemon.port) as p:
        assert p.request("get:/p/200").status_code == 200


def test_request_example_ascii_body_with_injected_byte():
    """33.3 `get:/b@100,ascii:ir,@1` -- 100 ASCII bytes as the body, and randomly inject a
    random byte: on the wire, exactly one byte more than the request, at the resolved
    offset, and the rest a request with a 100-byte ASCII body."""
    with pytest.raises(language.ParseException):
        list(language.parse_pathoc("get:/b@100,ascii:ir,@1"))
    with Listener() as listener:
        with client(listener.port) as p:
            conn = listener.accept()
            conn.sendall(OK_REPLY)
            (msg,) = language.parse_pathoc("get:/:b@100,ascii:ir,@1", settings=p.settings)
            resolved = msg.resolve(p.settings)
            offset, value = re.search(r":i(\d+),('(?:[^'\\]|\\.)*')", resolved.spec()).groups()
            assert p.request(resolved).status_code == 200
        with conn:
            data = recv_to_eof(conn)
    head = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{listener.port}\r\n"
            f"Content-Length: 100\r\n\r\n").encode()
    assert len(data) == len(head) + 100 + 1
    assert data[int(offset):int(offset) + 1] == unescape(value[1:-1])
    base = data[:int(offset)] + data[int(offset) + 1:]
    assert base.startswith(head)
    assert all(b < 128 for b in base[len(head):])


def test_request_example_injection_reaches_daemon(logging_daemon):
    """33.3 injection (`i OFFSET,VALUE`) against the daemon: one byte injected at offset 0
    of `get:/p/200:b@100,ascii` becomes part of the method the daemon logs."""
    d = logging_daemon
    with client(d.port) as p:
        assert p.request("get:/p/200:b@100,ascii:i0,'X'").status_code == 200
    entry = d.expect_log(1)[-1]
    assert entry["request"]["method"] == "XGET"
    body = logged_request_bytes(entry).partition(b"\r\n\r\n")[2]
    assert len(body) == 100 and body.isascii()


def test_request_example_websocket_handshake(daemon):
    """33.3 `ws:/` -- Initiate a websocket handshake: the daemon answers 101 and both sides
    switch to websocket mode (a frame pathoc sends is logged by the daemon as a frame)."""
    with client(daemon.port) as p:
        response = p.request("ws:/")
        assert response.status_code == 101
        assert p.ws_framereader is not None and p.ws_framereader.is_alive()
        p.request("wf:b'hello'")
        entries = daemon.expect_log(2)
        assert entries is not None
    first, frame = entries[0], entries[1]
    assert first["request"]["method"] == "GET" and first["request"]["path"] == "/"
    assert [v.lower() for v in header_values(first, "Upgrade")] == ["websocket"]
    # (The log's "code" of a `ws` response is None; the wire status, checked above, is 101.)
    assert first["response"]["reason"] == "Switching Protocols"
    assert first["response"]["spec"].startswith("ws")
    assert frame["type"] == "inbound" and frame["protocol"] == "websockets"
    assert frame["frame"]["payload"] == "hello" and frame["frame"]["masked"]


# --- 33.4 Response Examples ------------------------------------------------------------

def test_response_example_200(daemon):
    """33.4 `200` -- A basic HTTP 200 response."""
    with Raw(daemon.port) as r:
        r.get("200")
        assert r.read_head() == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        assert r.quiet() == "silent"


def test_response_example_raw_flag(daemon):
    """33.4 `200:r` -- no Content-Length header. This will hang (the client cannot know
    where the response ends, and the server keeps the connection open)."""
    with Raw(daemon.port) as r:
        r.get("200:r")
        head = r.read_head()
        assert head == b"HTTP/1.1 200 OK\r\n\r\n"
        assert b"content-length" not in head.lower()
        assert r.quiet() == "silent"


def test_response_example_raw_flag_with_body(daemon):
    """34.2 `r` -- with a body set, the raw flag still adds no Content-Length."""
    with Raw(daemon.port) as r:
        r.get("200:r:b'abc'")
        assert r.read_head() == b"HTTP/1.1 200 OK\r\n\r\n"
        assert r.read_exact(3) == b"abc"
        assert r.quiet() == "silent"


def test_response_example_disconnect_after_all_content(daemon):
    """33.4 `200:da` -- Server-side disconnect after all content has been sent."""
    with Raw(daemon.port) as r:
        r.get("200:da")
        assert r.read_to_eof() == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def test_response_example_body_100_bytes(daemon):
    """33.4 `200:b@100` -- 100 random bytes as the body, with a Content-Length header, so
    no disconnect is needed (the connection stays open after exactly 100 bytes)."""
    with Raw(daemon.port) as r:
        r.get("200:b@100")
        assert r.read_head() == b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
        assert len(r.read_exact(100)) == 100
        assert r.quiet() == "silent"
        r.get("200")  # the connection is still usable
        assert r.read_head().startswith(b"HTTP/1.1 200 OK\r\n")


def test_response_example_etag_header_repaired_quoting(daemon):
    """33.4 `200:b@100:h"Etag"="';drop table servers;"` (the text's broken quoting
    repaired) -- the header is on the wire with the value as written."""
    with Raw(daemon.port) as r:
        r.get("200:b@100:h\"Etag\"=\"';drop table servers;\"")
        status, headers = split_head(r.read_head())
        assert status == b"HTTP/1.1 200 OK"
        assert (b"Etag", b"';drop table servers;") in headers
        assert (b"Content-Length", b"100") in headers
        assert len(r.read_exact(100)) == 100
    with Raw(daemon.port) as r:  # the other repair: an escaped double quote
        r.get('200:b@100:h"Etag"="\\";drop table servers;"')
        assert (b"Etag", b'";drop table servers;') in split_head(r.read_head())[1]


def test_response_example_etag_header_broken_quoting_is_a_parse_error(daemon):
    """33.4 `200:b@100:h"Etag"="";drop table servers;"` as printed: a clear parse error,
    an 800 that names the column, and the parser says the same."""
    broken = '200:b@100:h"Etag"="";drop table servers;"'
    with pytest.raises(language.ParseException) as e:
        list(language.parse_pathod(broken))
    assert "column 21" in str(e.value)
    with Raw(daemon.port) as r:
        r.get(broken)
        status, headers = split_head(r.read_head())
        assert status.startswith(b"HTTP/1.1 800 ")
        length = int(dict(headers)[b"Content-Length"])
        body = r.read_exact(length)
    assert body.startswith(b"Error parsing response spec:")
    assert b"column 21" in body and broken.encode() in body
    assert daemon.expect_log(1)[-1]["type"] == "error"


def test_response_example_drop_connection_randomly(daemon):
    """33.4 `200:b@100:dr` -- Drop the connection randomly: the bytes up to the resolved
    offset, a prefix of the full response, then EOF."""
    with Raw(daemon.port) as r:
        r.get("200:b@100:dr")
        data = r.read_to_eof()
    spec = response_spec(daemon)
    (offset,) = map(int, re.findall(r":d(\d+)", spec))
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    assert len(data) == offset <= len(head) + 100
    assert data == head[:len(data)] or data.startswith(head)


def test_response_example_ascii_body_with_injected_byte(daemon):
    """33.4 `200:b@100,ascii:ir,@1` -- 100 ASCII bytes as the body, and one random byte
    injected at a random place: exactly one extra byte, the rest a valid response."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    with Raw(daemon.port) as r:
        r.get("200:b@100,ascii:ir,@1")
        data = r.read_exact(len(head) + 101)
        assert r.quiet() == "silent"
    offset, value = re.search(r":i(\d+),('(?:[^'\\]|\\.)*')", response_spec(daemon)).groups()
    offset = int(offset)
    assert data[offset:offset + 1] == unescape(value[1:-1])
    base = data[:offset] + data[offset + 1:]
    assert base.startswith(head)
    assert all(b < 128 for b in base[len(head):])


def test_response_example_content_type(daemon):
    """33.4 `200:b@1k:c"text/json"` -- 1k of random bytes, with a text/json content type."""
    with Raw(daemon.port) as r:
        r.get('200:b@1k:c"text/json"')
        status, headers = split_head(r.read_head())
        assert status == b"HTTP/1.1 200 OK"
        assert (b"Content-Type", b"text/json") in headers
        assert (b"Content-Length", b"1024") in headers
        assert len(r.read_exact(1024)) == 1024
        assert r.quiet() == "silent"


@pytest.mark.timeout(60)
def test_response_example_pause_after_50_bytes():
    """33.4 `200:b@1k:p50,120` -- pause for 120 seconds after 50 bytes: exactly 50 bytes
    arrive, then nothing; shutting the daemon down cuts the pause short."""
    with test.Daemon() as d:
        with Raw(d.port) as r:
            r.get("200:b@1k:p50,120")
            first = r.read_exact(50)
            assert r.quiet() == "silent"
        assert first == b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n"[:50] or \
            first.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n")
        entry = d.expect_log(1)[-1]
        assert ":p50,120" in entry["response"]["spec"]
    # shutdown joined the connection thread: the pause did not run its 120 s.
    assert entry["response"]["interrupted"] is True


@pytest.mark.timeout(60)
def test_response_example_pause_forever_at_random_place():
    """33.4 `200:b@1k:pr,f` -- 1k of random bytes, but hang forever at a random location:
    the bytes up to the resolved offset arrive, then nothing; shutdown ends the hang."""
    with test.Daemon() as d:
        with Raw(d.port) as r:
            r.get("200:b@1k:pr,f")
            (offset,) = map(int, re.findall(r":p(\d+),f", response_spec(d)))
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n"
            assert 0 <= offset <= len(head) + 1024
            data = r.read_exact(offset)
            assert r.quiet() == "silent"
        assert data == head[:offset] or data.startswith(head)
        entry = d.last_log()
    assert entry["response"]["interrupted"] is True


def test_response_example_generated_header_name(daemon):
    """33.4 `200:b@100:h@1k,ascii_letters='foo'` -- a generated header name of 1k ASCII
    letters with the value 'foo' (the text's "100k" and "ASCII body" contradict the
    spec itself: @1k is 1024 bytes, b@100 is 100 random bytes)."""
    with Raw(daemon.port) as r:
        r.get("200:b@100:h@1k,ascii_letters='foo'")
        status, headers = split_head(r.read_head())
        assert status == b"HTTP/1.1 200 OK"
        generated = [name for name, value in headers if value == b"foo"]
        assert len(generated) == 1
        assert len(generated[0]) == 1024
        assert set(generated[0]) <= set(string.ascii_letters.encode())
        assert (b"Content-Length", b"100") in headers
        assert len(r.read_exact(100)) == 100
        assert r.quiet() == "silent"


# --- 33.1 pathod: the anchor, proxy requests, internal errors ---------------------------

def test_pathod_example_craft_anchor_url(daemon):
    """33.1 `http://localhost:9999/p/200:b@100` -- a 200 with 100 bytes of random data."""
    with Raw(daemon.port) as r:
        r.sock.sendall(b"GET /p/200:b@100 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert r.read_head() == b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
        assert len(r.read_exact(100)) == 100


def test_pathod_example_internal_error_800(daemon):
    """33.1.4 `http://localhost:9999/p/foo` -- an 800 because "foo" is not a spec."""
    with Raw(daemon.port) as r:
        r.get("foo")
        status, headers = split_head(r.read_head())
        assert status.startswith(b"HTTP/1.1 800 ")
        body = r.read_exact(int(dict(headers)[b"Content-Length"]))
    assert b"foo" in body


def test_pathod_example_anchor():
    """33.1.2 `pathod -a "/foo=200"` -- a request for /foo is answered with 200."""
    with test.Daemon(anchors=[("/foo", "200:b'anchored'")]) as d:
        with Raw(d.port) as r:
            r.sock.sendall(b"GET /foo HTTP/1.1\r\nHost: x\r\n\r\n")
            assert r.read_head() == b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"
            assert r.read_exact(8) == b"anchored"


def test_pathod_example_mimicking_a_proxy(daemon):
    """33.1.1 -- a proxy request is served by its path, whatever the upstream host."""
    with Raw(daemon.port) as r:
        r.sock.sendall(b"GET http://example.com/p/201 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert r.read_head() == b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"


# --- 33.2 pathoc --------------------------------------------------------------------------

def test_pathoc_example_output_format(daemon):
    """33.2.1 `pathoc google.com get:/` -- output "DD-MM-YY HH:MM:SS: >> 'GET':/..." and
    "<< 200 OK: N bytes"."""
    code, out, err = run_cli(["-p", str(daemon.port), "127.0.0.1", "get:'/p/200:b@10'"])
    assert (code, err) == (0, "")
    assert re.fullmatch(STAMP + r">> 'GET':'/p/200:b@10'\n<< 200 OK: 10 bytes\n", out), out
    code, out, err = run_cli(["-p", str(daemon.port), "127.0.0.1", "get:/p/404"])
    assert (code, err) == (0, "")
    assert re.fullmatch(STAMP + r">> 'GET':/p/404\n<< 404 Not Found: 0 bytes\n", out), out


def test_pathoc_example_two_requests_one_connection(daemon):
    """33.2.2 `pathoc google.com get:/ get:/` -- both requests over one TCP connection."""
    code, out, err = run_cli(
        ["-p", str(daemon.port), "127.0.0.1", "get:/p/200", "get:/p/200"])
    assert (code, err) == (0, "")
    assert re.fullmatch((STAMP + r">> 'GET':/p/200\n<< 200 OK: 0 bytes\n") * 2, out), out
    entries = daemon.expect_log(2)
    assert entries is not None and len(entries) == 2
    assert entries[0]["request"]["remote_address"] == entries[1]["request"]["remote_address"]


def test_pathoc_example_repeat_over_new_connections(daemon):
    """33.2.2 `pathoc -n 2 google.com get:/` -- two separate TCP connections."""
    code, out, err = run_cli(["-n", "2", "-p", str(daemon.port), "127.0.0.1", "get:/p/200"])
    assert (code, err) == (0, "")
    assert out.count(">> 'GET':/p/200\n<< 200 OK: 0 bytes") == 2
    entries = daemon.expect_log(2)
    assert entries is not None and len(entries) == 2
    assert entries[0]["request"]["remote_address"] != entries[1]["request"]["remote_address"]


def test_pathoc_example_repeat_combined(daemon):
    """33.2.2 `pathoc -n 2 google.com get:/ get:/` -- two connections, two requests each."""
    code, out, err = run_cli(
        ["-n", "2", "-p", str(daemon.port), "127.0.0.1", "get:/p/200", "get:/p/201"])
    assert (code, err) == (0, "")
    entries = daemon.expect_log(4)
    assert entries is not None and len(entries) == 4
    peers = [tuple(e["request"]["remote_address"]) for e in entries]
    assert peers[0] == peers[1] != peers[2] == peers[3]
    assert [e["response"]["code"] for e in entries] == [200, 201, 200, 201]


def test_pathoc_example_proxy_style_request(logging_daemon):
    """33.2.4 `pathoc -p 8080 localhost "get:'http://google.com'"` -- a full URL makes a
    proxy-style request (absolute form on the wire), which pathod serves by its path."""
    d = logging_daemon
    code, out, err = run_cli(["-p", str(d.port), "127.0.0.1", "get:'http://example.com/p/202'"])
    assert (code, err) == (0, "")
    assert re.fullmatch(STAMP + r">> 'GET':'http://example.com/p/202'\n<< 202 Accepted: 0 bytes\n",
                        out), out
    entry = d.expect_log(1)[-1]
    assert logged_request_bytes(entry).startswith(b"GET http://example.com/p/202 HTTP/1.1\r\n")
    assert entry["response"]["code"] == 202


def parse_blocks(out: str) -> list[list[str]]:
    """pathoc's output as blocks: a ">>" line with its timestamp, then its "<<" lines."""
    blocks: list[list[str]] = []
    for line in out.splitlines():
        if re.match(STAMP + ">> ", line):
            blocks.append([re.sub("^" + STAMP, "", line)])
        else:
            assert blocks, f"output does not start with a request line: {out!r}"
            blocks[-1].append(line)
    return blocks


@pytest.mark.timeout(90)
def test_pathoc_example_basic_fuzzing():
    """33.2.3 `pathoc -e -I 200 -t 2 -n 1000 localhost get:/:b@10:ir,@1` (with -n 10,
    and / answering 200 as 0.18's web app did) -- runs and exits; only non-200 answers
    are printed, each with its resolved, replayable spec."""
    with test.Daemon(anchors=[("/$", "200")]) as d:
        code, out, err = run_cli(
            ["-e", "-I", "200", "-t", "2", "-n", "10", "-p", str(d.port), "127.0.0.1",
             "get:/:b@10:ir,@1"])
        entries = d.log()
    assert code in (0, 1), err  # 1: some corrupted request timed out or was refused
    blocks = parse_blocks(out)
    for block in blocks:
        request, answers = block[0], block[1:]
        assert answers and all(a.startswith("<< ") for a in answers), block
        assert not any(a.startswith("<< 200 ") for a in answers), block
        spec = request[len(">> "):]
        (msg,) = language.parse_pathoc(spec)
        assert re.search(r":i\d+,'", spec) and f"h'Host'='127.0.0.1:{d.port}'" in spec
        assert msg.resolve(language.Settings(is_client=True)).spec() == msg.spec()
    served_200 = [e for e in entries if e.get("response", {}).get("code") == 200]
    # Every one of the 10 requests was either answered 200 (and not printed) or printed.
    assert len(blocks) + len(served_200) >= 10
    assert len(blocks) <= 10


def test_pathoc_example_embedded_response_explained(daemon):
    """33.2.5 `pathoc localhost:9999 "get:/p/:s'401:ir,@1'"` with -e -- the printed
    request carries the resolved response spec (i<offset>,'<byte>'), which is exactly what
    the daemon served: the 401 response with one byte inserted at that offset.

    (-t 3 is added: the random byte can land in the head's final CRLFs, and then no client
    can tell where the response ends.)"""
    code, out, err = run_cli(
        ["-e", "-t", "3", "-p", str(daemon.port), "127.0.0.1", "get:/p/:s'401:ir,@1'"])
    assert code in (0, 1), err  # the injected byte may make the answer unreadable
    (block,) = parse_blocks(out)
    assert block[0].startswith(">> 'GET':/p/:")
    assert len(block) == 2 and block[1].startswith("<< ")
    (msg,) = language.parse_pathoc(block[0][len(">> "):])
    assert msg.nested_response is not None
    nested = unescape(re.search(r":s'((?:[^'\\]|\\.)*)'", block[0]).group(1)).decode("latin-1")
    match = re.fullmatch(r"401:i(\d+),'((?:[^'\\]|\\.)+)':h'Content-Length'='0'", nested)
    assert match, nested
    offset, byte = int(match.group(1)), unescape(match.group(2))
    assert daemon.expect_log(1)
    daemon.shutdown()  # joins the connection: what serving tells is in the entry now
    entry = daemon.last_log()
    assert entry["response"]["spec"] == nested
    assert entry["response"]["code"] == 401
    assert entry["response"]["actions"] == [
        {"type": "inject", "offset": offset, "value": match.group(0)[len(f"401:i{offset},"):
                                                                      -len(":h'Content-Length'='0'")]}]
    base = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
    assert len(byte) == 1 and 0 <= offset < len(base)
    assert entry["response"]["bytes_written"] == len(base) + 1
    if code == 0:
        assert re.fullmatch(r"<< \d+ .*: \d+ bytes", block[1]), block
    else:
        assert block[1].startswith(("<< Invalid server response", "<< Timeout",
                                    "<< Server disconnected")), block


def test_pathoc_example_embedded_response_is_parsed_by_pathoc(daemon):
    """33.2.5 -- "the response specification is parsed by pathoc, so you see syntax
    errors immediately": a bad embedded spec never reaches the server."""
    code, out, err = run_cli(["-p", str(daemon.port), "127.0.0.1", "get:/p/:s'401:foo'"])
    assert code == 2 and out == ""
    assert "error parsing request spec" in err
    assert daemon.log() == []


# --- 34.4 VALUE and OFFSET examples ----------------------------------------------------

@pytest.mark.parametrize("literal, expected", [
    ('"foo"', b"foo"),
    ("'foo'", b"foo"),
    ("'fo\\'o'", b"fo'o"),
    ('"fo\\"o"', b'fo"o'),
    ("'foo\\r\\nbar'", b"foo\r\nbar"),
    ("'\\x00\\xff'", b"\x00\xff"),
])
def test_value_literals(daemon, literal, expected):
    """34.4.3 Literals -- "foo", 'fo\\'o', 'foo\\r\\nbar': quotes, escaped quotes and
    Python-style backslash escapes, served byte for byte as a body."""
    with Raw(daemon.port) as r:
        r.get(f"200:b{literal}")
        assert r.read_head() == f"HTTP/1.1 200 OK\r\nContent-Length: {len(expected)}\r\n\r\n".encode()
        assert r.read_exact(len(expected)) == expected
        assert r.quiet() == "silent"


def test_value_literal_with_escapes_in_request_header(daemon):
    """34.4.3 Literals in a request -- 'fo\\'o' as a header value sent by pathoc."""
    with client(daemon.port) as p:
        p.request("get:/:h'X-Quote'='fo\\'o':h\"X-Double\"=\"a\\\"b\"")
    entry = daemon.expect_log(1)[-1]
    assert header_values(entry, "X-Quote") == ["fo'o"]
    assert header_values(entry, "X-Double") == ['a"b']


ALPHABETS = {
    "ascii": bytes(range(128)),
    "ascii_letters": string.ascii_letters.encode(),
    "ascii_lowercase": string.ascii_lowercase.encode(),
    "ascii_uppercase": string.ascii_uppercase.encode(),
    "bytes": bytes(range(256)),
    "digits": string.digits.encode(),
    "hexdigits": string.hexdigits.encode(),
    "octdigits": string.octdigits.encode(),
    "punctuation": string.punctuation.encode() + b" ",
    "whitespace": b"\t\n\x0b\x0c\r ",
}


@pytest.mark.parametrize("datatype", sorted(ALPHABETS))
def test_value_generated_data_types(daemon, datatype):
    """34.4.3 Generated -- every data type of the table (`@1k,TYPE`) serves bytes of its
    alphabet only, and (1k draws) shows the alphabet's breadth: upper and lower case
    letters, high bytes for `bytes`, more than ten distinct values for the big ones."""
    alphabet = set(ALPHABETS[datatype])
    with Raw(daemon.port) as r:
        r.get(f"200:b@1k,{datatype}")
        assert r.read_head() == b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n"
        body = r.read_exact(1024)
        assert r.quiet() == "silent"
    assert set(body) <= alphabet
    # 1024 uniform draws miss a letter class, or all 128 high bytes, with negligible odds.
    assert len(set(body)) >= min(len(alphabet) // 2, 60)
    if datatype == "bytes":
        assert any(b >= 128 for b in body)
    if datatype in ("ascii_letters", "hexdigits"):
        assert set(body) & set(string.ascii_lowercase.encode())
        assert set(body) & set(string.ascii_uppercase.encode())


def test_value_generated_default_type_is_bytes(daemon):
    """34.4.3 Generated -- `@100`: "by default pathod assumes a data type of bytes"."""
    with Raw(daemon.port) as r:
        r.get("200:b@1k")
        r.read_head()
        body = r.read_exact(1024)
    assert any(b >= 128 for b in body)


def test_value_generated_misspelt_type_is_an_error(daemon):
    """34.4.3 -- the text's `@100m,asci` (a typo for ascii) is no data type: an 800 that
    says so, not 100 MB of something."""
    with pytest.raises(language.ParseException):
        list(language.parse_pathod("200:b@100m,asci"))
    with Raw(daemon.port) as r:
        r.get("200:b@100m,asci")
        status, headers = split_head(r.read_head())
        assert status.startswith(b"HTTP/1.1 800 ")


@pytest.mark.parametrize("size, length", [
    ("100", 100), ("100b", 100), ("1k", 1024), ("2k", 2048), ("1m", 1024 ** 2),
])
def test_value_size_suffixes_served(daemon, size, length):
    """34.4.3 size suffixes -- b, k, m: the body is exactly that many bytes."""
    with Raw(daemon.port) as r:
        r.get(f"200:b@{size},ascii")
        assert r.read_head() == f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n".encode()
        body = r.read_exact(length)
        assert r.quiet() == "silent"
    assert body.isascii()


@pytest.mark.parametrize("size, length", [
    ("100m", 100 * 1024 ** 2), ("1g", 1024 ** 3), ("1t", 1024 ** 4),
])
def test_value_size_suffixes_large(daemon, size, length):
    """34.4.3 size suffixes -- m, g, t ("if you really want to send a terabyte...."): the
    Content-Length says it and the data streams; the client may hang up early."""
    with Raw(daemon.port) as r:
        r.get(f"200:b@{size}")
        assert r.read_head() == f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n".encode()
        assert len(r.read_exact(65536)) == 65536
    # Closing mid-body ends the daemon's connection thread (checked by the fixtures).


@pytest.fixture
def static_daemon(tmp_path):
    static = tmp_path / "static"
    (static / "my").mkdir(parents=True)
    (static / "my" / "path").write_bytes(b"file contents\x00\xff")
    (tmp_path / "secret").write_bytes(b"TOPSECRET-CONTENTS")
    with test.Daemon(staticdir=str(static)) as d:
        yield d


@pytest.mark.parametrize("value", ["<my/path", "<'my/path'", '<"my/path"'])
def test_value_file(static_daemon, value):
    """34.4.3 Files -- `<my/path` and `<"my/path"`: a value loaded from a path relative
    to the static directory (pathod -d)."""
    with Raw(static_daemon.port) as r:
        r.get(f"200:b{value}")
        assert r.read_head() == b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n"
        assert r.read_exact(15) == b"file contents\x00\xff"
        assert r.quiet() == "silent"


@pytest.mark.parametrize("value", ["<../secret", "<'../secret'", "</etc/passwd", "<my/missing"])
def test_value_file_outside_static_dir_is_refused(static_daemon, value):
    """33.1.3/34.4.3 Files -- "restricted to a directory specified at startup": a path
    out of it (or missing) is an 800, never the file."""
    with Raw(static_daemon.port) as r:
        r.get(f"200:b{value}")
        status, headers = split_head(r.read_head())
        body = r.read_exact(int(dict(headers)[b"Content-Length"]))
    assert status.startswith(b"HTTP/1.1 800 ")
    assert b"TOPSECRET" not in body and b"root:" not in body
    assert b"File access denied" in body
    assert static_daemon.expect_log(1)[-1]["type"] == "error"


def test_value_file_without_static_dir_is_refused(daemon):
    """33.1.3 -- file access is "disabled if no directory is specified"."""
    with Raw(daemon.port) as r:
        r.get("200:b<my/path")
        status, headers = split_head(r.read_head())
        body = r.read_exact(int(dict(headers)[b"Content-Length"]))
    assert status.startswith(b"HTTP/1.1 800 ")
    assert b"File access denied" in body


def test_offset_a_injects_at_the_end(daemon):
    """34.4.2 OFFSET `a` -- the end of the message: `ia,'Z'` puts Z after the body."""
    with Raw(daemon.port) as r:
        r.get("200:b'abc':ia,'Z'")
        assert r.read_head() == b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
        assert r.read_exact(4) == b"abcZ"
        assert r.quiet() == "silent"


def test_offset_integer_injects_at_that_byte(daemon):
    """34.4.2 OFFSET integer -- `i0,'X'` puts X before the status line."""
    with Raw(daemon.port) as r:
        r.get("200:i0,'X'")
        assert r.read_exact(10) == b"XHTTP/1.1 "


def test_offset_a_in_a_request():
    """34.4.2 OFFSET `a` in a request -- pathoc puts the injected bytes after the body."""
    with Listener() as listener:
        with client(listener.port) as p:
            conn = listener.accept()
            conn.sendall(OK_REPLY)
            assert p.request("get:/:b'abc':ia,'Z'").status_code == 200
        with conn:
            data = recv_to_eof(conn)
    assert data.endswith(b"\r\n\r\nabcZ")
    assert b"Content-Length: 3\r\n" in data


def test_offset_a_disconnect_in_a_request():
    """34.4.2 OFFSET `a` with `d` in a request -- the whole request, then the close."""
    with Listener() as listener:
        with client(listener.port) as p:
            conn = listener.accept()
            with pytest.raises(pathoc.SpecDisconnect):
                p.request("get:/:b'abc':da")
        with conn:
            data = recv_to_eof(conn)
    assert data == (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{listener.port}\r\n"
                    f"Content-Length: 3\r\n\r\nabc").encode()


def test_request_pause_is_observed_on_the_wire():
    """34.1 `p OFFSET,SECONDS` in a request -- pathoc stops after OFFSET bytes; closing the
    client ends the pause (pathoc's finish cuts it short) with nothing more sent."""
    with Listener() as listener:
        p = client(listener.port)
        conn = listener.accept()
        done = threading.Event()
        errors: list[BaseException] = []

        def send() -> None:
            try:
                p.request("get:/:b'abcdef':p5,f")
            except exceptions.NetlibException:
                pass
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)
            finally:
                done.set()

        sender = threading.Thread(target=send, name="pathoc sender")
        sender.start()
        try:
            got = b""
            while len(got) < 5:
                chunk = conn.recv(5 - len(got))
                assert chunk, got
                got += chunk
            conn.settimeout(QUIET)
            with pytest.raises(socket.timeout):
                conn.recv(100)
        finally:
            p.finish()
            sender.join(CLIENT_TIMEOUT)
            conn.close()
        assert not sender.is_alive() and errors == []
    assert got == b"GET /"

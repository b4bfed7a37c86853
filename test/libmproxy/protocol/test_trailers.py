"""Trailers over HTTP/1.1: chunked bodies whose trailer section reaches the other side,
and the flow model and flow files that carry them (HTTP/2 trailers: test_http2.py).

The origin is a raw socket server written here, answering byte for byte what each test
scripts; the clients are raw sockets and curl (``-D -`` shows a chunked body's trailers
after the head). Nothing sleeps: every read has a deadline of ``WAIT``.
"""
from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Iterator

import pytest

from netlib import tnetstring
from netlib.http import Headers

from libmproxy.flow import FlowReader, FlowWriter, read_flows_from_paths
from libmproxy.flow import io as flow_io
from libmproxy.models import HTTPFlow, HTTPRequest, HTTPResponse

from .servers import ThreadedServer

WAIT = 10.0

SHARED_FLOWS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "flows"
OUR_DATA = Path(__file__).resolve().parents[2] / "data"

# Byte for byte what the origin answers, by request path.
RESPONSES = {
    "/trailers": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
                  b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"),
    "/plain": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n",
    "/bad-trailers": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"2\r\nok\r\n0\r\nthis line has no colon\r\n\r\n"),
}


def read_message(sock: socket.socket, buffer: bytearray) -> bytes:
    """One HTTP/1 message from ``sock`` (``buffer`` keeps what came after it): the head,
    then a Content-Length body, a chunked body up to its trailer section's end, or
    none. Only as much parsing as the messages of these tests need."""
    def fill() -> None:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed after {bytes(buffer)!r}")
        buffer.extend(data)

    while b"\r\n\r\n" not in buffer:
        fill()
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end]).lower()
    if b"transfer-encoding: chunked" in head:
        while (last := buffer.find(b"\r\n0\r\n", end - 2)) < 0 or \
                buffer.find(b"\r\n\r\n", last + 2) < 0:
            fill()
        end = buffer.find(b"\r\n\r\n", last + 2) + 4
    elif b"content-length: " in head:
        length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(buffer) < end + length:
            fill()
        end += length
    message = bytes(buffer[:end])
    del buffer[:end]
    return message


def dechunk(message: bytes) -> tuple[bytes, bytes, bytes]:
    """(head, decoded body, trailer section) of a chunked message: however the proxy cut
    the body into chunks, these are what the peer gets."""
    head, rest = message.split(b"\r\n\r\n", 1)
    body = b""
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return head, body, rest
        body, rest = body + rest[:size], rest[size + 2:]


class RawOrigin(ThreadedServer):
    """An HTTP/1.1 server on 127.0.0.1 that answers each request with ``RESPONSES[path]``
    on a keep-alive connection and records every request byte for byte (``requests``)."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        super().__init__("raw origin")

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(WAIT)
        buffer = bytearray()
        with sock:
            while True:
                try:
                    request = read_message(sock, buffer)
                except (ConnectionError, OSError):
                    return
                self.requests.append(request)
                path = request.split(b" ")[1].decode()
                sock.sendall(RESPONSES[path])


@pytest.fixture
def raw_origin() -> Iterator[RawOrigin]:
    origin = RawOrigin()
    yield origin
    origin.close()


@pytest.fixture(params=["asked", "told"])
def http1_proxy(request, start_proxy):
    """A regular-mode proxy whose flows are either asked (hooks may change them, so the
    body is read whole) or only told (the body is relayed as it is read)."""
    proxy = start_proxy()
    if request.param == "told":
        proxy.master.set_event_policy({}, default="tell")
    return proxy


class RawClient:
    """A keep-alive HTTP/1.1 client through the proxy, in absolute form."""

    def __init__(self, proxy_port: int, origin_port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=WAIT)
        self.origin = f"http://127.0.0.1:{origin_port}"
        self.buffer = bytearray()

    def send(self, method: str, path: str, rest: bytes = b"\r\n") -> bytes:
        """Send the request line, a Host header and ``rest``; the response's bytes."""
        self.sock.sendall(f"{method} {self.origin}{path} HTTP/1.1\r\n"
                          f"Host: 127.0.0.1\r\n".encode() + rest)
        return read_message(self.sock, self.buffer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_client(http1_proxy, raw_origin) -> Iterator[RawClient]:
    client = RawClient(http1_proxy.port, raw_origin.port)
    yield client
    client.close()


# --- through the proxy -----------------------------------------------------------------------

def test_chunked_response_trailers_reach_an_http11_client(http1_proxy, raw_client):
    """The trailer section comes through as the origin sent it, the flow holds it, and
    the next response on the connection starts where it should."""
    head, body, trailers = dechunk(raw_client.send("GET", "/trailers"))
    assert head == RESPONSES["/trailers"].split(b"\r\n\r\n")[0]
    assert (body, trailers) == (b"hello world", b"X-Checksum: abc\r\nX-Other: 1\r\n\r\n")
    assert raw_client.send("GET", "/plain") == RESPONSES["/plain"]
    assert dechunk(raw_client.send("GET", "/chunked"))[1:] == (b"no", b"\r\n")
    flows = {f.request.path: f for f in http1_proxy.master.wait_for("response", 3)}
    assert flows["/trailers"].response.trailers.fields == ((b"X-Checksum", b"abc"),
                                                           (b"X-Other", b"1"))
    assert "x-checksum" not in flows["/trailers"].response.headers
    assert flows["/plain"].response.trailers is None
    assert flows["/chunked"].response.trailers is None


def test_chunked_request_trailers_reach_the_origin(http1_proxy, raw_client, raw_origin):
    body = b"Transfer-Encoding: chunked\r\n\r\n4\r\ndata\r\n0\r\nX-Request-Sum: 42\r\n\r\n"
    assert raw_client.send("POST", "/plain", body) == RESPONSES["/plain"]
    assert dechunk(raw_origin.requests[-1])[1:] == (b"data", b"X-Request-Sum: 42\r\n\r\n")
    flow = http1_proxy.master.wait_for("response")[0]
    assert flow.request.content == b"data"
    assert flow.request.trailers["x-request-sum"] == "42"


def test_hooks_change_http1_trailers(proxy, raw_origin):
    def request(flow):
        flow.request.trailers["X-Request-Sum"] = "changed"

    def response(flow):
        if flow.request.path == "/trailers":
            flow.response.trailers["X-Checksum"] = "by hook"
        else:
            flow.response.trailers = [("X-Added", "yes")]
    proxy.master.on["request"] = request
    proxy.master.on["response"] = response
    client = RawClient(proxy.port, raw_origin.port)
    try:
        changed = client.send("GET", "/trailers")
        added = client.send("POST", "/chunked", b"Transfer-Encoding: chunked\r\n\r\n"
                            b"1\r\nx\r\n0\r\nX-Request-Sum: 1\r\n\r\n")
    finally:
        client.close()
    assert dechunk(changed)[2] == b"X-Checksum: by hook\r\nX-Other: 1\r\n\r\n"
    assert dechunk(added)[1:] == (b"no", b"X-Added: yes\r\n\r\n")
    assert dechunk(raw_origin.requests[-1])[1:] == (b"x", b"X-Request-Sum: changed\r\n\r\n")


def test_bad_trailers_are_a_502_that_names_them(proxy, raw_origin):
    client = RawClient(proxy.port, raw_origin.port)
    try:
        response = client.send("GET", "/bad-trailers")
    finally:
        client.close()
    assert response.startswith(b"HTTP/1.1 502 ")
    assert b"trailer block" in response and b"this line has no colon" in response
    assert "trailer block" in proxy.master.wait_for("error")[0].error.msg


TRAILER_SCRIPT = """\
def response(flow):
    if flow.response.trailers is not None:
        flow.response.trailers["X-Script"] = "saw " + flow.response.trailers["X-Checksum"]
"""


def test_mitmdump_script_and_curl_see_http1_trailers(mitmdump, raw_origin, tmp_path):
    """curl shows a chunked body's trailers after the head (``-D -``); the script's
    trailer is among them, and the saved flow keeps them all."""
    script = tmp_path / "trailers.py"
    script.write_text(TRAILER_SCRIPT)
    path = tmp_path / "flows"
    m = mitmdump("-s", str(script), "-w", str(path)).started()
    body = tmp_path / "body"
    dump = m.fetch("-D", "-", "-o", str(body), f"http://127.0.0.1:{raw_origin.port}/trailers")
    head, trailers = dump.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert trailers.split(b"\r\n") == [b"X-Checksum: abc", b"X-Other: 1", b"X-Script: saw abc",
                                       b""]
    assert body.read_bytes() == b"hello world"
    m.wait_for(" << 200 ")
    rc, _ = m.stop()
    assert rc == 0 and m.err == ""
    [flow] = read_flows_from_paths([path])
    assert flow.response.trailers["x-script"] == "saw abc"


# --- the flow model and flow files -------------------------------------------------------------

def flow_with_trailers() -> HTTPFlow:
    flow = HTTPFlow(None, None)
    flow.request = HTTPRequest("relative", b"POST", b"https", b"example.com", 443, b"/rpc",
                               b"HTTP/2.0", Headers([(b"te", b"trailers")]), b"call",
                               1.0, 2.0)
    flow.request.trailers = [("x-request-sum", "1")]
    flow.response = HTTPResponse(b"HTTP/2.0", 200, b"", Headers(), b"answer", 3.0, 4.0)
    flow.response.trailers = Headers(grpc_status="0")
    return flow


def round_trip(flow: HTTPFlow) -> tuple[dict, HTTPFlow]:
    buf = io.BytesIO()
    FlowWriter(buf).add(flow)
    state = tnetstring.loads(buf.getvalue())
    [again] = list(FlowReader(io.BytesIO(buf.getvalue())).stream())
    return state, again


def test_trailers_are_saved_and_read_back():
    flow = flow_with_trailers()
    state, again = round_trip(flow)
    assert state["version"][:2] == [0, 18]
    assert state["response"]["trailers"] == [[b"grpc-status", b"0"]]
    assert again.request.trailers.fields == ((b"x-request-sum", b"1"),)
    assert again.response.trailers["grpc-status"] == "0"
    assert again.get_state() == flow.get_state()


def test_a_message_without_trailers_is_saved_in_the_018_layout():
    """The key appears only when there are trailers: every other flow is written exactly
    as 0.18 wrote it (and reads back without trailers)."""
    flow = flow_with_trailers()
    flow.request.trailers = None
    flow.response.trailers = None
    state, again = round_trip(flow)
    assert "trailers" not in state["request"] and "trailers" not in state["response"]
    assert again.request.trailers is None and again.response.trailers is None


def test_018_files_load_without_trailers():
    [flow] = read_flows_from_paths([SHARED_FLOWS / "dumpfile-018.mitm"])
    assert flow.request.trailers is None and flow.response.trailers is None


def test_todays_format_keeps_its_trailers():
    """A flow saved by today's mitmproxy (format 21) with trailers: the migration chain
    carries them to our model; None trailers are left out on the way."""
    with open(OUR_DATA / "dumpfile-21.mitm", "rb") as fo:
        state = tnetstring.load(fo)
    state["request"]["trailers"] = None
    state["response"]["trailers"] = [[b"grpc-status", b"0"], [b"grpc-message", b"ok"]]
    flow = flow_io.flow_from_state(state)
    assert flow.request.trailers is None
    assert flow.response.trailers.fields == ((b"grpc-status", b"0"), (b"grpc-message", b"ok"))


def test_copies_do_not_share_trailers():
    flow = flow_with_trailers()
    copy = flow.response.copy()
    copy.trailers["grpc-status"] = "13"
    assert flow.response.trailers["grpc-status"] == "0"


def test_trailers_take_headers_pairs_or_none():
    response = HTTPResponse.make(200)
    assert response.trailers is None
    response.trailers = {"X-A": "1"}
    assert response.trailers.fields == ((b"X-A", b"1"),)
    response.trailers = None
    assert response.trailers is None

"""The reader and assembler against real HTTP implementations over loopback sockets:
``requests`` and ``curl`` as clients of a tiny server built on read_request /
assemble_response, and Python's http.server as the server for read_response."""
import http.server
import shutil
import socket
import subprocess
import threading

import pytest
import requests

from netlib import exceptions
from netlib.http.headers import Headers
from netlib.http.http1 import (
    assemble_request, assemble_response, connection_close, read_request, read_response,
)
from netlib.http.request import Request
from netlib.http.response import Response
from netlib.tcp.buffered import Reader

TIMEOUT = 10


class EchoServer:
    """Answers every request with its method, path and body, honouring keep-alive, and
    records how many connections it saw."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests = []
        self.errors = []
        self.thread = threading.Thread(target=self.serve, name="http1-echo-server", daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(TIMEOUT)
                self.handle(conn)

    def handle(self, conn):
        rfile = Reader(conn.recv)
        while True:
            try:
                req = read_request(rfile, body_size_limit=1024 * 1024)
            except exceptions.HttpReadDisconnect:
                return
            except exceptions.HttpException as e:
                self.errors.append(e)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            self.requests.append(req)
            body = b"%s %s %s\n" % (req.data.method, req.data.path, req.raw_content)
            close = connection_close(req.http_version, req.headers)
            headers = [(b"Content-Length", b"%d" % len(body))]
            if close:
                headers.append((b"Connection", b"close"))
            resp = Response(req.data.http_version, 200, b"OK", Headers(headers), body)
            conn.sendall(assemble_response(resp))
            if close:
                return

    def close(self):
        # shutdown() wakes the accept() blocked in the server thread; close() alone does not.
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(TIMEOUT)


@pytest.fixture
def echo_server():
    server = EchoServer()
    yield server
    server.close()
    assert not server.thread.is_alive()


def test_requests_client_keep_alive_get_and_post(echo_server):
    """requests reuses one connection for several requests; each parses and is answered."""
    base = f"http://127.0.0.1:{echo_server.port}"
    with requests.Session() as session:
        r1 = session.get(base + "/first?x=1", timeout=TIMEOUT)
        r2 = session.post(base + "/form", data={"a": "1", "b": "2"}, timeout=TIMEOUT)
        r3 = session.put(base + "/chunked", data=iter([b"part1-", b"part2"]), timeout=TIMEOUT)
    assert r1.content == b"GET /first?x=1 \n"
    assert r2.content == b"POST /form a=1&b=2\n"
    assert r3.content == b"PUT /chunked part1-part2\n"
    assert echo_server.requests[2].headers["transfer-encoding"] == "chunked"
    assert echo_server.connections == 1
    assert echo_server.errors == []


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_http_1_0_client_gets_the_connection_closed(echo_server):
    """curl -0 sends HTTP/1.0 without keep-alive: the server must close after answering,
    which curl needs to finish (its request has a body too)."""
    out = subprocess.run(
        ["curl", "-s", "-0", "--max-time", str(TIMEOUT), "--data-binary", "payload",
         f"http://127.0.0.1:{echo_server.port}/curl"],
        capture_output=True, timeout=TIMEOUT * 2, check=True)
    assert out.stdout == b"POST /curl payload\n"
    assert echo_server.requests[0].http_version == "HTTP/1.0"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_through_the_server_as_a_proxy_sends_absolute_form(echo_server):
    out = subprocess.run(
        ["curl", "-s", "--max-time", str(TIMEOUT), "-x", f"http://127.0.0.1:{echo_server.port}",
         "http://example.invalid:8080/via-proxy"],
        capture_output=True, timeout=TIMEOUT * 2, check=True)
    assert out.stdout == b"GET /via-proxy \n"
    req = echo_server.requests[0]
    assert (req.first_line_format, req.host, req.port) == ("absolute", "example.invalid", 8080)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            # An HTTP/1.0-style answer: no length, the body ends when the connection does.
            self.protocol_version = "HTTP/1.0"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"until close")
            self.close_connection = True
        else:
            body = b"length body for " + self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "12345")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def stdlib_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="http1-stdlib-server", daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(TIMEOUT)


def get(method, path, port):
    return Request("relative", method, None, None, None, path, b"HTTP/1.1",
                   Headers([(b"Host", b"127.0.0.1:%d" % port)]), b"")


def test_read_responses_from_http_server_on_one_connection(stdlib_server):
    """Content-Length, HEAD and chunked responses on one keep-alive connection, then an
    until-close response that ends the connection."""
    with socket.create_connection(("127.0.0.1", stdlib_server), timeout=TIMEOUT) as sock:
        rfile = Reader(sock.recv)
        for method, path in ((b"GET", b"/length"), (b"HEAD", b"/"), (b"GET", b"/chunked"),
                             (b"GET", b"/close")):
            sock.sendall(assemble_request(get(method, path, stdlib_server)))
        req = get(b"GET", b"/length", stdlib_server)
        assert read_response(rfile, req).raw_content == b"length body for /length"
        head = read_response(rfile, get(b"HEAD", b"/", stdlib_server))
        assert (head.headers["content-length"], head.raw_content) == ("12345", b"")
        chunked = read_response(rfile, req)
        assert chunked.raw_content == b"hello chunked world"
        closing = read_response(rfile, req)
        assert (closing.http_version, closing.raw_content) == ("HTTP/1.0", b"until close")
        assert connection_close(closing.http_version, closing.headers)
        with pytest.raises(exceptions.HttpReadDisconnect):
            read_response(rfile, req)

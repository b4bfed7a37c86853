"""HTTP/2 through the proxy: h2 on both sides, one flow per stream.

The origin is a small threaded HTTP/2 server written here with the h2 library (``H2Origin``)
or pathod, which speaks HTTP/2 by ALPN too; the clients are curl, h2load and an h2-library
client (``H2Client``) where a test needs to open streams, reset them or watch for GOAWAY.
Nothing sleeps: every wait is on an event, a socket or a process, bounded by ``WAIT``.
"""
from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import threading
from typing import Any, Callable, Iterator

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import pytest

from libmproxy.protocol import http2_messages
from libmproxy.proxy import next_layer

from .servers import ThreadedServer

WAIT = 10.0
MB = 1024 * 1024

ErrorCodes = h2.errors.ErrorCodes

# What the origin ends a /trailers response with: a gRPC status, as gRPC servers do.
TRAILERS = [(b"grpc-status", b"0"), (b"grpc-message", b"all good")]


# --- the origin --------------------------------------------------------------------------------

class H2Origin(ThreadedServer):
    """An HTTP/2 server over TLS (the ``pki`` origin certificate) on 127.0.0.1.

    Paths:
      /echo...      JSON: method, path, headers, body length and SHA-256 of the body
      /big/N        N bytes
      /gather/N     held until N /gather requests are open on the connection, then each
                    answered (so they complete only if they arrive concurrently)
      /hold         never answered (for resets)
      /reset        the stream is reset (INTERNAL_ERROR) instead of answered
      /goaway       answered, then GOAWAY (NO_ERROR) and the connection is closed
      /refuse       not answered: GOAWAY saying the streams before it were processed,
                    not this one, and the connection is closed
      /trailers...  the echo, then ``TRAILERS`` (gRPC's status) in a trailer block

    It records the requests (``requests``: dicts with the pseudo-headers, and the
    ``trailers`` the client sent if it sent any), the streams
    the client reset (``resets``: (path, error code)), the client's SETTINGS
    (``client_settings``) and how many connections were made.
    """

    def __init__(self, cert_file: str, alpn: tuple[str, ...] = ("h2",)) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_file)
        self.context.set_alpn_protocols(list(alpn))
        self.requests: list[dict] = []
        self.resets: list[tuple[str, int]] = []
        self.client_settings: list[dict] = []
        self.connections = 0
        self.changed = threading.Condition()
        super().__init__("h2 origin")

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def wait_for(self, predicate: Callable[[], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, WAIT), "the origin never saw it"

    def _record(self, f: Callable[[], None]) -> None:
        with self.changed:
            f()
            self.changed.notify_all()

    # --- one connection ---

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(WAIT)
        try:
            sock = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        self._record(lambda: setattr(self, "connections", self.connections + 1))
        if sock.selected_alpn_protocol() != "h2":
            self._serve_http1(sock)
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        state = _OriginConnection(self, sock, conn)
        try:
            state.run()
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()


    def _serve_http1(self, sock: ssl.SSLSocket) -> None:
        """One HTTP/1.1 request without a body, answered with its path and version."""
        with sock:
            head = b""
            while b"\r\n\r\n" not in head:
                data = sock.recv(65536)
                if not data:
                    return
                head += data
            method, path, version = head.split(b"\r\n", 1)[0].decode().split(" ")
            request = {":method": method, ":path": path, "version": version}
            self._record(lambda: self.requests.append(request))
            body = json.dumps(request).encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(body), body))


class _OriginConnection:
    def __init__(self, origin: H2Origin, sock: ssl.SSLSocket, conn: h2.connection.H2Connection
                 ) -> None:
        self.origin, self.sock, self.conn = origin, sock, conn
        self.heads: dict[int, dict] = {}
        self.bodies: dict[int, list[bytes]] = {}
        self.outbound: dict[int, memoryview] = {}
        self.trailers: dict[int, list[tuple[bytes, bytes]]] = {}
        self.gathered: list[int] = []
        self.goaway_after: int | None = None

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def run(self) -> None:
        self.flush()
        while True:
            self.pump()
            self.flush()
            if self.goaway_after is not None and self.goaway_after not in self.outbound:
                self.conn.close_connection()
                self.flush()
                return
            data = self.sock.recv(65536)
            if not data:
                return
            for event in self.conn.receive_data(data):
                self.handle(event)

    def handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RemoteSettingsChanged):
            settings = {code: s.new_value for code, s in event.changed_settings.items()}
            self.origin._record(lambda: self.origin.client_settings.append(settings))
        elif isinstance(event, h2.events.RequestReceived):
            self.heads[event.stream_id] = {k.decode(): v.decode() for k, v in event.headers
                                           if k.startswith(b":")}
            self.heads[event.stream_id]["headers"] = [
                (k.decode(), v.decode()) for k, v in event.headers if not k.startswith(b":")]
            self.bodies[event.stream_id] = []
        elif isinstance(event, h2.events.TrailersReceived):
            self.heads[event.stream_id]["trailers"] = [(k.decode(), v.decode())
                                                       for k, v in event.headers]
        elif isinstance(event, h2.events.DataReceived):
            self.bodies[event.stream_id].append(event.data)
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.respond(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            path = self.heads.get(event.stream_id, {}).get(":path", "?")
            self.outbound.pop(event.stream_id, None)
            self.origin._record(lambda: self.origin.resets.append((path, event.error_code)))

    def respond(self, stream_id: int) -> None:
        head = self.heads[stream_id]
        body = b"".join(self.bodies[stream_id])
        request = dict(head, body_length=len(body),
                       body_sha256=hashlib.sha256(body).hexdigest(), stream_id=stream_id)
        self.origin._record(lambda: self.origin.requests.append(request))
        path = head[":path"]
        if path == "/hold":
            return
        if path == "/reset":
            self.conn.reset_stream(stream_id, ErrorCodes.INTERNAL_ERROR)
            return
        if path == "/refuse":
            self.conn.close_connection(last_stream_id=stream_id - 2)
            self.flush()
            raise ConnectionAbortedError("GOAWAY sent")
        if path.startswith("/gather/"):
            self.gathered.append(stream_id)
            if len(self.gathered) == int(path.split("/")[2]):
                for sid in self.gathered:
                    self.send(sid, json.dumps({"stream": sid}).encode())
                self.gathered = []
            return
        if path.startswith("/big/"):
            self.send(stream_id, bytes(range(256)) * (int(path.split("/")[2]) // 256))
            return
        trailers = TRAILERS if path.startswith("/trailers") else None
        self.send(stream_id, json.dumps(request).encode(), trailers)
        if path == "/goaway":
            self.goaway_after = stream_id

    def send(self, stream_id: int, body: bytes,
             trailers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.conn.send_headers(stream_id, [
            (b":status", b"200"), (b"content-type", b"application/octet-stream"),
            (b"content-length", b"%d" % len(body)), (b"x-origin", b"h2")])
        self.outbound[stream_id] = memoryview(body)
        if trailers is not None:
            self.trailers[stream_id] = trailers

    def pump(self) -> None:
        for stream_id in list(self.outbound):
            view = self.outbound[stream_id]
            while True:
                size = min(len(view), self.conn.local_flow_control_window(stream_id),
                           self.conn.max_outbound_frame_size)
                if size <= 0 and len(view):
                    break
                view, piece = view[size:], view[:size]
                trailers = self.trailers.pop(stream_id, None) if not len(view) else None
                self.conn.send_data(stream_id, bytes(piece),
                                    end_stream=not len(view) and trailers is None)
                if not len(view):
                    if trailers is not None:
                        self.conn.send_headers(stream_id, trailers, end_stream=True)
                    del self.outbound[stream_id]
                    break
            if stream_id in self.outbound:
                self.outbound[stream_id] = view


@pytest.fixture
def h2_origin(pki) -> Iterator[H2Origin]:
    origin = H2Origin(pki.origin_cert_file)
    yield origin
    origin.close()


@pytest.fixture
def h2_origin_both(pki) -> Iterator[H2Origin]:
    """An origin that offers h2 and http/1.1 (answering HTTP/1.1 with a plain echo)."""
    origin = H2Origin(pki.origin_cert_file, alpn=("h2", "http/1.1"))
    yield origin
    origin.close()


# --- the client --------------------------------------------------------------------------------

class H2Client:
    """An HTTP/2 client (h2) through the proxy: CONNECT, TLS trusting the proxy's CA, ALPN h2.
    ``responses[stream_id]`` collects each stream's status, headers, body, trailers and
    reset code."""

    def __init__(self, proxy_port: int, target: str, cafile: str,
                 server_hostname: str = "localhost") -> None:
        raw = socket.create_connection(("127.0.0.1", proxy_port), timeout=WAIT)
        raw.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += raw.recv(1)  # byte by byte: nothing of the TLS stream may be swallowed
        assert head.startswith(b"HTTP/1.1 200"), head
        context = ssl.create_default_context(cafile=cafile)
        context.set_alpn_protocols(["h2", "http/1.1"])
        self.sock = context.wrap_socket(raw, server_hostname=server_hostname)
        self.authority = target.encode()
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.responses: dict[int, dict] = {}
        self.outbound: dict[int, memoryview] = {}
        self.request_trailers: dict[int, list[tuple[str, str]]] = {}
        self.terminated: h2.events.ConnectionTerminated | None = None
        self.closed = False
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path: str, method: str = "GET", body: bytes = b"",
                headers: list[tuple[str, str]] = (),
                trailers: list[tuple[str, str]] | None = None) -> int:
        """Open a stream; ``trailers`` end the request after its body (if any)."""
        stream_id = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "https"),
                  (":authority", self.authority.decode()), (":path", path), *headers]
        if body:
            fields.append(("content-length", str(len(body))))
        self.conn.send_headers(stream_id, fields, end_stream=not body and trailers is None)
        self.responses[stream_id] = {"body": [], "done": False, "informational": [],
                                     "trailers": None}
        if trailers is not None:
            self.request_trailers[stream_id] = trailers
        if body or trailers is not None:
            self.outbound[stream_id] = memoryview(body)
        self.pump()
        return stream_id

    def reset(self, stream_id: int) -> None:
        self.conn.reset_stream(stream_id, ErrorCodes.CANCEL)
        self.flush()

    def pump(self) -> None:
        for stream_id in list(self.outbound):
            view = self.outbound[stream_id]
            trailers = self.request_trailers.get(stream_id)
            while len(view):
                size = min(len(view), self.conn.local_flow_control_window(stream_id),
                           self.conn.max_outbound_frame_size)
                if size <= 0:
                    break
                self.conn.send_data(stream_id, bytes(view[:size]),
                                    end_stream=size == len(view) and trailers is None)
                view = view[size:]
            if len(view):
                self.outbound[stream_id] = view
            else:
                del self.outbound[stream_id]
                if trailers is not None:
                    self.conn.send_headers(stream_id, trailers, end_stream=True)
        self.flush()

    def receive_once(self) -> None:
        readable, _, _ = select.select([self.sock], [], [], WAIT)
        assert readable or self.sock.pending(), "the proxy sent nothing"
        data = self.sock.recv(1024 * 1024)
        if not data:
            self.closed = True
            return
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.InformationalResponseReceived):
                self.responses[event.stream_id]["informational"].append(
                    int(dict(event.headers)[b":status"]))
            elif isinstance(event, h2.events.ResponseReceived):
                r = self.responses[event.stream_id]
                r["status"] = int(dict(event.headers)[b":status"])
                r["headers"] = [(k.decode(), v.decode()) for k, v in event.headers]
            elif isinstance(event, h2.events.TrailersReceived):
                self.responses[event.stream_id]["trailers"] = [
                    (k.decode(), v.decode()) for k, v in event.headers]
            elif isinstance(event, h2.events.DataReceived):
                self.responses[event.stream_id]["body"].append(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length,
                                                    event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.responses[event.stream_id]["done"] = True
            elif isinstance(event, h2.events.StreamReset):
                self.responses[event.stream_id]["reset"] = event.error_code
                self.responses[event.stream_id]["done"] = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.terminated = event
        self.pump()

    def wait(self, *stream_ids: int) -> list[dict]:
        while not all(self.responses[s]["done"] for s in stream_ids):
            assert not self.closed and self.terminated is None, "the connection ended"
            self.receive_once()
        return [dict(self.responses[s], body=b"".join(self.responses[s]["body"]))
                for s in stream_ids]

    def get(self, path: str, **kwargs: Any) -> dict:
        return self.wait(self.request(path, **kwargs))[0]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def h2_clients() -> Iterator[Callable[..., H2Client]]:
    clients: list[H2Client] = []

    def make(*args: Any, **kwargs: Any) -> H2Client:
        clients.append(H2Client(*args, **kwargs))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture(params=["worker", "relay"])
def start_h2_proxy(request, start_proxy) -> Callable[..., Any]:
    """start_h2_proxy(**config): a regular-mode proxy whose HTTP/2 flows run on a worker
    thread per stream ("worker": every event asked, as with a script or interception) or
    on the connection thread ("relay": every event only told, as when mitmdump just prints
    flows). ``stream_threads`` collects the names of the stream threads alive at each
    "request" event."""
    def start(**config: Any) -> Any:
        proxy = start_proxy(**config)
        if request.param == "relay":
            proxy.master.set_event_policy({}, default="tell")
        proxy.path = request.param
        proxy.stream_threads = []
        proxy.master.on["request"] = lambda flow: proxy.stream_threads.extend(
            t.name for t in threading.enumerate() if t.name.startswith("Http2Stream"))
        return proxy
    return start


@pytest.fixture
def h2_proxy(start_h2_proxy) -> Any:
    return start_h2_proxy()


def check_path(proxy) -> None:
    """The flows ran where the proxy's policy says: on stream threads only if asked."""
    assert bool(proxy.stream_threads) == (proxy.path == "worker"), proxy.stream_threads


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-s", "-S", "--max-time", str(int(WAIT)), *args],
                          capture_output=True, timeout=WAIT * 2)


def http2_flows(proxy: Any, count: int = 1) -> list:
    return proxy.master.wait_for("response", count)


# --- curl through the proxy ---------------------------------------------------------------------

def test_curl_gets_the_body_over_http2_on_both_sides(h2_proxy, h2_origin, pki):
    result = curl("--http2", "-x", h2_proxy.url, "--cacert", pki.proxy_ca_cert,
                  "-w", "\n%{http_version}", f"{h2_origin.url}/echo?x=1")
    assert result.returncode == 0, result.stderr
    body, version = result.stdout.rsplit(b"\n", 1)
    assert version == b"2"
    echo = json.loads(body)
    assert echo[":path"] == "/echo?x=1" and echo[":authority"] == f"localhost:{h2_origin.port}"
    flow = http2_flows(h2_proxy)[0]
    assert flow.request.http_version == "HTTP/2.0" and flow.response.http_version == "HTTP/2.0"
    assert flow.request.url == f"https://localhost:{h2_origin.port}/echo?x=1"
    assert flow.request.headers["host"] == f"localhost:{h2_origin.port}"
    assert ":authority" not in flow.request.headers
    assert flow.response.status_code == 200 and flow.response.headers["x-origin"] == "h2"
    assert json.loads(flow.response.content)[":path"] == "/echo?x=1"
    assert flow.client_conn.alpn_proto_negotiated == b"h2"
    assert flow.server_conn.alpn_proto_negotiated == b"h2"
    check_path(h2_proxy)


def test_pathod_as_http2_origin(start_proxy, pki):
    """pathod picks h2 by ALPN: the crafted response reaches curl over HTTP/2."""
    from libpathod import test
    with test.Daemon(ssl=True) as daemon:
        proxy = start_proxy(upstream_trusted_ca=daemon.ca_cert)
        result = curl("--http2", "-x", proxy.url, "--cacert", pki.proxy_ca_cert, "-w",
                      "\n%{http_version} %{http_code}", daemon.p("203:h'X-Crafted'='yes':b@1000"))
        assert result.returncode == 0, result.stderr
        body, status = result.stdout.rsplit(b"\n", 1)
        assert (status, len(body)) == (b"2 203", 1000)
        assert daemon.expect_log(1)[0]["protocol"] == "http2"
        flow = http2_flows(proxy)[0]
        assert flow.response.headers["x-crafted"] == "yes"
        assert flow.response.http_version == "HTTP/2.0" and flow.response.reason == ""


# --- which protocol is negotiated ---------------------------------------------------------------

def test_no_http2_makes_both_sides_speak_http11(start_proxy, pki):
    """The same origin that speaks h2 to a proxy with HTTP/2 on gets http/1.1 without it."""
    from libpathod import test
    with test.Daemon(ssl=True) as daemon:
        proxy = start_proxy(upstream_trusted_ca=daemon.ca_cert, http2=False)
        result = curl("--http2", "-x", proxy.url, "--cacert", pki.proxy_ca_cert, "-w",
                      "%{http_version}", "-o", os.devnull, daemon.p("200"))
        assert (result.returncode, result.stdout) == (0, b"1.1"), result.stderr
        assert daemon.expect_log(1)[0]["protocol"] == "http"
        flow = http2_flows(proxy)[0]
        assert flow.client_conn.alpn_proto_negotiated == b"http/1.1"
        assert flow.server_conn.alpn_proto_negotiated == b"http/1.1"


def test_origin_without_http2_gives_the_client_http11(proxy, tls_origin, pki):
    result = curl("--http2", "-x", proxy.url, "--cacert", pki.proxy_ca_cert, "-w",
                  "\n%{http_version}", f"https://localhost:{tls_origin.port}/plain")
    assert result.returncode == 0, result.stderr
    assert result.stdout.rsplit(b"\n", 1)[1] == b"1.1"
    assert tls_origin.last()["version"] == "HTTP/1.1"


def test_no_upstream_cert_keeps_both_sides_on_http11(start_proxy, h2_origin_both, pki):
    """Without sniffing, the client chooses before the server is asked: the server must
    then be offered only what the client got."""
    proxy = start_proxy(no_upstream_cert=True)
    result = curl("--http2", "-x", proxy.url, "--cacert", pki.proxy_ca_cert, "-w",
                  "\n%{http_version}", f"{h2_origin_both.url}/echo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.rsplit(b"\n", 1)[1] == b"1.1"
    assert http2_flows(proxy)[0].server_conn.alpn_proto_negotiated == b"http/1.1"


def test_next_layer_rule_for_h2():
    class Facts:
        ignored = tcp_host = rawtcp = client_tls = False
        mode = "regular"

        def __init__(self, stage: str, alpn: bytes | None) -> None:
            self.stage, self.client_alpn = stage, alpn

    assert next_layer.decide(Facts("tls", b"h2")) is next_layer.LayerKind.HTTP2
    assert next_layer.decide(Facts("tls", b"http/1.1")) is next_layer.LayerKind.HTTP1
    assert next_layer.decide(Facts("tls", None)) is next_layer.LayerKind.HTTP1


# --- streams -------------------------------------------------------------------------------------

def test_concurrent_streams_on_one_connection_are_one_flow_each(h2_proxy, h2_origin, pki,
                                                                h2_clients):
    """/gather/10 answers only once all ten are open at the origin: they must be relayed
    concurrently, not one after the other."""
    client = h2_clients(h2_proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    ids = [client.request("/gather/10") for _ in range(10)]
    responses = client.wait(*ids)
    assert [r["status"] for r in responses] == [200] * 10
    assert len({json.loads(r["body"])["stream"] for r in responses}) == 10
    flows = http2_flows(h2_proxy, 10)
    assert len(flows) == 10 and len({id(f) for f in flows}) == 10
    assert all(f.request.path == "/gather/10" and f.response.status_code == 200 for f in flows)
    assert h2_origin.connections == 1
    # Each stream ran the hooks of one flow (the CONNECT before them is a flow too).
    requests = [f for f in h2_proxy.master.objects("request") if f.request.method == "GET"]
    assert len(requests) == 10 and len(h2_proxy.master.objects("responseheaders")) == 10
    check_path(h2_proxy)


def test_large_bodies_both_ways_beyond_the_default_window(h2_proxy, h2_origin, pki, h2_clients):
    client = h2_clients(h2_proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    upload = os.urandom(5 * MB)
    up = client.request("/echo/upload", method="POST", body=upload)
    down = client.request(f"/big/{6 * MB}")
    up_response, down_response = client.wait(up, down)
    echo = json.loads(up_response["body"])
    assert echo["body_length"] == len(upload)
    assert echo["body_sha256"] == hashlib.sha256(upload).hexdigest()
    assert down_response["body"] == bytes(range(256)) * (6 * MB // 256)
    flows = {f.request.path: f for f in http2_flows(h2_proxy, 2)}
    assert flows["/echo/upload"].request.content == upload
    assert len(flows[f"/big/{6 * MB}"].response.content) == 6 * MB
    check_path(h2_proxy)


def test_hooks_change_the_request_and_the_response(proxy, h2_origin, pki, h2_clients):
    def request(flow):
        if flow.request.method == "CONNECT":
            return
        flow.request.headers["x-added"] = "by hook"
        flow.request.path = flow.request.path + "?changed=1"

    def response(flow):
        flow.response.headers["x-seen"] = "yes"
        flow.response.content = b"replaced body, longer than the original one" * 10

    proxy.master.on["request"] = request
    proxy.master.on["response"] = response
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    r = client.get("/echo", headers=[("cookie", "a=1"), ("cookie", "b=2")])
    assert r["body"] == b"replaced body, longer than the original one" * 10
    headers = dict(r["headers"])
    assert headers["x-seen"] == "yes" and headers["content-length"] == str(len(r["body"]))
    seen = h2_origin.requests[-1]
    assert seen[":path"] == "/echo?changed=1"
    assert ("x-added", "by hook") in seen["headers"]
    flow = http2_flows(proxy)[0]
    assert flow.request.cookies["a"] == "1" and flow.request.cookies["b"] == "2"


def test_a_hook_answering_needs_no_server_stream(proxy, h2_origin, pki, h2_clients):
    from libmproxy.models import HTTPResponse

    def request(flow):
        if flow.request.http_version == "HTTP/2.0":
            flow.response = HTTPResponse(b"HTTP/1.1", 418, "I'm a teapot",
                                         [(b"Connection", b"close")], b"short and stout")
    proxy.master.on["request"] = request
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    r = client.get("/never-sent")
    assert (r["status"], r["body"]) == (418, b"short and stout")
    assert "connection" not in dict(r["headers"])
    assert h2_origin.requests == []


def test_an_intercepted_stream_does_not_block_the_others(proxy, h2_origin, pki, h2_clients):
    held = []
    taken = threading.Event()

    def request(flow):
        if flow.request.path == "/echo/held":
            flow.reply.take()
            held.append(flow)
            taken.set()
    proxy.master.on["request"] = request
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    held_id = client.request("/echo/held")
    assert taken.wait(WAIT)
    free = client.get("/echo/free")
    assert json.loads(free["body"])[":path"] == "/echo/free"
    assert not client.responses[held_id]["done"]
    held[0].reply.ack()
    assert json.loads(client.wait(held_id)[0]["body"])[":path"] == "/echo/held"


def test_a_killed_flow_resets_only_its_stream(proxy, h2_origin, pki, h2_clients):
    proxy.master.on["request"] = lambda f: f.reply.kill() if f.request.path == "/kill" else None
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    killed = client.wait(client.request("/kill"))[0]
    assert killed["reset"] == ErrorCodes.CANCEL
    assert client.get("/echo/after")["status"] == 200
    assert [r[":path"] for r in h2_origin.requests] == ["/echo/after"]


def test_client_reset_cancels_the_server_stream(h2_proxy, h2_origin, pki, h2_clients):
    client = h2_clients(h2_proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    stream_id = client.request("/hold")
    h2_origin.wait_for(lambda: any(r[":path"] == "/hold" for r in h2_origin.requests))
    client.reset(stream_id)
    h2_origin.wait_for(lambda: h2_origin.resets == [("/hold", ErrorCodes.CANCEL)])
    flow = h2_proxy.master.wait_for("error")[0]
    assert flow.request.path == "/hold"
    assert "client reset the stream (CANCEL)" in flow.error.msg
    # The connection goes on.
    assert client.get("/echo/next")["status"] == 200
    check_path(h2_proxy)


def test_server_reset_resets_the_client_stream(h2_proxy, h2_origin, pki, h2_clients):
    client = h2_clients(h2_proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    reset = client.wait(client.request("/reset"))[0]
    assert reset["reset"] == ErrorCodes.INTERNAL_ERROR and "status" not in reset
    flow = h2_proxy.master.wait_for("error")[0]
    assert "server reset the stream (INTERNAL_ERROR)" in flow.error.msg
    assert client.get("/echo/next")["status"] == 200


def test_server_goaway_ends_the_connection_cleanly(h2_proxy, h2_origin, pki, h2_clients):
    client = h2_clients(h2_proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    r = client.get("/goaway")
    assert r["status"] == 200 and json.loads(r["body"])[":path"] == "/goaway"
    while client.terminated is None and not client.closed:
        client.receive_once()
    assert client.terminated is not None
    assert client.terminated.error_code == ErrorCodes.NO_ERROR
    while not client.closed:
        client.receive_once()
    h2_proxy.master.wait_for("clientdisconnect")
    assert h2_proxy.master.objects("error") == []
    assert not [m for m in h2_proxy.master.logs() if "Error in the proxy" in m]


def test_server_goaway_refuses_what_it_did_not_process(h2_proxy, h2_origin, pki, h2_clients):
    """The origin processed /hold (held) but not /refuse: the client may retry /refuse
    (REFUSED_STREAM); /hold ends with the error, as a 502."""
    client = h2_clients(h2_proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    held = client.request("/hold")
    h2_origin.wait_for(lambda: len(h2_origin.requests) == 1)
    refused = client.request("/refuse")
    held_response, refused_response = client.wait(held, refused)
    assert refused_response["reset"] == ErrorCodes.REFUSED_STREAM
    assert held_response["status"] == 502 and b"GOAWAY" in held_response["body"]
    errors = {f.request.path: f.error.msg for f in h2_proxy.master.wait_for("error", 2)}
    assert "before the response was complete" in errors["/hold"]
    assert "did not process the request" in errors["/refuse"]
    while client.terminated is None and not client.closed:
        client.receive_once()
    assert client.terminated is not None and client.terminated.error_code == 0


def test_an_intercepted_stream_is_released_at_shutdown(start_proxy, h2_origin, pki,
                                                       h2_clients):
    proxy = start_proxy()
    taken = threading.Event()

    def request(flow):
        if flow.request.path == "/echo/held":
            flow.reply.take()
            taken.set()
    proxy.master.on["request"] = request
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    client.request("/echo/held")
    assert taken.wait(WAIT)
    proxy.shutdown()  # the worker waiting for the master gets Kill; no thread is left
    while not client.closed:
        client.receive_once()


def test_server_push_is_refused(h2_proxy, h2_origin, pki, h2_clients):
    client = h2_clients(h2_proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    client.get("/echo")
    h2_origin.wait_for(lambda: h2_origin.client_settings)
    assert h2_origin.client_settings[0][h2.settings.SettingCodes.ENABLE_PUSH] == 0


def test_a_stream_cannot_be_redirected_to_another_server(proxy, h2_origin, pki, h2_clients):
    def request(flow):
        if flow.request.http_version == "HTTP/2.0":
            flow.request.port = 1
    proxy.master.on["request"] = request
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    r = client.get("/echo")
    assert r["status"] == 502
    assert b"cannot be sent to another server" in r["body"]
    assert "cannot be sent to another server" in proxy.master.wait_for("error")[0].error.msg


def test_body_size_limit_refuses_large_bodies(start_h2_proxy, h2_origin, pki, h2_clients):
    proxy = start_h2_proxy(body_size_limit=100_000)
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    r = client.get(f"/big/{MB}")
    assert r["status"] == 502 and b"larger than the limit" in r["body"]
    r = client.get("/echo/upload", method="POST", body=b"x" * 200_000)
    assert r["status"] == 413 and b"larger than the limit" in r["body"]
    assert [x[":path"] for x in h2_origin.requests] == [f"/big/{MB}"]
    assert client.get("/echo/small", method="POST", body=b"x" * 1000)["status"] == 200


def test_expect_100_continue_gets_an_interim_response(proxy, h2_origin, pki, h2_clients):
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    r = client.get("/echo/continue", method="POST", body=b"data",
                   headers=[("expect", "100-continue")])
    assert r["informational"] == [100] and r["status"] == 200
    seen = json.loads(r["body"])
    assert seen["body_length"] == 4 and "expect" not in dict(seen["headers"])


# --- which streams the connection thread relays itself ------------------------------------------

def test_can_relay_only_flows_no_hook_can_hold():
    from types import SimpleNamespace
    from libmproxy.controller.channel import EventPolicy
    from libmproxy.protocol.http2_streams import can_relay
    get = [(b":method", b"GET"), (b":path", b"/")]
    no_apps = SimpleNamespace(apps=[])
    assert can_relay(no_apps, EventPolicy(default="tell"), 443, get)
    assert can_relay(no_apps, EventPolicy({"request": "tell"}, default="skip"), 443, get)
    assert not can_relay(no_apps, EventPolicy({"response": "ask"}, default="tell"), 443, get)
    assert not can_relay(no_apps, EventPolicy(default="ask"), 443, get)
    assert not can_relay(SimpleNamespace(apps=[("mitm.it", 443)]), EventPolicy(default="tell"),
                         443, get)
    assert not can_relay(no_apps, EventPolicy(default="tell"), 443,
                         [*get, (b"expect", b"100-continue")])
    assert not can_relay(no_apps, EventPolicy(default="tell"), 443,
                         [(b":method", b"CONNECT"), (b":authority", b"example.com:443")])


# --- header conversion, without sockets ---------------------------------------------------------

def test_request_from_and_to_h2_fields():
    request = http2_messages.request_from_h2([
        (b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"example.com:8443"),
        (b":path", b"/a?b=c"), (b"content-length", b"3"), (b"te", b"trailers")], 1.0)
    assert (request.method, request.path, request.http_version) == ("POST", "/a?b=c",
                                                                     "HTTP/2.0")
    assert request.headers.fields[0] == (b"host", b"example.com:8443")
    request.headers["Connection"] = "keep-alive"
    request.headers["Proxy-Authorization"] = "Basic eA=="
    fields = http2_messages.request_to_h2(request, b"four", ["Proxy-Authorization"])
    assert fields[:4] == [(b":method", b"POST"), (b":scheme", b"https"),
                          (b":authority", b"example.com:8443"), (b":path", b"/a?b=c")]
    assert fields[4:] == [(b"content-length", b"4"), (b"te", b"trailers")]


def test_response_to_h2_drops_connection_headers_and_a_stale_length():
    from libmproxy.models import make_error_response
    response = make_error_response(502, "bad gateway")
    fields = dict(http2_messages.response_to_h2(response, response.content, False))
    assert fields[b":status"] == b"502" and b"connection" not in fields
    assert fields[b"content-length"] == b"%d" % len(response.content)
    assert b"content-length" not in dict(http2_messages.response_to_h2(response, None, True))


# --- the real mitmdump -------------------------------------------------------------------------

H2SCRIPT = """\
def request(flow):
    flow.request.headers["x-script"] = flow.request.http_version


def response(flow):
    flow.response.content = flow.response.content.upper()
"""


def test_mitmdump_reverse_mode_shows_http2_flows_and_runs_scripts(mitmdump, h2_origin, pki,
                                                                  tmp_path):
    script = tmp_path / "h2script.py"
    script.write_text(H2SCRIPT)
    m = mitmdump("-R", h2_origin.url, "--upstream-trusted-ca", pki.bundle,
                 "-s", str(script)).started()
    result = curl("--http2", "--cacert", pki.proxy_ca_cert, "-w", "\n%{http_version}",
                  f"https://localhost:{m.port}/echo")
    assert result.returncode == 0, result.stderr
    body, version = result.stdout.rsplit(b"\n", 1)
    assert version == b"2"
    assert json.loads(body)[":PATH"] == "/ECHO"
    assert ["X-SCRIPT", "HTTP/2.0"] in json.loads(body)["HEADERS"]
    line = m.wait_for(" GET ")
    assert line == f"127.0.0.1 GET {h2_origin.url}/echo HTTP/2.0\n"
    assert m.wait_for(" << ").startswith(" << 200 ")
    rc, _ = m.stop()
    assert rc == 0 and m.err == ""


def test_mitmdump_saves_relayed_http2_flows(mitmdump, h2_origin, pki, tmp_path):
    """Printing and saving flows only observes them: the streams are relayed on the
    connection thread, and the flows printed and saved are complete."""
    from libmproxy.flow import FlowReader
    path = tmp_path / "flows"
    m = mitmdump("-R", h2_origin.url, "--upstream-trusted-ca", pki.bundle,
                 "-w", str(path)).started()
    result = curl("--http2", "--cacert", pki.proxy_ca_cert, "--data-binary", "payload",
                  f"https://localhost:{m.port}/echo/saved")
    assert result.returncode == 0, result.stderr
    assert m.wait_for(" POST ") == f"127.0.0.1 POST {h2_origin.url}/echo/saved HTTP/2.0\n"
    m.wait_for(" << 200 ")
    rc, _ = m.stop()
    assert rc == 0 and m.err == ""
    with open(path, "rb") as f:
        [flow] = list(FlowReader(f).stream())
    assert flow.request.http_version == "HTTP/2.0" and flow.request.content == b"payload"
    assert flow.response.content == result.stdout


def test_h2load_many_streams_through_mitmdump(mitmdump, h2_origin, pki, free_port):
    h2load = shutil.which("h2load")
    assert h2load, "h2load is missing: install nghttp2-client (.ci/run does)"
    m = mitmdump("-q", "-R", h2_origin.url, "--upstream-trusted-ca", pki.bundle,
                 port=free_port)
    m.wait_ready_silently()
    result = subprocess.run([h2load, "-n", "100", "-c", "1", "-m", "10",
                             f"https://localhost:{m.port}/echo"],
                            capture_output=True, text=True, timeout=WAIT * 3)
    assert "requests: 100 total, 100 started, 100 done, 100 succeeded" in result.stdout, \
        result.stdout + result.stderr
    assert "Application protocol: h2" in result.stdout
    assert len(h2_origin.requests) == 100 and h2_origin.connections == 1
    rc, _ = m.stop()
    assert rc == 0 and m.err == ""



# --- trailers ------------------------------------------------------------------------------------

def test_response_trailers_reach_the_client(h2_proxy, h2_origin, pki, h2_clients):
    """gRPC's status comes after the body: the client gets it, the flow holds it."""
    client = h2_clients(h2_proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    with_trailers, without = client.wait(client.request("/trailers"), client.request("/echo"))
    assert with_trailers["trailers"] == [("grpc-status", "0"), ("grpc-message", "all good")]
    assert json.loads(with_trailers["body"])[":path"] == "/trailers"
    assert without["trailers"] is None and without["done"]
    flows = {f.request.path: f for f in http2_flows(h2_proxy, 2)}
    trailers = flows["/trailers"].response.trailers
    assert trailers.fields == ((b"grpc-status", b"0"), (b"grpc-message", b"all good"))
    assert "grpc-status" not in flows["/trailers"].response.headers
    assert flows["/echo"].response.trailers is None
    check_path(h2_proxy)


def test_request_trailers_reach_the_origin(h2_proxy, h2_origin, pki, h2_clients):
    """With a body and without one (HEADERS, then the trailers' HEADERS)."""
    client = h2_clients(h2_proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    upload = os.urandom(200_000)
    ids = [client.request("/echo/up", method="POST", body=upload,
                          trailers=[("x-checksum", "abc")]),
           client.request("/echo/none", method="POST", trailers=[("x-only", "trailer")])]
    up, bodyless = (json.loads(r["body"]) for r in client.wait(*ids))
    assert up["trailers"] == [["x-checksum", "abc"]]
    assert up["body_sha256"] == hashlib.sha256(upload).hexdigest()
    assert bodyless["trailers"] == [["x-only", "trailer"]] and bodyless["body_length"] == 0
    flows = {f.request.path: f for f in http2_flows(h2_proxy, 2)}
    assert flows["/echo/up"].request.trailers["x-checksum"] == "abc"
    assert flows["/echo/up"].request.content == upload
    assert flows["/echo/none"].request.trailers["x-only"] == "trailer"
    check_path(h2_proxy)


def test_hooks_change_the_trailers(proxy, h2_origin, pki, h2_clients):
    """What the hooks leave in ``.trailers`` is what goes out: changed, added to a
    message that had none, or removed."""
    from netlib.http import Headers

    def request(flow):
        if flow.request.trailers is not None:
            flow.request.trailers["x-checksum"] = "changed"

    def response(flow):
        path = flow.request.path
        if path == "/trailers":
            flow.response.trailers["grpc-status"] = "13"
        elif path == "/echo/added":
            flow.response.trailers = Headers([(b"X-Added", b"by hook")])
        elif path == "/trailers/removed":
            flow.response.trailers = None
    proxy.master.on["request"] = request
    proxy.master.on["response"] = response
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    ids = [client.request("/trailers", method="POST", body=b"x",
                          trailers=[("x-checksum", "abc")]),
           client.request("/echo/added"), client.request("/trailers/removed")]
    changed, added, removed = client.wait(*ids)
    assert changed["trailers"] == [("grpc-status", "13"), ("grpc-message", "all good")]
    assert json.loads(changed["body"])["trailers"] == [["x-checksum", "changed"]]
    assert added["trailers"] == [("x-added", "by hook")]
    assert removed["trailers"] is None and removed["done"] and "reset" not in removed


def test_a_streamed_response_keeps_its_trailers(proxy, h2_origin, pki, h2_clients):
    def responseheaders(flow):
        flow.response.stream = True
    proxy.master.on["responseheaders"] = responseheaders
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    r = client.get("/trailers")
    assert r["trailers"] == [("grpc-status", "0"), ("grpc-message", "all good")]
    assert http2_flows(proxy)[0].response.trailers["grpc-status"] == "0"


def test_http1_trailers_go_out_as_http2_trailers(proxy, h2_origin, pki, h2_clients):
    """A hook answers with a response read from HTTP/1.1 bytes (chunked, with a trailer
    section, as a recorded HTTP/1 response has them): the HTTP/2 client gets the trailers
    as a trailer block, without the fields only an HTTP/1 head may carry."""
    from netlib.http import http1
    from netlib.tcp.buffered import Reader
    from libmproxy.models import HTTPResponse
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
           b"5\r\nhello\r\n0\r\nGrpc-Status: 0\r\nConnection: close\r\n\r\n")

    def request(flow):
        if flow.request.http_version == "HTTP/2.0":
            flow.response = HTTPResponse.wrap(http1.read_response(Reader.from_bytes(raw),
                                                                  flow.request))
    proxy.master.on["request"] = request
    client = h2_clients(proxy.port, f"localhost:{h2_origin.port}", pki.proxy_ca_cert)
    r = client.get("/never-sent")
    assert (r["status"], r["body"], r["trailers"]) == (200, b"hello", [("grpc-status", "0")])
    assert h2_origin.requests == []


def test_trailers_to_h2_leaves_out_what_a_trailer_block_may_not_carry():
    from netlib.http import Headers
    trailers = Headers([(b"Grpc-Status", b"0"), (b"Content-Length", b"5"),
                        (b"Transfer-Encoding", b"chunked"), (b"Host", b"a"),
                        (b"Connection", b"close"), (b"Expires", b"x")])
    assert http2_messages.trailers_to_h2(trailers) == [(b"grpc-status", b"0"),
                                                       (b"expires", b"x")]
    assert http2_messages.trailers_to_h2(None) is None
    assert http2_messages.trailers_to_h2(Headers()) is None
    assert http2_messages.trailers_to_h2(Headers([(b"Connection", b"close")])) is None
    assert http2_messages.trailers_from_h2([(b"grpc-status", b"0")]).fields == (
        (b"grpc-status", b"0"),)


TRAILER_SCRIPT = """\
def response(flow):
    if flow.response.trailers is not None:
        flow.response.trailers["x-script"] = "saw " + flow.response.trailers["grpc-status"]
"""


def nghttp(*args: str) -> str:
    """nghttp's verbose output: every frame, the trailer block's fields among them."""
    nghttp = shutil.which("nghttp")
    assert nghttp, "nghttp is missing: install nghttp2-client (.ci/run does)"
    result = subprocess.run([nghttp, "-v", *args], capture_output=True, text=True,
                            timeout=WAIT * 2)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def received_trailers(output: str) -> list[str]:
    """The fields of the second header block nghttp received (the trailers): it prints a
    block's fields, then the HEADERS frame that carried them."""
    blocks, fields = [], []
    for line in output.splitlines():
        if "] recv (stream_id=" in line:
            fields.append(line.split(") ", 1)[1])
        elif "] recv HEADERS frame" in line:
            blocks.append(fields)
            fields = []
    assert len(blocks) == 2, output
    return blocks[1]


def test_mitmdump_relays_trailers_both_ways_through_a_script(mitmdump, h2_origin, pki,
                                                             tmp_path):
    """A real HTTP/2 client (nghttp) sends request trailers and is shown the response's,
    through mitmdump with a ``response`` script that adds one."""
    script = tmp_path / "trailers.py"
    script.write_text(TRAILER_SCRIPT)
    upload = tmp_path / "upload"
    upload.write_bytes(b"payload")
    m = mitmdump("-R", h2_origin.url, "--upstream-trusted-ca", pki.bundle,
                 "-s", str(script)).started()
    output = nghttp("-d", str(upload), "--trailer", "x-request-trailer: sent",
                    f"https://localhost:{m.port}/trailers")
    assert received_trailers(output) == ["grpc-status: 0", "grpc-message: all good",
                                         "x-script: saw 0"]
    h2_origin.wait_for(lambda: h2_origin.requests)
    assert h2_origin.requests[0]["trailers"] == [("x-request-trailer", "sent")]
    m.wait_for(" << 200 ")
    rc, _ = m.stop()
    assert rc == 0 and m.err == ""


def test_mitmdump_relays_and_saves_trailers_without_hooks(mitmdump, h2_origin, pki, tmp_path):
    """No hook asks: the connection thread relays the stream, trailers included, and the
    saved flow keeps them."""
    from libmproxy.flow import FlowReader
    path = tmp_path / "flows"
    upload = tmp_path / "upload"
    upload.write_bytes(b"payload")
    m = mitmdump("-R", h2_origin.url, "--upstream-trusted-ca", pki.bundle,
                 "-w", str(path)).started()
    output = nghttp("-d", str(upload), "--trailer", "x-request-trailer: sent",
                    f"https://localhost:{m.port}/trailers")
    assert received_trailers(output) == ["grpc-status: 0", "grpc-message: all good"]
    h2_origin.wait_for(lambda: h2_origin.requests)
    assert h2_origin.requests[0]["trailers"] == [("x-request-trailer", "sent")]
    m.wait_for(" << 200 ")
    rc, _ = m.stop()
    assert rc == 0 and m.err == ""
    with open(path, "rb") as f:
        [flow] = list(FlowReader(f).stream())
    assert flow.request.trailers.fields == ((b"x-request-trailer", b"sent"),)
    assert flow.response.trailers["grpc-message"] == "all good"

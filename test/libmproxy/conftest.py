"""Shared fixtures for libmproxy's end-to-end tests: real proxies, real origins, real TLS.

- ``pki``: two certificate authorities made once per session: the proxy's (its cadir,
  ``pki.proxy_ca_cert`` for clients to trust) and an "origin CA" that signed the origin
  servers' certificate (CN origin.test, SANs origin.test, alt.origin.test, localhost,
  127.0.0.1). ``pki.bundle`` trusts both, for chains of proxies.
- ``origin`` / ``tls_origin``: an HTTP(S) server on 127.0.0.1 in threads, answering with
  a JSON echo of the request (see ``OriginHandler`` for the special paths) and recording
  what it saw: requests, SNI, how many connections were opened.
- ``start_proxy(**config)``: a ProxyServer with a ``RecordingMaster`` running on its own
  thread; shut down at teardown.
- ``no_thread_leaks``: fails a test that leaves a thread behind (the proxy and protocol
  tests use it automatically).

Nothing here sleeps: waits are on events and conditions, bounded by ``WAIT``.
"""
from __future__ import annotations

import http.server
import itertools
import json
import os
import queue
import socket
import ssl
import subprocess
import threading
from typing import Any, Callable, Iterator

import pytest

from netlib import certutils
from netlib.tcp import keylog

from libmproxy import controller
from libmproxy.proxy import ProxyConfig, ProxyServer

# How long a test waits for something that should happen promptly. Generous because the
# machine is shared; reaching it means the thing never happened.
WAIT = 10.0

# The events the recording master handles.
EVENTS = (
    "clientconnect", "clientdisconnect", "serverconnect", "serverdisconnect", "request",
    "responseheaders", "response", "error", "log", "tcp_message", "tcp_error",
)

ORIGIN_CN = "origin.test"
ORIGIN_SANS = ["origin.test", "alt.origin.test", "localhost", "127.0.0.1"]


# --- threads ---------------------------------------------------------------------------------


# --- certificates ------------------------------------------------------------------------------

class PKI:
    def __init__(self, root: str) -> None:
        self.proxy_cadir = os.path.join(root, "proxy-ca")
        self.proxy_store = certutils.CertStore.from_store(self.proxy_cadir, "mitmproxy")
        self.proxy_ca_cert = self.proxy_store.ca_cert_path
        origin_store = certutils.CertStore.from_store(os.path.join(root, "origin-ca"), "origin")
        self.origin_ca_cert = origin_store.ca_cert_path
        entry = origin_store.get_cert(ORIGIN_CN, ORIGIN_SANS)
        self.origin_cert_file = os.path.join(root, "origin-cert.pem")
        with open(self.origin_cert_file, "wb") as f:
            f.write(_key_pem(entry.privatekey) + entry.cert.to_pem())
        self.bundle = os.path.join(root, "bundle.pem")
        with open(self.bundle, "wb") as f:
            for path in (self.origin_ca_cert, self.proxy_ca_cert):
                with open(path, "rb") as ca:
                    f.write(ca.read())

    def client_context(self, cafile: str | None = None) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=cafile or self.proxy_ca_cert)


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> PKI:
    return PKI(str(tmp_path_factory.mktemp("pki")))


# --- origin servers ------------------------------------------------------------------------------

class OriginHandler(http.server.BaseHTTPRequestHandler):
    """Answers every method with a JSON echo of the request, except:

    /close      body without a length, then the connection closes (read until close)
    /chunked    a chunked body of three chunks
    /big/N      N bytes of "x"
    /status/N   an empty response with status N
    /hangup     closes the connection without answering
    /drop       answers (with a length, no "Connection: close"), then closes
    """

    protocol_version = "HTTP/1.1"
    timeout = WAIT

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.register(self.connection)

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append({
            "method": self.command, "path": self.path, "body": body,
            "headers": [(k, v) for k, v in self.headers.items()],
            "connection": self.connection_id, "version": self.request_version,
            "peercert": getattr(self.connection, "getpeercert", lambda: None)(),
        })
        if self.path == "/hangup":
            self.close_connection = True
            return
        if self.path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until close")
            self.close_connection = True
            return
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"one", b"two", b"three"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/status/"):
            self.send_response(int(self.path.split("/")[2]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/big/"):
            content = b"x" * int(self.path.split("/")[2])
        else:
            content = json.dumps({
                "method": self.command, "path": self.path, "body_length": len(body),
                "headers": dict(self.headers.items()),
            }).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
        if self.path == "/drop":
            self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET


class Origin(http.server.ThreadingHTTPServer):
    """A threaded origin on 127.0.0.1; TLS with ``context``. ``close`` shuts down every
    open connection and joins every thread."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), OriginHandler)
        self.context = context
        self.port = self.server_address[1]
        self.requests: list[dict] = []
        self.snis: list[str | None] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.connections = 0
        if context is not None:
            context.sni_callback = lambda sock, name, ctx: self.snis.append(name)
        self._thread = threading.Thread(target=self.serve_forever, name=f"origin {self.port}")
        self._thread.start()

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        if self.context is None:
            super().finish_request(request, client_address)
            return
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            # wrap_socket detached ``request``: socketserver's own shutdown_request(request)
            # would close nothing, and the TLS socket (still registered) would stay open,
            # so a client would never see a TLS origin close a connection.
            self.shutdown_request(tls)

    def register(self, sock: socket.socket) -> int:
        with self._lock:
            self._open.add(sock)
            self.connections += 1
            return next(self._ids)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-request is normal here

    def close(self) -> None:
        self.shutdown()
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.server_close()
        self._thread.join(WAIT)

    @property
    def url(self) -> str:
        return f"{'https' if self.context else 'http'}://127.0.0.1:{self.port}"

    def last(self) -> dict:
        return self.requests[-1]


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin()
    yield server
    server.close()


@pytest.fixture
def make_origin() -> Iterator[Callable[[ssl.SSLContext | None], Origin]]:
    """make_origin(context) -> an Origin with a TLS context of the test's own."""
    servers: list[Origin] = []

    def make(context: ssl.SSLContext | None = None) -> Origin:
        servers.append(Origin(context))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def tls_origin(pki: PKI) -> Iterator[Origin]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.origin_cert_file)
    context.set_alpn_protocols(["http/1.1"])
    server = Origin(context)
    yield server
    server.close()


# --- the proxy ----------------------------------------------------------------------------------

class RecordingMaster(controller.Master):
    """Records (event, object) in order. ``on[event] = f`` runs ``f(obj)`` inside the
    handler, on the master's thread, as a hook would."""

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.events: list[tuple[str, Any]] = []
        self.on: dict[str, Callable[[Any], None]] = {}
        self._changed = threading.Condition()

    def _record(self, name: str, obj: Any) -> None:
        action = self.on.get(name)
        if action is not None:
            action(obj)
        with self._changed:
            self.events.append((name, obj))
            self._changed.notify_all()

    def names(self, include_log: bool = False) -> list[str]:
        return [n for n, _ in self.events if include_log or n != "log"]

    def objects(self, name: str) -> list[Any]:
        return [o for n, o in self.events if n == name]

    def logs(self) -> list[str]:
        return [o.msg for o in self.objects("log")]

    def wait_for(self, name: str, count: int = 1) -> list[Any]:
        """Block until ``count`` events called ``name`` were handled."""
        with self._changed:
            ok = self._changed.wait_for(lambda: len(self.objects(name)) >= count, WAIT)
        assert ok, f"no {count} {name!r} events; seen: {self.names(True)}"
        return self.objects(name)


def _make_handler(name: str) -> Callable[[RecordingMaster, Any], None]:
    def handle(self: RecordingMaster, obj: Any) -> None:
        self._record(name, obj)
    handle.__name__ = name
    return controller.handler(handle)


for _event in EVENTS:
    setattr(RecordingMaster, _event, _make_handler(_event))


class ProxyHandle:
    """A running proxy: ``port``, ``url``, ``master`` (a RecordingMaster), ``config``."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.server = ProxyServer(config)
        self.master = RecordingMaster(self.server)
        self.port = self.server.address.port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.master.run, name=f"master {self.port}")
        self._thread.start()

    def shutdown(self) -> None:
        self.master.shutdown()
        self._thread.join(WAIT)

    def curl(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        """curl through this proxy; -s, and a time limit so a hang fails the test."""
        return run_curl("-x", self.url, *args, check=check)


def run_curl(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-s", "-S", "--max-time", str(int(WAIT)), *args],
                          capture_output=True, timeout=WAIT * 2, check=check)


@pytest.fixture
def start_proxy(pki: PKI) -> Iterator[Callable[..., ProxyHandle]]:
    """start_proxy(**ProxyConfig fields) -> ProxyHandle. By default the proxy listens on
    127.0.0.1:0, uses the session's proxy CA and trusts the origin CA upstream."""
    handles: list[ProxyHandle] = []

    def start(**kwargs: Any) -> ProxyHandle:
        kwargs.setdefault("host", "127.0.0.1")
        kwargs.setdefault("port", 0)
        kwargs.setdefault("cadir", pki.proxy_cadir)
        kwargs.setdefault("upstream_trusted_ca", pki.bundle)
        kwargs.setdefault("timeout", WAIT)
        handle = ProxyHandle(ProxyConfig(**kwargs))
        handles.append(handle)
        return handle

    yield start
    for handle in reversed(handles):
        handle.shutdown()
    keylog.close_all()


@pytest.fixture
def proxy(start_proxy: Callable[..., ProxyHandle]) -> ProxyHandle:
    """A regular-mode proxy."""
    return start_proxy()


@pytest.fixture
def outcomes() -> queue.Queue:
    """A queue for results handed from helper threads to the test."""
    return queue.Queue()


@pytest.fixture
def curl() -> Callable[..., subprocess.CompletedProcess]:
    """curl without a proxy (for reverse mode): curl(*args)."""
    return run_curl

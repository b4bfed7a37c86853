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
- ``mitmdump(*args)``: the real ``python -m libmproxy.main`` as a subprocess (a ``Mitmdump``:
  wait for its lines, talk through it with curl or requests, stop it with a signal);
  ``mitmdump_once(*args)``: one that ends by itself (refused flags, ``-n -c``); both use
  ``mitmdump_cadir``. ``free_port``: a loopback port nobody listens on.

Nothing here sleeps: waits are on events and conditions, bounded by ``WAIT``.
"""
from __future__ import annotations

import http.server
import itertools
import json
import os
import queue
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Iterator

import pytest
import requests

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


# --- mitmdump as a subprocess ------------------------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# How long a test waits on a mitmdump subprocess (to start, to print a line, to end). Longer
# than WAIT: each one starts an interpreter on a shared machine.
MITMDUMP_WAIT = 20.0

LISTENING = "Proxy server listening at "


def mitmdump_argv(cadir: str, args: tuple[str, ...], port: int | None) -> list[str]:
    """``python -m libmproxy.main args`` with the CA in ``cadir``, listening on
    127.0.0.1:``port``, or where ``args`` or the config files say if ``port`` is None."""
    address = [] if port is None else ["-b", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "libmproxy.main", *address, "--cadir", cadir, *args]


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has installed a handler for ``signum`` (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False  # pragma: no cover


class Mitmdump:
    """A mitmdump subprocess. A named thread reads its stdout line by line, so a test can
    wait for a line with a deadline instead of blocking on the pipe; every line read is kept
    in ``out``, and once it has ended its stderr is in ``err``.

    - ready: ``started()`` waits for the listening line and learns ``port`` and ``url`` from
      it; ``wait_ready_silently()`` is for runs that print nothing (``-q``, ``-n``).
    - ending: ``stop(signum)`` signals it as a user would; ``finish()`` waits for a run that
      ends by itself (``-n -c``). Both give (exit status, stdout).
    - clients: ``get``/``post`` (requests), ``curl`` (the CompletedProcess, for tests about
      failures) and ``fetch`` (what curl received, which must come).
    """

    def __init__(self, argv: list[str], port: int) -> None:
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.port = port
        self.out: list[str] = []
        self.err = ""
        self.returncode: int | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read,
                                        name=f"mitmdump {self.proc.pid} stdout reader")
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, text: str) -> str:
        """The first line from here on that contains ``text``."""
        deadline = time.monotonic() + MITMDUMP_WAIT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"mitmdump never printed {text!r}:\n"
                                     + "".join(self.out)) from None
            if line is None:
                self._lines.put(None)  # still the end for the next wait and for finish()
                self.err += self.proc.stderr.read()
                raise AssertionError(f"mitmdump ended without printing {text!r}:\n"
                                     + "".join(self.out) + self.err)
            self.out.append(line)
            if text in line:
                return line

    def started(self) -> Mitmdump:
        """Wait for the listening line and learn the port from it."""
        line = self.wait_for(LISTENING)
        self.port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
        return self

    def wait_ready_silently(self) -> Mitmdump:
        """For runs that print nothing (-q, -n): ready once the stop signals are caught,
        which happens after the server is bound."""
        for _ in range(int(MITMDUMP_WAIT / 0.02)):
            assert self.proc.poll() is None, self.proc.stderr.read()
            if catches(self.proc.pid, signal.SIGTERM):
                return self
            threading.Event().wait(0.02)  # polling for readiness, not for correctness
        raise AssertionError("mitmdump never became ready")  # pragma: no cover

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``signum`` unless it has ended already; the exit status and stdout."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.finish()

    def finish(self) -> tuple[int, str]:
        """Wait for the end; the exit status and everything printed to stdout."""
        if self.returncode is None:
            self.returncode = self.proc.wait(MITMDUMP_WAIT)
            self._reader.join(MITMDUMP_WAIT)
            while True:
                try:
                    line = self._lines.get_nowait()
                except queue.Empty:
                    break  # only if the reader is stuck: what was read is all there is
                if line is None:
                    break
                self.out.append(line)
            self.err += self.proc.stderr.read()
            self.proc.stdout.close()
            self.proc.stderr.close()
        return self.returncode, "".join(self.out)

    @property
    def proxies(self) -> dict[str, str]:
        return {"http": self.url, "https": self.url}

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        with requests.Session() as session:
            session.trust_env = False  # no proxy settings or netrc from the environment
            return session.get(url, proxies=self.proxies, timeout=MITMDUMP_WAIT, **kwargs)

    def post(self, url: str, data: bytes) -> requests.Response:
        with requests.Session() as session:
            session.trust_env = False
            return session.post(url, data=data, proxies=self.proxies, timeout=MITMDUMP_WAIT)

    def curl(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        """curl through this mitmdump, whatever the environment's no_proxy says."""
        return run_curl("--noproxy", "", "-x", self.url, *args, check=check)

    def fetch(self, *args: str) -> bytes:
        """What curl received through this mitmdump (the body; with -i the head too)."""
        result = self.curl(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="session")
def mitmdump_cadir(pki: PKI) -> str:
    """The CA directory of every mitmdump subprocess: the session's proxy CA, made before
    any of them runs (so none spends a key generation, or races another to make it), and
    the one clients trust as ``pki.proxy_ca_cert``."""
    return pki.proxy_cadir


@pytest.fixture
def mitmdump(mitmdump_cadir: str) -> Iterator[Callable[..., Mitmdump]]:
    """mitmdump(*args, port=0) -> a Mitmdump just launched (``started()`` waits for it),
    on 127.0.0.1:port, or where ``args`` or the config files say with port=None. None
    outlives the test."""
    launched: list[Mitmdump] = []

    def launch(*args: str, port: int | None = 0) -> Mitmdump:
        launched.append(Mitmdump(mitmdump_argv(mitmdump_cadir, args, port), port or 0))
        return launched[-1]

    yield launch
    for m in launched:
        if m.proc.poll() is None:
            m.proc.kill()
        m.finish()


@pytest.fixture
def mitmdump_once(mitmdump_cadir: str) -> Callable[..., subprocess.CompletedProcess]:
    """mitmdump_once(*args, port=0) -> the finished run (text) of a mitmdump that is
    expected to end by itself: refused flags or files, --help, -n -c ..."""
    def run(*args: str, port: int | None = 0) -> subprocess.CompletedProcess:
        return subprocess.run(mitmdump_argv(mitmdump_cadir, args, port), cwd=REPO,
                              capture_output=True, text=True, timeout=MITMDUMP_WAIT)
    return run


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 that nobody listened on a moment ago: for a server the test
    starts on a port it chose, or as an address where nothing answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

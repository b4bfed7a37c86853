"""Every example under examples/ (except examples/pathod, see test/test_examples.py) run as
a user runs it: inline scripts through the real mitmdump (``-s "examples/X.py args"``),
the stand-alone programs as subprocesses, with curl, requests or a raw socket as the
client and loopback origins, and assertions on what the client (or the origin, or the
file written) gets.

No test sleeps for correctness: waits are on mitmdump's output, on sockets or on events,
each with a deadline that is only reached when something is broken.
"""
from __future__ import annotations

import http.server
import io
import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from libmproxy.flow import FlowReader, FlowWriter
from libmproxy.models import ClientConnection, HTTPFlow, HTTPRequest, HTTPResponse, \
    ServerConnection

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

WAIT = 20.0  # seconds; reached only when something is broken
REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPO / "examples"
# The flow files of real releases live in shared/, beside the checkout (as test_flow_io.py
# finds them).
DUMPFILE_018 = REPO.parent / "shared" / "data" / "flows" / "dumpfile-018.mitm"


def example(name: str, *args: str) -> str:
    """The ``-s`` argument for examples/``name`` with ``args``, quoted as a shell would."""
    return " ".join(shlex.quote(a) for a in (str(EXAMPLES / name), *args))


def env_with_repo() -> dict[str, str]:
    """The environment for the stand-alone examples, with the packages importable even
    when the suite is not pip-installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


# === processes ================================================================================

class Process:
    """A subprocess whose stdout is read line by line by a thread, so a test can wait for
    a line without blocking on the pipe."""

    def __init__(self, name: str, argv: list[str], **kwargs: Any) -> None:
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, **kwargs)
        self.lines: queue.Queue = queue.Queue()
        self.out: list[str] = []
        self.err = ""
        self.port = 0
        self._reader = threading.Thread(target=self._read, name=f"stdout of {name}")
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str) -> str:
        """The first line from here on that contains ``text``."""
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"never printed {text!r}: {self.out}") from None
            if line is None:
                self.lines.put(None)
                raise AssertionError(f"ended without printing {text!r}: {self.out}"
                                     f"{self.proc.stderr.read()}")
            self.out.append(line)
            if text in line:
                return line

    def started(self) -> Process:
        """Wait for the listening line and learn the port from it."""
        line = self.wait_for("Proxy server listening at http://")
        self.port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def curl(self, url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """curl through this proxy: -s, -i (the head is in stdout), bytes out."""
        return subprocess.run(
            ["curl", "-s", "-S", "-i", "--max-time", str(int(WAIT)), "--noproxy", "",
             "-x", self.url, *args, url],
            capture_output=True, timeout=WAIT * 2, check=check)

    def stop(self, signum: int = signal.SIGTERM) -> str:
        """End the process with ``signum``; everything it printed to stdout."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        self.proc.wait(WAIT)
        self._reader.join(WAIT)
        while (line := self.lines.get_nowait()) is not None:
            self.out.append(line)
        self.err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return "".join(self.out)


def body_of(result: subprocess.CompletedProcess) -> bytes:
    """The body of the response curl -i printed (after the proxy's answer to CONNECT, which
    curl -i prints first for https URLs)."""
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    if head.startswith(b"HTTP/1.1 200 Connection established"):
        head, _, body = body.partition(b"\r\n\r\n")
    return body


def header(result: subprocess.CompletedProcess, name: str) -> str | None:
    head = result.stdout.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.splitlines()[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


@pytest.fixture(scope="module")
def cadir(tmp_path_factory) -> str:
    """One CA for the module's mitmdumps: making a CA costs a key generation."""
    return str(tmp_path_factory.mktemp("cadir") / "ca")


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Processes a test started; none outlives it."""
    started: list[Process] = []
    yield started
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
        if not p.proc.stdout.closed:
            p.stop()


@pytest.fixture
def mitmdump(cadir, processes) -> Callable[..., Process]:
    """mitmdump(*args) -> a running ``python -m libmproxy.main -p 0 ...`` (call
    ``.started()`` to wait until it listens)."""

    def start(*args: str) -> Process:
        argv = [sys.executable, "-m", "libmproxy.main", "-b", "127.0.0.1", "-p", "0",
                "--cadir", cadir, *args]
        processes.append(Process("mitmdump", argv))
        return processes[-1]

    return start


def run_mitmdump(cadir: str, *args: str) -> subprocess.CompletedProcess:
    """mitmdump expected to end by itself (-n runs, refused scripts)."""
    return subprocess.run([sys.executable, "-m", "libmproxy.main", "--cadir", cadir, *args],
                          cwd=REPO, capture_output=True, text=True, timeout=WAIT)


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=REPO,
                          env=env_with_repo(), capture_output=True, text=True, timeout=WAIT)


# === origins of our own: chosen bodies, a raw TCP echo =========================================

class ContentHandler(http.server.BaseHTTPRequestHandler):
    """Answers from ``server.routes``: path -> function(handler) that sends the response.
    Records each request (path, headers with lowercase names, body) in
    ``server.requests``."""

    protocol_version = "HTTP/1.1"
    timeout = WAIT

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append({
            "path": self.path, "body": body,
            "headers": {k.lower(): v for k, v in self.headers.items()}})
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            self.send(b"not found", "text/plain", status=404)
        else:
            route(self)

    do_POST = do_GET

    def send(self, body: bytes, content_type: str, status: int = 200,
             headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_chunked(self, chunks: list[bytes], before_last: threading.Event | None = None
                     ) -> None:
        """A chunked body; with ``before_last``, the last chunk waits for that event."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, chunk in enumerate(chunks):
            if before_last is not None and i == len(chunks) - 1:
                before_last.wait(WAIT)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


class ContentOrigin(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ContentHandler)
        self.routes: dict[str, Callable[[ContentHandler], None]] = {}
        self.requests: list[dict] = []
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.serve_forever,
                                        name=f"content origin {self.port}")
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(WAIT)


@pytest.fixture
def content_origin() -> Iterator[ContentOrigin]:
    server = ContentOrigin()
    yield server
    server.close()


class EchoServer:
    """A raw TCP server on 127.0.0.1 that echoes each connection's bytes back and records
    what it received."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(WAIT)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self._thread = threading.Thread(target=self._serve, name=f"echo server {self.port}")
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(WAIT)
            try:
                while data := conn.recv(4096):
                    self.received += data
                    conn.sendall(data)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        self._thread.join(WAIT)


def read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while end not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed before {end!r}; got {data!r}"
        data += chunk
    return data


# === the spec's examples =====================================================================

def test_add_header_adds_a_header_to_every_response(mitmdump, origin):
    m = mitmdump("-s", example("add_header.py")).started()
    assert header(m.curl(f"{origin.url}/x"), "newheader") == "foo"
    m.stop()


def test_add_header_transforms_a_saved_flow_file(cadir, tmp_path):
    """The spec's "scripted data transformation": mitmdump -ns add_header.py -r src -w dst."""
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 80)))
    flow.request = HTTPRequest("absolute", "GET", "http", "example.com", 80, "/", "HTTP/1.1",
                               [("Host", "example.com")], b"")
    flow.response = HTTPResponse("HTTP/1.1", 200, "OK", [("Content-Length", "2")], b"ok")
    src, dst = tmp_path / "src", tmp_path / "dst"
    with open(src, "wb") as f:
        FlowWriter(f).add(flow)
    result = run_mitmdump(cadir, "-n", "-s", example("add_header.py"), "-r", str(src),
                          "-w", str(dst))
    assert result.returncode == 0, result.stderr
    with open(dst, "rb") as f:
        [written] = list(FlowReader(f).stream())
    assert written.response.headers["newheader"] == "foo"
    assert written.response.content == b"ok"


def test_modify_response_body_replaces_text_in_responses(mitmdump, origin):
    m = mitmdump("-s", example("modify_response_body.py", "mitmproxy", "bananas")).started()
    result = m.curl(f"{origin.url}/mitmproxy/page")
    body = json.loads(body_of(result))  # still valid JSON: Content-Length follows the body
    assert body["path"] == "/bananas/page"
    assert header(result, "content-length") == str(len(body_of(result)))
    m.stop()


def test_modify_response_body_without_its_two_arguments_is_refused(cadir):
    result = run_mitmdump(cadir, "-n", "-s", example("modify_response_body.py", "only-one"))
    assert result.returncode == 1
    assert 'Usage: -s "modify_response_body.py old new"' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_stream_sends_the_body_before_the_server_has_finished(mitmdump, content_origin):
    """The origin holds back its last chunk until the client has seen the first: that only
    ends if the proxy relays chunks as they come instead of reading the body whole."""
    release = threading.Event()
    content_origin.routes["/slow"] = lambda h: h.send_chunked([b"first", b"second"], release)
    m = mitmdump("-s", example("stream.py")).started()
    with socket.create_connection(("127.0.0.1", m.port), timeout=WAIT) as sock:
        sock.sendall(f"GET {content_origin.url}/slow HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{content_origin.port}\r\n\r\n".encode())
        try:
            first = read_until(sock, b"first")
        finally:
            release.set()
        rest = read_until(sock, b"0\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"second" in rest and b"second" not in first
    m.stop()


def test_stream_modify_rewrites_the_streamed_chunks(mitmdump, content_origin):
    content_origin.routes["/chunks"] = lambda h: h.send_chunked([b"foo one ", b"two foo"])
    m = mitmdump("-s", example("stream_modify.py")).started()
    assert body_of(m.curl(f"{content_origin.url}/chunks")) == b"bar one two bar"
    m.stop()


def test_nonblocking_handles_requests_at_the_same_time(mitmdump, origin):
    """Each request sleeps 5 s in the handler; both are in it before either goes on."""
    m = mitmdump("-s", example("nonblocking.py")).started()
    results: queue.Queue = queue.Queue()
    clients = [threading.Thread(target=lambda p=p: results.put(m.curl(f"{origin.url}{p}")),
                                name=f"test client {p}") for p in ("/one", "/two")]
    for t in clients:
        t.start()
    for t in clients:
        t.join(WAIT * 2)
    assert sorted(json.loads(body_of(results.get_nowait()))["path"] for _ in clients) == [
        "/one", "/two"]
    out = m.stop()
    handles = [out.index(f"handle request: 127.0.0.1/{p}") for p in ("one", "two")]
    starts = [out.index(f"start request: 127.0.0.1/{p}") for p in ("one", "two")]
    assert max(handles) < min(starts)


def test_stickycookies_adds_the_cookie_the_server_set(processes, content_origin, tmp_path):
    """The spec's FlowMaster example, run as a program (its CA goes to ~/.mitmproxy, here
    a temporary home)."""
    content_origin.routes["/login"] = lambda h: h.send(
        b"welcome", "text/plain", headers=(("Set-Cookie", "session=s3cr3t"),))
    content_origin.routes["/private"] = lambda h: h.send(b"private", "text/plain")
    env = env_with_repo()
    env["HOME"] = str(tmp_path)
    p = Process("stickycookies", [sys.executable, str(EXAMPLES / "stickycookies"), "0"],
                env=env)
    processes.append(p)
    p.started()
    p.curl(f"{content_origin.url}/login")
    p.curl(f"{content_origin.url}/private")
    assert "cookie" not in content_origin.requests[0]["headers"]
    assert content_origin.requests[1]["path"] == "/private"
    assert content_origin.requests[1]["headers"]["cookie"] == "session=s3cr3t"
    p.stop(signal.SIGINT)
    assert p.proc.returncode == 0, p.err
    assert (tmp_path / ".mitmproxy" / "mitmproxy-ca-cert.pem").exists()


def test_tcp_message_changes_raw_tcp_payloads(mitmdump):
    echo = EchoServer()
    try:
        m = mitmdump("--tcp", "127.0.0.1", "-s", example("tcp_message.py")).started()
        with socket.create_connection(("127.0.0.1", m.port), timeout=WAIT) as sock:
            sock.sendall(f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\n\r\n".encode())
            assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 200")
            sock.sendall(b"hello foo")
            assert read_until(sock, b"hello bar") == b"hello bar"
        line = m.wait_for("[tcp_message (modified)] from client 127.0.0.1:")
        assert line.endswith(f" to server 127.0.0.1:{echo.port}: b'hello bar'\n")
        m.wait_for(f"[tcp_message] from server 127.0.0.1:{echo.port} to client")
        m.stop()
    finally:
        echo.close()
    assert bytes(echo.received) == b"hello bar"  # changed on its way to the server


# === the classic set ===========================================================================

def test_filt_logs_the_flows_that_match(mitmdump, origin):
    m = mitmdump("-s", example("filt.py", "~m POST")).started()
    m.curl(f"{origin.url}/got")
    m.curl(f"{origin.url}/posted", "-d", "x=1")
    m.wait_for(f"Flow matches filter: POST {origin.url}/posted -> 200")
    assert "Flow matches filter: GET" not in m.stop()


def test_filt_with_a_bad_expression_is_refused(cadir):
    result = run_mitmdump(cadir, "-n", "-s", example("filt.py", "~nonsense"))
    assert result.returncode == 1
    assert "filt.py" in result.stderr and "~nonsense" in result.stderr


def test_flowwriter_writes_the_matching_flows_and_read_dumpfile_prints_them(
        mitmdump, origin, tmp_path):
    path = tmp_path / "out.mitm"
    m = mitmdump("-s", example("flowwriter.py", str(path), "~u /keep")).started()
    m.curl(f"{origin.url}/keep")
    m.curl(f"{origin.url}/drop")
    m.stop()
    with open(path, "rb") as f:
        flows = list(FlowReader(f).stream())
    assert [f.request.path for f in flows] == ["/keep"]
    result = run_example("read_dumpfile", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<HTTPFlow Request(GET 127.0.0.1:")
    assert "'path': b'/keep'" in result.stdout and "/drop" not in result.stdout


def test_read_dumpfile_reads_a_018_flow_file():
    result = run_example("read_dumpfile", str(DUMPFILE_018))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<HTTPFlow Request(GET www.example.com/)")
    assert "'host': b'www.example.com'" in result.stdout


def test_read_dumpfile_reports_a_damaged_file_and_a_missing_argument(tmp_path):
    damaged = tmp_path / "damaged.mitm"
    damaged.write_bytes(DUMPFILE_018.read_bytes()[:100])
    result = run_example("read_dumpfile", str(damaged))
    assert result.returncode == 1 and "Flow file corrupted" in result.stderr
    result = run_example("read_dumpfile")
    assert result.returncode == 2 and "Usage: read_dumpfile FILE" in result.stderr


def test_har_extractor_writes_a_har_file_at_the_end(mitmdump, origin, tmp_path):
    path = tmp_path / "out.har"
    m = mitmdump("-s", example("har_extractor.py", str(path))).started()
    m.curl(f"{origin.url}/page?q=1&r=two", "-b", "k=v")
    m.curl(f"{origin.url}/form", "-d", "a=1&b=2")
    assert "HAR file with 2 entries written to" in m.stop()
    har = json.loads(path.read_text())["log"]
    assert har["version"] == "1.2" and har["creator"]["name"]
    get, post = har["entries"]
    assert get["request"]["method"] == "GET"
    assert get["request"]["url"] == f"{origin.url}/page?q=1&r=two"
    assert {"name": "q", "value": "1"} in get["request"]["queryString"]
    assert get["request"]["cookies"] == [{"name": "k", "value": "v"}]
    assert get["response"]["status"] == 200 and get["response"]["statusText"] == "OK"
    assert json.loads(get["response"]["content"]["text"])["path"] == "/page?q=1&r=two"
    assert get["response"]["content"]["size"] == get["response"]["bodySize"]
    assert post["request"]["postData"]["params"] == [{"name": "a", "value": "1"},
                                                      {"name": "b", "value": "2"}]
    for entry in (get, post):
        datetime.fromisoformat(entry["startedDateTime"])
        timings = entry["timings"]
        assert all(timings[k] >= 0 for k in ("send", "wait", "receive"))
        assert entry["time"] == sum(v for v in timings.values() if v > 0)
        assert entry["serverIPAddress"] == "127.0.0.1"
    assert get["timings"]["connect"] >= 0  # each curl opened its own server connection


def test_har_extractor_over_a_saved_flow_file(cadir, tmp_path):
    path = tmp_path / "saved.har"
    result = run_mitmdump(cadir, "-n", "-q", "-r", str(DUMPFILE_018),
                          "-s", example("har_extractor.py", str(path)))
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(path.read_text())["log"]["entries"]
    assert entry["request"]["url"] == "https://www.example.com/"
    assert entry["response"]["content"]["mimeType"].startswith("text/html")
    assert "Example Domain" in entry["response"]["content"]["text"]


def test_iframe_injector_puts_an_iframe_into_html_pages(mitmdump, content_origin):
    page = b"<html><head></head><BODY class='x'>hello</body></html>"
    content_origin.routes["/page"] = lambda h: h.send(page, "text/html; charset=utf-8")
    content_origin.routes["/data"] = lambda h: h.send(b"<body>", "application/json")
    m = mitmdump("-s", example("iframe_injector.py", "http://evil.test/x?a=1&b=2")).started()
    result = m.curl(f"{content_origin.url}/page")
    assert body_of(result) == (b"<html><head></head><BODY class='x'>"
                               b'<iframe src="http://evil.test/x?a=1&amp;b=2" frameborder="0" '
                               b'height="0" width="0"></iframe>hello</body></html>')
    assert header(result, "content-length") == str(len(body_of(result)))
    assert body_of(m.curl(f"{content_origin.url}/data")) == b"<body>"  # not HTML: untouched
    m.stop()


def test_modify_form_adds_a_field_to_submitted_forms(mitmdump, origin):
    m = mitmdump("-s", example("modify_form.py")).started()
    m.curl(f"{origin.url}/submit", "-d", "a=1")
    assert origin.last()["body"] == b"a=1&mitmproxy=rocks"
    m.curl(f"{origin.url}/empty", "-X", "POST")
    assert origin.last()["body"] == b"foo=bar"
    assert ("content-type", "application/x-www-form-urlencoded") in [
        (k.lower(), v) for k, v in origin.last()["headers"]]
    m.curl(f"{origin.url}/get")
    assert origin.last()["body"] == b""
    m.stop()


def test_modify_querystring_adds_a_parameter(mitmdump, origin):
    m = mitmdump("-s", example("modify_querystring.py")).started()
    m.curl(f"{origin.url}/q?x=1")
    assert origin.last()["path"] == "/q?x=1&mitmproxy=rocks"
    m.stop()


def test_redirect_requests_answers_one_host_and_reroutes_another(mitmdump, origin):
    m = mitmdump("-s", example("redirect_requests.py", f"127.0.0.1:{origin.port}")).started()
    local = m.curl("http://example.com/anything")
    assert body_of(local) == b"helloworld" and header(local, "content-type") == "text/html"
    assert origin.requests == []
    rerouted = m.curl("http://www.example.org/page")
    assert json.loads(body_of(rerouted))["path"] == "/page"
    assert ("Host", f"127.0.0.1:{origin.port}") in origin.last()["headers"]
    m.stop()


def test_dup_and_replay_sends_each_request_twice(mitmdump, origin):
    m = mitmdump("-s", example("dup_and_replay.py")).started()
    assert m.curl(f"{origin.url}/dup").stdout.startswith(b"HTTP/1.1 200")
    m.wait_for(f"GET {origin.url}/dup")
    m.wait_for(f"GET {origin.url}/dup")  # the replayed copy, printed when it is answered
    assert [r["path"] for r in origin.requests] == ["/dup", "/dup"]
    m.stop()


def test_change_upstream_proxy_picks_the_proxy_per_request(mitmdump, make_origin):
    """Two origins play the upstream proxies (they record the absolute-form requests they
    get); requests.Session keeps one client connection, so the switch happens on a live
    connection, both ways."""
    default, alternative = make_origin(), make_origin()
    m = mitmdump("-U", default.url, "-s", example(
        "change_upstream_proxy.py", f"127.0.0.1:{alternative.port}", r"example\.org$")
    ).started()
    with requests.Session() as session:
        session.trust_env = False
        session.proxies = {"http": m.url}
        for url in ("http://example.com/1", "http://example.org/2", "http://example.com/3"):
            assert session.get(url, timeout=WAIT).json()["path"] == url
    assert [r["path"] for r in default.requests] == ["http://example.com/1",
                                                     "http://example.com/3"]
    assert [r["path"] for r in alternative.requests] == ["http://example.org/2"]
    m.stop()


def test_tls_passthrough_after_a_client_refused_our_certificate(mitmdump, tls_origin, pki):
    """The client trusts only the origin's CA: the first connection fails on the proxy's
    certificate; the next one reaches the origin untouched (its own certificate, which
    curl verifies), and mitmdump does not see inside it."""
    m = mitmdump("--upstream-trusted-ca", pki.origin_ca_cert,
                 "-s", example("tls_passthrough.py")).started()
    url = f"https://127.0.0.1:{tls_origin.port}"
    refused = m.curl(f"{url}/first", "--cacert", pki.origin_ca_cert, check=False)
    assert refused.returncode == 60, refused.stderr  # curl: peer certificate not trusted
    m.wait_for(f"TLS passthrough for 127.0.0.1:{tls_origin.port}")
    passed = m.curl(f"{url}/second", "--cacert", pki.origin_ca_cert)
    assert json.loads(body_of(passed))["path"] == "/second"
    assert [r["path"] for r in tls_origin.requests] == ["/second"]
    assert "/second" not in m.stop()


def test_upsidedownternet_flips_images(mitmdump, content_origin):
    from PIL import Image
    picture = Image.new("RGB", (2, 1))
    picture.putpixel((0, 0), (255, 0, 0))
    picture.putpixel((1, 0), (0, 0, 255))
    png = io.BytesIO()
    picture.save(png, "png")
    content_origin.routes["/image"] = lambda h: h.send(png.getvalue(), "image/png")
    content_origin.routes["/broken"] = lambda h: h.send(b"not an image", "image/png")
    m = mitmdump("-s", example("upsidedownternet.py")).started()
    result = m.curl(f"{content_origin.url}/image")
    assert header(result, "content-type") == "image/png"
    flipped = Image.open(io.BytesIO(body_of(result))).convert("RGB")
    assert [flipped.getpixel((x, 0)) for x in (0, 1)] == [(0, 0, 255), (255, 0, 0)]
    assert body_of(m.curl(f"{content_origin.url}/broken")) == b"not an image"
    m.stop()


def test_every_example_is_in_the_index_and_every_python_example_is_tested_here():
    readme = (EXAMPLES / "README.md").read_text()
    source = Path(__file__).read_text()
    names = sorted(p.name for p in EXAMPLES.iterdir() if p.is_file() and p.name != "README.md")
    for name in names:
        assert f"`{name}`" in readme, f"{name} is not listed in examples/README.md"
    python = [n for n in names if n.endswith(".py") or n in ("stickycookies", "read_dumpfile")]
    for name in python:
        assert f'"{name}"' in source, f"{name} has no test here"

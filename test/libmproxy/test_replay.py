"""Client replay (-c) and server replay (-S), end to end with the real mitmdump.

mitmdump runs as a subprocess (``python -m libmproxy.main``, conftest's ``mitmdump`` and
``mitmdump_once``) with the session's CA directory; the origins are the loopback servers of
conftest (they record every request they get), the clients are curl and requests. Saved
flows are either recorded through mitmdump (the spec's 30-second tutorial) or written by the
test with FlowWriter when a test needs exact headers, bodies or recording times. Nothing
sleeps: readiness is read from mitmdump's output and every wait has a deadline that is only
reached when a test fails.
"""
from __future__ import annotations

import email.utils
import http.server
import re
import subprocess
import threading
import time
import urllib.parse
from typing import Any, Iterator

import pytest

from netlib.http import http1

from libmproxy.controller import DummyServer
from libmproxy.exceptions import ReplayException
from libmproxy.features.clientplayback import STOP_WAIT
from libmproxy.features.serverplayback import Matching, request_key
from libmproxy.flow import FlowReader, FlowWriter
from libmproxy.flow.master import FlowMaster
from libmproxy.flow.replay import wire_request
from libmproxy.models import ClientConnection, HTTPFlow, HTTPRequest, HTTPResponse, \
    ServerConnection
from libmproxy.proxy import ProxyConfig

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

WAIT = 20.0  # seconds; reached only when something is broken
DAY, HOUR = 24 * 3600, 3600


# === helpers ================================================================================

def read_flows(path) -> list[HTTPFlow]:
    with open(path, "rb") as fo:
        return list(FlowReader(fo).stream())


def saved_flow(url: str, method: str = "GET", body: bytes = b"",
               headers: list[tuple[str, str]] = (), content: bytes = b"saved",
               response_headers: list[tuple[str, str]] = (),
               recorded: float | None = None) -> HTTPFlow:
    """A flow as mitmdump would have recorded it at time ``recorded``."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    recorded = time.time() if recorded is None else recorded
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 50000)),
                    ServerConnection((parts.hostname, parts.port)))
    flow.request = HTTPRequest(
        "absolute", method, parts.scheme, parts.hostname, parts.port, path, "HTTP/1.1",
        [("Host", parts.netloc), *headers, *([("Content-Length", str(len(body)))] if body else [])],
        body, recorded, recorded)
    flow.response = HTTPResponse(
        "HTTP/1.1", 200, "OK",
        [*response_headers, ("Content-Length", str(len(content)))], content,
        recorded, recorded)
    return flow


def write_flows(path, *flows: HTTPFlow) -> str:
    with open(path, "wb") as fo:
        writer = FlowWriter(fo)
        for flow in flows:
            writer.add(flow)
    return str(path)


def http_date(t: float) -> str:
    return email.utils.formatdate(t, usegmt=True)


def parse_date(value: str) -> float:
    return email.utils.parsedate_to_datetime(value).timestamp()


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("mitmdump: error: ")
    return result.stderr


# === the 30-second tutorial =================================================================

@pytest.fixture
def recording(mitmdump, origin, tmp_path) -> str:
    """Step 1-3 of the tutorial, with curl for the browser: ``mitmdump -w wireless-login``,
    then a page fetched and a login form posted through it."""
    path = str(tmp_path / "wireless-login")
    m = mitmdump("-w", path).started()
    m.curl(f"{origin.url}/login-page", check=True)
    m.curl("-d", "user=me&password=secret", f"{origin.url}/login", check=True)
    m.wait_for("POST")
    m.wait_for("<<")
    rc, _ = m.stop()
    assert rc == 0
    assert [r["path"] for r in origin.requests] == ["/login-page", "/login"]
    return path


def test_tutorial_replay_without_proxy_sends_the_requests_again_in_order(
        mitmdump_once, origin, recording):
    """``mitmdump -nc wireless-login``: both requests reach the origin again, in order and
    unchanged, both flows are printed, and mitmdump exits by itself."""
    result = mitmdump_once("-n", "-c", recording)
    assert result.returncode == 0, result.stderr
    get, get_response, post, post_response = result.stdout.splitlines()
    assert (get, post) == (f"127.0.0.1 GET {origin.url}/login-page",
                           f"127.0.0.1 POST {origin.url}/login")
    assert get_response.startswith(" << 200 OK ") and post_response.startswith(" << 200 OK ")
    assert "[replay]" not in result.stdout  # the responses are the server's, not saved ones
    replayed = origin.requests[2:]
    assert [(r["method"], r["path"], r["body"]) for r in replayed] == [
        ("GET", "/login-page", b""), ("POST", "/login", b"user=me&password=secret")]
    # The proxy's own headers are not sent to the origin.
    assert not any(name.lower().startswith("proxy-") for r in replayed
                   for name, _ in r["headers"])


def test_tutorial_replay_as_written_with_the_proxy_running(mitmdump_once, origin, recording):
    """``mitmdump -c wireless-login`` (no -n): the proxy starts, the requests are replayed,
    and mitmdump exits when they are done."""
    result = mitmdump_once("-c", recording)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Proxy server listening at http://127.0.0.1:")
    assert lines[1] == f"127.0.0.1 GET {origin.url}/login-page"
    assert lines[3] == f"127.0.0.1 POST {origin.url}/login"
    assert [r["path"] for r in origin.requests] == ["/login-page", "/login"] * 2


def test_replayed_flows_written_with_w(mitmdump_once, origin, recording, tmp_path):
    """``mitmdump -nc srcfile -w dstfile``: the new responses are the server's, the
    requests are marked as replayed."""
    out = tmp_path / "dst"
    result = mitmdump_once("-n", "-c", recording, "-w", str(out))
    assert result.returncode == 0, result.stderr
    flows = read_flows(out)
    assert [f.request.path for f in flows] == ["/login-page", "/login"]
    for flow in flows:
        assert flow.request.is_replay and not flow.response.is_replay
        assert flow.response.status_code == 200
    assert b'"body_length": 23' in flows[1].response.content
    # The new server connection is recorded on the flow.
    assert flows[1].server_conn.address.port == origin.port
    assert flows[1].server_conn.timestamp_start >= flows[0].response.timestamp_end


def test_filtering_saved_traffic(mitmdump_once, recording, tmp_path):
    """``mitmdump -nr infile -w outfile "~m post"`` keeps only the POST."""
    out = tmp_path / "posts"
    result = mitmdump_once("-n", "-r", recording, "-w", str(out), "~m post")
    assert result.returncode == 0, result.stderr
    (flow,) = read_flows(out)
    assert (flow.request.method, flow.request.path) == ("POST", "/login")
    assert flow.request.content == b"user=me&password=secret"


def test_all_files_are_replayed_in_order(mitmdump_once, origin, tmp_path):
    one = write_flows(tmp_path / "one", saved_flow(f"{origin.url}/a"),
                      saved_flow(f"{origin.url}/b"))
    two = write_flows(tmp_path / "two", saved_flow(f"{origin.url}/c"))
    result = mitmdump_once("-n", "-c", one, "-c", two)
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in origin.requests] == ["/a", "/b", "/c"]


class HoldingHandler(http.server.BaseHTTPRequestHandler):
    """/first is answered only after HOLD seconds, or as soon as /second arrives (which
    would mean the requests were not serialized)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        server = self.server
        if self.path == "/first":
            server.overlap = server.second_arrived.wait(HOLD)
        else:
            server.second_arrived.set()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


# How long the first response is held back: long enough for a second request sent without
# waiting to arrive meanwhile (on loopback that takes milliseconds).
HOLD = 1.0


def test_requests_are_serialized(mitmdump_once, tmp_path):
    """The spec: "mitmproxy serializes the requests, waiting for a response from the
    server before starting the next request"."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HoldingHandler)
    server.daemon_threads = False
    server.second_arrived, server.overlap = threading.Event(), None
    thread = threading.Thread(target=server.serve_forever, name="holding origin")
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        path = write_flows(tmp_path / "flows", saved_flow(f"{base}/first"),
                           saved_flow(f"{base}/second"))
        result = mitmdump_once("-n", "-c", path)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)
    assert result.returncode == 0, result.stderr
    assert server.overlap is False
    assert server.second_arrived.is_set()


def test_an_unreachable_server_is_an_error_line_and_replay_goes_on(mitmdump_once, origin,
                                                                    tmp_path):
    with socket_closed_port() as port:
        path = write_flows(tmp_path / "flows", saved_flow(f"http://127.0.0.1:{port}/gone"),
                           saved_flow(f"{origin.url}/here"))
        result = mitmdump_once("-n", "-c", path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"127.0.0.1 GET http://127.0.0.1:{port}/gone"
    assert lines[1].startswith(" << error: ") and "refused" in lines[1]
    assert lines[2] == f"127.0.0.1 GET {origin.url}/here"
    assert [r["path"] for r in origin.requests] == ["/here"]


class socket_closed_port:
    """A port on 127.0.0.1 that nobody listens on (bound, never listening)."""

    def __enter__(self) -> int:
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: Any) -> None:
        self.sock.close()


def test_keepserving_goes_on_after_the_replay(mitmdump, origin, tmp_path):
    path = write_flows(tmp_path / "flows", saved_flow(f"{origin.url}/once"))
    m = mitmdump("-c", path, "--keepserving").started()
    m.wait_for(" << 200 OK")
    assert m.proc.poll() is None
    assert m.get(f"{origin.url}/later").ok
    m.wait_for(f"GET {origin.url}/later")
    rc, _ = m.stop()
    assert rc == 0
    assert [r["path"] for r in origin.requests] == ["/once", "/later"]


def test_https_replay_verifies_the_server_with_the_configured_ca(mitmdump_once, tls_origin,
                                                                 pki, tmp_path):
    """An https request is replayed over TLS with SNI, verified against
    --upstream-trusted-ca; without that CA the replay fails verification."""
    url = f"https://localhost:{tls_origin.port}/secure"
    path = write_flows(tmp_path / "flows", saved_flow(url))
    result = mitmdump_once("-n", "-c", path, "--upstream-trusted-ca", pki.origin_ca_cert)
    assert result.returncode == 0, result.stderr
    request_line, response_line = result.stdout.splitlines()
    assert request_line == f"127.0.0.1 GET {url}"
    assert response_line.startswith(" << 200 OK")
    assert [r["path"] for r in tls_origin.requests] == ["/secure"]
    assert tls_origin.snis == ["localhost"]

    result = mitmdump_once("-n", "-c", path)
    assert result.returncode == 0, result.stderr
    assert "<< error: " in result.stdout and "certificate verification failed" in result.stdout
    assert len(tls_origin.requests) == 1


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_upstream_mode_replays_through_the_upstream_proxy(mitmdump_once, origin, tls_origin,
                                                          pki, start_proxy, tmp_path, scheme):
    """-U: plain HTTP goes to the upstream proxy in absolute form, HTTPS through a CONNECT
    tunnel (here the upstream proxy intercepts it, so its CA is the one to trust)."""
    upstream = start_proxy()
    server = origin if scheme == "http" else tls_origin
    url = f"{scheme}://localhost:{server.port}/via"
    path = write_flows(tmp_path / "flows", saved_flow(url))
    result = mitmdump_once("-n", "-c", path, "-U", upstream.url,
                 "--upstream-trusted-ca", pki.proxy_ca_cert)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith(" << 200 OK"), result.stdout
    assert [f.request.url for f in upstream.master.wait_for("response")] == [url]
    assert [r["path"] for r in server.requests] == ["/via"]


class SilentServer:
    """Accepts one connection, reads the request, never answers."""

    def __enter__(self) -> SilentServer:
        import socket
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        return self

    def request_received(self) -> bytes:
        self.sock.settimeout(WAIT)
        self.conn, _ = self.sock.accept()
        self.conn.settimeout(WAIT)
        return self.conn.recv(65536)

    def __exit__(self, *exc: Any) -> None:
        if hasattr(self, "conn"):
            self.conn.close()
        self.sock.close()


def test_a_signal_ends_a_replay_that_waits_for_its_server(mitmdump, tmp_path):
    """Shutdown does not wait for the server's answer (the socket timeout is a minute)."""
    with SilentServer() as server:
        path = write_flows(tmp_path / "flows", saved_flow(f"{server.url}/slow"))
        m = mitmdump("-n", "-c", path)
        assert server.request_received().startswith(b"GET /slow HTTP/1.1\r\n")
        started = time.monotonic()
        rc, _ = m.stop()
        assert rc == 0 and m.err == ""
        # The replay in progress is cancelled, not waited for (STOP_WAIT is the bound).
        assert time.monotonic() - started < STOP_WAIT


@pytest.mark.parametrize("flag", ["-c", "-S"])
def test_damaged_flow_file_is_one_line_naming_it(mitmdump_once, origin, tmp_path, flag):
    path = write_flows(tmp_path / "damaged", saved_flow(f"{origin.url}/a"))
    with open(path, "ab") as fo:
        fo.write(b"123:not a flow")
    result = mitmdump_once("-n", flag, path)
    error = one_line_error(result)
    assert path in error and "damaged flow" in error
    assert origin.requests == []


# === server replay ==========================================================================

def test_server_replay_answers_without_the_server(mitmdump, origin, tmp_path):
    path = write_flows(tmp_path / "flows", saved_flow(
        f"{origin.url}/page", content=b"saved page",
        response_headers=[("Content-Type", "text/plain")]))
    m = mitmdump("-S", path).started()
    result = m.curl(f"{origin.url}/page", check=True)
    assert result.stdout == b"saved page"
    assert m.wait_for("<<") == "[replay] << 200 OK 10b\n"
    m.stop()
    assert origin.requests == [] and origin.connections == 0


def test_client_replay_answered_by_server_replay(mitmdump_once, origin, tmp_path):
    """-c and -S together: the replayed requests go through the whole chain, so server
    replay answers them and the origin is never contacted."""
    path = write_flows(tmp_path / "flows", saved_flow(f"{origin.url}/x", content=b"x"))
    result = mitmdump_once("-n", "-c", path, "-S", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"127.0.0.1 GET {origin.url}/x\n[replay] << 200 OK 1b\n"
    assert origin.requests == []


def test_kill_extra_drops_unmatched_requests(mitmdump, origin, tmp_path):
    path = write_flows(tmp_path / "flows", saved_flow(f"{origin.url}/known"))
    m = mitmdump("-S", path, "-k").started()
    assert m.curl(f"{origin.url}/known").stdout == b"saved"
    result = m.curl(f"{origin.url}/unknown")
    assert result.returncode == 52 and result.stdout == b""  # curl: empty reply
    m.wait_for(f"no saved response for GET {origin.url}/unknown: killed")
    m.stop()
    assert origin.requests == []


def test_unmatched_requests_go_to_the_server_without_kill(mitmdump, origin, tmp_path):
    path = write_flows(tmp_path / "flows", saved_flow(f"{origin.url}/known"))
    m = mitmdump("-S", path).started()
    result = m.curl(f"{origin.url}/unknown", check=True)
    assert b'"path": "/unknown"' in result.stdout
    m.stop()
    assert [r["path"] for r in origin.requests] == ["/unknown"]


@pytest.mark.parametrize("nopop, expected", [
    (False, [b"first", b"second", b"origin"]),
    (True, [b"first", b"first", b"first"]),
], ids=["pop", "no-pop"])
def test_each_saved_response_is_used_once_in_order_unless_no_pop(
        mitmdump, origin, tmp_path, nopop, expected):
    url = f"{origin.url}/twice"
    path = write_flows(tmp_path / "flows", saved_flow(url, content=b"first"),
                       saved_flow(url, content=b"second"))
    m = mitmdump("-S", path, *(["--no-pop"] if nopop else [])).started()
    bodies = [m.curl(url, check=True).stdout for _ in range(3)]
    m.stop()
    assert [b"origin" if b'"path"' in body else body for body in bodies] == expected


MULTIPART_SAVED = (
    b"--SAVEDBOUNDARY\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nme\r\n"
    b"--SAVEDBOUNDARY\r\nContent-Disposition: form-data; name=\"nonce\"\r\n\r\n1\r\n"
    b"--SAVEDBOUNDARY--\r\n"
)

# (flags, saved flow's URL path, its request, the live request's curl arguments). Each
# flag changes whether the live request matches the saved one.
MATCHING_CASES = {
    "rheader": (["--rheader", "X-Token"], "GET", "/r", b"",
                [("X-Token", "a")], ["-H", "X-Token: b"]),
    "server-replay-use-header": (["--server-replay-use-header", "X-Token"], "GET", "/r", b"",
                                 [("X-Token", "a")], ["-H", "X-Token: b"]),
    "ignore-param": (["--replay-ignore-param", "ts"], "GET", "/s?q=1&ts=1", b"", [], []),
    "ignore-content": (["--replay-ignore-content"], "POST", "/p", b"one",
                       [("Content-Type", "application/x-www-form-urlencoded")],
                       ["--data-binary", "two"]),
    "ignore-payload-param-urlencoded": (
        ["--replay-ignore-payload-param", "nonce"], "POST", "/f", b"user=me&nonce=1",
        [("Content-Type", "application/x-www-form-urlencoded")], ["-d", "user=me&nonce=2"]),
    "ignore-payload-param-multipart": (
        ["--replay-ignore-payload-param", "nonce"], "POST", "/m", MULTIPART_SAVED,
        [("Content-Type", "multipart/form-data; boundary=SAVEDBOUNDARY")],
        ["-F", "user=me", "-F", "nonce=2"]),
    "ignore-host": (["--replay-ignore-host"], "GET", "/h", b"", [], []),
}


def live_url(case: str, origin_port: int, saved_path: str) -> tuple[str, str]:
    """(saved URL, the live request's URL) for a matching case."""
    saved = f"http://127.0.0.1:{origin_port}{saved_path}"
    if case == "ignore-param":
        return saved, f"http://127.0.0.1:{origin_port}/s?q=1&ts=2"
    if case == "ignore-host":
        return f"http://localhost:{origin_port}{saved_path}", saved
    return saved, saved


@pytest.mark.parametrize("case", list(MATCHING_CASES))
def test_matching_flags_change_the_outcome(mitmdump, origin, tmp_path, case):
    flags, method, saved_path, body, headers, curl_args = MATCHING_CASES[case]
    saved_url, url = live_url(case, origin.port, saved_path)
    path = write_flows(tmp_path / "flows", saved_flow(saved_url, method, body, headers))
    stricter = "rheader" in case or "use-header" in case

    def outcome(*extra: str) -> bytes:
        m = mitmdump("-S", path, *extra).started()
        result = m.curl(*curl_args, url, check=True)
        m.stop()
        return b"origin" if b'"path"' in result.stdout else result.stdout

    without, with_flag = outcome(), outcome(*flags)
    if stricter:
        assert (without, with_flag) == (b"saved", b"origin")
    else:
        assert (without, with_flag) == (b"origin", b"saved")


@pytest.mark.parametrize("refresh", [True, False], ids=["refresh", "norefresh"])
def test_refresh_moves_dates_and_cookie_expiry(mitmdump, origin, tmp_path, refresh):
    """A response recorded a day ago: refreshed, its dates keep their distance from now
    (Expires an hour ahead, Last-Modified an hour back); --norefresh leaves them."""
    recorded = time.time() - DAY
    headers = [
        ("Date", http_date(recorded)),
        ("Expires", http_date(recorded + HOUR)),
        ("Last-Modified", http_date(recorded - HOUR)),
        ("Set-Cookie", f"sid=1; Expires={http_date(recorded + HOUR)}; Path=/"),
    ]
    url = f"{origin.url}/dated"
    path = write_flows(tmp_path / "flows", saved_flow(url, response_headers=headers,
                                                      recorded=recorded))
    m = mitmdump("-S", path, *([] if refresh else ["--norefresh"])).started()
    response = m.get(url)
    m.stop()
    assert response.text == "saved"
    got = response.headers
    cookie_expires = re.search(r"Expires=([^;]+)", got["Set-Cookie"]).group(1)
    if not refresh:
        assert [got[name] for name, _ in headers] == [value for _, value in headers]
        return
    now = time.time()
    assert abs(parse_date(got["Date"]) - now) < 60
    assert abs(parse_date(got["Expires"]) - (now + HOUR)) < 60
    assert abs(parse_date(got["Last-Modified"]) - (now - HOUR)) < 60
    assert abs(parse_date(cookie_expires) - (now + HOUR)) < 60
    assert got["Set-Cookie"].startswith("sid=1; ")


# === without subprocesses ===================================================================

def test_request_key_ignores_multipart_fields_by_name():
    """Multipart field names are bytes in the model; --replay-ignore-payload-param names
    are text: they still match."""
    def request(nonce: bytes, boundary: bytes) -> HTTPRequest:
        body = MULTIPART_SAVED.replace(b"SAVEDBOUNDARY", boundary).replace(
            b"\r\n\r\n1\r\n", b"\r\n\r\n" + nonce + b"\r\n")
        return saved_flow("http://example.com:80/m", "POST", body, [(
            "Content-Type", f"multipart/form-data; boundary={boundary.decode()}")]).request

    matching = Matching(ignore_payload_params=frozenset({"nonce"}))
    assert request_key(request(b"1", b"AAA"), matching) \
        == request_key(request(b"2", b"BBB"), matching)
    assert request_key(request(b"1", b"AAA"), Matching()) \
        != request_key(request(b"1", b"BBB"), Matching())


def test_wire_request_speaks_http1_to_the_origin():
    """A request recorded over HTTP/2 goes out as HTTP/1.1 with a Host header; the proxy's
    own headers stay off the wire, extra ones (upstream auth) are added; the flow's request
    is left as it was."""
    request = HTTPRequest("relative", "GET", "https", "example.com", 443, "/p", "HTTP/2.0",
                          [(":authority", "example.com"), ("Proxy-Authorization", "x"),
                           ("Accept", "*/*")], b"")
    wire = wire_request(request, "relative", {"X-Extra": "1"})
    assert http1.assemble_request(wire) == (
        b"GET /p HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Extra: 1\r\n\r\n")
    assert request.http_version == "HTTP/2.0" and "proxy-authorization" in request.headers
    absolute = wire_request(request, "absolute", {})
    assert http1.assemble_request(absolute).startswith(b"GET https://example.com/p HTTP/1.1")
    assert "proxy-authorization" in absolute.headers


@pytest.fixture
def running_master(pki) -> Iterator[FlowMaster]:
    config = ProxyConfig(cadir=pki.proxy_cadir, upstream_trusted_ca=pki.bundle, timeout=WAIT)
    master = FlowMaster(DummyServer(config))
    thread = threading.Thread(target=master.run, name="test master")
    thread.start()
    yield master
    master.shutdown()
    thread.join(WAIT)


class EventRecorder:
    """A feature that records the events it sees, and their flows' replay marks."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool, bool | None]] = []

    def _record(self, name: str, flow: HTTPFlow) -> None:
        response = flow.response
        self.seen.append((name, flow.request.is_replay,
                          None if response is None else response.is_replay))

    def request(self, flow: HTTPFlow) -> None:
        self._record("request", flow)

    def responseheaders(self, flow: HTTPFlow) -> None:
        self._record("responseheaders", flow)

    def response(self, flow: HTTPFlow) -> None:
        self._record("response", flow)

    def error(self, flow: HTTPFlow) -> None:
        self._record("error", flow)


def test_replay_request_runs_the_chain_like_a_proxied_flow(running_master, origin):
    recorder = running_master.add_feature(EventRecorder())
    flow = saved_flow(f"{origin.url}/again", "POST", b"data",
                      [("Content-Type", "text/plain")])
    flow.request.content = b"longer data"  # an edited body: Content-Length follows it
    thread = running_master.replay_request(flow, block=True)
    assert not thread.is_alive() and thread.name.startswith("request replay POST ")
    assert recorder.seen == [("request", True, None), ("responseheaders", True, False),
                             ("response", True, False)]
    assert origin.last()["body"] == b"longer data"
    assert flow.response.status_code == 200 and flow.modified()


def test_replay_request_refuses_flows_it_cannot_replay(running_master, origin):
    live = saved_flow(f"{origin.url}/")
    live.live = object()
    intercepted = saved_flow(f"{origin.url}/")
    intercepted.intercepted = True
    missing = saved_flow(f"{origin.url}/")
    missing.request.content = None
    empty = HTTPFlow(None, None)
    for flow, reason in [(live, "live"), (intercepted, "intercepting"),
                         (missing, "missing content"), (empty, "without a request")]:
        with pytest.raises(ReplayException, match=reason):
            running_master.replay_request(flow)
    assert origin.requests == []

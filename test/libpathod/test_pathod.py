"""pathod against real clients on 127.0.0.1: requests, raw sockets, TLS, websockets, h2.

Each test starts its own daemon (``test.Daemon``) on a free port; raw-socket tests speak
the protocol byte by byte so they can see what a library would hide (EOFs, pipelining,
CONNECT, absolute-form requests).
"""
from __future__ import annotations

import io
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
import requests

from netlib import websockets
from netlib.http import http1
from netlib.http.request import Request
from netlib.tcp import Reader

from libpathod import log as pathod_log
from libpathod import pathod, pathod_cmdline, test

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

# Seconds a client in these tests waits for pathod before the test fails (not a timing
# assertion: only a hang would take this long).
CLIENT_TIMEOUT = 10


# --- helpers -----------------------------------------------------------------------------

class RawClient:
    """A socket with a netlib Reader on top, for byte-level conversations."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
        self._reset_reader()

    def _reset_reader(self) -> None:
        self.rfile = Reader(self.sock.recv)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wrap_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self._reset_reader()

    def response(self, method: str = "GET"):
        return http1.read_response(self.rfile, Request.make(method, "http://x/"))

    def get(self, path: str, host: str = "localhost", extra: bytes = b""):
        self.send(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode() + extra + b"\r\n")
        return self.response()

    def at_eof(self) -> bool:
        return self.rfile.read(-1) == b""

    def close(self) -> None:
        self.sock.close()



@pytest.fixture
def daemon():
    with test.Daemon() as d:
        yield d


def client_context(d: test.Daemon, alpn: list[str] | None = None) -> ssl.SSLContext:
    """A client context that trusts the daemon's CA and checks host names."""
    context = ssl.create_default_context(cafile=d.ca_cert)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def get(d: test.Daemon, spec: str, **kwargs) -> requests.Response:
    return requests.get(d.p(spec), timeout=CLIENT_TIMEOUT, **kwargs)


# --- crafting ------------------------------------------------------------------------------

class TestCrafting:
    def test_generated_body(self, daemon):
        r = get(daemon, "200:b@100")
        assert r.status_code == 200
        assert len(r.content) == 100
        assert r.headers["Content-Length"] == "100"

    def test_spec_features(self, daemon):
        r = get(daemon, "201:m'Made':h'X-Test'='yes':c'text/json':b'hello'")
        assert (r.status_code, r.reason, r.text) == (201, "Made", "hello")
        assert r.headers["X-Test"] == "yes"
        assert r.headers["Content-Type"] == "text/json"

    def test_log_records_the_request_and_resolved_response(self, daemon):
        requests.post(daemon.p("200:b@100"), data=b"payload", headers={"X-A": "1"},
                      timeout=CLIENT_TIMEOUT)
        entry = daemon.last_log()
        assert entry["type"] == "crafted"
        assert entry["protocol"] == "http"
        assert entry["request"]["method"] == "POST"
        assert entry["request"]["path"].startswith("/p/200")
        assert ["X-A", "1"] in entry["request"]["headers"]
        assert entry["request"]["remote_address"][0] == "127.0.0.1"
        assert entry["request"]["sni"] is None and entry["cipher"] is None
        # The resolved spec reproduces the random body.
        assert re.match(r"200:b@100,bytes,\d+", entry["response"]["spec"])

    def test_bad_spec_is_an_800_with_the_parse_error(self, daemon):
        r = get(daemon, "foo")
        assert r.status_code == 800
        assert r.reason == "Pathod Error" or r.reason == "Parse Error"
        assert "Error parsing response spec" in r.text
        assert "foo" in r.text
        entry = daemon.last_log()
        assert entry["type"] == "error"
        assert "Error parsing response spec" in entry["msg"]

    def test_off_anchor_is_404(self, daemon):
        r = requests.get(daemon.urlbase + "/nothing/here", timeout=CLIENT_TIMEOUT)
        assert r.status_code == 404
        assert "/p/" in r.text
        assert daemon.last_log()["type"] == "notfound"

    def test_percent_encoded_spec(self, daemon):
        r = requests.get(daemon.urlbase + "/p/200:b%27a%20b%27", timeout=CLIENT_TIMEOUT)
        assert r.text == "a b"

    def test_craft_anchor_is_configurable(self):
        with test.Daemon(craftanchor="/craft/") as d:
            assert requests.get(d.urlbase + "/craft/202", timeout=CLIENT_TIMEOUT).status_code == 202
            assert requests.get(d.urlbase + "/p/202", timeout=CLIENT_TIMEOUT).status_code == 404
            assert d.p("200").startswith(d.urlbase + "/craft/")

    def test_nocraft(self):
        with test.Daemon(nocraft=True, anchors=[("/a", "204")]) as d:
            r = get(d, "200")
            assert r.status_code == 800
            assert "Crafting disabled" in r.text
            assert requests.get(d.urlbase + "/a", timeout=CLIENT_TIMEOUT).status_code == 204

    def test_several_specs_serve_several_responses(self, daemon):
        client = RawClient(daemon.port)
        first = client.get("/p/200:b'x'%20201:b'y'")
        assert first.content == b"x"
        # The second response follows the first, unasked: pathological, as requested.
        second = client.response()
        assert (second.status_code, second.content) == (201, b"y")
        entry = daemon.last_log()
        assert [r["code"] for r in entry["responses"]] == [200, 201]
        assert entry["response"] is entry["responses"][0]
        client.close()


class TestAnchors:
    def test_anchor_serves_its_spec(self):
        with test.Daemon(anchors=[("/foo", "200:b'anchored'"), (re.compile("/bar.*"), "201")]) as d:
            assert requests.get(d.urlbase + "/foo", timeout=CLIENT_TIMEOUT).text == "anchored"
            assert requests.get(d.urlbase + "/barbaz", timeout=CLIENT_TIMEOUT).status_code == 201
            # An anchor wins over the craft anchor.
        with test.Daemon(anchors=[("/p/", "203")]) as d:
            assert get(d, "200").status_code == 203

    def test_bad_regex_is_a_startup_error(self):
        with pytest.raises(pathod.PathodError, match="invalid regex in anchor"):
            pathod.Pathod(("127.0.0.1", 0), anchors=[("(", "200")], logfp=None)

    def test_bad_spec_is_a_startup_error(self):
        with pytest.raises(pathod.PathodError, match="invalid response spec in anchor '/a'"):
            pathod.Pathod(("127.0.0.1", 0), anchors=[("/a", "bogus")], logfp=None)


class TestStaticDir:
    @pytest.fixture
    def staticdir(self, tmp_path):
        (tmp_path / "data").write_bytes(b"static contents")
        (tmp_path / "spec").write_text("202:b'included'")
        return str(tmp_path)

    def test_file_value(self, staticdir):
        with test.Daemon(staticdir=staticdir) as d:
            assert get(d, "200:b<data").content == b"static contents"

    def test_include(self, staticdir):
        with test.Daemon(staticdir=staticdir) as d:
            r = get(d, "+spec")
            assert (r.status_code, r.text) == (202, "included")

    def test_leaving_the_static_dir_is_refused(self, staticdir):
        with test.Daemon(staticdir=staticdir) as d:
            r = get(d, "200:b<../x")
            assert r.status_code == 800
            assert "File access denied" in r.text
            assert d.last_log()["type"] == "error"

    def test_no_static_dir_no_file_access(self, daemon):
        r = get(daemon, "200:b<data")
        assert r.status_code == 800
        assert "File access denied" in r.text
        r = get(daemon, "+spec")
        assert r.status_code == 800


class TestLimits:
    def test_size_limit(self):
        with test.Daemon(sizelimit=1000) as d:
            assert get(d, "200:b@500").status_code == 200
            r = get(d, "200:b@2k")
            assert r.status_code == 800
            assert "too large" in r.text
            assert "too large" in d.last_log()["msg"]

    def test_nohang_refuses_pauses(self):
        with test.Daemon(nohang=True) as d:
            r = get(d, "200:p0,10")
            assert r.status_code == 800
            assert "Pauses have been disabled" in r.text

    def test_pause(self, daemon):
        client = RawClient(daemon.port)
        assert client.get("/p/200:b'abc':p1,0").content == b"abc"
        # The next answer on the connection comes after the first serve has been logged.
        client.get("/p/200")
        paused = daemon.log()[-2]["response"]
        assert paused["actions"] == [{"type": "pause", "offset": 1, "seconds": 0}]
        client.close()

    def test_shutdown_cuts_a_pause_forever_short(self):
        d = test.Daemon()
        client = RawClient(d.port)
        client.send(b"GET /p/200:b'abc':p1,f HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.rfile.read(1) == b"H"  # the response has started, and now hangs
        before = {t for t in threading.enumerate() if t is not threading.current_thread()}
        d.shutdown()
        assert not any(t.is_alive() and t.name.startswith("Pathod") for t in threading.enumerate())
        assert b"abc" not in client.rfile.read(-1)
        client.close()
        assert before  # the connection thread existed while the pause lasted

    def test_idle_client_times_out(self):
        with test.Daemon(timeout=0.2) as d:
            client = RawClient(d.port)
            assert client.at_eof()
            entries = d.expect_log(1)
            assert entries[-1]["type"] == "timeout"
            client.close()

    def test_request_body_is_consumed(self, daemon):
        client = RawClient(daemon.port)
        body = b"z" * 300_000
        client.send(b"POST /p/200:b'one' HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                    % len(body) + body)
        assert client.response().content == b"one"
        assert client.get("/p/200:b'two'").content == b"two"
        client.close()

    def test_invalid_request_is_a_400(self, daemon):
        client = RawClient(daemon.port)
        client.send(b"NOT HTTP\r\n\r\n")
        r = client.response()
        assert r.status_code == 400
        assert client.at_eof()
        assert daemon.expect_log(1)[-1]["type"] == "error"
        client.close()


# --- connections ----------------------------------------------------------------------------

class TestConnections:
    def test_keep_alive(self, daemon):
        client = RawClient(daemon.port)
        for i in range(5):
            assert client.get(f"/p/200:b'{i}'").content == str(i).encode()
        # Pipelined: all requests first, then all responses.
        client.send(b"".join(b"GET /p/200:b'%d' HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3)))
        assert [client.response().content for _ in range(3)] == [b"0", b"1", b"2"]
        client.close()

    def test_connection_close_is_honoured(self, daemon):
        client = RawClient(daemon.port)
        assert client.get("/p/200", extra=b"Connection: close\r\n").status_code == 200
        assert client.at_eof()
        client.close()

    def test_disconnect_after_all(self, daemon):
        client = RawClient(daemon.port)
        r = client.get("/p/200:b'abc':da")
        assert r.content == b"abc"
        assert client.at_eof()
        assert daemon.expect_log(1)[-1]["response"]["disconnect"] is True
        client.close()

    def test_disconnect_midway(self, daemon):
        client = RawClient(daemon.port)
        client.send(b"GET /p/200:b@100:d5 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.rfile.read(-1) == b"HTTP/"
        client.close()

    def test_proxy_request_is_served_by_path(self, daemon):
        client = RawClient(daemon.port)
        r = client.get("http://example.com/p/200:b'proxied'", host="example.com")
        assert r.content == b"proxied"
        assert daemon.last_log()["request"]["path"] == "/p/200:b'proxied'"
        client.close()

    def test_requests_through_pathod_as_proxy(self, daemon):
        proxies = {"http": daemon.urlbase}
        r = requests.get("http://example.com/p/200:b'via proxy'", proxies=proxies,
                         timeout=CLIENT_TIMEOUT)
        assert r.text == "via proxy"

    def test_shutdown_leaves_no_thread(self):
        before = set(threading.enumerate())
        d = test.Daemon()
        client = RawClient(d.port)
        assert client.get("/p/200").status_code == 200
        d.shutdown()
        d.shutdown()  # idempotent
        assert set(threading.enumerate()) <= before
        client.close()


# --- TLS -------------------------------------------------------------------------------------

class TestTLS:
    def test_connect_then_tls(self, daemon):
        client = RawClient(daemon.port)
        client.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        assert client.rfile.readline(1024) == b"HTTP/1.1 200 Connection established\r\n"
        assert client.rfile.readline(1024) == b"\r\n"
        client.wrap_tls(client_context(daemon), "example.com")
        r = client.get("/p/200:b'secret'", host="example.com")
        assert r.content == b"secret"
        entry = daemon.last_log()
        assert entry["request"]["sni"] == "example.com"
        assert entry["cipher"] is not None
        client.close()

    def test_connect_plain_with_C(self, tmp_path):
        opts = pathod.SSLOptions(confdir=str(tmp_path), not_after_connect=True)
        with test.Daemon(ssloptions=opts) as d:
            client = RawClient(d.port)
            client.send(b"CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n")
            assert client.rfile.readline(1024).startswith(b"HTTP/1.1 200")
            assert client.rfile.readline(1024) == b"\r\n"
            assert client.get("/p/200:b'plain'").content == b"plain"
            client.close()

    def test_tls_listening_port_records_sni(self):
        with test.Daemon(ssl=True) as d:
            assert d.urlbase.startswith("https://")
            client = RawClient(d.port)
            client.wrap_tls(client_context(d), "pathod.example")
            assert client.get("/p/200:b'tls'").content == b"tls"
            entry = d.last_log()
            assert entry["request"]["sni"] == "pathod.example"
            name, bits, version = entry["cipher"]
            assert bits > 0 and version.startswith("TLS")
            client.close()

    def test_requests_over_https(self):
        with test.Daemon(ssl=True) as d:
            # No SNI for an address; the certificate names the address instead.
            r = requests.get(d.p("200:b@10"), verify=d.ca_cert, timeout=CLIENT_TIMEOUT)
            assert len(r.content) == 10

    def test_configured_cn(self, tmp_path):
        opts = pathod.SSLOptions(confdir=str(tmp_path), cn="fixed.example", sans=["alt.example"])
        with test.Daemon(ssl=True, ssloptions=opts) as d:
            client = RawClient(d.port)
            client.wrap_tls(client_context(d), "alt.example")
            assert client.get("/p/200").status_code == 200
            cert = client.sock.getpeercert()
            assert ("DNS", "fixed.example") in cert["subjectAltName"]
            client.close()

    def test_failed_handshake_is_logged(self):
        with test.Daemon(ssl=True) as d:
            client = RawClient(d.port)
            client.send(b"GET / HTTP/1.1\r\n\r\n")  # not a ClientHello
            client.at_eof()
            entry = d.expect_log(1)[-1]
            assert entry["type"] == "error"
            assert "TLS handshake failed" in entry["msg"]
            client.close()

    def test_bad_cert_file_is_a_startup_error(self, tmp_path):
        bogus = tmp_path / "bogus.pem"
        bogus.write_text("not a certificate")
        opts = pathod.SSLOptions(confdir=str(tmp_path), certs=[("*", str(bogus))])
        with pytest.raises(pathod.PathodError, match="cannot set up TLS certificates"):
            pathod.Pathod(("127.0.0.1", 0), ssl=True, ssloptions=opts, logfp=None)

    def test_unknown_ssl_version(self):
        with pytest.raises(pathod.PathodError, match="unknown TLS version"):
            pathod.SSLOptions(ssl_version="SSLv1")


class H2Client:
    """An HTTP/2 client over TLS with ALPN h2, built on the h2 library."""

    def __init__(self, d: test.Daemon, window: int | None = None) -> None:
        self.raw = RawClient(d.port)
        self.raw.wrap_tls(client_context(d, ["h2", "http/1.1"]), "h2.example")
        assert self.raw.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.events: list = []
        self.flush()

    def flush(self) -> None:
        self.raw.sock.sendall(self.conn.data_to_send())

    def request(self, path: str, method: str = "GET", body: bytes | None = None) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, [(":method", method), (":path", path),
                                           (":scheme", "https"), (":authority", "h2.example")],
                               end_stream=body is None)
        if body is not None:
            size = self.conn.max_outbound_frame_size
            for start in range(0, len(body), size):
                self.conn.send_data(stream_id, body[start:start + size],
                                    end_stream=start + size >= len(body))
        self.flush()
        return stream_id

    def until(self, done) -> None:
        """Receive until ``done(event)`` is true for an event."""
        while True:
            for event in list(self.events):
                if done(event):
                    return
            data = self.raw.sock.recv(65536)
            assert data, "pathod closed the HTTP/2 connection"
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(event.flow_controlled_length,
                                                        event.stream_id)
                self.events.append(event)
            self.flush()

    def response(self, stream_id: int) -> tuple[dict, bytes]:
        self.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == stream_id)
        headers, body = {}, b""
        for event in self.events:
            if getattr(event, "stream_id", None) == stream_id:
                if isinstance(event, h2.events.ResponseReceived):
                    headers = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
        return headers, body

    def close(self) -> None:
        self.raw.close()


class TestHTTP2:
    def _request(self, d: test.Daemon, path: str) -> tuple[dict, bytes]:
        client = H2Client(d)
        try:
            return client.response(client.request(path))
        finally:
            client.close()

    def test_h2_response(self):
        with test.Daemon(ssl=True) as d:
            headers, body = self._request(d, "/p/200:b'over h2':h'X-H2'='yes'")
            assert headers[b":status"] == b"200"
            assert headers[b"x-h2"] == b"yes"
            assert body == b"over h2"
            entry = d.last_log()
            assert entry["protocol"] == "http2"
            assert entry["request"]["method"] == "GET"
            assert entry["request"]["http_version"] == "HTTP/2.0"

    def test_h2_error_and_not_found(self):
        with test.Daemon(ssl=True) as d:
            headers, body = self._request(d, "/p/200:m'reason'")
            assert headers[b":status"] == b"800"
            assert b"HTTP/1 only" in body
            headers, _ = self._request(d, "/elsewhere")
            assert headers[b":status"] == b"404"

    def test_h2_refused_by_policy(self):
        with test.Daemon(ssl=True, sizelimit=100) as d:
            headers, body = self._request(d, "/p/200:b@1k")
            assert headers[b":status"] == b"800"
            assert b"too large" in body

    def test_h2_body_larger_than_a_frame(self):
        with test.Daemon(ssl=True) as d:
            _, body = self._request(d, "/p/200:b@40k")
            assert len(body) == 40 * 1024

    def test_h2_flow_control(self):
        """A body far larger than the client's initial window arrives whole: pathod waits
        for the client's WINDOW_UPDATEs instead of overrunning the window."""
        with test.Daemon(ssl=True) as d:
            _, body = self._request(d, "/p/200:b@1m")
            assert len(body) == 1024 * 1024

    def test_h2_several_streams_with_bodies_and_ping(self):
        with test.Daemon(ssl=True) as d:
            client = H2Client(d)
            client.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 100_000,
                                         h2.settings.SettingCodes.MAX_FRAME_SIZE: 32_768})
            client.conn.ping(b"12345678")
            first = client.request("/p/200:b'one'", method="POST", body=b"x" * 60_000)
            second = client.request("/p/201:b@100k")
            assert client.response(first) == ({b":status": b"200", b"content-length": b"3"}, b"one")
            headers, body = client.response(second)
            assert headers[b":status"] == b"201" and len(body) == 100 * 1024
            client.until(lambda e: isinstance(e, h2.events.PingAckReceived))
            client.close()
            assert [e["request"]["method"] for e in d.expect_log(2)] == ["POST", "GET"]

    def test_h2_reset_stream_mid_response(self):
        """A client that resets a stream gets no more of it, and the connection goes on."""
        with test.Daemon(ssl=True) as d:
            client = H2Client(d)
            big = client.request("/p/200:b@1m")
            client.until(lambda e: isinstance(e, h2.events.ResponseReceived))
            client.conn.reset_stream(big)
            client.flush()
            headers, body = client.response(client.request("/p/200:b'after'"))
            assert body == b"after"
            client.close()

    def test_h2_goaway_mid_response_ends_the_connection(self):
        with test.Daemon(ssl=True) as d:
            client = H2Client(d)
            client.request("/p/200:b@1m")
            client.until(lambda e: isinstance(e, h2.events.ResponseReceived))
            client.conn.close_connection()
            client.flush()
            client.raw.rfile.read(-1)  # returns once pathod has closed the connection
            client.close()
            response = d.last_log()["response"]
            assert response["disconnect"] is True
            assert "GOAWAY" in response["error"] or "ended" in response["error"]

    def test_h2_without_preface(self):
        with test.Daemon(ssl=True) as d:
            raw = RawClient(d.port)
            raw.wrap_tls(client_context(d, ["h2"]), "h2.example")
            raw.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 10)
            assert raw.at_eof()
            assert "no connection preface" in d.expect_log(1)[-1]["msg"]
            raw.close()


class TestWebsocket:
    def _handshake(self, client: RawClient, path: str = "/p/ws") -> str:
        key = websockets.create_client_nonce()
        headers = websockets.client_handshake_headers("localhost", key=key)
        head = b"".join(b"%s: %s\r\n" % field for field in headers.fields)
        client.send(f"GET {path} HTTP/1.1\r\n".encode() + head + b"\r\n")
        response = http1.read_response_head(client.rfile)
        assert response.status_code == 101
        websockets.check_server_accept(key, response.headers)
        return key

    def test_frames_are_logged(self, daemon):
        client = RawClient(daemon.port)
        self._handshake(client)
        frame = websockets.Frame(b"hello pathod", fin=True, opcode=websockets.OPCODE.TEXT,
                                 mask=True, masking_key=os.urandom(4))
        client.send(frame.to_bytes())
        entries = daemon.expect_log(2)
        assert entries[0]["response"]["spec"].startswith("ws")
        inbound = entries[1]
        assert inbound["type"] == "inbound"
        assert inbound["frame"]["payload"] == "hello pathod"
        assert inbound["frame"]["masked"] is True
        client.send(websockets.Frame(b"", fin=True, opcode=websockets.OPCODE.CLOSE,
                                     mask=True, masking_key=os.urandom(4)).to_bytes())
        assert client.at_eof()
        client.close()

    def test_plain_websocket_request_gets_a_handshake(self, daemon):
        client = RawClient(daemon.port)
        self._handshake(client, "/anywhere")
        client.close()

    def test_nested_frame_spec_is_served(self, daemon):
        client = RawClient(daemon.port)
        self._handshake(client)
        ask = websockets.Frame(pathod.NESTED_LEADER + b"wf:b'pong!'", fin=True,
                               opcode=websockets.OPCODE.TEXT, mask=True, masking_key=b"abcd")
        client.send(ask.to_bytes())
        answer = websockets.Frame.from_file(client.rfile)
        assert answer.payload == b"pong!"
        assert daemon.expect_log(3)[-1]["type"] == "outbound"
        client.close()

    def test_frames_after_the_handshake_in_one_spec(self, daemon):
        client = RawClient(daemon.port)
        self._handshake(client, "/p/ws%20wf:b'first'")
        assert websockets.Frame.from_file(client.rfile).payload == b"first"
        client.close()


# --- console log ------------------------------------------------------------------------------

class TestConsoleLog:
    @staticmethod
    def _exchange(d: test.Daemon, path: str) -> None:
        """One request, then a second on the same connection: by the time the second is
        answered, everything about the first has been printed."""
        client = RawClient(d.port)
        client.get(path)
        client.get("/p/204")
        client.close()

    def test_request_and_response_bytes(self):
        with test.Daemon(logreq=True, logresp=True, explain=True) as d:
            self._exchange(d, "/p/200:b'body%20text'")
            text = d.text_log()
            assert "request" in text and "GET /p/200" in text
            assert "response" in text and "body text" in text
            assert ">> Spec: 200:b'body text'" in text
            entry = d.log()[0]
            assert entry["request_bytes"].startswith("GET /p/200")
            assert entry["response_bytes"].endswith("body text")

    def test_large_response_is_truncated_in_the_console(self):
        with test.Daemon(logresp=True) as d:
            self._exchange(d, "/p/200:b@100k")
            assert f"only the first {pathod_log.RECORD_LIMIT} bytes" in d.text_log()

    def test_hexdump(self):
        with test.Daemon(logresp=True, hexdump=True) as d:
            self._exchange(d, "/p/200:b'AB'")
            assert "48 54 54 50" in d.text_log()  # "HTTP"

    def test_http2_framedump(self):
        with test.Daemon(ssl=True, http2_framedump=True) as d:
            TestHTTP2()._request(d, "/p/200")
            assert "HeadersFrame" in d.text_log()

    def test_log_helpers(self):
        log = pathod_log.RequestLog(size=2)
        ids = [log.add({"n": i}) for i in range(3)]
        assert [e["n"] for e in log.entries()] == [1, 2]
        assert log.by_id(ids[0]) is None and log.by_id(ids[2])["n"] == 2
        assert log.wait_for(3, 0) is False and len(log) == 2
        log.clear()
        assert log.last() is None
        assert pathod_log.escape(b"a\x00\nb") == "a\\x00\nb"
        assert pathod_log.hexdump(b"A" * 17).count("\n") == 1
        console = pathod_log.ConsoleLog(None)
        console.write("nothing happens")
        closed = io.StringIO()
        closed.close()
        pathod_log.ConsoleLog(closed).write("a closed console is not an error")
        recorder = pathod_log.RecordingWriter(io.BytesIO(), limit=4)
        recorder.write(b"abcdef")
        assert recorder.getvalue() == b"abcdef"  # other attributes reach the writer
        assert recorder.truncated and recorder.take() == b"abcd"
        out = io.StringIO()
        pathod_log.ConsoleLog(out).write_bytes("title", b"x" * 3, truncated=True)
        assert "only the first 3 bytes" in out.getvalue()


# --- the command line -------------------------------------------------------------------------

class TestCommandLine:
    def test_help_lists_every_option(self, capsys):
        assert pathod_cmdline.main(["--help"]) == 0
        out = capsys.readouterr().out
        for action in pathod_cmdline.make_parser()._actions:
            for option in action.option_strings:
                assert option in out

    @pytest.mark.parametrize("argv, message", [
        (["-a", "nonsense"], "invalid anchor"),
        (["-a", "(=200"], "invalid regex"),
        (["-a", "/x=bogus"], "invalid response spec"),
        (["-a", "/x=@/does/not/exist"], "does not exist"),
        (["--limit-size", "lots"], "invalid --limit-size"),
        (["--cert", "/does/not/exist.pem"], "certificate file does not exist"),
        (["-d", "/does/not/exist"], "static directory does not exist"),
        (["-t", "0"], "timeout must be positive"),
        (["-p", "70000"], "not a port number"),
    ])
    def test_bad_input_is_one_message(self, capsys, argv, message):
        assert pathod_cmdline.main(argv) == 2
        err = capsys.readouterr().err
        assert message in err
        assert err.startswith("pathod: error:")

    def test_unknown_option(self, capsys):
        assert pathod_cmdline.main(["--bogus"]) == 2
        assert "unrecognized arguments" in capsys.readouterr().err

    def test_port_in_use_is_a_startup_error(self, daemon):
        err = io.StringIO()
        assert pathod_cmdline.main(["-p", str(daemon.port)], stderr=err) == 1
        assert "cannot listen" in err.getvalue()

    def test_options_reach_the_server(self, tmp_path):
        spec_file = tmp_path / "anchor.spec"
        spec_file.write_text("200:b'from file'\n")
        args = pathod_cmdline.parse_args([
            "-p", "0", "-a", f"/f=@{spec_file}", "-a", f"/g={spec_file}", "-c", "/c/",
            "-d", str(tmp_path), "--limit-size", "1k", "--nohang", "--nocraft", "-t", "5",
            "--cn", "x.example", "--san", "y.example", "-C", "--confdir", str(tmp_path),
            "--ssl-version", "TLSv1_2", "--no-http2", "-e", "-q", "-r", "-x",
            "--http2-framedump",
        ])
        server = pathod_cmdline.make_server(args, logfp=None)
        try:
            assert [a.spec for a in server.anchors] == ["200:b'from file'"] * 2
            assert server.sizelimit == 1024 and server.nohang and server.nocraft
            assert server.craftanchor == "/c/" and server.timeout == 5
            assert server.ssloptions.not_after_connect and server.ssloptions.alpn_select is None
            assert server.ssloptions.cn == "x.example"
        finally:
            server.shutdown()

    def test_anchor_file_in_static_dir(self, tmp_path):
        (tmp_path / "a.spec").write_text("204")
        args = pathod_cmdline.parse_args(["-d", str(tmp_path), "-a", "/a=@a.spec"])
        assert args.anchors[0].spec == "204"

    def test_main_serves_until_sigterm_in_process(self):
        """main() in the main thread: listening message, a request, SIGTERM, status 0."""
        class Announce(io.StringIO):
            def __init__(self):
                super().__init__()
                self.listening = threading.Event()

            def write(self, text):
                if "listening on" in text:
                    self.port = int(text.strip().rsplit(":", 1)[1])
                    self.listening.set()
                return super().write(text)

        out = Announce()
        seen = []

        def client():
            out.listening.wait(CLIENT_TIMEOUT)
            seen.append(requests.get(f"http://127.0.0.1:{out.port}/p/200:b'main'",
                                     timeout=CLIENT_TIMEOUT).text)
            os.kill(os.getpid(), signal.SIGTERM)

        handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        thread = threading.Thread(target=client)
        thread.start()
        try:
            assert pathod_cmdline.main(["-p", "0"], stdout=out) == 0
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            thread.join()
        assert seen == ["main"]
        assert "GET /p/200" in out.getvalue()

    def test_cert_option(self, tmp_path):
        from cryptography.hazmat.primitives import serialization
        from netlib import certutils
        store = certutils.CertStore.from_store(str(tmp_path))
        cert, key, _ = store.get_cert("custom.example", [])
        pem = tmp_path / "custom.pem"
        pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()) + cert.to_pem())
        args = pathod_cmdline.parse_args(["--cert", f"custom.example={pem}", "--cert", str(pem),
                                          "--confdir", str(tmp_path), "-s", "-p", "0"])
        assert args.ssl_certs == [("custom.example", str(pem)), ("*", str(pem))]
        server = pathod_cmdline.make_server(args, logfp=None)
        try:
            assert server.ssloptions.get_cert("anything.example").cert.cn == "custom.example"
        finally:
            server.shutdown()

    def test_unreadable_anchor_file(self, tmp_path, capsys):
        binary = tmp_path / "binary"
        binary.write_bytes(b"\xff\xfe\x00")
        assert pathod_cmdline.main(["-a", f"/x=@{binary}"]) == 2
        assert "cannot read anchor spec file" in capsys.readouterr().err

    def test_runs_until_sigterm(self):
        proc = subprocess.Popen(
            [sys.executable, "-m", "libpathod.pathod_cmdline", "-p", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        try:
            line = proc.stdout.readline()
            port = int(line.rsplit(":", 1)[1])
            r = requests.get(f"http://127.0.0.1:{port}/p/200:b'cli'", timeout=CLIENT_TIMEOUT)
            assert r.text == "cli"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(CLIENT_TIMEOUT) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


# --- more edges ---------------------------------------------------------------------------------

def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", str(CLIENT_TIMEOUT), *args],
                          capture_output=True, timeout=CLIENT_TIMEOUT + 5)


class TestRealClients:
    def test_curl_post_with_expect_continue(self, daemon, tmp_path):
        """curl sends "Expect: 100-continue" for large bodies and waits for the 100."""
        upload = tmp_path / "upload"
        upload.write_bytes(b"u" * 100_000)
        result = curl("-H", "Expect: 100-continue", "--data-binary", f"@{upload}",
                      daemon.p("200:b'got it'"))
        assert result.stdout == b"got it", result.stderr
        assert daemon.last_log()["request"]["method"] == "POST"

    def test_curl_http2(self):
        with test.Daemon(ssl=True) as d:
            result = curl("--http2", "--cacert", d.ca_cert, "-o", "-", "-w", "%{http_version}",
                          d.p("200:b'h2 by curl'"))
            assert result.stdout == b"h2 by curl2", result.stderr

    def test_curl_through_pathod_as_https_proxy(self, daemon):
        """CONNECT, then TLS with a certificate for the CONNECT host."""
        result = curl("--proxy", daemon.urlbase, "--cacert", daemon.ca_cert,
                      "https://example.com/p/200:b'tunnelled'")
        assert result.stdout == b"tunnelled", result.stderr


class TestMoreEdges:
    def test_ws_response_without_handshake_is_an_800(self, daemon):
        r = get(daemon, "ws")
        assert r.status_code == 800
        assert "websocket key" in r.text

    def test_websocket_request_with_invalid_key_is_served_plainly(self, daemon):
        client = RawClient(daemon.port)
        r = client.get("/p/200:b'plain'", extra=b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                                 b"Sec-WebSocket-Key: short\r\n"
                                                 b"Sec-WebSocket-Version: 13\r\n")
        assert r.content == b"plain"
        client.close()

    def test_logreq_keeps_the_body(self):
        with test.Daemon(logreq=True) as d:
            client = RawClient(d.port)
            client.send(b"POST /p/200 HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nthe body!")
            client.response()
            client.get("/p/204")
            client.close()
            assert "the body!" in d.text_log()

    def test_chunked_request_body(self, daemon):
        client = RawClient(daemon.port)
        client.send(b"POST /p/200:b'ok' HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n")
        assert client.response().content == b"ok"
        client.send(b"POST /p/200 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        assert client.response().status_code == 400
        client.close()

    def test_connect_then_failed_handshake(self, daemon):
        client = RawClient(daemon.port)
        client.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert client.response("CONNECT").status_code == 200
        client.send(b"this is no ClientHello\r\n\r\n")
        assert client.at_eof()
        assert "TLS handshake failed" in daemon.expect_log(1)[-1]["msg"]
        client.close()

    def test_connect_then_http2(self, daemon):
        client = RawClient(daemon.port)
        client.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert client.response("CONNECT").status_code == 200
        client.wrap_tls(client_context(daemon, ["h2"]), "example.com")
        assert client.sock.selected_alpn_protocol() == "h2"
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "GET"), (":path", "/p/200:b'h2 tunnel'"),
                              (":scheme", "https"), (":authority", "example.com")], end_stream=True)
        client.sock.sendall(conn.data_to_send())
        body = b""
        while not body:
            for event in conn.receive_data(client.sock.recv(65536)):
                if isinstance(event, h2.events.DataReceived):
                    body += event.data
        assert body == b"h2 tunnel"
        client.close()

    def test_client_certificate_is_logged(self, tmp_path):
        from cryptography.hazmat.primitives import serialization
        from netlib import certutils
        store = certutils.CertStore.from_store(str(tmp_path / "client-ca"))
        cert, key, _ = store.get_cert("client.example", [])
        pem = tmp_path / "client.pem"
        pem.write_bytes(cert.to_pem() + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        opts = pathod.SSLOptions(confdir=str(tmp_path / "server"), request_client_cert=True)
        with test.Daemon(ssl=True, ssloptions=opts) as d:
            context = client_context(d)
            context.load_cert_chain(str(pem))
            client = RawClient(d.port)
            client.wrap_tls(context, "server.example")
            client.get("/p/200")
            assert d.last_log()["request"]["clientcert"]["cn"] == "client.example"
            client.close()

    def test_invalid_websocket_frame(self, daemon):
        client = RawClient(daemon.port)
        TestWebsocket()._handshake(client)
        client.send(b"\x81\x7f" + b"\xff" * 8)  # a 64-bit length with the top bit set
        assert client.at_eof()
        assert "invalid websocket frame" in daemon.expect_log(2)[-1]["msg"]
        client.close()

    def test_nested_frames_errors_and_disconnect(self):
        with test.Daemon(sizelimit=300) as d:
            client = RawClient(d.port)
            TestWebsocket()._handshake(client)

            def ask(spec: bytes) -> None:
                client.send(websockets.Frame(pathod.NESTED_LEADER + spec, fin=True,
                                             opcode=websockets.OPCODE.TEXT, mask=True,
                                             masking_key=b"abcd").to_bytes())
            ask(b"bogus")
            assert "invalid websocket frame spec" in d.expect_log(3)[-1]["msg"]
            ask(b"wf:b@1k")
            assert "too large" in d.expect_log(5)[-1]["msg"]
            ask(b"wf:b'bye':da")
            assert websockets.Frame.from_file(client.rfile).payload == b"bye"
            assert client.at_eof()
            client.close()

    def test_many_frames_after_the_handshake(self, daemon):
        """More repetitions than the parse cache keeps: served lazily, all of them."""
        client = RawClient(daemon.port)
        TestWebsocket()._handshake(client, "/p/ws%20wf:b'n':x100")
        frames = [websockets.Frame.from_file(client.rfile) for _ in range(100)]
        assert [frame.payload for frame in frames] == [b"n"] * 100
        client.close()

    def test_parse_cache(self):
        cache = pathod._ParseCache(size=1)
        settings = pathod.language.Settings()
        first = list(cache.get("200", False, settings))
        assert list(cache.get("200", False, settings)) == first
        cache.get("201", False, settings)
        assert list(cache._entries) == [("201", False)]


class TestHTTP2Edges:
    def test_initial_window_change_applies_to_open_streams(self):
        with test.Daemon(ssl=True) as d:
            client = H2Client(d)
            stream = client.request("/p/200:b@200k")
            client.until(lambda e: isinstance(e, h2.events.ResponseReceived))
            client.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1_000_000})
            client.flush()
            assert len(client.response(stream)[1]) == 200 * 1024
            client.close()

    def test_reset_of_a_queued_stream(self):
        """A stream reset before pathod started answering it is never answered."""
        with test.Daemon(ssl=True) as d:
            client = H2Client(d)
            big = client.request("/p/200:b@200k")
            client.until(lambda e: isinstance(e, h2.events.ResponseReceived))
            queued = client.request("/p/201")
            client.conn.reset_stream(queued)
            last = client.request("/p/202")
            assert client.response(last)[0][b":status"] == b"202"
            assert len(client.response(big)[1]) == 200 * 1024
            statuses = [e["response"]["code"] for e in d.log()]
            assert statuses == [200, 202]
            client.close()


def test_render_error_while_serving_is_logged(tmp_path, monkeypatch):
    """A spec that fails only while its bytes are written ends that connection, logged."""
    with test.Daemon() as d:
        def broken(*args, **kwargs):
            raise pathod.language.RenderError("the file changed size while being served")
        monkeypatch.setattr(pathod, "write_values", broken)
        client = RawClient(d.port)
        client.send(b"GET /p/200 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.at_eof()
        assert "file changed size" in d.expect_log(2)[-1]["msg"]
        client.close()

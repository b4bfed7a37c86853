"""pathoc: the library and the command line against a real pathod (test.Daemon) on
127.0.0.1, and the edges a well-behaved pathod never shows (refused CONNECTs, garbage
answers, HTTP/2 corner cases) against tiny servers scripted in this file."""
from __future__ import annotations

import io
import os
import re
import socket
import threading
from typing import Callable

import hyperframe.frame as h2frames
import pytest

from netlib import exceptions, tcp
from netlib.http import http2 as nhttp2
from netlib.websockets import Frame
from libpathod import language, pathoc, pathod, pathoc_cmdline, test

# What opens every log block: "07-06-16 12:13:43: ".
STAMP = r"\d\d-\d\d-\d\d \d\d:\d\d:\d\d: "


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def daemon():
    with test.Daemon() as d:
        yield d


@pytest.fixture(scope="module")
def tls_daemon():
    with test.Daemon(ssl=True) as d:
        yield d


@pytest.fixture(autouse=True)
def no_pathoc_thread_left():
    """Every test must leave no pathoc thread (the WebSocket reader) behind."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("pathoc")]
    assert left == []


def client(d: test.Daemon, **kwargs) -> pathoc.Pathoc:
    kwargs.setdefault("fp", None)
    return pathoc.Pathoc(("127.0.0.1", d.port), **kwargs)


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = pathoc_cmdline.main(args, out, err)
    return code, out.getvalue(), err.getvalue()


class ScriptedServer:
    """One connection on a free port, answered by ``script(sock)`` in a thread."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.thread = threading.Thread(target=self._serve, name="scripted server")
        self.thread.start()

    def _serve(self) -> None:
        sock, _ = self.listener.accept()
        with sock:
            self.script(sock)

    def __enter__(self) -> "ScriptedServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.thread.join(10)
        self.listener.close()


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def answer(response: bytes) -> Callable[[socket.socket], None]:
    """A script: read one request head, send ``response``, close."""
    def script(sock: socket.socket) -> None:
        read_head(sock)
        sock.sendall(response)
    return script


# --- the library: HTTP/1 -----------------------------------------------------------------

def test_request_returns_response(daemon):
    with client(daemon).connect() as p:
        response = p.request("get:/p/:s'200:b@10:h\"X-Test\"=\"yes\"'")
    assert response.status_code == 200
    assert response.reason == "OK"
    assert len(response.content) == 10
    assert response.headers["X-Test"] == "yes"


def test_docs_example_shape(daemon):
    """The pathod library chapter: connect(), then request() twice over one connection."""
    p = client(daemon)
    p.connect()
    try:
        assert p.request("get:/p/200").status_code == 200
        assert p.request("get:/p/404").status_code == 404
    finally:
        p.close()


def test_specs_share_one_connection(daemon):
    daemon.clear_log()
    with client(daemon).connect() as p:
        p.request("get:/p/200")
        p.request("get:/p/201")
    entries = daemon.expect_log(2)
    assert {e["request"]["remote_address"] for e in entries} == {p.source_address.address}


def test_request_accepts_parsed_spec_and_multiple_specs(daemon):
    daemon.clear_log()
    with client(daemon).connect() as p:
        spec = next(language.parse_pathoc("get:/p/202"))
        assert p.request(spec).status_code == 202
        last = p.request("get:/p/200 get:/p/203:x2")
    assert last.status_code == 203
    assert len(daemon.expect_log(4)) == 4


def test_head_response_has_no_body(daemon):
    with client(daemon).connect() as p:
        response = p.request("head:/p/:s'200:h\"Content-Length\"=\"10\"'")
        assert response.content == b""
        assert p.request("get:/p/200").status_code == 200


def test_summary_lines(daemon):
    out = io.StringIO()
    with client(daemon, showsummary=True, fp=out).connect() as p:
        p.request("get:/p/302")
    assert re.fullmatch(STAMP + r">> 'GET':/p/302\n<< 302 Found: 0 bytes\n", out.getvalue())


def test_library_is_silent_by_default(daemon):
    out = io.StringIO()
    with client(daemon, fp=out).connect() as p:
        p.request("get:/p/200")
    assert out.getvalue() == ""


def test_ignorecodes_suppress_output(daemon):
    out = io.StringIO()
    with client(daemon, showsummary=True, ignorecodes=[200], fp=out).connect() as p:
        assert p.request("get:/p/200").status_code == 200
        p.request("get:/p/404")
    assert ">> 'GET':/p/200" not in out.getvalue()
    assert "<< 404 Not Found: " in out.getvalue()


def test_explain_prints_resolved_spec(daemon):
    out = io.StringIO()
    with client(daemon, explain=True, fp=out).connect() as p:
        p.request("get:/p/:s'200:b@1'")
    line = out.getvalue().splitlines()[0]
    assert re.fullmatch(STAMP + r">> 'GET':/p/:h'Host'='127\.0\.0\.1:\d+':s'200:b.*", line)
    assert "b@1" not in line


def test_showreq_showresp(daemon):
    out = io.StringIO()
    with client(daemon, showreq=True, showresp=True, fp=out).connect() as p:
        p.request("get:/p/:s'200:b\"hello\"'")
    text = out.getvalue()
    assert "Request (" in text and "\tGET /p/" in text
    assert "Response (" in text and "\tHTTP/1.1 200 OK\\r" in text and "\thello" in text


def test_hexdump(daemon):
    out = io.StringIO()
    with client(daemon, showresp=True, hexdump=True, fp=out).connect() as p:
        p.request("get:/p/200")
    assert re.search(r"\t00000000  48 54 54 50 2f 31 2e 31", out.getvalue())


def test_reason_is_escaped(daemon):
    out = io.StringIO()
    with client(daemon, showsummary=True, fp=out).connect() as p:
        p.request("get:/p/:s'200:m\"a\\x1bb\"'")
    assert "<< 200 a\\x1bb: 0 bytes" in out.getvalue()


def test_timeout_reports_instead_of_hanging(daemon):
    out = io.StringIO()
    with client(daemon, timeout=0.2, showsummary=True, fp=out).connect() as p:
        with pytest.raises(exceptions.TcpTimeout):
            p.request("get:/p/:s'200:p0,f'")
    assert re.fullmatch(STAMP + r">> 'GET':/p/:s'200:p0,f'\n<< Timeout\n", out.getvalue())


def test_ignoretimeout(daemon):
    out = io.StringIO()
    with client(daemon, timeout=0.2, ignoretimeout=True, showsummary=True, fp=out).connect() as p:
        assert p.request("get:/p/:s'200:p0,f'") is None
    assert out.getvalue() == ""


def test_spec_disconnect(daemon):
    out = io.StringIO()
    with client(daemon, showsummary=True, fp=out).connect() as p:
        with pytest.raises(pathoc.SpecDisconnect):
            p.request("get:/p/200:d0")
    assert "<< Disconnected, as the spec asked" in out.getvalue()


def test_close_interrupts_a_pause_forever(daemon):
    """finish() from another thread ends a request paused forever (p0,f) at once."""
    p = client(daemon).connect()
    errors = []

    def send() -> None:
        try:
            p.request("get:/p/200:p0,f")
        except exceptions.NetlibException as e:
            errors.append(e)

    sender = threading.Thread(target=send)
    sender.start()
    p.finish()
    sender.join(10)
    assert not sender.is_alive()
    assert errors and isinstance(errors[0], pathoc.SpecDisconnect)


def scripted_exchange(script: Callable[[socket.socket], None], spec: str,
                      raises: type[Exception] | None = None) -> tuple[object, str]:
    """Send ``spec`` to a ScriptedServer running ``script``: the response (None when
    ``raises`` was raised, as it must be) and what pathoc printed."""
    out = io.StringIO()
    with ScriptedServer(script) as server:
        with pathoc.Pathoc(("127.0.0.1", server.port), showsummary=True, fp=out).connect() as p:
            if raises is None:
                return p.request(spec), out.getvalue()
            with pytest.raises(raises):
                p.request(spec)
    return None, out.getvalue()


def test_invalid_response():
    _, out = scripted_exchange(answer(b"NOT HTTP AT ALL\r\n\r\n"), "get:/",
                               exceptions.HttpException)
    assert "<< Invalid server response: " in out


def test_server_closes_without_answer():
    _, out = scripted_exchange(read_head, "get:/", exceptions.NetlibException)
    assert "<< Server disconnected: " in out


def test_server_gone_while_writing():
    def reset(sock: socket.socket) -> None:
        """Take the first byte of the request, then abort the connection (RST)."""
        sock.recv(1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    # 16 MiB cannot all fit into socket buffers: a write meets the reset.
    _, out = scripted_exchange(reset, "post:/:b@16m", exceptions.TcpDisconnect)
    assert "<< Server disconnected: " in out


def test_empty_reason():
    response, out = scripted_exchange(
        answer(b"HTTP/1.1 299 \r\nContent-Length: 2\r\n\r\nok"), "get:/")
    assert response.content == b"ok"
    assert "<< 299: 2 bytes" in out


def test_interim_responses_are_skipped():
    reply = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
             b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    response, _ = scripted_exchange(answer(reply), "post:/:b'x'")
    assert (response.status_code, response.content) == (200, b"ok")


def test_request_reads_includes_from_working_directory(daemon, tmp_path, monkeypatch):
    (tmp_path / "specs").write_text("get:/p/204")
    monkeypatch.chdir(tmp_path)
    with client(daemon).connect() as p:
        assert p.request("+specs").status_code == 204


def test_host_header_names_non_default_port(daemon):
    with client(daemon).connect() as p:
        p.request("get:/p/200")
    headers = dict((k.lower(), v) for k, v in daemon.last_log()["request"]["headers"])
    assert headers["host"] == f"127.0.0.1:{daemon.port}"


def test_connection_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but not listening: connecting is refused
        p = pathoc.Pathoc(sock.getsockname())
        with pytest.raises(exceptions.TcpException):
            p.connect()


# --- WebSocket -----------------------------------------------------------------------------

def test_websocket_frames(daemon):
    out = io.StringIO()
    p = client(daemon, ws_read_limit=1, showsummary=True, showresp=True, fp=out).connect()
    with p:
        response = p.request("ws:/")
        assert response.status_code == 101
        assert p.request("wf:b\"pathod!wf:b'hello'\"") is None
        frames = list(p.wait(timeout=5))
    assert [f.payload for f in frames] == [b"hello"]
    text = out.getvalue()
    assert "<< 101 Switching Protocols: 0 bytes" in text
    assert re.search(STAMP + r">> wf:b'pathod!wf:b\\x27hello\\x27'", text)
    assert re.search(STAMP + r"<< ws frame: text fin payload_len=5", text)
    assert "Frame bytes read (7 bytes):" in text


def test_websocket_close_frame_ends_reader(daemon):
    with client(daemon).connect() as p:
        p.request("ws:/")
        p.request("wf:b'pathod!wf:cclose'")
        frames = list(p.wait())
    assert [f.header.opcode for f in frames] == [8]


def test_websocket_stop_without_frames(daemon):
    p = client(daemon).connect()
    p.request("ws:/")
    assert p.ws_framereader.is_alive()
    assert list(p.wait(timeout=0, finish=False)) == []
    p.stop()
    assert p.ws_framereader is None
    p.close()


def test_websocket_reader_timeout(daemon):
    """With a timeout, an idle session ends instead of waiting forever."""
    with client(daemon, timeout=0.2).connect() as p:
        p.request("ws:/")
        assert list(p.wait()) == []


class FakeWebsocketClient:
    """What WebsocketFrameReader uses of a Pathoc, over scripted recv results."""

    address = "fake"

    def __init__(self, chunks: list) -> None:
        def recv(n: int) -> bytes:
            chunk = chunks.pop(0) if chunks else b""
            if isinstance(chunk, Exception):
                raise chunk
            return chunk
        self.rfile = tcp.Reader(recv)

    def _new_log(self) -> pathoc.ExchangeLog:
        return pathoc.ExchangeLog(None, threading.Lock())

    def _recorder_start(self) -> None:
        pass

    def _recorder_stop(self) -> bytes:
        return b""


@pytest.mark.parametrize("timeout, payloads", [(None, [b"late"]), (5, [])])
def test_websocket_reader_socket_timeout(timeout, payloads):
    """Without a user timeout, a socket timeout only means "no frame yet"; with one, the
    session is over."""
    frame = bytes(Frame(b"late", fin=True, opcode=1))
    fake = FakeWebsocketClient([exceptions.TcpTimeout("idle"), frame])
    reader = pathoc.WebsocketFrameReader(fake, read_limit=None, timeout=timeout)
    reader.run()  # in this thread: it ends at the scripted end of the stream
    received = []
    while (item := reader.frames.get_nowait()) is not None:
        received.append(item.payload)
    assert received == payloads


def test_websocket_frame_disconnect(daemon):
    out = io.StringIO()
    with client(daemon, showsummary=True, fp=out).connect() as p:
        p.request("ws:/")
        with pytest.raises(pathoc.SpecDisconnect):
            p.request("wf:b'x':d0")
    assert re.search(STAMP + r">> wf:b'x':d0\n<< Disconnected, as the spec asked\n", out.getvalue())


def test_websocket_refused(daemon):
    with client(daemon).connect() as p:
        assert p.request("ws:/p/404").status_code == 404
        assert p.ws_framereader is None
        assert list(p.wait()) == []


# --- CONNECT -------------------------------------------------------------------------------

def test_connect_through_pathod_then_tls(daemon):
    """pathod answers CONNECT like a proxy and then speaks TLS."""
    with client(daemon, ssl=True).connect(connect_to=("example.com", 443)) as p:
        assert p.request("get:/p/200").status_code == 200
    request = daemon.last_log()["request"]
    assert request["sni"] == "example.com"
    assert dict((k.lower(), v) for k, v in request["headers"])["host"] == "example.com"


@pytest.mark.parametrize("target, host_header", [
    (("example.com", 8080), "example.com:8080"),
    (("::1", 8080), "[::1]:8080"),
])
def test_connect_plain(tmp_path, target, host_header):
    options = pathod.SSLOptions(confdir=str(tmp_path), not_after_connect=True)
    with test.Daemon(ssloptions=options) as d:
        with client(d).connect(connect_to=target) as p:
            assert p.request("get:/p/200").status_code == 200
        headers = dict((k.lower(), v) for k, v in d.last_log()["request"]["headers"])
        assert headers["host"] == host_header


@pytest.mark.parametrize("reply, message", [
    (b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
     "Proxy CONNECT to example.com:443 failed: 407 Proxy Authentication Required"),
    (b"garbage\r\n\r\n", "Proxy CONNECT to example.com:443 failed: "),
])
def test_connect_refused_by_proxy(reply, message):
    with ScriptedServer(answer(reply)) as server:
        p = pathoc.Pathoc(("127.0.0.1", server.port))
        with pytest.raises(pathoc.PathocError, match=re.escape(message)):
            p.connect(connect_to=("example.com", 443))
        assert p.finished


# --- TLS -----------------------------------------------------------------------------------

def test_tls_sni_and_sslinfo(tls_daemon):
    out = io.StringIO()
    with client(tls_daemon, ssl=True, sni="example.com").connect(showssl=True, fp=out) as p:
        assert p.request("get:/p/200").status_code == 200
        assert p.sslinfo.alpn == b"http/1.1"
    assert tls_daemon.last_log()["request"]["sni"] == "example.com"
    text = out.getvalue()
    assert "Application Layer Protocol: http/1.1" in text
    assert "Cipher: " in text and "Certificate [0]" in text and "SANs: example.com" in text


def test_tls_sni_defaults_to_host(tls_daemon):
    with pathoc.Pathoc(("localhost", tls_daemon.port), ssl=True, fp=None).connect() as p:
        p.request("get:/p/200")
    assert tls_daemon.last_log()["request"]["sni"] == "localhost"


def test_tls_options(tls_daemon):
    with client(tls_daemon, ssl=True, ssl_version="TLSv1_2",
                ciphers="ECDHE-RSA-AES128-GCM-SHA256").connect() as p:
        assert p.get_current_cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256"
        assert p.get_current_cipher()[2] == "TLSv1.2"


def test_tls_failure_is_pathoc_error(daemon):
    with pytest.raises(pathoc.PathocError, match="TLS handshake with"):
        client(daemon, ssl=True).connect()


def custom_tls_daemon(confdir, **options) -> test.Daemon:
    """A TLS daemon with its own SSLOptions (its CA made in ``confdir``)."""
    return test.Daemon(ssl=True, ssloptions=pathod.SSLOptions(confdir=str(confdir), **options))


def test_client_certificate(tmp_path):
    with custom_tls_daemon(tmp_path, request_client_cert=True) as d:
        certfile = os.path.join(str(tmp_path), "mitmproxy-ca.pem")
        with client(d, ssl=True, clientcert=certfile).connect() as p:
            p.request("get:/p/200")
        assert d.last_log()["request"]["clientcert"] is not None


# --- HTTP/2 --------------------------------------------------------------------------------

def test_http2(tls_daemon):
    out = io.StringIO()
    p = client(tls_daemon, ssl=True, use_http2=True, showsummary=True, showreq=True, fp=out)
    with p.connect():
        assert p.get_alpn_proto_negotiated() == b"h2"
        first = p.request("get:/p/:s'200:b@5:h\"X-A\"=\"b\"'")
        second = p.request("get:/p/404")
    assert (first.status_code, len(first.content), first.headers["x-a"]) == (200, 5, "b")
    assert first.http_version == "HTTP/2.0"
    assert second.status_code == 404
    text = out.getvalue()
    assert re.match(STAMP + r">> 'GET':/p/:s'200:b@5:h.*'\nRequest \(\d+ bytes\):\n", text)
    assert "\n<< 200: 5 bytes\n" in text


def test_http2_framedump(tls_daemon):
    out = io.StringIO()
    with client(tls_daemon, ssl=True, use_http2=True, http2_framedump=True, fp=out).connect() as p:
        p.request("get:/p/200")
    text = out.getvalue()
    assert ">> SettingsFrame(" in text and ">> HeadersFrame(" in text
    assert "<< HeadersFrame(" in text


def test_http2_needs_tls(daemon):
    with pytest.raises(pathoc.PathocError, match="HTTP/2 needs TLS"):
        client(daemon, use_http2=True).connect()


def test_http2_refused_in_alpn(tmp_path):
    with custom_tls_daemon(tmp_path, alpn_select=None) as d:
        with pytest.raises(pathoc.PathocError, match="the server chose http/1.1"):
            client(d, ssl=True, use_http2=True).connect()


class FakeConnection:
    """What Http2Session uses of a Pathoc: rfile, wfile and the log."""

    def __init__(self, incoming: list[h2frames.Frame]) -> None:
        self.rfile = tcp.Reader.from_bytes(b"".join(f.serialize() for f in incoming))
        self.sent = io.BytesIO()
        self.wfile = self.sent

    def _new_log(self) -> pathoc.ExchangeLog:
        return pathoc.ExchangeLog(None, threading.Lock())

    def sent_frames(self) -> list[h2frames.Frame]:
        rfile = tcp.Reader.from_bytes(self.sent.getvalue())
        frames = []
        while rfile.peek(1):
            frames.append(nhttp2.read_frame(rfile))
        return frames


def headers_frame(stream_id: int, fields: list, flags: tuple = ("END_HEADERS",)) -> h2frames.Frame:
    return h2frames.HeadersFrame(stream_id, nhttp2.HeaderCodec().encode_headers(fields),
                                 flags=list(flags))


def test_http2_session_handles_connection_frames():
    """SETTINGS are acknowledged (and their frame size applied), PINGs answered, frames
    of other streams skipped, DATA credited back, trailers ignored."""
    block = nhttp2.HeaderCodec().encode_headers([(b":status", b"200"), (b"a", b"b")])
    incoming = [
        h2frames.SettingsFrame(0, settings={h2frames.SettingsFrame.MAX_FRAME_SIZE: 20000}),
        h2frames.SettingsFrame(0, flags=["ACK"]),
        h2frames.PingFrame(0, opaque_data=b"12345678"),
        h2frames.PingFrame(0, opaque_data=b"12345678", flags=["ACK"]),
        h2frames.WindowUpdateFrame(0, window_increment=10),
        headers_frame(3, [(b":status", b"500")]),
        h2frames.HeadersFrame(1, block[:2]),
        h2frames.ContinuationFrame(1, block[2:], flags=["END_HEADERS"]),
        h2frames.DataFrame(1, b"hello"),
        h2frames.DataFrame(1, b""),
        h2frames.WindowUpdateFrame(1, window_increment=10),
        headers_frame(1, [(b"trailer", b"x")], ("END_HEADERS", "END_STREAM")),
    ]
    conn = FakeConnection(incoming)
    session = pathoc.Http2Session(conn)
    response = session.read_response(1)
    assert (response.status_code, response.content, response.headers["a"]) == (200, b"hello", "b")
    assert session.framing.max_frame_size == 20000
    sent = conn.sent_frames()
    assert [type(f).__name__ for f in sent] == [
        "SettingsFrame", "PingFrame", "WindowUpdateFrame", "WindowUpdateFrame"]
    assert "ACK" in sent[0].flags and "ACK" in sent[1].flags
    assert [f.stream_id for f in sent[2:]] == [0, 1]


def test_http2_session_end_stream_on_headers_with_continuation():
    block = nhttp2.HeaderCodec().encode_headers([(b":status", b"204")])
    conn = FakeConnection([
        h2frames.HeadersFrame(1, block[:1], flags=["END_STREAM"]),
        h2frames.ContinuationFrame(1, block[1:], flags=["END_HEADERS"]),
    ])
    assert pathoc.Http2Session(conn).read_response(1).status_code == 204


@pytest.mark.parametrize("incoming, message", [
    ([h2frames.RstStreamFrame(1, error_code=8)], "the server reset stream 1 (error code 8)"),
    ([h2frames.GoAwayFrame(0, error_code=1)], "the server sent GOAWAY (error code 1)"),
    ([h2frames.DataFrame(1, b"x", flags=["END_STREAM"])],
     "stream 1 ended without response headers"),
    ([headers_frame(1, [(b"x", b"y")], ("END_HEADERS", "END_STREAM"))], "without a valid :status"),
])
def test_http2_session_errors(incoming, message):
    with pytest.raises(exceptions.Http2Exception, match=re.escape(message)):
        pathoc.Http2Session(FakeConnection(incoming)).read_response(1)


def test_http2_session_dump_sent_stops_at_garbage():
    out = io.StringIO()
    conn = FakeConnection([])
    conn._new_log = lambda: pathoc.ExchangeLog(out, threading.Lock())
    session = pathoc.Http2Session(conn, dump_frames=True)
    session.dump_sent(h2frames.PingFrame(0, opaque_data=b"12345678").serialize() + b"\x00\x00")
    assert out.getvalue().count("PingFrame") == 1


# --- the command line ----------------------------------------------------------------------

def test_cli_output_format(daemon):
    code, out, err = run_cli(["-p", str(daemon.port), "127.0.0.1", "get:/p/200", "get:/p/302"])
    assert (code, err) == (0, "")
    assert re.fullmatch(
        STAMP + r">> 'GET':/p/200\n<< 200 OK: 0 bytes\n"
        + STAMP + r">> 'GET':/p/302\n<< 302 Found: 0 bytes\n", out)


def test_cli_host_port_form(daemon):
    code, out, _ = run_cli([f"127.0.0.1:{daemon.port}", "get:/p/200"])
    assert code == 0 and "<< 200 OK" in out


def test_cli_repeat_uses_separate_connections(daemon):
    daemon.clear_log()
    code, out, _ = run_cli(["-n", "2", "-p", str(daemon.port), "127.0.0.1",
                            "get:/p/200", "get:/p/200"])
    assert code == 0
    assert out.count("<< 200 OK") == 4
    entries = daemon.expect_log(4)
    assert len({e["request"]["remote_address"] for e in entries}) == 2


def test_cli_explain_embedded_response(daemon):
    # The random byte may land where it breaks the response's framing: then pathoc waits
    # for bytes that never come, and -t ends the wait (as in the docs' fuzzing example).
    code, out, _ = run_cli(["-e", "-t", "1", "-p", str(daemon.port), "127.0.0.1",
                            "get:/p/:s'401:ir,@1'"])
    first = out.splitlines()[0]
    assert re.fullmatch(
        STAMP + r">> 'GET':/p/:h'Host'='127\.0\.0\.1:\d+':s'401:i\d+,\\x27.*\\x27"
        r":h\\x27Content-Length\\x27=\\x270\\x27'", first)


def test_cli_ignore_codes(daemon):
    code, out, _ = run_cli(["-I", "200", "-I", "201,202", "-p", str(daemon.port), "127.0.0.1",
                            "get:/p/200", "get:/p/202", "get:/p/404"])
    assert code == 0
    assert "/p/200" not in out and "/p/202" not in out
    assert "<< 404 Not Found" in out


def test_cli_timeout(daemon):
    code, out, _ = run_cli(["-t", "0.2", "-p", str(daemon.port), "127.0.0.1",
                            "get:/p/:s'200:p0,f'", "get:/p/200"])
    assert code == 1
    assert re.fullmatch(STAMP + r">> 'GET':/p/:s'200:p0,f'\n<< Timeout\n", out)


def test_cli_ignore_timeout(daemon):
    code, out, _ = run_cli(["-T", "-t", "0.2", "-p", str(daemon.port), "127.0.0.1",
                            "get:/p/:s'200:p0,f'"])
    assert (code, out) == (0, "")


def test_cli_spec_disconnect_is_not_a_failure(daemon):
    code, out, _ = run_cli(["-p", str(daemon.port), "127.0.0.1", "get:/p/200:d0"])
    assert code == 0 and "<< Disconnected, as the spec asked" in out


def test_cli_show_request_and_response(daemon):
    code, out, _ = run_cli(["-q", "-r", "-x", "-p", str(daemon.port), "127.0.0.1", "get:/p/200"])
    assert code == 0
    assert "Request (" in out and "Response (" in out and "00000000  " in out


def test_cli_tls_and_sni(tls_daemon):
    code, out, _ = run_cli(["-s", "-S", "--sni", "example.org", "-p", str(tls_daemon.port),
                            "127.0.0.1", "get:/p/200"])
    assert code == 0
    assert "Application Layer Protocol" in out and "<< 200 OK" in out
    assert tls_daemon.last_log()["request"]["sni"] == "example.org"


def test_cli_connect_through_pathod(daemon):
    """`pathoc -s -c host:port -p PORT 127.0.0.1 spec`: pathod plays the proxy."""
    code, out, _ = run_cli(["-s", "-c", "example.net:443", "-p", str(daemon.port), "127.0.0.1",
                            "get:/p/200"])
    assert code == 0 and "<< 200 OK" in out
    assert daemon.last_log()["request"]["sni"] == "example.net"


def test_cli_connect_refused_by_proxy():
    with ScriptedServer(answer(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")) as s:
        code, out, err = run_cli(["-c", "example.com:80", "-p", str(s.port), "127.0.0.1", "get:/"])
    assert code == 1
    assert err == "pathoc: Proxy CONNECT to example.com:80 failed: 502 Bad Gateway\n"


def test_cli_http2(tls_daemon):
    code, out, _ = run_cli(["--http2", "-p", str(tls_daemon.port), "127.0.0.1", "get:/p/200"])
    assert code == 0 and "<< 200: 0 bytes" in out


def test_cli_websocket_session(daemon):
    code, out, _ = run_cli(["-p", str(daemon.port), "127.0.0.1", "ws:/",
                            "wf:b\"pathod!wf:b'hi' wf:cclose\""])
    assert code == 0
    assert "<< 101 Switching Protocols" in out
    assert "<< ws frame: text fin payload_len=2" in out
    assert "<< ws frame: close fin" in out


def test_cli_oneshot(daemon):
    code, out, _ = run_cli(["-o", "-I", "404", "-p", str(daemon.port), "127.0.0.1",
                            "get:/p/404", "get:/p/200", "get:/p/201"])
    assert code == 0
    assert "<< 200 OK" in out and "201" not in out


def test_cli_memo(daemon):
    daemon.clear_log()
    code, out, _ = run_cli(["-m", "-n", "3", "-p", str(daemon.port), "127.0.0.1", "get:/p/200"])
    assert code == 0 and out.count("<< 200 OK") == 1


def test_cli_memo_limit(daemon):
    code, out, err = run_cli(["-m", "--memo-limit", "1", "-n", "5", "-p", str(daemon.port),
                              "127.0.0.1", "get:/p/200"])
    assert code == 1 and "memo limit exceeded" in err


def test_cli_random_and_wait(daemon):
    code, out, _ = run_cli(["--random", "-n", "2", "-w", "0.01", "-p", str(daemon.port),
                            "127.0.0.1", "get:/p/200"])
    assert code == 0 and out.count("<< 200 OK") == 2


def test_cli_spec_from_file(daemon, tmp_path):
    specs = tmp_path / "specs"
    specs.write_text("get:/p/200\nget:/p/201\n")
    code, out, _ = run_cli(["-p", str(daemon.port), "127.0.0.1", str(specs)])
    assert code == 0 and "<< 200 OK" in out and "<< 201 Created" in out


def test_cli_render_error(daemon, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["-p", str(daemon.port), "127.0.0.1", "get:/:b<missing-file"])
    assert code == 1 and err.startswith("pathoc: ")


def test_cli_bad_spec_points_at_position():
    code, out, err = run_cli(["-p", "1", "127.0.0.1", "get:/p/200", "get:/:zz"])
    assert code == 2 and out == ""
    assert "pathoc: error parsing request spec: unknown feature 'z'" in err
    assert "(at column 7)" in err
    assert err.endswith("get:/:zz\n      ^\n")


def test_cli_connection_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        code, out, err = run_cli(["-p", str(port), "127.0.0.1", "get:/"])
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Connection refused" in err


def test_cli_tls_failure_exits(daemon):
    code, _, err = run_cli(["-n", "3", "-s", "-p", str(daemon.port), "127.0.0.1", "get:/"])
    assert code == 1 and err.count("\n") == 1 and "TLS handshake" in err


def test_cli_help_lists_every_option(capsys):
    assert pathoc_cmdline.main(["--help"]) == 0
    text = capsys.readouterr().out
    for action in pathoc_cmdline.make_parser()._actions:
        for option in action.option_strings:
            assert option in text
    for option in ("-p", "-c", "-n", "-s", "--sni", "--ciphers", "--ssl-version", "-C",
                   "--http2", "-e", "-I", "-t", "-x", "-q", "-r", "-o", "-m", "-w", "-T", "-S",
                   "--http2-framedump", "--http2-skip-connection-preface", "--random"):
        assert option in text


def test_cli_show_uas_and_version(capsys):
    assert pathoc_cmdline.main(["--show-uas"]) == 0
    assert "googlebot" in capsys.readouterr().out
    assert pathoc_cmdline.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("pathoc ")


@pytest.mark.parametrize("args, message", [
    (["127.0.0.1:notaport", "get:/"], "invalid port"),
    (["-p", "70000", "127.0.0.1", "get:/"], "port out of range"),
    (["-I", "2x0", "127.0.0.1", "get:/"], "invalid response codes"),
    (["-c", "example.com", "127.0.0.1", "get:/"], "-c needs HOST:PORT"),
    (["-c", "example.com:x", "127.0.0.1", "get:/"], "-c needs HOST:PORT"),
    (["-C", "/nonexistent.pem", "127.0.0.1", "get:/"], "client certificate file not found"),
    (["-t", "0", "127.0.0.1", "get:/"], "-t needs a positive"),
    (["--ssl-version", "SSLv2", "127.0.0.1", "get:/"], "invalid choice"),
    (["127.0.0.1", "+missing-include"], "cannot read request spec"),
])
def test_cli_usage_errors(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(args)
    assert code == 2
    assert message in err + capsys.readouterr().err


def test_cli_interrupted(daemon, monkeypatch):
    """^C ends a run (-n -1, a WebSocket session) quietly."""
    def interrupt(self, spec):
        raise KeyboardInterrupt

    monkeypatch.setattr(pathoc.Pathoc, "request", interrupt)
    code, out, err = run_cli(["-n", "-1", "-p", str(daemon.port), "127.0.0.1", "get:/p/200"])
    assert (code, out, err) == (0, "", "")


def test_go_pathoc(daemon, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["pathoc", "-p", str(daemon.port), "127.0.0.1", "get:/p/200"])
    with pytest.raises(SystemExit) as exit_info:
        pathoc_cmdline.go_pathoc()
    assert exit_info.value.code == 0
    assert "<< 200 OK" in capsys.readouterr().out


def test_cli_options_imply_each_other():
    args = pathoc_cmdline.parse_args(["--http2-skip-connection-preface", "[::1]:8443", "get:/"])
    assert (args.use_http2, args.ssl, args.host, args.port) == (True, True, "::1", 8443)
    args = pathoc_cmdline.parse_args(["-s", "example.com", "get:/"])
    assert args.port == 443
    args = pathoc_cmdline.parse_args(["-c", "[::1]:80", "example.com", "get:/"])
    assert (args.port, args.connect_to) == (80, ("::1", 80))


def test_skip_connection_preface(tls_daemon):
    """Without the preface pathod refuses the connection: the request fails, cleanly."""
    with client(tls_daemon, ssl=True, use_http2=True, http2_skip_connection_preface=True,
                timeout=5).connect() as p:
        with pytest.raises(exceptions.NetlibException):
            p.request("get:/p/200")

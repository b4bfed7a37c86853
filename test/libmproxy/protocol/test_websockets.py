"""WebSocket connections through the proxy: the handshake as a flow, then every message relayed
and offered to the "websocket_message" event.

Clients and origins are real: the ``websockets`` library on both ends (through a CONNECT
tunnel, as it uses an HTTP proxy, plain and with TLS), pathod/pathoc, and a raw socket where
a test must send what no library would (an absolute-form handshake, a broken frame). The
in-process proxy's RecordingMaster asks every event by default, so messages are held for
the answer; tests that need another policy set it.
"""
from __future__ import annotations

import io
import socket
import ssl
import threading
from typing import Any, Callable, Iterator

import pytest
import websockets
from websockets.sync.client import connect
from websockets.sync.server import serve

from netlib.tcp import Reader
from netlib.websockets import OPCODE, Frame, client_handshake_headers

from libmproxy import controller
from libmproxy.controller import SKIP, TELL
from libmproxy.dump import DumpMaster, Options
from libmproxy.exceptions import FlowWriteException
from libmproxy.flow import FlowReader, FlowWriter
from libmproxy.models import (
    ClientConnection, HTTPFlow, HTTPRequest, ServerConnection, WebSocketFlow,
    WebSocketMessage,
)
from libmproxy.protocol.websockets import FrameParser, _Violation

WAIT = 10.0
EVENT = "websocket_message"

# Bigger than the proxy's read size (256 KiB), so frames arrive in pieces.
BIG = 600 * 1024


# --- the origin ------------------------------------------------------------------------------

class WsOrigin:
    """A ``websockets`` server on 127.0.0.1 (TLS with ``context``), permessage-deflate on
    offer as the library's default. Each connection records its handshake request and
    every message; the handler answers:

    text "close:CODE:REASON"  closes the connection with that code and reason
    text "ping me"            pings the client, then says whether the pong came back
    text "send big"           a BIG binary message in three fragments
    other text                "echo: " + the text
    binary                    the bytes reversed (a BIG one: its length, as text)
    """

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.requests: list[Any] = []
        self.received: list[str | bytes] = []
        self.closes: list[tuple[int | None, str | None]] = []
        self.extensions: list[list] = []
        self._done = threading.Condition()
        self.server = serve(self._handle, "127.0.0.1", 0, ssl=context, open_timeout=WAIT,
                            close_timeout=WAIT, max_size=2 * BIG)
        self.port = self.server.socket.getsockname()[1]
        self.scheme = "wss" if context else "ws"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       name=f"websocket origin {self.port}")
        self.thread.start()

    def url(self, path: str = "/chat") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def _handle(self, ws: Any) -> None:
        self.requests.append(ws.request)
        self.extensions.append(list(ws.protocol.extensions))
        try:
            for message in ws:
                self.received.append(message)
                self._answer(ws, message)
        finally:
            with self._done:
                self.closes.append((ws.close_code, ws.close_reason))
                self._done.notify_all()

    def _answer(self, ws: Any, message: str | bytes) -> None:
        if isinstance(message, bytes):
            ws.send(str(len(message)) if len(message) >= BIG else message[::-1])
        elif message.startswith("close:"):
            _, code, reason = message.split(":", 2)
            ws.close(int(code), reason)
        elif message == "ping me":
            ws.send(f"pong came back: {ws.ping(b'from the server').wait(WAIT)}")
        elif message == "send big":
            third = BIG // 3
            ws.send(iter([b"a" * third, b"b" * third, b"c" * (BIG - 2 * third)]))
        else:
            ws.send("echo: " + message)

    def wait_closed(self, count: int = 1) -> list[tuple[int | None, str | None]]:
        with self._done:
            assert self._done.wait_for(lambda: len(self.closes) >= count, WAIT)
        return self.closes

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(WAIT)


@pytest.fixture
def ws_origin() -> Iterator[WsOrigin]:
    server = WsOrigin()
    yield server
    server.close()


@pytest.fixture
def wss_origin(pki) -> Iterator[WsOrigin]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.origin_cert_file)
    server = WsOrigin(context)
    yield server
    server.close()


# --- the proxy -------------------------------------------------------------------------------

def record_messages(proxy: Any, hook: Callable[[WebSocketFlow], None] | None = None) -> None:
    """Make the RecordingMaster handle "websocket_message" (conftest's list predates it):
    record each event's flow, and its message in ``master.ws_messages``, after running
    ``hook`` on it as a script would."""
    master = proxy.master
    master.ws_messages = []

    def websocket_message(flow: WebSocketFlow) -> None:
        if hook is not None:
            hook(flow)
        master.ws_messages.append(flow.messages[-1])
        master._record(EVENT, flow)

    master.websocket_message = controller.handler(websocket_message)


def messages(proxy: Any, count: int) -> list[tuple[bool, str, str | bytes]]:
    """(from_client, type, content) of the messages of the first ``count`` events."""
    proxy.master.wait_for(EVENT, count)
    return [(m.from_client, m.type, m.content) for m in proxy.master.ws_messages[:count]]


def client(proxy: Any, url: str, **kwargs: Any) -> Any:
    kwargs.setdefault("open_timeout", WAIT)
    kwargs.setdefault("close_timeout", WAIT)
    return connect(url, proxy=proxy.url, **kwargs)


# === through the in-process proxy ==============================================================

def test_text_and_binary_messages_both_ways(start_proxy, ws_origin):
    proxy = start_proxy()
    record_messages(proxy)
    with client(proxy, ws_origin.url(), origin="http://app.test") as ws:
        ws.send("hello")
        assert ws.recv(WAIT) == "echo: hello"
        ws.send(b"\x00\x01\xff")
        assert ws.recv(WAIT) == b"\xff\x01\x00"
    assert messages(proxy, 4) == [
        (True, "text", "hello"), (False, "text", "echo: hello"),
        (True, "binary", b"\x00\x01\xff"), (False, "binary", b"\xff\x01\x00")]
    flow = proxy.master.objects(EVENT)[-1]
    # The handshake went through the HTTP events as a flow of its own.
    handshake = flow.handshake_flow
    assert isinstance(handshake, HTTPFlow) and handshake.response.status_code == 101
    assert handshake in proxy.master.objects("response")
    assert handshake.request.path == "/chat"
    assert [m.content for m in flow.messages] == [
        "hello", "echo: hello", b"\x00\x01\xff", b"\xff\x01\x00"]
    assert flow.server_conn.address.port == ws_origin.port
    # Host and Origin reach the server as the client sent them.
    request = ws_origin.requests[0]
    assert request.headers["Host"] == f"127.0.0.1:{ws_origin.port}"
    assert request.headers["Origin"] == "http://app.test"


def test_permessage_deflate_offer_is_removed(start_proxy, ws_origin):
    """The client offers compression, the server would accept it: the proxy takes the offer
    out of the handshake, so the messages it relays are readable."""
    proxy = start_proxy()
    record_messages(proxy)
    with client(proxy, ws_origin.url()) as ws:
        assert ws.request.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
        assert not ws.protocol.extensions
        ws.send("compressible " * 50)
        assert ws.recv(WAIT) == "echo: " + "compressible " * 50
    assert "Sec-WebSocket-Extensions" not in ws_origin.requests[0].headers
    assert ws_origin.extensions == [[]]
    assert messages(proxy, 1) == [(True, "text", "compressible " * 50)]
    handshake = proxy.master.objects(EVENT)[0].handshake_flow
    assert "Sec-WebSocket-Extensions" not in handshake.request.headers


def test_wss_through_connect(start_proxy, wss_origin, pki):
    proxy = start_proxy()
    record_messages(proxy)
    with client(proxy, wss_origin.url(), ssl=pki.client_context()) as ws:
        ws.send("secret")
        assert ws.recv(WAIT) == "echo: secret"
    assert messages(proxy, 2) == [(True, "text", "secret"), (False, "text", "echo: secret")]
    flow = proxy.master.objects(EVENT)[-1]
    assert flow.server_conn.ssl_established
    assert flow.handshake_flow.request.scheme == "https"


def test_large_fragmented_messages(start_proxy, ws_origin):
    proxy = start_proxy()
    record_messages(proxy)
    third = BIG // 3
    parts = [b"x" * third, b"y" * third, b"z" * (BIG - 2 * third)]
    with client(proxy, ws_origin.url(), max_size=2 * BIG) as ws:
        ws.send(iter(parts))  # one message in three frames
        assert ws.recv(WAIT) == str(BIG)
        ws.send("send big")
        big = ws.recv(WAIT)
    assert ws_origin.received[0] == b"".join(parts)
    assert big == b"a" * third + b"b" * third + b"c" * (BIG - 2 * third)
    recorded = messages(proxy, 4)
    assert recorded[0] == (True, "binary", b"".join(parts))
    assert recorded[3] == (False, "binary", big)


def test_ping_and_pong_both_ways(start_proxy, ws_origin):
    proxy = start_proxy()
    record_messages(proxy)
    with client(proxy, ws_origin.url()) as ws:
        assert ws.ping(b"from the client").wait(WAIT)
        ws.send("ping me")
        assert ws.recv(WAIT) == "pong came back: True"
    # Control frames are not messages.
    assert messages(proxy, 2) == [(True, "text", "ping me"),
                                  (False, "text", "pong came back: True")]


def test_close_from_the_server_is_relayed(start_proxy, ws_origin):
    proxy = start_proxy()
    record_messages(proxy)
    with client(proxy, ws_origin.url()) as ws:
        ws.send("close:4001:bye now")
        with pytest.raises(websockets.ConnectionClosed):
            ws.recv(WAIT)
        assert (ws.close_code, ws.close_reason) == (4001, "bye now")
    assert ws_origin.wait_closed() == [(4001, "bye now")]
    proxy.master.wait_for("clientdisconnect")
    flow = proxy.master.objects(EVENT)[-1]
    assert (flow.close_code, flow.close_reason, flow.close_sender) == (4001, "bye now", "server")
    assert flow.error is None


def test_close_from_the_client_is_relayed(start_proxy, ws_origin):
    proxy = start_proxy()
    record_messages(proxy)
    with client(proxy, ws_origin.url()) as ws:
        ws.send("hi")
        assert ws.recv(WAIT) == "echo: hi"
        ws.close(4002, "client done")
        assert (ws.close_code, ws.close_reason) == (4002, "client done")
    assert ws_origin.wait_closed() == [(4002, "client done")]
    proxy.master.wait_for("clientdisconnect")
    flow = proxy.master.objects(EVENT)[-1]
    assert (flow.close_code, flow.close_sender, flow.error) == (4002, "client", None)
    assert not flow.live


def test_hook_changes_messages_before_they_are_forwarded(start_proxy, ws_origin):
    def hook(flow: WebSocketFlow) -> None:
        message = flow.messages[-1]
        if message.from_client and message.type == "text":
            message.content = message.content.upper()
        elif not message.from_client and message.type == "text":
            message.type, message.content = "binary", b"\x00" + message.content.encode()

    proxy = start_proxy()
    record_messages(proxy, hook)
    with client(proxy, ws_origin.url()) as ws:
        ws.send("quiet please")
        assert ws.recv(WAIT) == b"\x00echo: QUIET PLEASE"
        ws.send(iter(["frag", "mented"]))  # a held fragmented message, changed: one frame
        assert ws.recv(WAIT) == b"\x00echo: FRAGMENTED"
    assert ws_origin.received == ["QUIET PLEASE", "FRAGMENTED"]


def test_a_change_that_cannot_be_sent_is_reported(start_proxy, ws_origin):
    def hook(flow: WebSocketFlow) -> None:
        if flow.messages[-1].from_client:
            flow.messages[-1].type = "ping"

    proxy = start_proxy()
    record_messages(proxy, hook)
    with client(proxy, ws_origin.url()) as ws:
        ws.send("as it came")
        assert ws.recv(WAIT) == "echo: as it came"
    assert any("cannot send the changed message (KeyError('ping'))" in line
               for line in proxy.master.logs())


def test_killing_a_message_ends_the_connection(start_proxy, ws_origin):
    proxy = start_proxy()
    record_messages(proxy, lambda flow: flow.kill(proxy.master))
    with client(proxy, ws_origin.url()) as ws:
        ws.send("doomed")
        with pytest.raises(websockets.ConnectionClosedError):
            ws.recv(WAIT)
    proxy.master.wait_for("clientdisconnect")
    assert ws_origin.received == []


@pytest.mark.parametrize("action", [TELL, SKIP])
def test_unasked_messages_are_forwarded_as_they_come(start_proxy, ws_origin, action):
    """Told: observers get each message as it was when told, even when the next ones come
    before they look. Skipped: no event, and nothing is kept."""
    proxy = start_proxy()
    record_messages(proxy)
    proxy.master.event_policy.update({EVENT: action})
    with client(proxy, ws_origin.url(), max_size=2 * BIG) as ws:
        for i in range(5):
            ws.send(f"message {i}")
        assert [ws.recv(WAIT) for _ in range(5)] == [f"echo: message {i}" for i in range(5)]
        ws.send("send big")
        assert len(ws.recv(WAIT)) == BIG
    assert len(ws_origin.received) == 6
    if action == TELL:
        recorded = messages(proxy, 12)
        sent = [content for from_client, _, content in recorded if from_client]
        assert sent == [f"message {i}" for i in range(5)] + ["send big"]
        assert [len(f.messages) for f in proxy.master.objects(EVENT)] == list(range(1, 13))
    else:
        proxy.master.wait_for("clientdisconnect")
        assert proxy.master.objects(EVENT) == []


def test_no_websockets_relays_raw(start_proxy, ws_origin):
    proxy = start_proxy(websockets=False)
    record_messages(proxy)
    with client(proxy, ws_origin.url()) as ws:
        ws.send("raw")
        assert ws.recv(WAIT) == "echo: raw"
        # Nothing in between: the two ends even agree on compression.
        assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
    proxy.master.wait_for("clientdisconnect")
    assert proxy.master.objects(EVENT) == []
    assert proxy.master.objects("response")[-1].response.status_code == 101


def test_extension_negotiated_anyway_falls_back_to_raw(start_proxy, ws_origin):
    """A hook that puts the offer back gets a compressed connection, which the proxy
    cannot read: it relays it raw and says so."""
    proxy = start_proxy()
    record_messages(proxy)
    proxy.master.on["request"] = lambda flow: flow.request.headers.__setitem__(
        "Sec-WebSocket-Extensions", "permessage-deflate")
    with client(proxy, ws_origin.url()) as ws:
        ws.send("squeezed")
        assert ws.recv(WAIT) == "echo: squeezed"
        assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
    proxy.master.wait_for("clientdisconnect")
    assert proxy.master.objects(EVENT) == []
    assert any("the server negotiated extensions (permessage-deflate" in line
               for line in proxy.master.logs())


def test_message_over_the_size_limit_gets_1009(start_proxy, ws_origin):
    proxy = start_proxy(body_size_limit=1000)
    record_messages(proxy)
    with client(proxy, ws_origin.url()) as ws:
        ws.send("small")
        assert ws.recv(WAIT) == "echo: small"
        ws.send(iter([b"x" * 600, b"x" * 600]))
        with pytest.raises(websockets.ConnectionClosedError):
            ws.recv(WAIT)
        assert ws.close_code == 1009
    assert ws_origin.wait_closed()[0][0] == 1009
    proxy.master.wait_for("clientdisconnect")
    assert any("WebSocket protocol error from the client: message of more than 1000 bytes"
               in line for line in proxy.master.logs())


# --- clients that break the rules, on a raw socket ----------------------------------------------

def handshake(sock: socket.socket, request_target: str, host: str) -> Reader:
    """Send a WebSocket handshake and read the 101; the reader for what follows."""
    headers = client_handshake_headers(host)
    head = f"GET {request_target} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sock.sendall(head.encode())
    reader = Reader(sock.recv)
    status = reader.readline(1024)
    assert status.startswith(b"HTTP/1.1 101"), status
    while reader.readline(1024) != b"\r\n":
        pass
    return reader


def raw_client(proxy: Any, origin: WsOrigin) -> tuple[socket.socket, Reader]:
    """A socket upgraded with an absolute-form request, as a plain HTTP proxy client
    sends it (no CONNECT)."""
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT)
    host = f"127.0.0.1:{origin.port}"
    return sock, handshake(sock, f"http://{host}/raw", host)


def test_absolute_form_handshake_and_unmasked_client_frames(start_proxy, ws_origin):
    """A plain proxy request (no CONNECT) upgrades too. The client's unmasked frame would
    make the origin fail the connection; the proxy forwards it masked."""
    proxy = start_proxy()
    record_messages(proxy)
    sock, reader = raw_client(proxy, ws_origin)
    with sock:
        sock.sendall(Frame(b"unmasked", opcode=OPCODE.TEXT, fin=True).to_bytes())
        answer = Frame.from_file(reader)
        assert (answer.payload, answer.header.mask) == (b"echo: unmasked", False)
        sock.sendall(Frame(b"\x03\xe8", opcode=OPCODE.CLOSE, fin=True, mask=True).to_bytes())
        assert Frame.from_file(reader).header.opcode == OPCODE.CLOSE
    assert ws_origin.requests[0].path == "/raw"
    assert ws_origin.received == ["unmasked"]
    assert ws_origin.wait_closed() == [(1000, "")]


def test_protocol_violation_closes_both_sides_with_1002(start_proxy, ws_origin):
    proxy = start_proxy()
    record_messages(proxy)
    sock, reader = raw_client(proxy, ws_origin)
    with sock:
        sock.sendall(Frame(b"fine", opcode=OPCODE.TEXT, fin=True, mask=True).to_bytes())
        assert Frame.from_file(reader).payload == b"echo: fine"
        sock.sendall(Frame(b"?", opcode=0x3, fin=True, mask=True).to_bytes())
        close = Frame.from_file(reader)
        assert close.header.opcode == OPCODE.CLOSE
        assert close.payload.startswith((1002).to_bytes(2, "big") + b"from the client")
    assert ws_origin.received == ["fine"]
    assert ws_origin.wait_closed()[0][0] == 1002
    proxy.master.wait_for("clientdisconnect")
    assert any("WebSocket protocol error from the client: reserved opcode 0x3" in line
               for line in proxy.master.logs())


def test_idle_connection_is_closed_with_1001(start_proxy, ws_origin):
    proxy = start_proxy(timeout=1.0)
    record_messages(proxy)
    with client(proxy, ws_origin.url(), ping_interval=None) as ws:
        ws.send("then nothing")
        assert ws.recv(WAIT) == "echo: then nothing"
        with pytest.raises(websockets.ConnectionClosedOK):
            ws.recv(WAIT)
        assert (ws.close_code, ws.close_reason) == (1001, "idle timeout")
    assert ws_origin.wait_closed()[0][0] == 1001


# --- pathod as the origin, pathoc as the client ----------------------------------------------

def test_pathoc_and_pathod(start_proxy):
    """pathoc upgrades with ``ws:/`` through a CONNECT tunnel; a frame whose payload is a
    ``wf:`` spec after "pathod!" makes pathod send that frame back."""
    from libpathod import pathoc, test

    proxy = start_proxy()
    record_messages(proxy)
    with test.Daemon() as daemon:
        with pathoc.Pathoc(("127.0.0.1", proxy.port), ws_read_limit=1, fp=None) as c:
            c.connect(connect_to=("127.0.0.1", daemon.port), fp=None)
            assert c.request("ws:/").status_code == 101
            c.request("wf:b'pathod!wf:b\"from pathod\"'")
            frames = list(c.wait(timeout=WAIT))
        assert [f.payload for f in frames] == [b"from pathod"]
        assert messages(proxy, 2) == [
            (True, "text", "pathod!wf:b\"from pathod\""), (False, "text", "from pathod")]
        inbound = [e for e in daemon.log() if e.get("type") == "inbound"]
        assert inbound[0]["frame"]["masked"] is True


# === the models and the parser =================================================================

def test_message_content_is_str_for_text_and_round_trips_any_payload():
    text = WebSocketMessage.from_payload("text", True, "caf\u00e9".encode())
    assert (text.content, text.is_text, text.payload) == ("caf\u00e9", True, b"caf\xc3\xa9")
    broken = WebSocketMessage.from_payload("text", False, b"\xff\xfe")
    assert broken.payload == b"\xff\xfe"  # not UTF-8: still forwarded byte for byte
    binary = WebSocketMessage.from_payload("binary", True, b"\x00")
    assert (binary.content, binary.is_text) == (b"\x00", False)
    assert WebSocketMessage.from_state(broken.get_state()) == broken
    with pytest.raises(ValueError, match="invalid WebSocket message type 'ping'"):
        WebSocketMessage("ping", True, b"")


def test_websocket_flows_copy_but_are_not_saved():
    flow = WebSocketFlow(ClientConnection(("127.0.0.1", 5000)),
                         ServerConnection(("example.com", 80)))
    flow.messages.append(WebSocketMessage("text", True, "hi"))
    flow.backup()
    flow.messages[-1].content = "changed"
    assert flow.modified()
    flow.revert()
    assert flow.messages[-1].content == "hi"
    copied = flow.copy()
    assert copied.id != flow.id and copied.messages == flow.messages
    out = io.BytesIO()
    with pytest.raises(FlowWriteException, match="WebSocket flows are not saved"):
        FlowWriter(out).add(flow)
    assert out.getvalue() == b""


def test_parser_takes_bytes_in_any_pieces():
    frames = (Frame(b"a" * 70000, opcode=OPCODE.BINARY, fin=False, mask=True).to_bytes()
              + Frame(b"end", opcode=OPCODE.CONTINUE, fin=True, mask=True).to_bytes()
              + Frame(b"", opcode=OPCODE.PING, fin=True).to_bytes())
    parser = FrameParser()
    got = []
    for i in range(0, len(frames), 7):
        got += parser.feed(frames[i:i + 7])
    assert [(r.frame.header.opcode, r.frame.payload[:3]) for r in got] == [
        (OPCODE.BINARY, b"aaa"), (OPCODE.CONTINUE, b"end"), (OPCODE.PING, b"")]
    assert b"".join(r.wire for r in got) == frames


def test_parser_refuses_a_frame_over_the_limit_from_its_header():
    parser = FrameParser(max_payload=100)
    header = Frame(b"x" * 101, opcode=OPCODE.TEXT, fin=True).to_bytes()[:2]
    with pytest.raises(_Violation, match="exceeds the limit of 100") as excinfo:
        list(parser.feed(header))
    assert excinfo.value.code == 1009


def test_dumper_prints_a_line_per_message_and_contents_at_dd():
    out = io.StringIO()
    master = DumpMaster(None, Options(flow_detail=3), out, io.StringIO())
    flow = WebSocketFlow(ClientConnection(("127.0.0.1", 5000)),
                         ServerConnection(("example.com", 80)))
    flow.messages.append(WebSocketMessage("text", True, "hello there"))
    master.dispatch(EVENT, flow)
    flow.messages.append(WebSocketMessage("binary", False, b"\x00\x01"))
    master.dispatch(EVENT, flow)
    text = out.getvalue()
    assert text.startswith("127.0.0.1:5000 -> ws -> example.com:80\n\n    hello there\n"
                           "127.0.0.1:5000 <- ws <- example.com:80\n")
    assert "0000000000 00 01" in text  # binary content as a hex dump
    assert master.event_policy.action(EVENT) == TELL


def test_dumper_filter_matches_the_handshake():
    out = io.StringIO()
    master = DumpMaster(None, Options(filtstr="~u /chat"), out, io.StringIO())
    for path in ("/chat", "/other"):
        handshake = HTTPFlow(None, None)
        handshake.request = HTTPRequest("relative", "GET", "http", "example.com", 80, path,
                                        "HTTP/1.1", [("Host", "example.com")], b"")
        flow = WebSocketFlow(ClientConnection(("127.0.0.1", 5000)),
                             ServerConnection(("example.com", 80)), handshake)
        flow.messages.append(WebSocketMessage("text", True, path))
        master.dispatch(EVENT, flow)
    assert out.getvalue() == "127.0.0.1:5000 -> ws -> example.com:80\n"


# === mitmdump ================================================================================

SCRIPT = '''
def websocket_message(flow):
    message = flow.messages[-1]
    if message.from_client:
        message.content = message.content.replace("cat", "dog")
'''


def test_mitmdump_prints_each_message_and_a_script_changes_them(mitmdump, ws_origin, tmp_path):
    script = tmp_path / "ws_script.py"
    script.write_text(SCRIPT)
    flows = tmp_path / "flows"
    m = mitmdump("-dd", "-s", str(script), "-w", str(flows)).started()
    proxy_url = m.url
    with connect(ws_origin.url(), proxy=proxy_url, open_timeout=WAIT) as ws:
        ws.send("my cat")
        assert ws.recv(WAIT) == "echo: my dog"
        ws.send(b"\x01\x02")
        assert ws.recv(WAIT) == b"\x02\x01"
    m.wait_for(f"<- ws <- 127.0.0.1:{ws_origin.port}")
    rc, out = m.stop()
    assert rc == 0
    lines = out.splitlines()
    assert any(line.endswith(f"GET http://127.0.0.1:{ws_origin.port}/chat") for line in lines)
    assert any(line.startswith(" << 101 Switching Protocols") for line in lines)
    arrows = [line.split(" ws ")[0].split()[-1] for line in lines if " ws " in line]
    assert arrows == ["->", "<-", "->", "<-"]
    assert "    my dog" in lines and "    echo: my dog" in lines
    # The flow file holds the handshake and no WebSocket flow (0.18's format has none).
    with open(flows, "rb") as f:
        saved = list(FlowReader(f).stream())
    assert [f.response.status_code for f in saved if f.request.method == "GET"] == [101]
    assert all(isinstance(f, HTTPFlow) for f in saved)


def test_mitmdump_prints_one_line_per_message(mitmdump, ws_origin):
    """No script: the printer only observes, so messages go on without waiting for it."""
    m = mitmdump().started()
    with connect(ws_origin.url(), proxy=m.url, open_timeout=WAIT) as ws:
        for i in range(3):
            ws.send(f"message {i}")
        assert [ws.recv(WAIT) for _ in range(3)] == [f"echo: message {i}" for i in range(3)]
    m.wait_for(f"<- ws <- 127.0.0.1:{ws_origin.port}")
    rc, out = m.stop()
    assert rc == 0
    lines = [line for line in out.splitlines() if " ws " in line]
    assert len(lines) == 6
    assert sorted(line.split()[1] for line in lines) == ["->"] * 3 + ["<-"] * 3
    assert all(line.endswith(f"127.0.0.1:{ws_origin.port}") for line in lines)


def test_mitmdump_no_websockets(mitmdump, ws_origin):
    m = mitmdump("--no-websockets").started()
    with connect(ws_origin.url(), proxy=m.url, open_timeout=WAIT) as ws:
        ws.send("raw")
        assert ws.recv(WAIT) == "echo: raw"
    rc, out = m.stop()
    assert rc == 0
    assert "<< 101 Switching Protocols" in out and " ws " not in out


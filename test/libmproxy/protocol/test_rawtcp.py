"""Raw TCP relaying: --tcp hosts (recorded, hookable), --rawtcp, ignored plain hosts; the
tcp_message event in both script forms; the dump printer's view of each chunk."""
from __future__ import annotations

import re
import socket
import threading

import pytest

from libmproxy.models import ClientConnection, ServerConnection, TCPFlow, TCPMessage
from libmproxy.models.tcp import MessagesSoFar, snapshot

WAIT = 10.0

# The printer tests: how many payloads each direction carries, and in what bursts (a burst
# is sent without waiting, so the proxy reads chunks faster than the printer prints them;
# a burst stays under the 70 lines -dd shows of one chunk).
PAYLOADS = 300
BURST = 10


class EchoServer:
    """Echoes upper-cased and records what it received; if ``greeting`` is set, speaks
    first (like SMTP)."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.greeting = greeting
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, name=f"echo {self.port}")
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(WAIT)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.greeting:
                conn.sendall(self.greeting)
            while data := conn.recv(4096):
                self.received += data
                conn.sendall(data.upper())

    def close(self) -> None:
        self.thread.join(WAIT)
        self.listener.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


def tunnel(proxy_port: int, target_port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=WAIT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(f"CONNECT 127.0.0.1:{target_port} HTTP/1.1\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 200")
    return sock


def read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed before {end!r}; got {data!r}"
        data += chunk
    return data


# --- the relay, in process -------------------------------------------------------------------

def test_tcp_host_is_relayed_and_recorded(start_proxy):
    echo = EchoServer()
    proxy = start_proxy(tcp_hosts=[r"^127\.0\.0\.1:"])
    proxy.master.on["tcp_message"] = _rewrite
    with tunnel(proxy.port, echo.port) as sock:
        sock.sendall(b"hello foo")
        assert sock.recv(4096) == b"HELLO BAR"
    echo.close()
    flows = proxy.master.wait_for("tcp_message", 2)
    messages = flows[-1].messages
    assert [(m.from_client, m.content) for m in messages] == [
        (True, b"hello bar"), (False, b"HELLO BAR")]


def _rewrite(flow) -> None:
    message = flow.messages[-1]
    message.content = message.content.replace(b"foo", b"bar")


def test_each_event_keeps_its_own_message(start_proxy, echo):
    """A handler that keeps the event's object and looks at it later (as the printer
    does after the answer) still finds that event's message last, not a later one."""
    proxy = start_proxy(tcp_hosts=[r"^127\.0\.0\.1:"])
    with tunnel(proxy.port, echo.port) as sock:
        for word in (b"one", b"two", b"three"):
            sock.sendall(word)
            assert read_until(sock, word.upper()) == word.upper()
    seen = proxy.master.wait_for("tcp_message", 6)
    assert [(f.message, len(f.messages)) for f in seen] == [
        (b"one", 1), (b"ONE", 2), (b"two", 3), (b"TWO", 4), (b"three", 5), (b"THREE", 6)]
    assert len({f.id for f in seen}) == 1  # one connection, one flow


@pytest.mark.parametrize("bad", ["text", None, 42])
def test_a_message_changed_to_non_bytes_is_sent_as_it_came(start_proxy, echo, bad):
    proxy = start_proxy(tcp_hosts=[r"^127\.0\.0\.1:"])
    proxy.master.on["tcp_message"] = lambda tcp_msg: setattr(tcp_msg, "message", bad)
    with tunnel(proxy.port, echo.port) as sock:
        sock.sendall(b"hello")
        assert read_until(sock, b"HELLO") == b"HELLO"
    flows = proxy.master.wait_for("tcp_message", 2)
    assert bytes(echo.received) == b"hello"
    assert [m.content for m in flows[-1].messages] == [b"hello", b"HELLO"]
    assert any(f"must be bytes, not {type(bad).__name__}" in line
               for line in proxy.master.logs())


def test_ignored_server_speaking_first(start_proxy):
    """An ignored host is relayed without waiting for the client to say something."""
    echo = EchoServer(greeting=b"220 hello\r\n")
    proxy = start_proxy(ignore_hosts=[r"^127\.0\.0\.1:"])
    with tunnel(proxy.port, echo.port) as sock:
        assert sock.recv(4096) == b"220 hello\r\n"
        sock.sendall(b"quit")
        assert sock.recv(4096) == b"QUIT"
    echo.close()
    proxy.master.wait_for("clientdisconnect")
    assert "tcp_message" not in proxy.master.names()


def test_rawtcp_for_non_http_after_connect(start_proxy):
    echo = EchoServer()
    proxy = start_proxy(rawtcp=True)
    with tunnel(proxy.port, echo.port) as sock:
        sock.sendall(b"\x00\x01binary")
        assert sock.recv(4096) == b"\x00\x01BINARY"
    echo.close()
    assert proxy.master.wait_for("tcp_message", 2)


def test_rawtcp_server_down(start_proxy):
    proxy = start_proxy(tcp_hosts=[".*"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tunnel(proxy.port, port) as sock:
        sock.sendall(b"anyone?")
        assert sock.recv(4096) == b""
    proxy.master.wait_for("clientdisconnect")
    assert any("Error connecting" in line for line in proxy.master.logs())


# --- mitmdump -s: both script forms -------------------------------------------------------

SPEC_FORM = '''
def tcp_message(context, tcp_msg):
    if tcp_msg.sender == tcp_msg.client_conn:
        assert tcp_msg.receiver == tcp_msg.server_conn
        tcp_msg.message = tcp_msg.message.replace(b"foo", b"bar")
    else:
        assert tcp_msg.receiver == tcp_msg.client_conn
        tcp_msg.message = tcp_msg.message.replace(b"BAR", b"QUX")
    context.log("seen %s -> %s: %r" % (tcp_msg.sender.address, tcp_msg.receiver.address,
                                       tcp_msg.message))
'''

FLOW_FORM = '''
from mitmproxy import ctx


def tcp_message(flow):
    message = flow.messages[-1]
    if message.from_client:
        message.content = message.content.replace(b"foo", b"bar")
        route = (flow.client_conn.address, flow.server_conn.address)
    else:
        message.content = message.content.replace(b"BAR", b"QUX")
        route = (flow.server_conn.address, flow.client_conn.address)
    ctx.log("seen %s -> %s: %r" % (route + (message.content,)))
'''


@pytest.mark.parametrize("script", [SPEC_FORM, FLOW_FORM], ids=["spec form", "flow form"])
def test_mitmdump_script_changes_both_directions(mitmdump, echo, tmp_path, script):
    path = tmp_path / "tcp_script.py"
    path.write_text(script)
    m = mitmdump("--tcp", "127.0.0.1", "-s", str(path)).started()
    with tunnel(m.port, echo.port) as sock:
        client = "%s:%d" % sock.getsockname()[:2]
        sock.sendall(b"hello foo")
        assert read_until(sock, b"HELLO QUX") == b"HELLO QUX"
    server = f"127.0.0.1:{echo.port}"
    m.wait_for(f"seen {client} -> {server}: b'hello bar'")
    m.wait_for(f"seen {server} -> {client}: b'HELLO QUX'")
    assert m.stop()[0] == 0
    assert bytes(echo.received) == b"hello bar"  # changed on its way to the server
    assert "Traceback" not in m.err


# --- mitmdump's printer: every chunk once, in order -------------------------------------------

HEADER = re.compile(r"^127\.0\.0\.1:\d+ (->|<-) tcp \1 127\.0\.0\.1:\d+$")
TOKEN = re.compile(rb"(ping|PING) (\d{4})")


def payload(i: int) -> bytes:
    return b"ping %04d\n" % i


def test_mitmdump_dd_prints_every_chunk_once_in_order(mitmdump, echo):
    """Told to the printer, each chunk is shown as it was, even while the connection
    thread is reading the next ones: the payloads of each direction, joined, come out
    exactly once and in order."""
    m = mitmdump("--tcp", "127.0.0.1", "-dd").started()
    with tunnel(m.port, echo.port) as sock:
        for start in range(0, PAYLOADS, BURST):
            burst = range(start, start + BURST)
            for i in burst:
                sock.sendall(payload(i))
            expected = b"".join(payload(i) for i in burst).upper()
            assert read_until(sock, expected[-len(payload(0)):]) == expected
    m.wait_for(payload(PAYLOADS - 1).upper().decode().strip())
    _, out = m.stop()
    printed: dict[str, list[tuple[bytes, int]]] = {"->": [], "<-": []}
    direction = None
    for line in out.splitlines():
        header = HEADER.match(line)
        if header:
            direction = header.group(1)
        elif direction is not None:
            printed[direction] += [(word, int(n)) for word, n in TOKEN.findall(line.encode())]
    everything = list(range(PAYLOADS))
    assert printed["->"] == [(b"ping", i) for i in everything], out
    assert printed["<-"] == [(b"PING", i) for i in everything], out


def test_mitmdump_d_prints_each_direction_as_it_was(mitmdump, echo):
    """One line per chunk at -d: with the client waiting for each answer, the directions
    alternate, one line each."""
    m = mitmdump("--tcp", "127.0.0.1", "-d").started()
    with tunnel(m.port, echo.port) as sock:
        for i in range(PAYLOADS):
            sock.sendall(payload(i))
            assert read_until(sock, payload(i).upper()) == payload(i).upper()
    arrows = [m.wait_for(" tcp ").split()[1] for _ in range(2 * PAYLOADS)]
    m.stop()
    assert arrows == ["->", "<-"] * PAYLOADS


# --- the model -----------------------------------------------------------------------------

def tcp_flow() -> TCPFlow:
    return TCPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 22)))


def test_spec_attributes_follow_the_last_message():
    flow = tcp_flow()
    assert (flow.message, flow.sender, flow.receiver) == (None, None, None)
    with pytest.raises(ValueError, match="no message yet"):
        flow.message = b"x"
    flow.messages.append(TCPMessage(True, b"SSH-2.0"))
    assert flow.message == b"SSH-2.0"
    assert flow.sender is flow.client_conn and flow.receiver is flow.server_conn
    assert flow.sender == flow.client_conn and flow.sender != flow.server_conn
    flow.messages.append(TCPMessage(False, b"reply"))
    assert flow.sender is flow.server_conn and flow.receiver is flow.client_conn
    flow.message = b"changed"
    assert flow.messages[-1].content == b"changed"
    assert "message" not in flow.get_state()  # not saved: it is the last message's content


def test_snapshot_stays_at_its_message_without_copying_the_list():
    flow = tcp_flow()
    flow.messages.append(TCPMessage(True, b"one"))
    view = snapshot(flow)
    flow.messages.append(TCPMessage(False, b"two"))
    assert view.message == b"one" and len(view.messages) == 1
    assert view.messages[-1] is flow.messages[0] and view.messages[0] is flow.messages[0]
    assert view.messages[:] == [flow.messages[0]] == view.messages
    assert [m.content for m in view.messages] == [b"one"]
    with pytest.raises(IndexError):
        view.messages[1]  # noqa: B018 (the lookup is the test)
    view.message = b"ONE"  # reaches the connection's own message
    assert flow.messages[0].content == b"ONE"
    assert view.id == flow.id and view.client_conn is flow.client_conn
    assert view.get_state()["messages"] == [[True, b"ONE", flow.messages[0].timestamp]]
    assert isinstance(snapshot(flow).messages, MessagesSoFar)


def test_a_copy_of_a_snapshot_owns_its_messages():
    flow = tcp_flow()
    flow.messages.append(TCPMessage(True, b"one"))
    duplicate = snapshot(flow).copy()
    assert isinstance(duplicate.messages, list)
    duplicate.messages[0].content = b"changed"
    assert flow.messages[0].content == b"one"

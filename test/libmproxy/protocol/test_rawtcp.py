"""Raw TCP relaying: --tcp hosts (recorded, hookable), --rawtcp, ignored plain hosts."""
from __future__ import annotations

import socket
import threading

WAIT = 10.0


class EchoServer:
    """Echoes upper-cased; if ``greeting`` is set, speaks first (like SMTP)."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.greeting = greeting
        self.thread = threading.Thread(target=self._serve, name=f"echo {self.port}")
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(WAIT)
            if self.greeting:
                conn.sendall(self.greeting)
            while data := conn.recv(4096):
                conn.sendall(data.upper())

    def close(self) -> None:
        self.thread.join(WAIT)
        self.listener.close()


def tunnel(proxy_port: int, target_port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=WAIT)
    sock.sendall(f"CONNECT 127.0.0.1:{target_port} HTTP/1.1\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 200")
    return sock


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

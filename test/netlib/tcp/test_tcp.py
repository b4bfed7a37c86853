"""Plain TCP: TCPClient against a threaded TCPServer on 127.0.0.1, real sockets only."""
import logging
import socket
import threading
import time

import pytest

from netlib import exceptions
from netlib.tcp import BaseHandler, TCPClient, TCPServer
from netlib.tcp.connection import Connection, configure_socket, socket_timeout

from .conftest import WAIT, EchoHandler


def connect(server, **kwargs) -> TCPClient:
    client = TCPClient(server.address, **kwargs)
    client.connect()
    return client


def roundtrip(client: TCPClient, data: bytes) -> bytes:
    client.wfile.write(data)
    client.wfile.flush()
    return client.rfile.read(len(data))


def test_echo_and_metadata(echo_server):
    before = time.time()
    client = connect(echo_server)
    assert roundtrip(client, b"hello\n") == b"hello\n"
    assert roundtrip(client, b"x" * 300_000) == b"x" * 300_000
    assert before <= client.timestamp_start <= client.timestamp_tcp_setup
    assert client.ip_address == echo_server.address
    assert client.source_address.host == "127.0.0.1" and client.source_address.port > 0
    assert client.get_alpn_proto_negotiated() == b""
    assert client.get_current_cipher() is None
    assert not client.ssl_established
    assert repr(client) == f"<TCPClient {echo_server.address}>"
    client.finish()
    handler = echo_server.next_done()
    assert handler.error is None
    assert handler.address == client.source_address


def test_server_reports_the_real_port_and_sockets_are_configured(serve):
    seen = {}

    class Inspect(BaseHandler):
        def handle(self):
            seen["nodelay"] = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            seen["timeout"] = socket_timeout(self.connection)
            seen["thread"] = threading.current_thread().name

    server = serve(Inspect, server_kwargs={"timeout": 7.0}, timeout=7.0)
    assert server.address.host == "127.0.0.1" and server.address.port != 0
    client = connect(server, timeout=3.0)
    assert client.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert socket_timeout(client.connection) == 3.0
    client.settimeout(4.0)
    assert socket_timeout(client.connection) == 4.0
    # enforced by the kernel, not by a poll() before each call (configure_socket)
    assert client.connection.gettimeout() is None
    server.next_done()
    assert seen["nodelay"] and seen["timeout"] == 7.0
    assert f"connection from {client.source_address}" in seen["thread"]
    client.finish()


def test_peek_does_not_consume(serve):
    class PeekThenRead(BaseHandler):
        def handle(self):
            first = self.rfile.peek(4)
            line = self.rfile.readline(1024)
            self.wfile.write(first + b"|" + line)
            self.wfile.flush()

    server = serve(PeekThenRead)
    client = connect(server)
    client.wfile.write(b"GET / HTTP/1.1\r\n")
    client.wfile.flush()
    assert client.rfile.read() == b"GET |GET / HTTP/1.1\r\n"
    client.finish()


def test_read_timeout_is_a_tcp_timeout(serve):
    release = threading.Event()

    class Silent(BaseHandler):
        def handle(self):
            release.wait(WAIT)

    server = serve(Silent)
    client = connect(server, timeout=0.2)
    with pytest.raises(exceptions.TcpTimeout, match="timed out"):
        client.rfile.read(1)
    release.set()
    client.finish()


def test_peer_close_is_end_of_stream_then_writes_fail_as_disconnect(serve):
    class CloseAtOnce(BaseHandler):
        def handle(self):
            pass

    server = serve(CloseAtOnce)
    client = connect(server)
    assert client.rfile.read() == b""
    server.next_done()
    with pytest.raises(exceptions.TcpDisconnect):
        for _ in range(100):  # the first writes may still be accepted by the kernel
            client.wfile.write(b"x" * 65536)
            client.wfile.flush()
    client.finish()


def test_connection_refused():
    placeholder = socket.socket()
    placeholder.bind(("127.0.0.1", 0))
    address = placeholder.getsockname()
    placeholder.close()
    client = TCPClient(address)
    with pytest.raises(exceptions.TcpException, match=f"Error connecting to 127.0.0.1:{address[1]}"):
        client.connect()
    client.finish()  # nothing to close: still quiet


def test_connect_errors_are_translated(monkeypatch):
    def fail(error):
        def create_connection(*args, **kwargs):
            raise error
        return create_connection

    client = TCPClient(("no-such-host.invalid", 80))
    monkeypatch.setattr(socket, "create_connection",
                        fail(socket.gaierror(socket.EAI_NONAME, "Name or service not known")))
    with pytest.raises(exceptions.AddressException, match="cannot resolve no-such-host.invalid"):
        client.connect()
    monkeypatch.setattr(socket, "create_connection", fail(TimeoutError("timed out")))
    with pytest.raises(exceptions.TcpTimeout, match="connecting to no-such-host.invalid:80"):
        client.connect()


def test_source_address(echo_server):
    client = TCPClient(echo_server.address, source_address=("127.0.0.1", 0))
    client.connect()
    assert client.source_address.host == "127.0.0.1"
    assert roundtrip(client, b"x") == b"x"
    client.finish()


def test_finish_is_idempotent_and_quiet(echo_server):
    client = connect(echo_server)
    client.wfile.write(b"unflushed")
    client.finish()
    client.finish()
    client.close()
    handler = echo_server.next_done()
    handler.finish()  # the server already finished it


def test_start_tls_requires_a_connection():
    client = TCPClient(("127.0.0.1", 1))
    with pytest.raises(exceptions.TcpException, match="not connected"):
        client.convert_to_ssl()


def test_handler_errors_are_logged_and_the_server_keeps_serving(serve, caplog):
    class Broken(BaseHandler):
        def handle(self):
            line = self.rfile.readline(100)
            if line == b"crash\n":
                raise ValueError("handler bug")
            self.wfile.write(b"ok " + line)
            self.wfile.flush()

    server = serve(Broken)
    with caplog.at_level(logging.ERROR, logger="netlib.tcp.server"):
        bad = connect(server)
        bad.wfile.write(b"crash\n")
        bad.wfile.flush()
        assert bad.rfile.read() == b""
        bad.finish()
        good = connect(server)
        good.wfile.write(b"fine\n")
        good.wfile.flush()
        assert good.rfile.read() == b"ok fine\n"
        good.finish()
        server.next_done()
        server.next_done()
        assert server.logged_errors.get(timeout=WAIT) == bad.source_address.address
    assert any("handler bug" in r.exc_text for r in caplog.records if r.exc_text)


def test_connections_above_the_limit_are_refused(serve, caplog):
    release = threading.Event()
    started = threading.Event()

    class Hold(BaseHandler):
        def handle(self):
            started.set()
            release.wait(WAIT)

    server = serve(Hold, server_kwargs={"max_connections": 1})
    first = connect(server)
    assert started.wait(WAIT)
    assert server.connection_count == 1
    with caplog.at_level(logging.WARNING, logger="netlib.tcp.server"):
        second = connect(server)
        try:
            assert second.rfile.read() == b""
        except exceptions.TcpDisconnect:
            pass  # closed with our request unread: a reset, equally a refusal
    assert any("refusing connection" in r.getMessage() for r in caplog.records)
    release.set()
    server.next_done()
    first.finish()
    second.finish()


def test_shutdown_is_prompt_and_ends_connection_threads(serve):
    server = serve(EchoHandler)
    clients = [connect(server) for _ in range(3)]
    for c in clients:
        assert roundtrip(c, b"ping") == b"ping"
    assert server.connection_count == 3
    start = time.monotonic()
    server.shutdown()
    assert time.monotonic() - start < WAIT / 2
    assert server.connection_count == 0
    for c in clients:
        assert c.rfile.read() == b""
        c.finish()
    server.shutdown()  # twice is fine


def test_shutdown_before_serving_and_serving_after_shutdown():
    server = TCPServer(("127.0.0.1", 0))
    server.shutdown()
    server.shutdown()
    server.serve_forever()  # returns at once instead of serving a closed socket


def test_handle_client_connection_must_be_implemented(caplog):
    server = TCPServer(("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve_forever, name="test accept loop")
    thread.start()
    try:
        with caplog.at_level(logging.ERROR, logger="netlib.tcp.server"):
            client = connect(server)
            assert client.rfile.read() == b""
            client.finish()
    finally:
        server.shutdown()
        thread.join(WAIT)
    assert any("NotImplementedError" in (r.exc_text or "") for r in caplog.records)


def test_binding_a_busy_port_fails_with_the_address(echo_server):
    with pytest.raises(exceptions.TcpException, match=f"cannot listen on {echo_server.address}"):
        TCPServer(echo_server.address)


def test_ipv6(serve):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    server = EchoServer6()
    thread = threading.Thread(target=server.serve_forever, name="test accept loop v6")
    thread.start()
    try:
        assert server.address.use_ipv6
        assert str(server.address).startswith("[::1]:")
        client = TCPClient(server.address)
        client.connect()
        assert client.ip_address.use_ipv6
        assert roundtrip(client, b"six") == b"six"
        client.finish()
    finally:
        server.shutdown()
        thread.join(WAIT)


class EchoServer6(TCPServer):
    def __init__(self):
        super().__init__(("::1", 0))

    def handle_client_connection(self, connection, client_address):
        handler = EchoHandler(connection, client_address, self)
        handler.handle()
        handler.finish()


def test_configure_socket_ignores_non_tcp_sockets():
    a, b = socket.socketpair()
    configure_socket(a, 1.5)
    assert socket_timeout(a) == 1.5
    a.close()
    b.close()


def test_accept_errors_do_not_stop_the_loop(caplog):
    server = TCPServer(("127.0.0.1", 0))
    real_socket = server.socket

    class FailingAccept:
        def __init__(self, error):
            self.error = error

        def accept(self):
            raise self.error

    server.socket = FailingAccept(BlockingIOError())
    server._accept()
    server.socket = FailingAccept(OSError(24, "Too many open files"))
    with caplog.at_level(logging.WARNING, logger="netlib.tcp.server"):
        server._accept()
    assert "accept failed" in caplog.text
    server.socket = real_socket
    server.shutdown()


def test_wait_readable_sees_buffered_bytes_before_the_socket(echo_server):
    from netlib.tcp.connection import wait_readable
    client = connect(echo_server)
    assert wait_readable([client], 0) == []
    client.wfile.write(b"abc")
    client.wfile.flush()
    assert wait_readable([client], WAIT) == [client]
    assert client.rfile.peek(1) == b"a"
    assert client.has_pending_data()
    assert wait_readable([client], 0) == [client]
    assert client.rfile.read(3) == b"abc"
    assert not client.has_pending_data()
    client.finish()


def test_kernel_timeouts_raise_tcp_timeout():
    """SO_RCVTIMEO running out (EAGAIN on a blocking socket) is a TcpTimeout, like the
    socket.timeout of a Python timeout was; fractions of a second are kept."""
    a, b = socket.socketpair()
    conn = Connection(a, None, timeout=0.05)
    assert socket_timeout(a) == pytest.approx(0.05, abs=0.01)  # the kernel counts in ticks
    start = time.monotonic()
    with pytest.raises(exceptions.TcpTimeout):
        conn.rfile.read(1)
    assert 0.04 < time.monotonic() - start < 2
    conn.settimeout(None)
    assert socket_timeout(a) is None
    conn.settimeout(0)
    assert a.gettimeout() == 0.0
    a.close()
    b.close()


def test_idle_readable_sees_data_and_close_without_select():
    """idle_readable (the server-connection reuse check) agrees with select(): False on a
    quiet connection, True once unread data or the peer's FIN is there."""
    from netlib.tcp.connection import idle_readable
    listener = socket.create_server(("127.0.0.1", 0))
    client = TCPClient(listener.getsockname(), timeout=5.0)
    client.connect()
    peer, _ = listener.accept()
    try:
        assert not idle_readable(client)
        peer.sendall(b"unasked")
        deadline = time.monotonic() + 5.0
        while not idle_readable(client) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert idle_readable(client)
        assert client.rfile.read(7) == b"unasked"
        assert not idle_readable(client)
        peer.shutdown(socket.SHUT_WR)
        while not idle_readable(client) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert idle_readable(client)
    finally:
        client.finish()
        peer.close()
        listener.close()

"""TlsIO without sockets: two engines wired together through queues."""
import queue
import threading

import pytest
from OpenSSL import SSL

from netlib import exceptions
from netlib.tcp import tls
from netlib.tcp.tlsio import SEND_CHUNK_SIZE, TlsIO

from .conftest import WAIT


class Pipe:
    """One direction of a byte stream; ``close()`` makes the reader see EOF."""

    def __init__(self):
        self.chunks = queue.Queue()

    def sendall(self, data):
        self.chunks.put(bytes(data))

    def recv(self, n):
        return self.chunks.get(timeout=WAIT)

    def close(self):
        self.chunks.put(b"")


@pytest.fixture
def pair(certstore):
    """(client, server) TlsIO engines over in-memory pipes, not yet shaken hands."""
    entry = certstore.get_cert("memory.test", ["memory.test"])
    to_server, to_client = Pipe(), Pipe()
    client = SSL.Connection(tls.create_client_context(), None)
    client.set_connect_state()
    server = SSL.Connection(tls.create_server_context(entry.cert, entry.privatekey), None)
    server.set_accept_state()
    return (TlsIO(client, to_client.recv, to_server.sendall),
            TlsIO(server, to_server.recv, to_client.sendall), to_server, to_client)


def in_thread(target):
    errors = []

    def run():
        try:
            target()
        except Exception as e:  # handed to the test thread
            errors.append(e)

    thread = threading.Thread(target=run, name="test TlsIO peer")
    thread.start()
    return thread, errors


def test_handshake_and_data_in_memory(pair):
    client, server, _, _ = pair
    payload = bytes(range(256)) * (SEND_CHUNK_SIZE // 128 + 3)  # more than one send chunk

    def serve():
        server.handshake()
        received = bytearray()
        while len(received) < len(payload):
            received += server.recv(len(payload))
        server.sendall(bytes(received))
        server.shutdown()

    thread, errors = in_thread(serve)
    client.handshake()
    client.sendall(payload)
    echoed = bytearray()
    while True:
        data = client.recv(65536)
        if not data:
            break
        echoed += data
    thread.join(WAIT)
    assert not errors
    assert echoed == payload


def test_peeked_bytes_are_fed_before_the_handshake(pair):
    client, server, to_server, _ = pair
    thread, errors = in_thread(client.handshake)
    server.feed(to_server.recv(1))  # as if a Reader had buffered the ClientHello
    server.handshake()
    thread.join(WAIT)
    assert not errors
    assert client.connection.get_protocol_version_name() == "TLSv1.3"


def test_eof_during_the_handshake(pair):
    client, _, _, to_client = pair
    to_client.close()
    with pytest.raises(exceptions.TlsException, match="peer closed the connection"):
        client.handshake()


def test_eof_without_close_notify_ends_the_stream_and_then_writes_fail(pair):
    client, server, _, to_client = pair
    thread, errors = in_thread(server.handshake)
    client.handshake()
    thread.join(WAIT)
    to_client.close()
    assert client.recv(10) == b""
    assert client.recv(10) == b""
    assert client.has_pending()
    with pytest.raises(exceptions.TcpDisconnect, match="peer closed"):
        client.sendall(b"late")

"""The buffered Reader and Writer: what a protocol parser sees when bytes arrive in pieces."""
import socket
import threading

import pytest

from netlib import exceptions
from netlib.tcp import buffered
from netlib.tcp.buffered import Reader, Writer

HEAD = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_readline_returns_each_line_with_its_newline(chunk):
    r = Reader.from_bytes(HEAD, chunk=chunk)
    assert r.readline(100) == b"GET / HTTP/1.1\r\n"
    assert r.readline(100) == b"Host: example.com\r\n"
    assert r.readline(100) == b"\r\n"
    assert r.readline(100) == b""


@pytest.mark.parametrize("chunk", [None, 1, 2, 5])
def test_readuntil_finds_a_delimiter_split_across_receives(chunk):
    r = Reader.from_bytes(HEAD + b"body", chunk=chunk)
    assert r.readuntil(b"\r\n\r\n", 1000) == HEAD
    assert r.read(-1) == b"body"


def test_readuntil_stops_at_the_limit_without_the_delimiter():
    r = Reader.from_bytes(b"x" * 50 + b"\n")
    line = r.readuntil(b"\n", 10)
    assert line == b"x" * 10
    assert r.buffered == 41


def test_readuntil_at_eof_returns_what_there_is():
    r = Reader.from_bytes(b"partial line")
    assert r.readline(100) == b"partial line"
    assert r.readline(100) == b""


def test_peek_does_not_consume():
    r = Reader.from_bytes(b"\x16\x03\x01rest", chunk=2)
    assert r.peek(3) == b"\x16\x03\x01"
    assert r.peek(100) == b"\x16\x03\x01rest"
    assert r.read(4) == b"\x16\x03\x01r"


@pytest.mark.parametrize("chunk", [None, 7])
def test_read_returns_exactly_n_bytes_across_receives(chunk):
    data = bytes(range(256)) * 4000
    r = Reader.from_bytes(data, chunk=chunk)
    assert r.read(10) == data[:10]
    assert r.read(500_000) == data[10:500_010]
    assert r.read(-1) == data[500_010:]


def test_read_keeps_bytes_received_beyond_the_request():
    data = b"a" * (buffered.RECV_SIZE * 2)
    r = Reader.from_bytes(data)
    assert r.read(buffered.RECV_SIZE + 5) == data[:buffered.RECV_SIZE + 5]
    assert r.read(-1) == data[buffered.RECV_SIZE + 5:]


def test_safe_read_names_the_shortfall():
    r = Reader.from_bytes(b"abc")
    with pytest.raises(exceptions.TcpReadIncomplete, match="expected 5 bytes, got 3"):
        r.safe_read(5)


def test_readsome_gives_buffered_bytes_first_and_empty_at_eof():
    r = Reader.from_bytes(b"abcdef", chunk=4)
    assert r.peek(1) == b"a"
    assert r.readsome(100) == b"abcd"
    assert r.readsome(100) == b"ef"
    assert r.readsome(100) == b""


def test_first_byte_timestamp_is_set_on_first_data_and_reset_between_messages():
    r = Reader.from_bytes(HEAD * 2)
    assert r.first_byte_timestamp is None
    r.readuntil(b"\r\n\r\n", 1000)
    first = r.first_byte_timestamp
    assert first is not None
    r.reset_timestamps()
    # The second message was already buffered: its timestamp is the reset time.
    assert r.first_byte_timestamp >= first
    r.readuntil(b"\r\n\r\n", 1000)
    r.reset_timestamps()
    assert r.first_byte_timestamp is None


def test_writer_gathers_small_writes_into_one_send():
    sent = []
    w = Writer(sent.append)
    w.write(b"HTTP/1.1 200 OK\r\n\r\n")
    w.write(b"body")
    w.write(b"")
    assert sent == []
    w.flush()
    assert sent == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    w.flush()
    assert len(sent) == 1


def test_writer_sends_once_the_buffer_is_large():
    sent = []
    w = Writer(sent.append)
    w.write(b"x" * buffered.WRITE_BUFFER_SIZE)
    assert sent == [b"x" * buffered.WRITE_BUFFER_SIZE]


def test_writer_sends_a_large_write_with_only_its_front_joined_to_the_head():
    """The head and the first body bytes share one send; the rest of a large body goes
    out as it is, not copied behind the head."""
    sent = []
    w = Writer(sent.append)
    head, body = b"HTTP/1.1 200 OK\r\n\r\n", bytes(range(256)) * 1024
    w.write(head)
    w.write(body)
    w.flush()
    lead = buffered.WRITE_BUFFER_SIZE - len(head)
    assert [bytes(s) for s in sent] == [head + body[:lead], body[lead:]]
    assert isinstance(sent[1], memoryview) and sent[1].obj is body


@pytest.mark.parametrize("chunk", [None, 1000, 100_000])
def test_large_read_with_bytes_left_over(chunk):
    payload = bytes(range(256)) * 4000
    r = Reader.from_bytes(b"ab" + payload + b"tail", chunk=chunk)
    assert r.read(2) == b"ab"
    assert r.read(len(payload)) == payload
    assert r.read(-1) == b"tail"


def test_reader_and_writer_over_a_real_socketpair():
    a, b = socket.socketpair()
    payload = b"0123456789" * 300_000
    try:
        def send():
            w = Writer(a.sendall)
            w.write(HEAD)
            w.write(payload)
            w.flush()
            a.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send, name="test-writer")
        t.start()
        r = Reader(b.recv)
        assert r.readuntil(b"\r\n\r\n", 1000) == HEAD
        assert r.read(len(payload)) == payload
        assert r.read(-1) == b""
        t.join(10)
    finally:
        a.close()
        b.close()

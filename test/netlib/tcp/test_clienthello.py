"""ClientHello parsing against hellos real TLS clients produce, and against garbage."""
import ssl

import pytest
from OpenSSL import SSL

from netlib import exceptions
from netlib.tcp import ClientHello, Reader, is_tls_record_magic
from netlib.tcp.clienthello import MAX_CLIENT_HELLO_SIZE


def pyopenssl_hello(sni=b"example.com", alpn=(b"h2", b"http/1.1")) -> bytes:
    """The bytes a pyOpenSSL client sends first, captured through a memory BIO."""
    conn = SSL.Connection(SSL.Context(SSL.TLS_CLIENT_METHOD), None)
    conn.set_connect_state()
    if sni:
        conn.set_tlsext_host_name(sni)
    if alpn:
        conn.set_alpn_protos(list(alpn))
    with pytest.raises(SSL.WantReadError):
        conn.do_handshake()
    return conn.bio_read(65536)


def stdlib_hello(server_hostname="www.example.org", alpn=("http/1.1",)) -> bytes:
    """The bytes Python's ssl module sends first."""
    context = ssl.create_default_context()
    if alpn:
        context.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def split_into_records(hello: bytes, first: int) -> bytes:
    """The same handshake message carried in two records, the first with ``first`` bytes."""
    header, payload = hello[:5], hello[5:]
    a, b = payload[:first], payload[first:]
    return (header[:3] + len(a).to_bytes(2, "big") + a
            + header[:3] + len(b).to_bytes(2, "big") + b)


def test_pyopenssl_hello():
    data = pyopenssl_hello()
    hello = ClientHello.parse(data)
    assert hello.sni == "example.com"
    assert hello.alpn_protocols == [b"h2", b"http/1.1"]
    assert hello.size == len(data)
    assert len(hello.random) == 32
    assert hello.version == 0x0303
    assert hello.cipher_suites and all(isinstance(s, int) for s in hello.cipher_suites)
    assert 0x1301 in hello.cipher_suites  # TLS_AES_128_GCM_SHA256
    assert hello.compression_methods == b"\x00"
    assert {0, 16} <= {ext_type for ext_type, _ in hello.extensions}


def test_stdlib_hello():
    hello = ClientHello.parse(stdlib_hello())
    assert hello.sni == "www.example.org"
    assert hello.alpn_protocols == [b"http/1.1"]


def test_hello_without_sni_or_alpn():
    hello = ClientHello.parse(pyopenssl_hello(sni=None, alpn=None))
    assert hello.sni is None
    assert hello.alpn_protocols == []
    assert 0 not in [t for t, _ in hello.extensions]


def test_hello_spanning_two_records():
    data = pyopenssl_hello()
    for first in (1, 3, 4, 50, len(data) - 6):
        hello = ClientHello.parse(split_into_records(data, first))
        assert hello.sni == "example.com"
        assert hello.size == len(data) + 5


def test_trailing_bytes_after_the_hello_are_not_part_of_it():
    data = pyopenssl_hello()
    hello = ClientHello.parse(data + b"GET / HTTP/1.1\r\n")
    assert hello.size == len(data)


def test_from_reader_peeks_without_consuming():
    data = pyopenssl_hello()
    rfile = Reader.from_bytes(data + b"rest", chunk=7)
    hello = ClientHello.from_reader(rfile)
    assert hello.sni == "example.com"
    assert rfile.read(len(data) + 4) == data + b"rest"


def test_from_reader_with_two_records():
    data = split_into_records(pyopenssl_hello(), 10)
    rfile = Reader.from_bytes(data, chunk=3)
    assert ClientHello.from_reader(rfile).alpn_protocols == [b"h2", b"http/1.1"]
    assert rfile.read() == data


def test_from_reader_connection_closed_early():
    data = pyopenssl_hello()
    with pytest.raises(exceptions.ClientHelloException, match="connection closed after 40 bytes"):
        ClientHello.from_reader(Reader.from_bytes(data[:40]))
    with pytest.raises(exceptions.ClientHelloException, match="closed after 0 bytes"):
        ClientHello.from_reader(Reader.from_bytes(b""))


def test_from_reader_rejects_http_after_five_bytes():
    rfile = Reader.from_bytes(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(exceptions.ClientHelloException, match="content type 0x47"):
        ClientHello.from_reader(rfile)
    assert rfile.read() == b"GET / HTTP/1.1\r\n\r\n"


def test_truncated_input_names_what_is_missing():
    data = pyopenssl_hello()
    for n in (0, 3, 5, 40, len(data) - 1):
        with pytest.raises(exceptions.ClientHelloException, match="incomplete ClientHello"):
            ClientHello.parse(data[:n])


def handshake_record(body: bytes, hs_type: int = 1) -> bytes:
    message = bytes([hs_type]) + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message


def minimal_body(extensions: bytes | None = b"", suites: bytes = b"\x13\x01") -> bytes:
    body = (b"\x03\x03" + b"r" * 32 + b"\x00" + len(suites).to_bytes(2, "big") + suites
            + b"\x01\x00")
    if extensions is not None:
        body += len(extensions).to_bytes(2, "big") + extensions
    return body


def extension(ext_type: int, data: bytes) -> bytes:
    return ext_type.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data


def test_minimal_hello_without_extensions_block():
    hello = ClientHello.parse(handshake_record(minimal_body(extensions=None)))
    assert hello.extensions == [] and hello.cipher_suites == [0x1301]
    assert hello.session_id == b""


def test_unknown_name_types_are_skipped_and_other_extensions_kept():
    names = b"\x01\x00\x03abc" + b"\x00\x00\x0bexample.org"
    sni = extension(0, len(names).to_bytes(2, "big") + names)
    hello = ClientHello.parse(handshake_record(minimal_body(sni + extension(0xff01, b"\x00"))))
    assert hello.sni == "example.org"
    assert (0xff01, b"\x00") in hello.extensions


def test_server_name_list_without_host_name():
    names = b"\x01\x00\x03abc"
    sni = extension(0, len(names).to_bytes(2, "big") + names)
    assert ClientHello.parse(handshake_record(minimal_body(sni))).sni is None


@pytest.mark.parametrize("data, message", [
    (b"GET / HTTP/1.1\r\n", "content type 0x47 at byte 0"),
    (b"\x16\x02\x00\x00\x05hello", "unsupported TLS record version 2.0"),
    (b"\x16\x03\x01\x00\x00", "invalid TLS record length 0"),
    (b"\x16\x03\x01\x50\x00", "invalid TLS record length 20480"),
    (handshake_record(b"x" * 10, hs_type=2), "not a ClientHello: type 2"),
    (b"\x16\x03\x01\x00\x04\x01\xff\xff\xff", "larger than the limit"),
    (handshake_record(b"\x03\x03" + b"r" * 10), "truncated in random"),
    (handshake_record(minimal_body(suites=b"\x13")), "odd length"),
    (handshake_record(minimal_body(extensions=b"\x00")), "truncated in extension type"),
    (handshake_record(minimal_body(extensions=b"\x00\x00\x00\x05ab")), "truncated in extension 0"),
    (handshake_record(minimal_body(extension(0, b"\x00"))), "server_name extension truncated"),
    (handshake_record(minimal_body(extension(16, b"\x00\x02\x05h"))), "truncated in protocol name"),
    (handshake_record(minimal_body(extension(0, b"\x00\x06\x00\x00\x03x\xffy"))),
     "not a valid host name"),
    (handshake_record(minimal_body(extensions=b"") + b"junk"), "4 bytes after the extensions"),
    (handshake_record(b"x" * 10) + b"\x17\x03\x03\x00\x01x", "truncated in"),
])
def test_garbage_is_refused_with_a_reason(data, message):
    with pytest.raises(exceptions.ClientHelloException, match=message):
        ClientHello.parse(data)


def test_a_hello_split_across_a_non_handshake_record_is_refused():
    data = split_into_records(pyopenssl_hello(), 10)
    broken = data[:15] + b"\x17" + data[16:]
    with pytest.raises(exceptions.ClientHelloException, match="content type 0x17 at byte 15"):
        ClientHello.parse(broken)


def test_size_limit_constant_is_sane():
    assert len(pyopenssl_hello()) < MAX_CLIENT_HELLO_SIZE


@pytest.mark.parametrize("data, expected", [
    (b"\x16\x03\x01", True), (b"\x16\x03\x03\x01\x00", True), (b"\x16\x03\x09", False),
    (b"GET", False), (b"\x16", False), (b"", False),
])
def test_is_tls_record_magic(data, expected):
    assert is_tls_record_magic(data) is expected

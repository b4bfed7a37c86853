"""TLS between TCPClient and TCPServer: real handshakes with SNI, ALPN, client certificates,
upstream verification, version and cipher options, and peek-then-handshake."""
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from netlib import exceptions
from netlib.tcp import BaseHandler, ClientHello, TCPClient, version_range
from netlib.tcp.connection import wait_readable

from .conftest import WAIT, EchoHandler

HOST = "example.com"


def pem_file(path, entry, with_ca=None) -> str:
    """A PEM file with key, certificate and optionally the CA: what --client-certs and
    custom certificates look like."""
    key = entry.privatekey.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    data = key + entry.cert.to_pem() + (with_ca.to_pem() if with_ca is not None else b"")
    path.write_bytes(data)
    return str(path)


class TlsEchoHandler(BaseHandler):
    """Optionally peeks the ClientHello, then serves TLS and echoes."""

    def __init__(self, connection, address, server, tls=None, peek_hello=None, **kwargs):
        super().__init__(connection, address, server, **kwargs)
        self.tls_kwargs = tls or {}
        self.peek_hello = peek_hello
        self.hello = None

    def handle(self):
        if self.peek_hello is not None:
            self.hello = ClientHello.from_reader(self.rfile)
            self.convert_to_ssl(**self.peek_hello(self.hello))
        else:
            self.convert_to_ssl(**self.tls_kwargs)
        EchoHandler.handle(self)


@pytest.fixture
def server_cert(certstore):
    return certstore.get_cert(HOST, [HOST, "127.0.0.1"])


@pytest.fixture
def tls_server(serve, server_cert):
    """A TLS echo server for ``HOST`` that records SNI, asks for client certificates
    and prefers h2 over ALPN."""
    def start(**overrides):
        options = dict(
            cert=server_cert.cert, key=server_cert.privatekey,
            alpn_select=lambda offers: b"h2" if b"h2" in offers else None,
            request_client_cert=True,
        )
        options.update(overrides)
        return serve(TlsEchoHandler, tls=options)
    return start


def plain_client(server, timeout=WAIT) -> TCPClient:
    client = TCPClient(server.address, timeout=timeout)
    client.connect()
    return client


def tls_client(server, **kwargs) -> TCPClient:
    client = plain_client(server)
    client.convert_to_ssl(**kwargs)
    return client


def echo(client, data: bytes) -> bytes:
    client.wfile.write(data)
    client.wfile.flush()
    return client.rfile.read(len(data))


def test_handshake_with_sni_alpn_and_client_certificate(tls_server, certstore, tmp_path):
    server = tls_server()
    client_pem = pem_file(tmp_path / "client.pem", certstore.get_cert("client.test", []))
    client = tls_client(
        server, sni=HOST, alpn_protos=[b"h2", b"http/1.1"], cert=client_pem,
        verify_upstream=True, ca_pemfile=certstore.ca_cert_path,
    )
    assert client.ssl_established
    assert client.sni == HOST
    assert client.get_alpn_proto_negotiated() == b"h2"
    assert client.cert.cn == HOST
    assert client.server_certs[0] == client.cert
    assert client.ssl_verification_error is None
    assert client.timestamp_tcp_setup <= client.timestamp_ssl_setup
    name, bits, version = client.get_current_cipher()
    assert bits >= 128 and version.startswith("TLSv1.")
    assert echo(client, b"secret") == b"secret"
    assert echo(client, b"y" * 1_000_000) == b"y" * 1_000_000
    assert "(TLS)" in repr(client)
    client.finish()
    handler = server.next_done()
    assert handler.error is None
    assert handler.ssl_established and "(TLS)" in repr(handler)
    assert handler.sni == HOST
    assert handler.clientcert.cn == "client.test"
    assert handler.get_alpn_proto_negotiated() == b"h2"
    assert handler.timestamp_ssl_setup is not None


def test_client_certificate_as_objects_and_no_alpn_overlap(tls_server, certstore):
    server = tls_server()
    entry = certstore.get_cert("objects.test", [])
    client = tls_client(server, sni=HOST, alpn_protos=[b"http/1.1"],
                        cert=entry.cert, key=entry.privatekey)
    assert client.get_alpn_proto_negotiated() == b""
    assert echo(client, b"x") == b"x"
    client.finish()
    handler = server.next_done()
    assert handler.clientcert.cn == "objects.test"
    assert handler.get_alpn_proto_negotiated() == b""


def test_no_client_certificate_unless_requested(tls_server, certstore, tmp_path):
    server = tls_server(request_client_cert=False, alpn_select=None)
    client_pem = pem_file(tmp_path / "client.pem", certstore.get_cert("client.test", []))
    client = tls_client(server, cert=client_pem)
    assert echo(client, b"x") == b"x"
    client.finish()
    handler = server.next_done()
    assert handler.clientcert is None
    assert handler.sni is None  # the client sent none


def test_verification_by_ip_address(tls_server, certstore):
    server = tls_server()
    client = tls_client(server, verify_upstream=True, ca_pemfile=certstore.ca_cert_path)
    assert client.sni is None
    assert echo(client, b"ip") == b"ip"
    client.finish()


def test_verification_fails_against_an_unrelated_ca(tls_server, other_certstore):
    server = tls_server()
    client = plain_client(server)
    with pytest.raises(exceptions.InvalidCertificateException,
                       match="unable to get local issuer certificate"):
        client.convert_to_ssl(sni=HOST, verify_upstream=True,
                              ca_pemfile=other_certstore.ca_cert_path)
    assert "unable to get local issuer certificate" in client.ssl_verification_error
    assert not client.ssl_established
    client.finish()
    assert isinstance(server.next_done().error, exceptions.TlsException)


def test_verification_with_the_default_bundle_refuses_our_ca(tls_server):
    server = tls_server()
    client = plain_client(server)
    with pytest.raises(exceptions.InvalidCertificateException):
        client.convert_to_ssl(sni=HOST, verify_upstream=True)
    client.finish()


def test_verification_fails_for_the_wrong_hostname(tls_server, certstore):
    server = tls_server()
    client = plain_client(server)
    with pytest.raises(exceptions.InvalidCertificateException,
                       match="not valid for 'other.test': it names example.com, 127.0.0.1"):
        client.convert_to_ssl(sni="other.test", verify_upstream=True,
                              ca_pemfile=certstore.ca_cert_path)
    assert "other.test" in client.ssl_verification_error
    assert not client.ssl_established
    assert client.cert.cn == HOST  # what the server showed is still recorded
    client.finish()


def test_without_verification_anything_goes(tls_server):
    server = tls_server()
    client = tls_client(server, sni="other.test")
    assert client.cert.cn == HOST
    assert client.ssl_verification_error is None
    client.finish()


def test_sni_callback_switches_the_certificate(tls_server, certstore):
    asked = []

    def handle_sni(name):
        asked.append(name)
        return certstore.get_cert(name, [name])

    server = tls_server(handle_sni=handle_sni)
    client = tls_client(server, sni="switched.test", alpn_protos=[b"h2"], verify_upstream=True,
                        ca_pemfile=certstore.ca_cert_path)
    assert client.cert.cn == "switched.test"
    assert client.get_alpn_proto_negotiated() == b"h2"
    assert echo(client, b"x") == b"x"
    client.finish()
    handler = server.next_done()
    assert asked == ["switched.test"] and handler.sni == "switched.test"
    assert handler.clientcert is None


def test_sni_ip_literal_is_not_sent(tls_server):
    server = tls_server()
    client = tls_client(server, sni="127.0.0.1")
    assert client.sni == "127.0.0.1"
    client.finish()
    assert server.next_done().sni is None


def test_peek_hello_then_handshake(serve, certstore):
    def choose(hello):
        entry = certstore.get_cert(hello.sni, [hello.sni])
        return dict(cert=entry.cert, key=entry.privatekey,
                    alpn_select=lambda offers: hello.alpn_protocols[-1])

    server = serve(TlsEchoHandler, peek_hello=choose)
    client = tls_client(server, sni="peeked.test", alpn_protos=[b"h2", b"http/1.1"],
                        verify_upstream=True, ca_pemfile=certstore.ca_cert_path)
    assert client.cert.cn == "peeked.test"
    assert client.get_alpn_proto_negotiated() == b"http/1.1"
    assert echo(client, b"after peek") == b"after peek"
    client.finish()
    handler = server.next_done()
    assert handler.error is None
    assert handler.hello.sni == "peeked.test"
    assert handler.hello.alpn_protocols == [b"h2", b"http/1.1"]
    assert handler.sni == "peeked.test"


def test_custom_certificate_with_chain_file(serve, certstore, tmp_path):
    entry = certstore.get_cert("chained.test", ["chained.test"])
    chain = pem_file(tmp_path / "chain.pem", entry, with_ca=certstore.default_ca)
    server = serve(TlsEchoHandler, tls=dict(cert=entry.cert, key=entry.privatekey,
                                            chain_file=chain))
    client = tls_client(server, sni="chained.test", verify_upstream=True,
                        ca_pemfile=certstore.ca_cert_path)
    assert [c.cn for c in client.server_certs] == ["chained.test", certstore.default_ca.cn]
    client.finish()


def test_version_range(tls_server):
    server = tls_server(max_version=SSL.TLS1_2_VERSION)
    client = tls_client(server, sni=HOST)
    assert client.get_current_cipher()[2] == "TLSv1.2"
    client.finish()
    server.next_done()
    low, high = version_range("TLSv1_3")
    client = plain_client(server)
    with pytest.raises(exceptions.TlsException, match="TLS handshake: .*(version|protocol)"):
        client.convert_to_ssl(sni=HOST, min_version=low, max_version=high)
    client.finish()
    assert isinstance(server.next_done().error, exceptions.TlsException)


def test_version_names():
    assert version_range("all") == (None, None)
    assert version_range("secure") == (SSL.TLS1_2_VERSION, None)
    with pytest.raises(exceptions.TlsException, match="unknown TLS version 'SSLv2'; choose one of all"):
        version_range("SSLv2")


def test_cipher_list(tls_server):
    server = tls_server(cipher_list="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    client = tls_client(server, max_version=SSL.TLS1_2_VERSION,
                        cipher_list="ECDHE-RSA-AES256-GCM-SHA384")
    assert client.get_current_cipher()[0] == "ECDHE-RSA-AES256-GCM-SHA384"
    client.finish()


def test_invalid_options_are_reported(tls_server, tmp_path):
    server = tls_server()
    client = plain_client(server)
    with pytest.raises(exceptions.TlsException, match="invalid cipher list 'NOPE'"):
        client.convert_to_ssl(cipher_list="NOPE")
    missing = tmp_path / "missing.pem"
    with pytest.raises(exceptions.TlsException, match="cannot load trusted CAs"):
        client.convert_to_ssl(verify_upstream=True, ca_pemfile=missing)
    with pytest.raises(exceptions.TlsException, match="cannot use certificate file"):
        client.convert_to_ssl(cert=missing)
    with pytest.raises(exceptions.TlsException, match="not a certificate: int"):
        client.convert_to_ssl(cert=42, key=None)
    client.finish()


def test_mismatched_key_is_reported(certstore):
    from netlib.tcp import tls
    leaf = certstore.get_cert("a.test", [])
    with pytest.raises(exceptions.TlsException, match="cannot use certificate"):
        tls.create_server_context(leaf.cert, certstore.default_privatekey)


def test_pyopenssl_objects_are_accepted(certstore):
    from OpenSSL import crypto
    from netlib.tcp import tls
    entry = certstore.get_cert("objects.test", [])
    context = tls.create_server_context(entry.cert.x509,
                                        crypto.PKey.from_cryptography_key(entry.privatekey))
    assert isinstance(context, SSL.Context)


def test_sni_callback_errors_fail_the_handshake_with_the_reason(tls_server):
    def handle_sni(name):
        raise ValueError("no certificate for you")

    server = tls_server(handle_sni=handle_sni)
    client = plain_client(server)
    with pytest.raises(exceptions.TlsException):
        client.convert_to_ssl(sni="refused.test")
    client.finish()
    error = server.next_done().error
    assert "SNI callback failed for 'refused.test': no certificate for you" in str(error)


def test_tls_is_started_only_once(tls_server):
    server = tls_server()
    client = tls_client(server)
    with pytest.raises(exceptions.TlsException, match="already established"):
        client.convert_to_ssl()
    client.finish()


def test_plain_http_to_a_tls_server_is_a_tls_error(tls_server, echo_server):
    server = tls_server()
    plain = plain_client(server)
    plain.wfile.write(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    plain.wfile.flush()
    plain.rfile.read()  # the server's alert, then EOF
    plain.finish()
    error = server.next_done().error
    assert isinstance(error, exceptions.TlsException)
    assert str(error).startswith("TLS handshake: ") and len(str(error)) > len("TLS handshake: ")
    # and the server is still serving
    client = tls_client(server)
    assert echo(client, b"still here") == b"still here"
    client.finish()


def test_tls_to_a_plain_server_fails(echo_server):
    client = plain_client(echo_server)
    with pytest.raises(exceptions.TlsException, match="TLS handshake"):
        client.convert_to_ssl(sni=HOST)
    client.finish()


def test_peer_closing_during_the_handshake(serve):
    class Hangup(BaseHandler):
        def handle(self):
            self.rfile.peek(1)

    server = serve(Hangup)
    client = plain_client(server)
    with pytest.raises(exceptions.TlsException, match="peer closed the connection"):
        client.convert_to_ssl(sni=HOST)
    client.finish()


def test_handshake_timeout(serve):
    release = threading.Event()

    class Silent(BaseHandler):
        def handle(self):
            release.wait(WAIT)

    server = serve(Silent)
    client = plain_client(server, timeout=0.2)
    with pytest.raises(exceptions.TcpTimeout):
        client.convert_to_ssl()
    release.set()
    client.finish()


def test_close_notify_and_plain_eof_both_end_the_stream(serve, server_cert):
    class Reply(BaseHandler):
        def handle(self):
            self.convert_to_ssl(server_cert.cert, server_cert.privatekey)
            self.wfile.write(b"bye")
            self.wfile.flush()
            if self.rfile.readline(10) == b"abrupt\n":
                # Close the TCP connection without close_notify, as many servers do.
                self.tls = None
            # else finish() sends close_notify

    server = serve(Reply)
    for how in (b"polite\n", b"abrupt\n"):
        client = tls_client(server)
        assert client.rfile.read(3) == b"bye"
        client.wfile.write(how)
        client.wfile.flush()
        assert client.rfile.read() == b""
        assert client.rfile.readsome() == b""
        client.finish()
        assert server.next_done().error is None


def test_server_sees_end_of_stream_after_client_close_notify(tls_server):
    server = tls_server()
    client = tls_client(server)
    client.finish()
    assert server.next_done().error is None


def test_writing_to_a_vanished_tls_peer_is_a_disconnect(serve, server_cert):
    class Vanish(BaseHandler):
        def handle(self):
            self.convert_to_ssl(server_cert.cert, server_cert.privatekey)
            self.tls = None

    server = serve(Vanish)
    client = tls_client(server)
    server.next_done()
    assert client.rfile.read() == b""
    with pytest.raises(exceptions.TcpDisconnect):
        for _ in range(100):
            client.wfile.write(b"x" * 65536)
            client.wfile.flush()
    client.finish()


def test_garbage_inside_a_tls_session_is_a_tls_error(serve, server_cert):
    class Garbage(BaseHandler):
        def handle(self):
            self.convert_to_ssl(server_cert.cert, server_cert.privatekey)
            # An application-data record that was never encrypted by this session.
            self.connection.sendall(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
            self.rfile.read()

    server = serve(Garbage)
    client = tls_client(server)
    with pytest.raises(exceptions.TlsException, match="TLS read: "):
        client.rfile.read(1)
    client.finish()
    server.next_done()


def test_records_waiting_in_the_tls_engine_count_as_readable(serve, server_cert):
    """Two records that arrive in one TCP segment: after the first is read, the socket has
    nothing more, but the second is ready; a poller must not wait on the socket for it."""
    proceed = threading.Event()

    class TwoRecords(BaseHandler):
        def handle(self):
            self.convert_to_ssl(server_cert.cert, server_cert.privatekey)
            self.tls.connection.send(b"first")  # encrypted, not yet sent
            self.tls.sendall(b"second")  # sends both records in one write
            proceed.wait(WAIT)

    server = serve(TwoRecords)
    client = tls_client(server)
    assert wait_readable([client], WAIT) == [client]
    assert client.rfile.readsome() == b"first"
    assert client.has_pending_data()
    assert wait_readable([client], 0) == [client]
    assert client.rfile.readsome() == b"second"
    assert not client.has_pending_data()
    assert wait_readable([client], 0) == []
    proceed.set()
    assert client.rfile.read() == b""
    assert client.has_pending_data()  # end of stream: a read returns at once
    client.finish()
    assert wait_readable([client], 0) == [client]
    server.next_done()


# --- shared contexts ---------------------------------------------------------------------

def test_connections_share_one_context_per_option_set(tls_server, certstore):
    """Building a context per connection was a measurable share of each handshake, so
    connections with the same options share one; per-connection state stays per connection
    (SNI, the leaf certificate, ALPN choice, verification result)."""
    from netlib.tcp import tls
    server = tls_server()
    clients = [tls_client(server, sni=f"h{i}.test", alpn_protos=[b"h2"]) for i in (1, 2)]
    contexts = {id(c.tls.connection.get_context()) for c in clients}
    assert len(contexts) == 1
    for i, client in enumerate(clients, 1):
        assert client.sni == f"h{i}.test" and client.get_alpn_proto_negotiated() == b"h2"
        client.finish()
    handlers = [server.next_done() for _ in clients]
    assert sorted(h.sni for h in handlers) == ["h1.test", "h2.test"]
    assert len({id(h.tls.connection.get_context()) for h in handlers}) == 1
    assert tls.client_context(verify=True) is not tls.client_context(verify=False)
    assert tls.client_context(alpn_protos=[b"h2"]) is tls.client_context(alpn_protos=[b"h2"])


def test_a_failed_verification_does_not_leak_into_the_next_connection(
        tls_server, certstore, other_certstore):
    """The verify callback of a shared context reports into its own connection."""
    server = tls_server(alpn_select=None)
    client = plain_client(server)
    with pytest.raises(exceptions.InvalidCertificateException):
        client.convert_to_ssl(sni=HOST, verify_upstream=True,
                              ca_pemfile=other_certstore.ca_cert_path)
    client.finish()
    good = tls_client(server, sni=HOST, verify_upstream=True,
                      ca_pemfile=certstore.ca_cert_path)
    assert good.ssl_verification_error is None and echo(good, b"ok") == b"ok"
    good.finish()


def test_alpn_callback_errors_fail_the_connection_with_the_reason(tls_server):
    def alpn_select(offers):
        raise ValueError("no protocol for you")

    server = tls_server(alpn_select=alpn_select)
    client = tls_client(server, alpn_protos=[b"h2"])
    client.finish()
    handler = server.next_done()
    assert "ALPN selection failed: no protocol for you" in str(handler.error)


def test_a_certificate_that_does_not_match_the_key_is_refused(serve, certstore):
    leaf = certstore.get_cert("a.test", [])
    server = serve(TlsEchoHandler, tls=dict(cert=leaf.cert, key=certstore.default_privatekey))
    client = plain_client(server)
    with pytest.raises(exceptions.TlsException):
        client.convert_to_ssl()
    client.finish()
    assert "the private key does not match" in str(server.next_done().error)


def test_shared_contexts_follow_files_and_objects(certstore, tmp_path):
    """A client certificate file is one context however its path string was made, and a
    new one once the file changes; certificate objects count by identity."""
    import os
    from netlib.tcp import tls
    path = pem_file(tmp_path / "client.pem", certstore.get_cert("client.test", []))
    first = tls.client_context(cert=os.path.join(str(tmp_path), "client.pem"))
    assert tls.client_context(cert="".join(path)) is first
    pem_file(tmp_path / "client.pem", certstore.get_cert("client2.test", []))
    os.utime(path, ns=(0, 0))
    assert tls.client_context(cert=path) is not first
    entry = certstore.get_cert("objects.test", [])
    by_object = tls.client_context(cert=entry.cert, key=entry.privatekey)
    assert tls.client_context(cert=entry.cert, key=entry.privatekey) is by_object


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_sessions_are_not_resumed_across_connections(serve, server_cert, version):
    """Sharing a server context must not make sessions outlive their connection (they did
    not when each connection had its own context)."""
    import socket
    import ssl

    class OneByte(BaseHandler):
        def handle(self):
            self.convert_to_ssl(server_cert.cert, server_cert.privatekey)
            self.wfile.write(b"x")
            self.wfile.flush()
            self.rfile.read(1)

    server = serve(OneByte)
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
    session, reused = None, []
    for _ in range(2):
        with ctx.wrap_socket(socket.create_connection(server.address.address, timeout=WAIT),
                             server_hostname=HOST, session=session) as s:
            s.recv(1)
            reused.append(s.session_reused)
            session = s.session
        server.next_done()
    assert reused == [False, False]

import socket

import pytest

from netlib import socks
from netlib.exceptions import SocksException, TcpReadIncomplete
from netlib.tcp.buffered import Reader, Writer


def written(message) -> bytes:
    """The bytes ``message.to_file`` sends."""
    out: list[bytes] = []
    wfile = Writer(out.append)
    message.to_file(wfile)
    wfile.flush()
    return b"".join(out)


def reader(data: bytes) -> Reader:
    # One byte per recv: every message must be read correctly however it arrives.
    return Reader.from_bytes(data, chunk=1)


# --- greetings ---

def test_client_greeting_round_trip():
    greeting = socks.ClientGreeting.from_file(reader(b"\x05\x02\x00\x02rest"))
    assert (greeting.ver, greeting.methods) == (5, [socks.METHOD.NO_AUTHENTICATION_REQUIRED,
                                                    socks.METHOD.USERNAME_PASSWORD])
    greeting.assert_socks5()
    assert written(greeting) == b"\x05\x02\x00\x02"
    assert repr(greeting) == "ClientGreeting(ver=5, methods=[0, 2])"


def test_client_greeting_with_no_methods():
    greeting = socks.ClientGreeting.from_file(reader(b"\x05\x00"))
    assert greeting.methods == []


def test_client_greeting_of_wrong_version_is_refused():
    greeting = socks.ClientGreeting.from_file(reader(b"\x04\x01\x00"))
    with pytest.raises(SocksException, match="invalid SOCKS version 0x04.*SOCKS4") as e:
        greeting.assert_socks5()
    assert e.value.code == socks.REP.GENERAL_SOCKS_SERVER_FAILURE


def test_http_request_is_refused_early_with_a_hint():
    """An HTTP client on the SOCKS port is told so without waiting for 69 'methods'."""
    rfile = reader(b"GET / HTTP/1.1\r\n")
    with pytest.raises(SocksException, match="looks like an HTTP request"):
        socks.ClientGreeting.from_file(rfile, fail_early=True)


def test_http_request_hint_also_after_full_read():
    greeting = socks.ClientGreeting.from_file(reader(b"GE" + b"x" * 69))
    with pytest.raises(SocksException, match="looks like an HTTP request"):
        greeting.assert_socks5()


def test_unknown_version_has_no_hint():
    with pytest.raises(SocksException, match=r"version 0x07, expected 0x05$"):
        socks.ClientGreeting.from_file(reader(b"\x07\x01\x00"), fail_early=True)


def test_truncated_client_greeting():
    with pytest.raises(TcpReadIncomplete):
        socks.ClientGreeting.from_file(reader(b"\x05\x03\x00"))


def test_client_greeting_with_too_many_methods_cannot_be_written():
    with pytest.raises(SocksException, match="method list is 256 bytes"):
        written(socks.ClientGreeting(5, [0] * 256))


def test_server_greeting_round_trip():
    greeting = socks.ServerGreeting.from_file(reader(b"\x05\xff"))
    greeting.assert_socks5()
    assert greeting.method == socks.METHOD.NO_ACCEPTABLE_METHODS
    assert written(greeting) == b"\x05\xff"
    assert "NO_ACCEPTABLE_METHODS" in repr(greeting)


def test_server_greeting_from_an_http_server():
    greeting = socks.ServerGreeting.from_file(reader(b"HTTP/1.1 400"))
    with pytest.raises(SocksException, match="looks like an HTTP response"):
        greeting.assert_socks5()
    with pytest.raises(SocksException, match=r"version 0x04, expected 0x05$"):
        socks.ServerGreeting(4, 0).assert_socks5()


# --- username/password ---

def test_username_password_auth_round_trip():
    data = b"\x01\x04user\x06s3cr\xc3\xa9"
    auth = socks.UsernamePasswordAuth.from_file(reader(data))
    auth.assert_authver1()
    assert (auth.username, auth.password) == (b"user", b"s3cr\xc3\xa9")
    assert written(auth) == data
    assert "s3cr" not in repr(auth)


def test_empty_credentials():
    auth = socks.UsernamePasswordAuth.from_file(reader(b"\x01\x00\x00"))
    assert (auth.username, auth.password) == (b"", b"")


def test_username_password_auth_wrong_version():
    auth = socks.UsernamePasswordAuth.from_file(reader(b"\x05\x00\x00"))
    with pytest.raises(SocksException, match="username/password auth: invalid version 0x05"):
        auth.assert_authver1()


def test_overlong_password_cannot_be_written():
    with pytest.raises(SocksException, match="password is 300 bytes"):
        written(socks.UsernamePasswordAuth(1, b"u", b"p" * 300))


def test_truncated_password():
    with pytest.raises(TcpReadIncomplete):
        socks.UsernamePasswordAuth.from_file(reader(b"\x01\x01u\x05abc"))


def test_username_password_auth_response():
    response = socks.UsernamePasswordAuthResponse.from_file(reader(b"\x01\x00"))
    response.assert_authver1()
    assert response.status == socks.AUTH_SUCCESS
    assert written(socks.UsernamePasswordAuthResponse(1, socks.AUTH_FAILURE)) == b"\x01\x01"
    with pytest.raises(SocksException, match="auth response: invalid version 0x02"):
        socks.UsernamePasswordAuthResponse(2, 0).assert_authver1()
    assert "status=1" in repr(socks.UsernamePasswordAuthResponse(1, 1))


# --- requests and replies ---

@pytest.mark.parametrize("data, atyp, addr", [
    (b"\x05\x01\x00\x01\x7f\x00\x00\x01\x1f\x90", socks.ATYP.IPV4_ADDRESS, ("127.0.0.1", 8080)),
    (b"\x05\x01\x00\x04" + b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x01\x01\xbb",
     socks.ATYP.IPV6_ADDRESS, ("2001:db8::1", 443)),
    (b"\x05\x01\x00\x03\x0bexample.com\x00\x50", socks.ATYP.DOMAINNAME, ("example.com", 80)),
    (b"\x05\x01\x00\x03\x10xn--bcher-kva.ch\x00\x50", socks.ATYP.DOMAINNAME,
     ("xn--bcher-kva.ch", 80)),
])
def test_connect_request_round_trip(data, atyp, addr):
    message = socks.Message.from_file(reader(data))
    message.assert_socks5()
    message.assert_connect()
    assert (message.ver, message.msg, message.atyp) == (5, socks.CMD.CONNECT, atyp)
    assert message.addr == addr
    assert (message.addr.host, message.addr.port) == addr
    assert written(message) == data


def test_reply_written_for_a_domain():
    reply = socks.Message(socks.VERSION.SOCKS5, socks.REP.SUCCEEDED, socks.ATYP.DOMAINNAME,
                          ("bücher.ch", 443))
    assert written(reply) == b"\x05\x00\x00\x03\x10xn--bcher-kva.ch\x01\xbb"


def test_address_may_be_a_plain_tuple():
    reply = socks.Message(5, 0, socks.ATYP.IPV4_ADDRESS, ("0.0.0.0", 0))
    assert reply.addr == socks.Address("0.0.0.0", 0)
    assert "IPV4_ADDRESS" in repr(reply) and "'0.0.0.0', 0" in repr(reply)


def test_bind_is_not_supported():
    message = socks.Message.from_file(reader(b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00"))
    with pytest.raises(SocksException, match=r"BIND \(0x02\) is not supported") as e:
        message.assert_connect()
    assert e.value.code == socks.REP.COMMAND_NOT_SUPPORTED


def test_unknown_command_is_not_supported():
    with pytest.raises(SocksException, match="command 0x09 is not supported") as e:
        socks.Message(5, 9, 1, ("1.2.3.4", 1)).assert_connect()
    assert e.value.code == socks.REP.COMMAND_NOT_SUPPORTED


def test_message_wrong_version():
    with pytest.raises(SocksException, match="SOCKS message: invalid version 0x04") as e:
        socks.Message(4, 1, 1, ("1.2.3.4", 1)).assert_socks5()
    assert e.value.code == socks.REP.GENERAL_SOCKS_SERVER_FAILURE


def test_unknown_address_type():
    with pytest.raises(SocksException, match="unknown address type 0x02") as e:
        socks.Message.from_file(reader(b"\x05\x01\x00\x02\x00\x00"))
    assert e.value.code == socks.REP.ADDRESS_TYPE_NOT_SUPPORTED


def test_nonzero_reserved_byte():
    with pytest.raises(SocksException, match="reserved byte is 0x07") as e:
        socks.Message.from_file(reader(b"\x05\x01\x07\x01\x00\x00\x00\x00\x00\x00"))
    assert e.value.code == socks.REP.GENERAL_SOCKS_SERVER_FAILURE


def test_empty_domain_name():
    with pytest.raises(SocksException, match="empty domain name"):
        socks.Message.from_file(reader(b"\x05\x01\x00\x03\x00\x00\x50"))


def test_non_ascii_domain_name():
    with pytest.raises(SocksException, match="is not ASCII"):
        socks.Message.from_file(reader(b"\x05\x01\x00\x03\x02\xc3\xa9\x00\x50"))


@pytest.mark.parametrize("data", [
    b"\x05\x01\x00",
    b"\x05\x01\x00\x01\x7f\x00",
    b"\x05\x01\x00\x03\x0bexample",
    b"\x05\x01\x00\x03\x0bexample.com\x00",
])
def test_truncated_message(data):
    with pytest.raises(TcpReadIncomplete):
        socks.Message.from_file(reader(data))


@pytest.mark.parametrize("atyp, host, message", [
    (socks.ATYP.IPV4_ADDRESS, "example.com", "'example.com' is not an IPv4 address"),
    (socks.ATYP.IPV6_ADDRESS, "1.2.3.4", "'1.2.3.4' is not an IPv6 address"),
    (socks.ATYP.DOMAINNAME, "a" * 256, "domain name is 256 bytes"),
    (socks.ATYP.DOMAINNAME, "bad\u00a0" + "x" * 70, "cannot encode domain name"),
    (0x09, "x", "cannot write address type 0x09"),
])
def test_unwritable_addresses(atyp, host, message):
    with pytest.raises(SocksException, match=message):
        written(socks.Message(5, 0, atyp, (host, 1)))


def test_handshake_over_a_real_socketpair():
    """A whole client/server exchange, each side reading what the other wrote."""
    client_sock, server_sock = socket.socketpair()
    with client_sock, server_sock:
        client_sock.settimeout(5)
        server_sock.settimeout(5)
        client_r, client_w = Reader(client_sock.recv), Writer(client_sock.sendall)
        server_r, server_w = Reader(server_sock.recv), Writer(server_sock.sendall)

        socks.ClientGreeting(5, [socks.METHOD.NO_AUTHENTICATION_REQUIRED]).to_file(client_w)
        socks.Message(5, socks.CMD.CONNECT, socks.ATYP.DOMAINNAME, ("example.com", 443)).to_file(client_w)
        client_w.flush()

        greeting = socks.ClientGreeting.from_file(server_r, fail_early=True)
        assert socks.METHOD.NO_AUTHENTICATION_REQUIRED in greeting.methods
        socks.ServerGreeting(5, socks.METHOD.NO_AUTHENTICATION_REQUIRED).to_file(server_w)
        request = socks.Message.from_file(server_r)
        request.assert_connect()
        socks.Message(5, socks.REP.SUCCEEDED, socks.ATYP.IPV4_ADDRESS, ("10.0.0.1", 4321)).to_file(server_w)
        server_w.flush()

        assert socks.ServerGreeting.from_file(client_r).method == 0
        reply = socks.Message.from_file(client_r)
        assert request.addr == ("example.com", 443)
        assert (reply.msg, reply.addr) == (socks.REP.SUCCEEDED, ("10.0.0.1", 4321))

"""Error translation at the edge: what a caller reads when a socket or OpenSSL fails."""
import errno

from OpenSSL import SSL

from netlib import exceptions
from netlib.tcp.errors import socket_error, tls_error, tls_reason


def test_socket_errors():
    timeout = socket_error(TimeoutError("timed out"), "reading from a:1")
    assert isinstance(timeout, exceptions.TcpTimeout)
    assert str(timeout) == "reading from a:1: timed out"
    reset = socket_error(ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "x")
    assert isinstance(reset, exceptions.TcpDisconnect)
    assert str(reset) == "x: Connection reset by peer"
    assert str(socket_error(OSError(), "x")) == "x: OSError"


def test_tls_reasons():
    error = SSL.Error([("SSL routines", "", "certificate verify failed"),
                       ("SSL routines", "", "second")])
    assert tls_reason(error) == "certificate verify failed; second"
    assert tls_reason(SSL.SysCallError(-1, "Unexpected EOF")) == "Unexpected EOF"
    assert tls_reason(SSL.Error([])) == "Error without a reason from OpenSSL"
    assert tls_reason(SSL.SysCallError()) == "SysCallError without a reason from OpenSSL"
    translated = tls_error(error, "TLS handshake")
    assert isinstance(translated, exceptions.TlsException)
    assert str(translated) == "TLS handshake: certificate verify failed; second"

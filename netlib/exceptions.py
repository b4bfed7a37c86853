"""Every error netlib raises, in one hierarchy rooted at NetlibException.

Callers catch the class that names what they can handle: a proxy layer catches
``HttpException`` to answer 400, ``TcpDisconnect`` to close quietly, ``TlsException`` to log
a handshake failure. Errors from the socket and TLS libraries are translated into these
classes once, where the I/O happens, so no ``OSError`` or ``OpenSSL.SSL.Error`` escapes netlib.
"""
from __future__ import annotations


class NetlibException(Exception):
    """Base class for all of netlib's errors."""


class Disconnect:
    """Mixin: the peer went away (as opposed to sending something invalid)."""


# --- TCP -------------------------------------------------------------------------------

class TcpException(NetlibException):
    pass


class TcpDisconnect(TcpException, Disconnect):
    pass


class TcpReadIncomplete(TcpException):
    """The connection ended before the number of bytes we were promised arrived."""


class TcpTimeout(TcpException):
    pass


class AddressException(TcpException):
    """An address could not be parsed or resolved."""


# --- TLS -------------------------------------------------------------------------------

class TlsException(NetlibException):
    pass


class InvalidCertificateException(TlsException):
    """The peer's certificate failed verification."""


class ClientHelloException(TlsException):
    """The bytes peeked from a connection are not a (complete) TLS ClientHello."""


class CertificateException(NetlibException):
    """A certificate or key file could not be read, or a CA could not be created."""


# --- HTTP ------------------------------------------------------------------------------

class HttpException(NetlibException):
    pass


class HttpReadDisconnect(HttpException, Disconnect):
    """The peer closed the connection where a new message could have begun."""


class HttpSyntaxException(HttpException):
    """The bytes received are not a well-formed HTTP message."""


class HttpLimitException(HttpException):
    """A configured size limit was exceeded. The subclass says which one."""


class HttpLineTooLong(HttpLimitException):
    """A request line, status line, header line or chunk-size line is too long."""


class HttpHeadersTooLarge(HttpLimitException):
    """The header block is too large or has too many fields."""


class HttpBodyTooLarge(HttpLimitException):
    """The body is larger than the body size limit."""


class Http2Exception(HttpException):
    """A frame or header block could not be read or written."""


# --- Other protocols and formats -------------------------------------------------------

class SocksException(NetlibException):
    """A SOCKS5 message is malformed or unsupported.

    ``code`` is the SOCKS5 reply code that tells the client why (see netlib.socks.REP).
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class WebSocketException(NetlibException):
    """A WebSocket frame or handshake is malformed."""


class TnetstringException(NetlibException, ValueError):
    """A tnetstring is malformed. Also a ValueError, as tnetstring readers expect."""


class InvalidSizeException(NetlibException, ValueError):
    """A human-readable size such as ``3m`` could not be parsed."""

"""SOCKS5 messages (RFC 1928) and username/password authentication (RFC 1929).

Each message is a small class holding the decoded fields, read with ``from_file(rfile)`` from
a netlib.tcp Reader and written with ``to_file(wfile)`` to a Writer (the caller flushes, so a
reply and what follows it can leave in one segment). Reading uses ``safe_read``, so a peer
that hangs up mid-message raises TcpReadIncomplete.

Malformed or unsupported input raises SocksException whose ``code`` is the REP value to send
back to the client (a reply message can only carry that, so we decide it where we know why).

Addresses are ``Address(host, port)`` named tuples: usable as a ``(host, port)`` pair with the
socket module, and readable as ``.host``/``.port``. The host is the text form, an IPv4 or
IPv6 literal or a domain name; which one is said by the message's ``atyp``.
"""
from __future__ import annotations

import enum
import ipaddress
from typing import NamedTuple

from netlib.exceptions import SocksException

__all__ = [
    "VERSION", "CMD", "ATYP", "REP", "METHOD", "USERNAME_PASSWORD_VERSION",
    "Address", "ClientGreeting", "ServerGreeting",
    "UsernamePasswordAuth", "UsernamePasswordAuthResponse", "Message",
]


class VERSION(enum.IntEnum):
    SOCKS4 = 0x04
    SOCKS5 = 0x05


class CMD(enum.IntEnum):
    CONNECT = 0x01
    BIND = 0x02
    UDP_ASSOCIATE = 0x03


class ATYP(enum.IntEnum):
    IPV4_ADDRESS = 0x01
    DOMAINNAME = 0x03
    IPV6_ADDRESS = 0x04


class REP(enum.IntEnum):
    SUCCEEDED = 0x00
    GENERAL_SOCKS_SERVER_FAILURE = 0x01
    CONNECTION_NOT_ALLOWED_BY_RULESET = 0x02
    NETWORK_UNREACHABLE = 0x03
    HOST_UNREACHABLE = 0x04
    CONNECTION_REFUSED = 0x05
    TTL_EXPIRED = 0x06
    COMMAND_NOT_SUPPORTED = 0x07
    ADDRESS_TYPE_NOT_SUPPORTED = 0x08


class METHOD(enum.IntEnum):
    NO_AUTHENTICATION_REQUIRED = 0x00
    GSSAPI = 0x01
    USERNAME_PASSWORD = 0x02
    NO_ACCEPTABLE_METHODS = 0xFF


class USERNAME_PASSWORD_VERSION(enum.IntEnum):
    DEFAULT = 0x01


# RFC 1929 status: zero is success, anything else is failure.
AUTH_SUCCESS = 0x00
AUTH_FAILURE = 0x01

# Every variable-length field (method list, name, password, domain) has a one-byte length.
MAX_FIELD_LENGTH = 255

_RESERVED = 0x00
_IPV4_LENGTH = 4
_IPV6_LENGTH = 16


class Address(NamedTuple):
    host: str
    port: int


def _name(enum_type: type[enum.IntEnum], value: int) -> str:
    """``CONNECT (0x01)`` for a known value, ``0x2a`` otherwise: messages name both."""
    try:
        return f"{enum_type(value).name} (0x{value:02x})"
    except ValueError:
        return f"0x{value:02x}"


def _assert_version(ver: int, expected: int, what: str) -> None:
    if ver != expected:
        raise SocksException(
            REP.GENERAL_SOCKS_SERVER_FAILURE,
            f"{what}: invalid version 0x{ver:02x}, expected 0x{expected:02x}")


def _field(data: bytes, what: str) -> bytes:
    """``data`` with its one-byte length in front, refusing what the length cannot hold."""
    if len(data) > MAX_FIELD_LENGTH:
        raise SocksException(
            REP.GENERAL_SOCKS_SERVER_FAILURE,
            f"{what} is {len(data)} bytes long, at most {MAX_FIELD_LENGTH} fit in a SOCKS message")
    return bytes([len(data)]) + data


def _assert_client_version(ver: int, nmethods: int) -> None:
    """Refuse anything but SOCKS5, with a hint when the client is speaking HTTP to us (the
    most common mistake: a browser configured for an HTTP proxy on this port)."""
    if ver == VERSION.SOCKS5:
        return
    hint = ""
    if ver == ord("G") and nmethods == ord("E"):
        hint = " (this looks like an HTTP request, not a SOCKS one)"
    elif ver == VERSION.SOCKS4:
        hint = " (SOCKS4 is not supported)"
    raise SocksException(
        REP.GENERAL_SOCKS_SERVER_FAILURE,
        f"client greeting: invalid SOCKS version 0x{ver:02x}, expected 0x05{hint}")


class ClientGreeting:
    """The client's opening: its version and the authentication methods it offers."""

    __slots__ = ("ver", "methods")

    def __init__(self, ver: int, methods: list[int]) -> None:
        self.ver = ver
        self.methods = list(methods)

    def assert_socks5(self) -> None:
        _assert_client_version(self.ver, len(self.methods))

    @classmethod
    def from_file(cls, rfile, fail_early: bool = False) -> "ClientGreeting":
        """Read a greeting. With ``fail_early``, check the version before reading the method
        list, so that an HTTP request ("GE...") is refused at once instead of waiting for
        the 69 "methods" its second byte promises."""
        ver, nmethods = rfile.safe_read(2)
        if fail_early:
            _assert_client_version(ver, nmethods)
        return cls(ver, list(rfile.safe_read(nmethods)))

    def to_file(self, wfile) -> None:
        wfile.write(bytes([self.ver]) + _field(bytes(self.methods), "method list"))

    def __repr__(self) -> str:
        return f"ClientGreeting(ver={self.ver}, methods={self.methods})"


class _TwoByteMessage:
    """A message of a version byte and one value byte; subclasses name the value."""

    __slots__ = ()

    def _bytes(self) -> tuple[int, int]:
        raise NotImplementedError

    @classmethod
    def from_file(cls, rfile):
        ver, value = rfile.safe_read(2)
        return cls(ver, value)

    def to_file(self, wfile) -> None:
        wfile.write(bytes(self._bytes()))


class ServerGreeting(_TwoByteMessage):
    """The server's choice among the offered methods (or NO_ACCEPTABLE_METHODS)."""

    __slots__ = ("ver", "method")

    def __init__(self, ver: int, method: int) -> None:
        self.ver = ver
        self.method = method

    def assert_socks5(self) -> None:
        if self.ver != VERSION.SOCKS5:
            hint = " (this looks like an HTTP response, not a SOCKS one)" if self.ver == ord("H") else ""
            raise SocksException(
                REP.GENERAL_SOCKS_SERVER_FAILURE,
                f"server greeting: invalid SOCKS version 0x{self.ver:02x}, expected 0x05{hint}")

    def _bytes(self) -> tuple[int, int]:
        return self.ver, self.method

    def __repr__(self) -> str:
        return f"ServerGreeting(ver={self.ver}, method={_name(METHOD, self.method)})"


class UsernamePasswordAuth:
    """RFC 1929 sub-negotiation: the client's credentials, as bytes (the RFC sets no
    encoding; callers that compare against configured text decode as they see fit)."""

    __slots__ = ("ver", "username", "password")

    def __init__(self, ver: int, username: bytes, password: bytes) -> None:
        self.ver = ver
        self.username = username
        self.password = password

    def assert_authver1(self) -> None:
        _assert_version(self.ver, USERNAME_PASSWORD_VERSION.DEFAULT, "username/password auth")

    @classmethod
    def from_file(cls, rfile) -> "UsernamePasswordAuth":
        ver, ulen = rfile.safe_read(2)
        username = rfile.safe_read(ulen)
        (plen,) = rfile.safe_read(1)
        password = rfile.safe_read(plen)
        return cls(ver, username, password)

    def to_file(self, wfile) -> None:
        wfile.write(bytes([self.ver]) + _field(self.username, "username")
                    + _field(self.password, "password"))

    def __repr__(self) -> str:
        return f"UsernamePasswordAuth(ver={self.ver}, username={self.username!r}, password=***)"


class UsernamePasswordAuthResponse(_TwoByteMessage):
    """RFC 1929 answer: status AUTH_SUCCESS, or anything else and the server closes."""

    __slots__ = ("ver", "status")

    def __init__(self, ver: int, status: int) -> None:
        self.ver = ver
        self.status = status

    def assert_authver1(self) -> None:
        _assert_version(self.ver, USERNAME_PASSWORD_VERSION.DEFAULT, "username/password auth response")

    def _bytes(self) -> tuple[int, int]:
        return self.ver, self.status

    def __repr__(self) -> str:
        return f"UsernamePasswordAuthResponse(ver={self.ver}, status={self.status})"


class Message:
    """A request (``msg`` is a CMD) or a reply (``msg`` is a REP): both have one layout."""

    __slots__ = ("ver", "msg", "atyp", "addr")

    def __init__(self, ver: int, msg: int, atyp: int, addr: Address | tuple[str, int]) -> None:
        self.ver = ver
        self.msg = msg
        self.atyp = atyp
        self.addr = Address(*addr)

    def assert_socks5(self) -> None:
        _assert_version(self.ver, VERSION.SOCKS5, "SOCKS message")

    def assert_connect(self) -> None:
        """A proxy relays byte streams: only CONNECT makes sense for it."""
        if self.msg != CMD.CONNECT:
            raise SocksException(
                REP.COMMAND_NOT_SUPPORTED,
                f"SOCKS command {_name(CMD, self.msg)} is not supported, only CONNECT")

    @classmethod
    def from_file(cls, rfile) -> "Message":
        ver, msg, rsv, atyp = rfile.safe_read(4)
        if rsv != _RESERVED:
            raise SocksException(
                REP.GENERAL_SOCKS_SERVER_FAILURE,
                f"SOCKS message: reserved byte is 0x{rsv:02x}, must be 0x00")
        if atyp == ATYP.IPV4_ADDRESS:
            host = str(ipaddress.IPv4Address(rfile.safe_read(_IPV4_LENGTH)))
        elif atyp == ATYP.IPV6_ADDRESS:
            host = str(ipaddress.IPv6Address(rfile.safe_read(_IPV6_LENGTH)))
        elif atyp == ATYP.DOMAINNAME:
            (length,) = rfile.safe_read(1)
            host = _decode_domain(rfile.safe_read(length))
        else:
            raise SocksException(
                REP.ADDRESS_TYPE_NOT_SUPPORTED,
                f"SOCKS message: unknown address type 0x{atyp:02x}")
        port = int.from_bytes(rfile.safe_read(2), "big")
        return cls(ver, msg, atyp, Address(host, port))

    def to_file(self, wfile) -> None:
        host, port = self.addr
        if self.atyp == ATYP.IPV4_ADDRESS:
            packed = _pack_ip(ipaddress.IPv4Address, host)
        elif self.atyp == ATYP.IPV6_ADDRESS:
            packed = _pack_ip(ipaddress.IPv6Address, host)
        elif self.atyp == ATYP.DOMAINNAME:
            packed = _field(_encode_domain(host), "domain name")
        else:
            raise SocksException(
                REP.ADDRESS_TYPE_NOT_SUPPORTED, f"cannot write address type 0x{self.atyp:02x}")
        wfile.write(bytes([self.ver, self.msg, _RESERVED, self.atyp]) + packed
                    + port.to_bytes(2, "big"))

    def __repr__(self) -> str:
        return (f"Message(ver={self.ver}, msg={self.msg}, atyp={_name(ATYP, self.atyp)}, "
                f"addr={tuple(self.addr)!r})")


def _pack_ip(ip_type, host: str) -> bytes:
    try:
        return ip_type(host).packed
    except ValueError:
        raise SocksException(
            REP.ADDRESS_TYPE_NOT_SUPPORTED, f"{host!r} is not an {ip_type.__name__[:4]} address") from None


def _decode_domain(raw: bytes) -> str:
    """Domain names arrive as ASCII, possibly IDNA-encoded; we keep them as sent (in their
    ASCII form) so that the name we resolve and the SNI we send are byte for byte the
    client's."""
    if not raw:
        raise SocksException(REP.GENERAL_SOCKS_SERVER_FAILURE, "SOCKS message: empty domain name")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise SocksException(
            REP.GENERAL_SOCKS_SERVER_FAILURE, f"SOCKS message: domain name {raw!r} is not ASCII") from None


def _encode_domain(host: str) -> bytes:
    try:
        return host.encode("ascii")
    except UnicodeEncodeError:
        pass
    try:
        return host.encode("idna")
    except UnicodeError:
        raise SocksException(
            REP.GENERAL_SOCKS_SERVER_FAILURE, f"cannot encode domain name {host!r}") from None

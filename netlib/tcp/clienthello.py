"""Reading a TLS ClientHello before the handshake: which server (SNI) and protocols (ALPN)
the client wants, decided on before the proxy answers.

Layout (RFC 8446 section 4.1.2, RFC 5246 section 7.4.1.2, RFC 6066 section 3, RFC 7301):

    record:     type(1)=0x16  version(2)  length(2)  fragment
    handshake:  type(1)=0x01  length(3)   body        (may span several records)
    body:       version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
                compression_methods<1..2^8-1> [extensions<0..2^16-1>]
    extension:  type(2) data<0..2^16-1>

Parsing raises ClientHelloException naming what is wrong; it never returns None. Sizes are
bounded so that a peer cannot make us buffer much before we decide.
"""
from __future__ import annotations

import dataclasses

from netlib import exceptions
from netlib.tcp.buffered import Reader

__all__ = ["ClientHello", "is_tls_record_magic", "MAX_CLIENT_HELLO_SIZE"]

RECORD_HEADER_SIZE = 5
HANDSHAKE_HEADER_SIZE = 4
CONTENT_TYPE_HANDSHAKE = 0x16
HANDSHAKE_TYPE_CLIENT_HELLO = 0x01
EXTENSION_SERVER_NAME = 0
EXTENSION_ALPN = 16
SERVER_NAME_TYPE_HOST_NAME = 0

# A record fragment is at most 2^14 bytes of plaintext (RFC 8446 5.1); a handshake record
# before encryption is plaintext, so anything longer is not TLS.
MAX_RECORD_SIZE = 2 ** 14

# The largest ClientHello we wait for. Real ones are under 2 KiB even with post-quantum key
# shares; 64 KiB leaves room for any plausible extension while bounding what a hostile or
# confused peer can make us buffer.
MAX_CLIENT_HELLO_SIZE = 64 * 1024


def is_tls_record_magic(data: bytes) -> bool:
    """Whether ``data`` starts like a TLS handshake record (the first 3 bytes suffice).

    The proxy uses this to tell TLS from HTTP on a connection whose purpose is unknown.
    """
    return (
        len(data) >= 3 and data[0] == CONTENT_TYPE_HANDSHAKE and data[1] == 0x03
        and data[2] <= 0x04
    )


class _NeedMore(Exception):
    """Internal: ``total`` bytes of stream are needed before parsing can go on."""

    def __init__(self, total: int) -> None:
        super().__init__(total)
        self.total = total


def _handshake_message(data: bytes) -> tuple[bytes, int]:
    """The ClientHello body and how many stream bytes its records take.

    Raises _NeedMore when ``data`` is a valid but incomplete prefix.
    """
    fragments = bytearray()
    pos = 0
    while True:
        if len(data) < pos + RECORD_HEADER_SIZE:
            raise _NeedMore(pos + RECORD_HEADER_SIZE)
        content_type, major = data[pos], data[pos + 1]
        length = int.from_bytes(data[pos + 3:pos + 5], "big")
        if content_type != CONTENT_TYPE_HANDSHAKE:
            raise exceptions.ClientHelloException(
                f"not a TLS handshake record: content type {content_type:#04x} at byte {pos}")
        if major != 0x03:
            raise exceptions.ClientHelloException(
                f"unsupported TLS record version {major}.{data[pos + 2]} at byte {pos}")
        if not 0 < length <= MAX_RECORD_SIZE:
            raise exceptions.ClientHelloException(f"invalid TLS record length {length}")
        end = pos + RECORD_HEADER_SIZE + length
        if len(data) < end:
            raise _NeedMore(end)
        fragments += data[pos + RECORD_HEADER_SIZE:end]
        pos = end
        if len(fragments) >= HANDSHAKE_HEADER_SIZE:
            if fragments[0] != HANDSHAKE_TYPE_CLIENT_HELLO:
                raise exceptions.ClientHelloException(
                    f"handshake message is not a ClientHello: type {fragments[0]}")
            size = int.from_bytes(fragments[1:4], "big")
            if size > MAX_CLIENT_HELLO_SIZE:
                raise exceptions.ClientHelloException(
                    f"ClientHello of {size} bytes is larger than the limit of "
                    f"{MAX_CLIENT_HELLO_SIZE}")
            if len(fragments) >= HANDSHAKE_HEADER_SIZE + size:
                return bytes(fragments[HANDSHAKE_HEADER_SIZE:HANDSHAKE_HEADER_SIZE + size]), pos


class _Cursor:
    """Reads length-prefixed fields; running past the end names the field."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int, field: str) -> bytes:
        if self.pos + n > len(self.data):
            raise exceptions.ClientHelloException(f"{self.what} truncated in {field}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def number(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")

    def vector(self, length_size: int, field: str) -> bytes:
        return self.take(self.number(length_size, field), field)

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


@dataclasses.dataclass(frozen=True)
class ClientHello:
    """A parsed ClientHello. ``size`` is how many bytes of the stream its records took."""

    version: int
    random: bytes
    session_id: bytes
    cipher_suites: list[int]
    compression_methods: bytes
    extensions: list[tuple[int, bytes]]
    sni: str | None
    alpn_protocols: list[bytes]
    size: int

    @classmethod
    def parse(cls, data: bytes) -> "ClientHello":
        """Parse the ClientHello at the start of ``data`` (TLS records, as on the wire)."""
        try:
            body, size = _handshake_message(data)
        except _NeedMore as e:
            raise exceptions.ClientHelloException(
                f"incomplete ClientHello: {len(data)} bytes, at least {e.total} needed") from None
        return cls._from_body(body, size)

    @classmethod
    def from_reader(cls, rfile: Reader) -> "ClientHello":
        """Parse the ClientHello at the front of ``rfile`` without consuming it.

        Peeks only as many bytes as the records announce, so a following handshake (or
        whatever the proxy decides) still sees every byte.
        """
        wanted = RECORD_HEADER_SIZE
        while True:
            data = rfile.peek(wanted)
            try:
                body, size = _handshake_message(data)
            except _NeedMore as e:
                if len(data) < wanted:
                    raise exceptions.ClientHelloException(
                        f"connection closed after {len(data)} bytes of ClientHello") from None
                wanted = e.total
                continue
            return cls._from_body(body, size)

    @classmethod
    def _from_body(cls, body: bytes, size: int) -> "ClientHello":
        c = _Cursor(body, "ClientHello")
        version = c.number(2, "version")
        random = c.take(32, "random")
        session_id = c.vector(1, "session id")
        suites = c.vector(2, "cipher suites")
        if len(suites) % 2:
            raise exceptions.ClientHelloException("cipher suites list has odd length")
        compression = c.vector(1, "compression methods")
        extensions: list[tuple[int, bytes]] = []
        if c.remaining:
            ext = _Cursor(c.vector(2, "extensions"), "extensions")
            while ext.remaining:
                ext_type = ext.number(2, "extension type")
                extensions.append((ext_type, ext.vector(2, f"extension {ext_type}")))
        if c.remaining:
            raise exceptions.ClientHelloException(
                f"{c.remaining} bytes after the extensions of the ClientHello")
        sni = None
        alpn: list[bytes] = []
        for ext_type, data in extensions:
            if ext_type == EXTENSION_SERVER_NAME and sni is None:
                sni = _parse_server_name(data)
            elif ext_type == EXTENSION_ALPN:
                alpn = _parse_alpn(data)
        return cls(
            version=version, random=random, session_id=session_id,
            cipher_suites=[int.from_bytes(suites[i:i + 2], "big") for i in range(0, len(suites), 2)],
            compression_methods=compression, extensions=extensions, sni=sni,
            alpn_protocols=alpn, size=size,
        )


def _parse_server_name(data: bytes) -> str | None:
    names = _Cursor(_Cursor(data, "server_name extension").vector(2, "server name list"),
                    "server name list")
    while names.remaining:
        name_type = names.number(1, "name type")
        name = names.vector(2, "host name")
        if name_type == SERVER_NAME_TYPE_HOST_NAME:
            try:
                return name.decode("idna")
            except UnicodeError:
                raise exceptions.ClientHelloException(
                    f"server_name is not a valid host name: {name!r}") from None
    return None


def _parse_alpn(data: bytes) -> list[bytes]:
    protocols = _Cursor(_Cursor(data, "ALPN extension").vector(2, "protocol list"),
                        "ALPN protocol list")
    result = []
    while protocols.remaining:
        result.append(protocols.vector(1, "protocol name"))
    return result

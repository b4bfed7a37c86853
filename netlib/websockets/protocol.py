"""The WebSocket opening handshake (RFC 6455 section 4), as header helpers.

The handshake is an HTTP/1.1 Upgrade exchange; the HTTP layer sends and reads the messages,
and these functions make and check the headers. Functions that read headers take any mapping
whose ``get`` ignores the case of names (netlib.http.Headers); functions that make headers
return a netlib.http.Headers.

Checks that find a required header missing or wrong raise WebSocketException naming it,
so a client or proxy can report why a handshake failed; ``is_websocket_*`` answer whether a
message attempts a handshake at all, and never raise.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping

from netlib.exceptions import WebSocketException
from netlib.http.headers import Headers

__all__ = [
    "VERSION", "MAGIC", "create_client_nonce", "create_server_nonce",
    "client_handshake_headers", "server_handshake_headers", "check_client_version",
    "get_client_key", "get_server_accept", "check_server_accept", "get_protocol",
    "is_websocket_request", "is_websocket_response",
]

# The only protocol version RFC 6455 defines; a server answers others with 426 and this.
VERSION = "13"

# The GUID a server appends to the client's key before hashing (section 1.3); it proves the
# server understood the handshake, rather than a cache replaying an old response.
MAGIC = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# The client's key is 16 random bytes, base64-encoded (section 4.1).
NONCE_LENGTH = 16


def _get(headers: Mapping, name: str) -> str | None:
    value = headers.get(name)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value


def _has_token(headers: Mapping, name: str, token: str) -> bool:
    """Whether a comma-separated header (Connection: keep-alive, Upgrade) lists ``token``."""
    value = _get(headers, name)
    if value is None:
        return False
    return token in (part.strip().lower() for part in value.split(","))


def create_client_nonce() -> str:
    """A fresh Sec-WebSocket-Key."""
    return base64.b64encode(os.urandom(NONCE_LENGTH)).decode("ascii")


def create_server_nonce(client_nonce: str | bytes) -> str:
    """The Sec-WebSocket-Accept that answers ``client_nonce``."""
    if isinstance(client_nonce, str):
        client_nonce = client_nonce.encode("ascii")
    return base64.b64encode(hashlib.sha1(client_nonce + MAGIC).digest()).decode("ascii")


def _protocol_header(protocols: Iterable[str] | str | None) -> list[tuple[bytes, bytes]]:
    if not protocols:
        return []
    if not isinstance(protocols, str):
        protocols = ", ".join(protocols)
    return [(b"Sec-WebSocket-Protocol", protocols.encode("ascii"))]


def client_handshake_headers(
    host: str,
    key: str | None = None,
    version: int | str = VERSION,
    protocols: Iterable[str] | str | None = None,
) -> Headers:
    """The headers of a client's handshake request. A fresh key is made unless one is given
    (give one to check the server's answer with ``check_server_accept``)."""
    fields = [
        (b"Host", host.encode("idna")),
        (b"Connection", b"Upgrade"),
        (b"Upgrade", b"websocket"),
        (b"Sec-WebSocket-Key", (key or create_client_nonce()).encode("ascii")),
        (b"Sec-WebSocket-Version", str(version).encode("ascii")),
    ]
    return Headers(fields + _protocol_header(protocols))


def server_handshake_headers(key: str, protocol: str | None = None) -> Headers:
    """The headers of the server's 101 answer to a request with Sec-WebSocket-Key ``key``."""
    fields = [
        (b"Connection", b"Upgrade"),
        (b"Upgrade", b"websocket"),
        (b"Sec-WebSocket-Accept", create_server_nonce(key).encode("ascii")),
    ]
    return Headers(fields + _protocol_header(protocol))


def check_client_version(headers: Mapping) -> None:
    """Refuse a handshake for a protocol version other than 13."""
    version = _get(headers, "sec-websocket-version")
    if version is None or version.strip() != VERSION:
        raise WebSocketException(
            f"unsupported WebSocket version {version!r} in Sec-WebSocket-Version, expected {VERSION}")


def get_client_key(headers: Mapping) -> str:
    """The Sec-WebSocket-Key of a handshake request, which must be 16 bytes in base64."""
    key = _get(headers, "sec-websocket-key")
    if key is None:
        raise WebSocketException("handshake request without a Sec-WebSocket-Key header")
    key = key.strip()
    try:
        decoded = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != NONCE_LENGTH:
        raise WebSocketException(
            f"invalid Sec-WebSocket-Key {key!r}: expected {NONCE_LENGTH} bytes in base64")
    return key


def get_server_accept(headers: Mapping) -> str:
    """The Sec-WebSocket-Accept of a handshake response."""
    accept = _get(headers, "sec-websocket-accept")
    if accept is None:
        raise WebSocketException("handshake response without a Sec-WebSocket-Accept header")
    return accept.strip()


def check_server_accept(client_key: str, headers: Mapping) -> None:
    """Refuse a response whose Sec-WebSocket-Accept does not answer ``client_key``."""
    accept = get_server_accept(headers)
    expected = create_server_nonce(client_key)
    if accept != expected:
        raise WebSocketException(
            f"Sec-WebSocket-Accept {accept!r} does not match the key sent, expected {expected!r}")


def get_protocol(headers: Mapping) -> str | None:
    """The Sec-WebSocket-Protocol value (the offered list in a request, the chosen
    subprotocol in a response), or None when there is none: subprotocols are optional."""
    protocol = _get(headers, "sec-websocket-protocol")
    return protocol.strip() if protocol is not None else None


def _is_upgrade(headers: Mapping) -> bool:
    return _has_token(headers, "connection", "upgrade") and _has_token(headers, "upgrade", "websocket")


def is_websocket_request(headers: Mapping) -> bool:
    """Whether a request's headers ask to upgrade to WebSocket (Connection and Upgrade
    tokens, compared without case, and a key)."""
    return _is_upgrade(headers) and _get(headers, "sec-websocket-key") is not None


def is_websocket_response(headers: Mapping) -> bool:
    """Whether a response's headers accept a WebSocket upgrade (the caller checks 101)."""
    return _is_upgrade(headers) and _get(headers, "sec-websocket-accept") is not None

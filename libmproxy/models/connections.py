"""What the proxy knows about a client or server connection: metadata, never the socket.

0.18 made these classes *be* the socket handlers, so reading ``.address`` of a closed
connection could call ``getpeername()`` and crash ("Transport endpoint is not connected").
Here the connection thread owns the socket and writes what it learns into these objects:
addresses, TLS details, timestamps, and ``connected`` (which ``bool(conn)`` reports, as
0.18's ``if self.server_conn:`` checks expect).

Only the 0.18 flow-file fields are saved (``get_state``); the extra TLS details (``sni`` of a
client, cipher, ALPN, TLS version) and ``connected`` live only while the proxy runs.
"""
from __future__ import annotations

from typing import Any, Self

from netlib.certutils import SSLCert
from netlib.tcp.address import Address

from libmproxy.stateobject import StateObject

__all__ = ["ClientConnection", "ServerConnection"]


def _address(value: Address | tuple | None) -> Address | None:
    return None if value is None else Address.wrap(value)


class _AddressAttribute:
    """An attribute that always holds an Address (or None), whatever form is assigned: the
    proxy assigns the tuples ``socket`` returns, and the saved state needs an Address."""

    def __set_name__(self, owner: type, name: str) -> None:
        # Where the value is kept, as it is read back: the flow encoder
        # (libmproxy/flow/encode.py) reads it from there, without calling __get__.
        self.stored_as = "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self if obj is None else getattr(obj, self.stored_as)

    def __set__(self, obj: Any, value: Address | tuple | None) -> None:
        setattr(obj, self.stored_as, _address(value))


class _Connection(StateObject):
    """What both ends share: the peer's address, whether it is open, TLS state."""

    # Saved by both kinds of connection.
    _stateobject_attributes: dict[str, Any] = dict(
        address=Address,
        ssl_established=bool,
        timestamp_start=float,
        timestamp_end=float,
        timestamp_ssl_setup=float,
    )

    # Not saved: they describe a connection while it is live.
    connected: bool = False
    tls_version: str | None = None
    cipher_name: str | None = None
    alpn_proto_negotiated: bytes | None = None

    address = _AddressAttribute()

    def __init__(self, address: Address | tuple | None, ssl_established: bool,
                 timestamp_start: float | None, timestamp_end: float | None,
                 timestamp_ssl_setup: float | None) -> None:
        self.address = address
        self.ssl_established = ssl_established
        self.timestamp_start = timestamp_start
        self.timestamp_end = timestamp_end
        self.timestamp_ssl_setup = timestamp_ssl_setup

    @classmethod
    def make_dummy(cls, address: Address | tuple) -> Self:
        """A connection that never was: for flows made by scripts, replay and tests."""
        return cls(address)

    def __bool__(self) -> bool:
        """True while the connection is open."""
        return self.connected

    def __repr__(self) -> str:
        tls = " (TLS)" if self.ssl_established else ""
        return f"<{type(self).__name__}: {self.address}{tls}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Connection):
            return NotImplemented
        return type(self) is type(other) and self.get_state() == other.get_state()

    __hash__ = object.__hash__  # identity: connections are looked up, not compared by value

    @property
    def tls_established(self) -> bool:
        """Today's name for ``ssl_established``."""
        return self.ssl_established


class ClientConnection(_Connection):
    """A connection from a client to the proxy.

    address: the client's address. clientcert: the TLS client certificate (an SSLCert).
    sni: the server name the client asked for in its ClientHello.
    """

    sni: str | None = None

    _stateobject_attributes = dict(_Connection._stateobject_attributes, clientcert=SSLCert)

    def __init__(self, address: Address | tuple | None, clientcert: SSLCert | None = None,
                 ssl_established: bool = False, timestamp_start: float | None = None,
                 timestamp_end: float | None = None,
                 timestamp_ssl_setup: float | None = None) -> None:
        super().__init__(address, ssl_established, timestamp_start, timestamp_end,
                         timestamp_ssl_setup)
        self.clientcert = clientcert


class ServerConnection(_Connection):
    """A connection from the proxy to a server (or to the upstream proxy).

    address: the server's address as asked for (a name or an IP); ip_address: the IP it
    resolved to; source_address: the proxy's local address; cert: the server's
    certificate (an SSLCert); sni: the server name the proxy sent; via: the connection
    this one runs through (the upstream proxy's, in upstream mode), or None.
    """

    ip_address = _AddressAttribute()
    source_address = _AddressAttribute()

    _stateobject_attributes = dict(
        _Connection._stateobject_attributes,
        ip_address=Address,
        source_address=Address,
        cert=SSLCert,
        sni=str,
        timestamp_tcp_setup=float,
    )

    def __init__(self, address: Address | tuple | None,
                 source_address: Address | tuple | None = None, *,
                 ip_address: Address | tuple | None = None, ssl_established: bool = False,
                 cert: SSLCert | None = None, sni: str | None = None,
                 via: ServerConnection | None = None, timestamp_start: float | None = None,
                 timestamp_tcp_setup: float | None = None,
                 timestamp_ssl_setup: float | None = None,
                 timestamp_end: float | None = None) -> None:
        super().__init__(address, ssl_established, timestamp_start, timestamp_end,
                         timestamp_ssl_setup)
        self.ip_address = ip_address
        self.source_address = source_address
        self.cert = cert
        self.sni = sni
        self.via = via
        self.timestamp_tcp_setup = timestamp_tcp_setup


# ``via`` is a ServerConnection itself, so it joins the table once the class exists.
ServerConnection._stateobject_attributes["via"] = ServerConnection

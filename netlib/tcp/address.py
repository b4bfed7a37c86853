"""A (host, port) pair that knows whether it is IPv6, as connections and flows record it.

Flows store addresses as plain state (``get_state``), and the proxy compares them (is this
the server we are already connected to?), so an Address is a small value: equality and hash
follow ``(host, port)`` and nothing else. Whether it is IPv6 is derived from the host when
not given, because ``socket.getpeername()`` on an IPv6 socket returns a 4-tuple and the
string form must bracket the host (``[::1]:8080``) for the result to be parseable again.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from netlib import exceptions

__all__ = ["Address"]


def _looks_ipv6(host: str) -> bool:
    """True for IPv6 literals. Host names and IPv4 literals are not."""
    # Every IPv6 literal has a colon; without one, skip ipaddress's parser, which was ~4% of
    # the proxy's CPU on keep-alive requests (an Address is made per request to compare
    # the request's target with the open server connection).
    if ":" not in host:
        return False
    try:
        return isinstance(ipaddress.ip_address(host.split("%", 1)[0]), ipaddress.IPv6Address)
    except ValueError:
        return False


class Address:
    """A network address. ``use_ipv6`` says which socket family connects to it."""

    __slots__ = ("host", "port", "use_ipv6")

    def __init__(self, host: str | bytes, port: int, use_ipv6: bool | None = None) -> None:
        if isinstance(host, bytes):
            host = host.decode("idna")
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise exceptions.AddressException(f"invalid port: {port!r}") from None
        if not 0 <= port <= 65535:
            raise exceptions.AddressException(f"port out of range: {port}")
        self.host: str = host
        self.port: int = port
        self.use_ipv6: bool = _looks_ipv6(host) if use_ipv6 is None else use_ipv6

    @classmethod
    def wrap(cls, value: "Address | tuple[Any, ...]") -> "Address":
        """An Address from an Address (returned as is) or from a socket address tuple.

        The tuples ``socket`` hands out are accepted directly: ``(host, port)`` for IPv4 and
        ``(host, port, flowinfo, scope_id)`` for IPv6, whose extra fields are dropped.
        """
        if isinstance(value, Address):
            return value
        if isinstance(value, (tuple, list)) and len(value) >= 2:
            use_ipv6 = True if len(value) == 4 else None
            return cls(value[0], value[1], use_ipv6)
        raise exceptions.AddressException(f"not an address: {value!r}")

    @property
    def address(self) -> tuple[str, int]:
        """The tuple ``socket.connect``/``bind`` take."""
        return (self.host, self.port)

    # What get_state saves, in this order; the flow encoder (libmproxy/flow/encode.py)
    # reads the same table.
    _state_fields = ("address", "use_ipv6")

    def get_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._state_fields}

    def set_state(self, state: dict[str, Any]) -> None:
        host, port = state["address"]
        self.host = host.decode("idna") if isinstance(host, bytes) else host
        self.port = int(port)
        self.use_ipv6 = bool(state["use_ipv6"])

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Address":
        host, port = state["address"]
        return cls(host, port, bool(state["use_ipv6"]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, tuple):
            return self.address == tuple(other[:2])
        if not isinstance(other, Address):
            return NotImplemented
        return self.address == other.address

    def __hash__(self) -> int:
        return hash(self.address)

    def __repr__(self) -> str:
        return f"Address({self.host!r}, {self.port})"

    def __str__(self) -> str:
        if self.use_ipv6 and ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

"""Transparent mode (``-T``): a firewall redirects clients' connections to us.

The client thinks it talks to the server itself and sends origin-form requests, or a TLS
ClientHello, with no proxy handshake. Where it was going is known only to the redirecting
firewall, so this layer asks the platform's resolver (libmproxy.platform) for the original
destination, makes it the server, and lets the next-layer rules take over: TLS (a
ClientHello, or port 443/8443), HTTP, or raw TCP; ``--ignore`` patterns are matched
against that address and against the ClientHello's SNI (spec: Ignore Domains).

A connection made to the proxy's own address, not redirected to it, has itself as its
original destination; it is refused instead of being sent round in a loop.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from netlib.tcp import Address

from libmproxy import exceptions
from libmproxy.platform import Resolver, TransparentModeError
from libmproxy.proxy.modes.mode_layer import ModeLayer

__all__ = ["TransparentProxy"]


class TransparentProxy(ModeLayer):
    def __init__(self, ctx: Any, resolver: Resolver) -> None:
        super().__init__(ctx)
        self.resolver = resolver

    def __call__(self) -> None:
        self.set_server(self._original_destination())
        super().__call__()

    def _original_destination(self) -> Address:
        sock = self.client_io.connection
        try:
            address = Address.wrap(self.resolver.original_addr(sock))
        except TransparentModeError as e:
            raise exceptions.ProtocolException(f"Transparent mode failure: {e}") from e
        if _endpoint(address) == _endpoint(Address.wrap(sock.getsockname())):
            raise exceptions.ProtocolException(
                f"Transparent mode failure: the connection was made to the proxy itself "
                f"({address}), not redirected to it; in transparent mode clients reach "
                f"the proxy through a firewall redirect (docs/transparent.md)")
        return address


def _endpoint(address: Address) -> tuple[Any, int]:
    """An address as (IP, port), an IPv4 address seen through an IPv6 socket
    (``::ffff:10.0.0.1``) being the same as the plain one."""
    ip = ipaddress.ip_address(address.host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip, address.port

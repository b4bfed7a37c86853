"""Reverse mode (``-R http[s]://host:port``): we look like the server itself.

Clients may speak TLS or not (the first bytes tell); the server is spoken to as the URL
says, whatever the client did (spec: Reverse Proxy). The Host header is left as sent.
"""
from __future__ import annotations

from typing import Any

from netlib.tcp import Address

from libmproxy.proxy.modes.mode_layer import ModeLayer

__all__ = ["ReverseProxy"]


class ReverseProxy(ModeLayer):
    def __init__(self, ctx: Any, server_address: Address, server_tls: bool) -> None:
        super().__init__(ctx, server_address=server_address)
        if server_tls:
            self.set_server_tls(True, sni=server_address.host)

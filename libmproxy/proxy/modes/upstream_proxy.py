"""Upstream mode (``-U http://host:port``): every request goes to another proxy.

Absolute-form requests are forwarded to it as they are (with ``--upstream-auth`` as
Proxy-Authorization); a CONNECT becomes a CONNECT to it, and TLS interception happens
inside that tunnel (see protocol.server_io.open_tunnel).
"""
from __future__ import annotations

from typing import Any

from netlib.tcp import Address

from libmproxy.proxy.modes.mode_layer import ModeLayer

__all__ = ["HttpUpstreamProxy"]


class HttpUpstreamProxy(ModeLayer):
    def __init__(self, ctx: Any, server_address: Address) -> None:
        super().__init__(ctx, server_address=server_address)

"""The proxy modes (spec: Modes of Operation): the outermost layer of each connection.

``MODE_LAYERS`` maps ``ProxyConfig.mode`` to a function making that mode's layer.
Transparent mode asks the platform's resolver (libmproxy.platform) for each connection's
original destination; ProxyConfig has already refused it where there is none.
"""
from __future__ import annotations

from typing import Any, Callable

from libmproxy import platform
from libmproxy.proxy.modes.http_proxy import HttpProxy
from libmproxy.proxy.modes.mode_layer import ModeLayer
from libmproxy.proxy.modes.reverse_proxy import ReverseProxy
from libmproxy.proxy.modes.socks_proxy import Socks5Proxy
from libmproxy.proxy.modes.transparent_proxy import TransparentProxy
from libmproxy.proxy.modes.upstream_proxy import HttpUpstreamProxy

__all__ = ["HttpProxy", "HttpUpstreamProxy", "ModeLayer", "ReverseProxy", "Socks5Proxy",
           "TransparentProxy", "MODE_LAYERS", "make_mode_layer"]

MODE_LAYERS: dict[str, Callable[[Any], ModeLayer]] = {
    "regular": HttpProxy,
    "reverse": lambda ctx: ReverseProxy(
        ctx, ctx.config.upstream_server.address, ctx.config.upstream_server.scheme == "https"),
    "upstream": lambda ctx: HttpUpstreamProxy(ctx, ctx.config.upstream_server.address),
    "transparent": lambda ctx: TransparentProxy(ctx, platform.resolver()),
    "socks5": Socks5Proxy,
}


def make_mode_layer(root_context: Any) -> ModeLayer:
    """The root layer for a new client connection in the configured mode."""
    return MODE_LAYERS[root_context.config.mode](root_context)

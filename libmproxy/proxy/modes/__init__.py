"""The proxy modes (spec: Modes of Operation): the outermost layer of each connection.

``MODE_LAYERS`` maps ``ProxyConfig.mode`` to a function making that mode's layer; the
transparent and SOCKS5 modes join the table when their layers exist.
"""
from __future__ import annotations

from typing import Any, Callable

from libmproxy.proxy.modes.http_proxy import HttpProxy
from libmproxy.proxy.modes.mode_layer import ModeLayer
from libmproxy.proxy.modes.reverse_proxy import ReverseProxy
from libmproxy.proxy.modes.upstream_proxy import HttpUpstreamProxy

__all__ = ["HttpProxy", "HttpUpstreamProxy", "ModeLayer", "ReverseProxy", "MODE_LAYERS",
           "make_mode_layer"]

MODE_LAYERS: dict[str, Callable[[Any], ModeLayer]] = {
    "regular": HttpProxy,
    "reverse": lambda ctx: ReverseProxy(
        ctx, ctx.config.upstream_server.address, ctx.config.upstream_server.scheme == "https"),
    "upstream": lambda ctx: HttpUpstreamProxy(ctx, ctx.config.upstream_server.address),
}


def make_mode_layer(root_context: Any) -> ModeLayer:
    """The root layer for a new client connection in the configured mode."""
    return MODE_LAYERS[root_context.config.mode](root_context)

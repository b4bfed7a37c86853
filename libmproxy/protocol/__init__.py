"""The protocol layers (spec: Protocols): each runs one protocol on a client connection
and asks ``RootContext.next_layer`` for the layer inside it.

- base      ``Layer``, ``ServerConnectionMixin``
- server_io the proxy's connection to a server: TCP, upstream CONNECT, TLS
- tls       ``TlsLayer``: ClientHello first, upstream certificate sniffing, interception
- http1     ``Http1Layer``: HTTP/1 framing for the HttpLayer
- http      ``HttpLayer``: one flow after another
- http2     ``Http2Layer``: HTTP/2 on both sides, one flow per stream (over HttpLayer)
- rawtcp    ``RawTCPLayer``: ignored hosts, ``--tcp`` hosts, after protocol switches
- websockets ``WebSocketLayer``: the messages of a WebSocket connection after its handshake
"""
from libmproxy.protocol.base import CONTEXT_ATTRIBUTES, Kill, Layer, ServerConnectionMixin
from libmproxy.protocol.http import HttpLayer
from libmproxy.protocol.http1 import Http1Layer
from libmproxy.protocol.rawtcp import RawTCPLayer
from libmproxy.protocol.tls import TlsLayer
from libmproxy.protocol.websockets import WebSocketLayer

__all__ = [
    "CONTEXT_ATTRIBUTES", "Kill", "Layer", "ServerConnectionMixin", "HttpLayer", "Http1Layer",
    "Http2Layer", "RawTCPLayer", "TlsLayer", "WebSocketLayer",
]


def __getattr__(name: str):
    """``Http2Layer`` is imported on first use: the h2 library costs every mitmdump memory
    and startup time, and many runs never see an HTTP/2 client."""
    if name == "Http2Layer":
        from libmproxy.protocol.http2 import Http2Layer
        return Http2Layer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The protocol layers (spec: Protocols): each runs one protocol on a client connection
and asks ``RootContext.next_layer`` for the layer inside it.

- base      ``Layer``, ``ServerConnectionMixin``
- server_io the proxy's connection to a server: TCP, upstream CONNECT, TLS
- tls       ``TlsLayer``: ClientHello first, upstream certificate sniffing, interception
- http1     ``Http1Layer``: HTTP/1 framing for the HttpLayer
- http      ``HttpLayer``: one flow after another
- rawtcp    ``RawTCPLayer``: ignored hosts, ``--tcp`` hosts, after protocol switches
"""
from libmproxy.protocol.base import CONTEXT_ATTRIBUTES, Kill, Layer, ServerConnectionMixin
from libmproxy.protocol.http import HttpLayer
from libmproxy.protocol.http1 import Http1Layer
from libmproxy.protocol.rawtcp import RawTCPLayer
from libmproxy.protocol.tls import TlsLayer

__all__ = [
    "CONTEXT_ATTRIBUTES", "Kill", "Layer", "ServerConnectionMixin", "HttpLayer", "Http1Layer",
    "RawTCPLayer", "TlsLayer",
]

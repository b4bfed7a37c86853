"""Which layer comes next: a small rule table, testable without sockets.

0.18 decided this in 70 lines of ``isinstance`` inside the root context. Here the
decision is ``decide(facts)``: the first rule in ``RULES`` whose condition holds names the
kind of layer; ``build`` makes it. The facts are computed lazily, because looking at the
client's first bytes blocks until the client sends them, and an ignored connection to a
server that speaks first (SMTP through CONNECT, say) must be relayed without waiting.

Stages (``Layer.stage`` of the layer asking): "start" (the proxy mode layer), "tunnel"
(the HTTP layer after CONNECT), "tls" (after the TLS layer). In transparent and SOCKS
mode the "start" layer has set the server already, so ``--ignore`` (address and SNI)
decides there as it does after a CONNECT, then TLS (ClientHello, or port 443/8443), then
HTTP or raw TCP.
"""
from __future__ import annotations

import enum
from typing import Any, Callable, NamedTuple

from netlib import exceptions as netlib_exceptions
from netlib.tcp import Address, ClientHello, is_tls_record_magic

from libmproxy.protocol import Http1Layer, Layer, RawTCPLayer, TlsLayer

__all__ = ["LayerKind", "Rule", "RULES", "ConnectionFacts", "decide", "build",
           "EXPLICIT_PROXY_MODES", "TRANSPARENT_MODES", "TLS_PORTS"]

# Modes in which the client talks to the proxy as a proxy (absolute-form, CONNECT).
EXPLICIT_PROXY_MODES = ("regular", "upstream")

# Modes in which the mode layer has set the server before anything else (the firewall's
# original destination, the SOCKS CONNECT target), and the client speaks to it as it would
# to the server itself: TLS from the start, or origin-form HTTP, or anything.
TRANSPARENT_MODES = ("transparent", "socks5")

# Destination ports treated as TLS in those modes whatever the first bytes look like
# (spec, "Transparent HTTPS": "we treat all traffic destined for ports 443 and 8443 as
# SSL"); on other ports the first bytes decide.
TLS_PORTS = (443, 8443)

# How many bytes tell TLS from HTTP: a TLS record starts 0x16 0x03 0x0X; an HTTP method
# is at least three printable characters.
PEEK_SIZE = 3


class LayerKind(enum.Enum):
    HTTP1 = "http1"
    HTTP2 = "http2"
    TLS = "tls"
    RAW_TCP = "rawtcp"
    IGNORED = "ignored"  # raw TCP, neither recorded nor hooked


class Rule(NamedTuple):
    name: str
    applies: Callable[[Any], bool]
    kind: LayerKind


RULES: tuple[Rule, ...] = (
    Rule("ignored host (--ignore)", lambda f: f.ignored, LayerKind.IGNORED),
    Rule("the client talks to us as a proxy",
         lambda f: f.stage == "start" and f.mode in EXPLICIT_PROXY_MODES, LayerKind.HTTP1),
    Rule("TLS ClientHello", lambda f: f.stage != "tls" and f.client_tls, LayerKind.TLS),
    Rule("a TLS port (443, 8443) in transparent or SOCKS mode",
         lambda f: f.stage == "start" and f.mode in TRANSPARENT_MODES and f.tls_port,
         LayerKind.TLS),
    Rule("TCP host (--tcp)", lambda f: f.tcp_host, LayerKind.RAW_TCP),
    Rule("the client negotiated HTTP/2 by ALPN",
         lambda f: f.stage == "tls" and f.client_alpn == b"h2", LayerKind.HTTP2),
    Rule("not HTTP, and --rawtcp", lambda f: f.rawtcp and not f.client_ascii,
         LayerKind.RAW_TCP),
    Rule("HTTP by default", lambda f: True, LayerKind.HTTP1),
)


def decide(facts: Any) -> LayerKind:
    """The kind of the first rule that applies (the last rule always does)."""
    return next(rule.kind for rule in RULES if rule.applies(facts))


class _computed_once:
    """A property computed on first use and then kept in the instance, like
    ``functools.cached_property`` but without its lock.

    Up to Python 3.11, cached_property holds one lock per property, shared by every
    instance, while it computes (CPython gh-87634; 3.12 dropped it). ``first_bytes`` waits
    for the client to send, so every connection thread deciding its next layer queued
    behind the slowest client on that lock. A ConnectionFacts belongs to the one connection
    thread that asks, so no lock is needed.
    """

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        # Stored under the same name: the instance's value now shadows this (non-data)
        # descriptor, so later reads are plain attribute reads.
        value = instance.__dict__[self.name] = self.func(instance)
        return value


class ConnectionFacts:
    """What the rules look at, each computed on first use."""

    def __init__(self, top_layer: Layer, config: Any, client_io: Any) -> None:
        self.stage = top_layer.stage
        self.mode = config.mode
        self.rawtcp = config.rawtcp
        self._top_layer = top_layer
        self._config = config
        self._client_io = client_io

    @_computed_once
    def server_address(self) -> Address | None:
        server_conn = getattr(self._top_layer, "server_conn", None)
        return server_conn.address if server_conn is not None else None

    @_computed_once
    def tls_port(self) -> bool:
        return self.server_address is not None and self.server_address.port in TLS_PORTS

    @_computed_once
    def first_bytes(self) -> bytes:
        try:
            return self._client_io.rfile.peek(PEEK_SIZE)
        except netlib_exceptions.NetlibException:
            return b""  # the client is gone; the next layer will find out and end

    @_computed_once
    def client_tls(self) -> bool:
        return is_tls_record_magic(self.first_bytes)

    @_computed_once
    def client_ascii(self) -> bool:
        data = self.first_bytes
        return len(data) == PEEK_SIZE and all(32 <= c < 127 for c in data)

    @_computed_once
    def sni(self) -> str | None:
        """The ClientHello's SNI, if the client is about to start TLS."""
        if self.stage == "tls" or not self.client_tls:
            return None
        try:
            return ClientHello.from_reader(self._client_io.rfile).sni
        except netlib_exceptions.NetlibException:
            return None

    def _matches(self, matcher: Any) -> bool:
        if not matcher or self.server_address is None:
            return False
        return matcher(self.server_address) or matcher(self.server_address, self.sni)

    @_computed_once
    def ignored(self) -> bool:
        return self._matches(self._config.ignore_hosts)

    @_computed_once
    def tcp_host(self) -> bool:
        return self._matches(self._config.tcp_hosts)

    @_computed_once
    def client_alpn(self) -> bytes | None:
        """The protocol the client's TLS handshake settled on (after the TLS layer)."""
        return self._top_layer.client_conn.alpn_proto_negotiated


def build(kind: LayerKind, top_layer: Layer, facts: Any) -> Layer:
    """The layer of ``kind`` on top of ``top_layer``."""
    if kind is LayerKind.HTTP1:
        explicit = facts.stage == "start" and facts.mode in EXPLICIT_PROXY_MODES
        return Http1Layer(top_layer, facts.mode if explicit else "transparent")
    if kind is LayerKind.HTTP2:
        from libmproxy.protocol.http2 import Http2Layer  # h2 loaded when first needed
        return Http2Layer(top_layer, "transparent")
    if kind is LayerKind.TLS:
        # Inside a CONNECT tunnel, and at the start in transparent and SOCKS mode, the
        # client meant to speak TLS to the server itself: so do we (0.18: server TLS ==
        # client TLS there). In reverse mode the -R scheme has decided already.
        server_tls = facts.stage == "tunnel" or (
            facts.stage == "start" and facts.mode in TRANSPARENT_MODES)
        return TlsLayer(top_layer, client_tls=True, server_tls=server_tls)
    return RawTCPLayer(top_layer, ignore=kind is LayerKind.IGNORED)

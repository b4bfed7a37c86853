"""TlsLayer: intercepting TLS (spec: "How mitmproxy works", 4.2).

The order matters, and is why this layer exists:

1. Peek the client's ClientHello (SNI, ALPN offers) without consuming it.
2. If the server side speaks TLS too, connect to the server first ("upstream certificate
   sniffing", off with ``--no-upstream-cert``), sending the client's SNI and offering
   the client's ALPN protocols that we can speak ourselves (h2 first, unless
   ``--no-http2``; then http/1.1), and read the server's certificate.
3. Mint the interception certificate: the CN of the upstream certificate and its SANs,
   plus the SNI and the host the client asked for (an IP, after ``CONNECT 10.1.1.1:443``);
   without an upstream certificate, from the SNI and host alone. A ``--cert`` for a
   matching domain wins (the certificate store decides).
4. Finish the client's handshake, agreeing on the protocol the server agreed on. This is
   0.18's rule, and why HTTP/2 is never offered to a client on its own: the proxy relays
   HTTP/2 only as HTTP/2 (protocol.http2), so the client may speak it only when its server
   does. When the server is connected only later (``--no-upstream-cert``, or the sniffing
   failed), it is offered only what the client agreed to, for the same reason.
5. Hand over to the next layer (HTTP/1, HTTP/2 or raw TCP).

If the sniffing connection fails (the server is down, or its certificate does not
verify), the client handshake still completes, so that the HTTP layer can answer with a
502 that names the reason instead of the client seeing a TLS error it cannot explain.
"""
from __future__ import annotations

import time

from netlib import certutils, exceptions as netlib_exceptions
from netlib.tcp import ClientHello, version_range

from libmproxy import exceptions
from libmproxy.protocol.base import Layer

__all__ = ["TlsLayer", "ALPN_H2", "ALPN_HTTP1", "SUPPORTED_ALPN", "supported_alpn",
           "FALLBACK_COMMON_NAME"]

ALPN_H2 = b"h2"
ALPN_HTTP1 = b"http/1.1"

# The ALPN protocols the proxy can speak on either side, in its order of preference: a
# server that speaks both is asked for HTTP/2 (many streams on one connection).
SUPPORTED_ALPN = (ALPN_H2, ALPN_HTTP1)

# The certificate name when the client gave no SNI and no server is known (a TLS client
# talking straight to a regular proxy port): something, so that the handshake can finish.
FALLBACK_COMMON_NAME = "mitmproxy"


class TlsLayer(Layer):
    """``client_tls``: the client starts TLS now. ``server_tls``: the server side must
    use TLS too (inside a CONNECT tunnel; in reverse mode the ``-R https://`` scheme has
    already said so)."""

    stage = "tls"

    def __init__(self, ctx: Layer, client_tls: bool, server_tls: bool) -> None:
        super().__init__(ctx)
        self.client_tls = client_tls
        self.want_server_tls = server_tls
        self.client_hello: ClientHello | None = None
        self.sniff_error: exceptions.ProtocolException | None = None

    def __call__(self) -> None:
        if self.client_tls:
            self.client_hello = self._read_client_hello()
        sni = self.client_hello.sni if self.client_hello else None
        if self.want_server_tls or self.server_tls:
            address = self.server_conn.address
            offers = self.client_hello.alpn_protocols if self.client_hello else []
            # Inside a tunnel the client names the server it wants; in reverse mode the
            # server is the -R host whatever name the client used for the proxy.
            server_sni = (sni or _host(address)) if self.want_server_tls else self.server_sni
            self.set_server_tls(True, sni=server_sni,
                                alpn=[p for p in supported_alpn(self.config) if p in offers])
            if not self.config.no_upstream_cert and address is not None:
                self._sniff_upstream()
        if self.client_tls:
            self._establish_tls_with_client(sni)
            if (self.want_server_tls or self.server_tls) and not self.server_conn:
                # The server is connected later, after the client chose its protocol.
                chosen = self.client_conn.alpn_proto_negotiated
                self.set_server_tls(True, sni=self.server_sni, alpn=[chosen] if chosen else [])
        layer = self.next_layer(self)
        layer()

    # --- the ClientHello ------------------------------------------------------------------

    def _read_client_hello(self) -> ClientHello:
        try:
            return ClientHello.from_reader(self.client_io.rfile)
        except netlib_exceptions.NetlibException as e:
            raise exceptions.TlsProtocolException(f"Cannot read the ClientHello: {e}") from e

    # --- the server -----------------------------------------------------------------------

    def _sniff_upstream(self) -> None:
        """Connect to the server now, with TLS, to learn its certificate."""
        if self.server_conn:
            if self.server_conn.ssl_established:
                return
            self.disconnect()  # a plain connection cannot be upgraded in place
        try:
            self.connect()
        except exceptions.ProtocolException as e:
            self.sniff_error = e
            self.log(f"Upstream certificate sniffing failed: {e}", "warn")

    # --- the client -----------------------------------------------------------------------

    def _establish_tls_with_client(self, sni: str | None) -> None:
        entry = self._interception_cert(sni)
        min_version, max_version = version_range(self.config.ssl_version_client)
        client_io = self.client_io
        try:
            client_io.convert_to_ssl(
                entry.cert, entry.privatekey, entry.chain_file, alpn_select=self._select_alpn,
                cipher_list=self.config.ciphers_client, min_version=min_version,
                max_version=max_version,
            )
        except netlib_exceptions.NetlibException as e:
            server = sni or _host(self.server_conn.address) or FALLBACK_COMMON_NAME
            raise exceptions.ClientHandshakeException(
                f"Cannot establish TLS with client (sni: {sni}): {e}", server) from e
        model = self.client_conn
        model.ssl_established = True
        model.timestamp_ssl_setup = client_io.timestamp_ssl_setup or time.time()
        model.sni = sni
        model.clientcert = client_io.clientcert
        model.alpn_proto_negotiated = client_io.get_alpn_proto_negotiated() or None
        cipher = client_io.get_current_cipher()
        if cipher is not None:
            model.cipher_name, _bits, model.tls_version = cipher

    def _select_alpn(self, offers: list[bytes]) -> bytes | None:
        """The server's choice if it made one the client offered (h2 only with HTTP/2 on),
        else http/1.1 if the client offered it, else nothing (the handshake goes on without
        ALPN)."""
        server = self.server_conn
        chosen = server.alpn_proto_negotiated if server else None
        if chosen and chosen in offers and chosen in supported_alpn(self.config):
            return chosen
        return ALPN_HTTP1 if ALPN_HTTP1 in offers else None

    def _interception_cert(self, sni: str | None) -> certutils.CertStoreEntry:
        host = _host(self.server_conn.address)
        upstream = self.server_conn.cert if self.server_conn else None
        sans: list[str] = []
        if upstream is not None:
            cn = upstream.cn
            sans.extend(upstream.altnames)
        else:
            cn = sni or host
        for name in (sni, host):
            if name:
                sans.append(name)
        if not cn and not sans:
            cn = FALLBACK_COMMON_NAME
        return self.config.certstore.get_cert(cn, sans)


def supported_alpn(config) -> tuple[bytes, ...]:
    """What the proxy may negotiate with ``config``: h2 and http/1.1, or http/1.1 alone with
    ``--no-http2``."""
    return SUPPORTED_ALPN if config.http2 else (ALPN_HTTP1,)


def _host(address) -> str | None:
    return address.host if address is not None else None


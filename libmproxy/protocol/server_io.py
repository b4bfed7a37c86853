"""Opening the proxy's connection to a server: TCP, an upstream proxy's CONNECT tunnel, TLS.

One place translates netlib's errors into the ProtocolException the layers raise, with a
message a user can act on; it ends up in the flow's error and in the 502 page:

- "Error connecting to example.com:443: Connection refused" (netlib's words)
- "Upstream proxy 10.0.0.1:3128 refused CONNECT example.com:443: 407 Proxy Authentication
  Required"
- "TLS with example.com:443 failed (SNI example.com): certificate verification failed:
  unable to get local issuer certificate (depth 0, subject CN=example.com)"
"""
from __future__ import annotations

from typing import Any, Sequence

from netlib import certutils, exceptions as netlib_exceptions
from netlib.http import http1
from netlib.tcp import Address, TCPClient, version_range

from libmproxy import exceptions
from libmproxy.models import ServerConnection, make_connect_request

__all__ = ["open_connection", "open_tunnel", "start_tls", "record"]


def open_connection(config: Any, address: Address, *, via: Address | None = None,
                    tls: bool = False, sni: str | None = None,
                    alpn: Sequence[bytes] = (), spoof_source: str | None = None) -> TCPClient:
    """A connected (tunnelled, TLS) TCPClient to ``address``, or ProtocolException.
    ``spoof_source``: the client's host, to connect from (--spoof-source-address)."""
    io = TCPClient(via or address, timeout=config.timeout,
                   source_address=(spoof_source, 0) if spoof_source else None,
                   spoof_source_address=spoof_source is not None)
    try:
        try:
            io.connect()
        except netlib_exceptions.TcpException as e:
            raise exceptions.ProtocolException(_reason(e)) from e
        if via is not None:
            open_tunnel(io, address, config.upstream_auth)
        if tls:
            start_tls(io, config, address, sni, alpn)
    except BaseException:
        io.finish()
        raise
    return io


def open_tunnel(io: TCPClient, target: Address, auth: bytes | None) -> None:
    """Ask the upstream proxy at the other end of ``io`` for a tunnel to ``target``."""
    request = make_connect_request(target)
    if auth:
        request.headers["Proxy-Authorization"] = auth.decode("ascii")
    try:
        io.wfile.write(http1.assemble_request(request))
        io.wfile.flush()
        response = http1.read_response_head(io.rfile)
    except netlib_exceptions.NetlibException as e:
        raise exceptions.ProtocolException(
            f"Upstream proxy {io.address} failed to CONNECT {target}: {_reason(e)}") from e
    if response.status_code != 200:
        raise exceptions.ProtocolException(
            f"Upstream proxy {io.address} refused CONNECT {target}: "
            f"{response.status_code} {response.reason}")


def start_tls(io: TCPClient, config: Any, address: Address, sni: str | None,
              alpn: Sequence[bytes]) -> None:
    """TLS to the server: client certificate by host (``--client-certs``), verification
    against certifi or the configured CAs unless ``--insecure``, the configured ciphers
    and versions."""
    min_version, max_version = version_range(config.ssl_version_server)
    try:
        client_cert = certutils.client_cert_path(config.clientcerts, sni or address.host)
        io.convert_to_ssl(
            sni=sni, alpn_protos=list(alpn) or None, cert=client_cert,
            verify_upstream=not config.ssl_insecure,
            ca_path=config.upstream_trusted_cadir, ca_pemfile=config.upstream_trusted_ca,
            min_version=min_version, max_version=max_version,
            cipher_list=config.ciphers_server,
        )
    except netlib_exceptions.NetlibException as e:
        raise exceptions.TlsProtocolException(
            f"TLS with {address} failed (SNI {sni}): {_reason(e)}") from e


def record(model: ServerConnection, io: TCPClient) -> None:
    """Copy what the connection learnt into the model scripts see."""
    model.ip_address = io.ip_address
    model.source_address = io.source_address
    model.timestamp_start = io.timestamp_start
    model.timestamp_tcp_setup = io.timestamp_tcp_setup
    model.connected = True
    if io.ssl_established:
        model.ssl_established = True
        model.timestamp_ssl_setup = io.timestamp_ssl_setup
        model.cert = io.cert
        model.sni = io.sni
        model.alpn_proto_negotiated = io.get_alpn_proto_negotiated() or None
        cipher = io.get_current_cipher()
        if cipher is not None:
            model.cipher_name, _bits, model.tls_version = cipher


def _reason(e: Exception) -> str:
    return str(e) or type(e).__name__

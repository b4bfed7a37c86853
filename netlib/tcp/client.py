"""TCPClient: the proxy's connection to a server (or pathoc's to pathod).

It records what a flow reports about its server connection: when the connection started,
when TCP and TLS were set up, the address actually connected to, the certificate the server
showed, the SNI sent and the protocol ALPN agreed on.

With ``spoof_source_address`` the connection comes from ``source_address`` even though that
address belongs to another host (Linux's IP_TRANSPARENT): a fully transparent proxy connects
to the server from its client's address. The kernel allows that only with CAP_NET_ADMIN (or
CAP_NET_RAW), and the replies reach us only if the routing sends them to this host (see the
proxy's transparent-mode documentation).
"""
from __future__ import annotations

import ipaddress
import os
import socket
import time
from typing import Any, Sequence

from OpenSSL import SSL

from netlib import certutils, exceptions
from netlib.tcp import tls
from netlib.tcp.address import Address
from netlib.tcp.connection import DEFAULT_TIMEOUT, Connection
from netlib.tcp.verify import ChainVerifier, match_hostname

__all__ = ["TCPClient", "transparent_socket", "IP_TRANSPARENT", "IPV6_TRANSPARENT"]

# Linux's socket options for binding to an address of another host; Python names only the
# IPv4 one (values from <linux/in.h> and <linux/in6.h>).
IP_TRANSPARENT = getattr(socket, "IP_TRANSPARENT", 19)
IPV6_TRANSPARENT = 75


def transparent_socket(family: int) -> socket.socket:
    """A TCP socket of ``family`` that may bind to a non-local address. Without the
    CAP_NET_ADMIN or CAP_NET_RAW capability the kernel refuses: TcpException saying so."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        level, option = socket.IPPROTO_IPV6, IPV6_TRANSPARENT
    else:
        level, option = socket.SOL_IP, IP_TRANSPARENT
    try:
        sock.setsockopt(level, option, 1)
    except OSError as e:
        sock.close()
        raise exceptions.TcpException(
            f"cannot spoof the source address: IP_TRANSPARENT needs the CAP_NET_ADMIN or "
            f"CAP_NET_RAW capability ({e.strerror or e})") from e
    return sock


def _unmapped(host: str) -> str:
    """``::ffff:10.0.0.1`` (an IPv4 client seen by an IPv6 socket) -> ``10.0.0.1``."""
    try:
        mapped = ipaddress.ip_address(host).ipv4_mapped
    except (ValueError, AttributeError):
        return host
    return str(mapped) if mapped is not None else host


def _sni_bytes(sni: str) -> bytes | None:
    """The SNI to send, or None: RFC 6066 forbids IP literals in server_name."""
    try:
        ipaddress.ip_address(sni.strip("[]"))
        return None
    except ValueError:
        pass
    try:
        return sni.encode("idna")
    except UnicodeError:
        return sni.encode("ascii", "replace")


class TCPClient(Connection):
    """A connection to ``address``, optionally from ``source_address`` (which with
    ``spoof_source_address`` may be another host's address)."""

    def __init__(self, address: Address | tuple, source_address: Address | tuple | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 spoof_source_address: bool = False) -> None:
        super().__init__(None, Address.wrap(address), timeout)
        self.source_address = Address.wrap(source_address) if source_address else None
        if spoof_source_address and self.source_address is None:
            raise ValueError("spoof_source_address needs a source_address")
        self.spoof_source_address = spoof_source_address
        self.ip_address: Address | None = None
        self.sni: str | None = None
        self.cert: certutils.SSLCert | None = None
        self.server_certs: list[certutils.SSLCert] = []
        self.ssl_verification_error: str | None = None
        self.timestamp_start: float | None = None
        self.timestamp_tcp_setup: float | None = None
        self.timestamp_ssl_setup: float | None = None

    def connect(self) -> None:
        """Open the TCP connection. Raises AddressException (name does not resolve),
        TcpTimeout, or TcpException naming the address and the reason."""
        self.timestamp_start = time.time()
        source = self.source_address.address if self.source_address else None
        try:
            if self.spoof_source_address:
                sock = self._spoofed_connection()
            else:
                sock = socket.create_connection(self.address.address, self.timeout, source)
        except socket.gaierror as e:
            raise exceptions.AddressException(
                f"cannot resolve {self.address.host}: {e.strerror or e}") from e
        except TimeoutError as e:
            raise exceptions.TcpTimeout(f"connecting to {self.address}: timed out") from e
        except OSError as e:
            raise exceptions.TcpException(
                f"Error connecting to {self.address}: {e.strerror or e}") from e
        self._attach(sock)
        self.ip_address = Address.wrap(sock.getpeername())
        self.source_address = Address.wrap(sock.getsockname())
        self.timestamp_tcp_setup = time.time()

    def _spoofed_connection(self) -> socket.socket:
        """Connect from the (foreign) source address through an IP_TRANSPARENT socket, to
        the first address of the server in the source's family."""
        source_host = _unmapped(self.source_address.host)
        family = socket.AF_INET6 if ":" in source_host else socket.AF_INET
        target = socket.getaddrinfo(self.address.host, self.address.port, family,
                                    socket.SOCK_STREAM)[0][4]
        sock = transparent_socket(family)
        try:
            sock.settimeout(self.timeout)
            sock.bind((source_host, self.source_address.port))
            sock.connect(target)
        except BaseException:
            sock.close()
            raise
        return sock

    def convert_to_ssl(
        self,
        sni: str | None = None,
        alpn_protos: Sequence[bytes] | None = None,
        cert: Any = None,
        key: Any = None,
        verify_upstream: bool = False,
        ca_path: str | os.PathLike | None = None,
        ca_pemfile: str | os.PathLike | None = None,
        *,
        method: int = SSL.TLS_CLIENT_METHOD,
        options: int = tls.DEFAULT_OPTIONS,
        min_version: int | None = None,
        max_version: int | None = None,
        cipher_list: str | None = None,
    ) -> None:
        """Start TLS: send ``sni``, offer ``alpn_protos``, present ``cert`` if asked.

        With ``verify_upstream`` the server's chain must lead to a CA in ``ca_pemfile`` or
        ``ca_path`` (certifi's bundle if neither) and the certificate must name ``sni``
        (or the host connected to); otherwise InvalidCertificateException says why, and
        ``ssl_verification_error`` keeps the reason. Other failures raise TlsException.
        """
        verifier = ChainVerifier() if verify_upstream else None
        # One shared context per option set, not one per connection: building one costs
        # ~60 us, and ~4 ms when it verifies (certifi's bundle is parsed every time).
        context = tls.client_context(
            method=method, options=options, min_version=min_version, max_version=max_version,
            cipher_list=cipher_list, alpn_protos=alpn_protos, cert=cert, key=key,
            verify=verify_upstream, ca_path=ca_path, ca_pemfile=ca_pemfile,
        )
        callbacks = tls.ConnectionCallbacks(verify=verifier)
        ssl_connection = SSL.Connection(context, None)
        ssl_connection.set_app_data(callbacks)
        ssl_connection.set_connect_state()
        self.sni = sni
        if sni:
            name = _sni_bytes(sni)
            if name:
                ssl_connection.set_tlsext_host_name(name)
        try:
            self._start_tls(ssl_connection)
        except exceptions.TlsException as e:
            if verifier is not None and verifier.error is not None:
                self.ssl_verification_error = verifier.error
                raise exceptions.InvalidCertificateException(
                    f"certificate verification failed: {verifier.error}") from e
            if callbacks.errors:
                raise exceptions.TlsException(
                    f"TLS handshake: certificate check failed: {callbacks.errors[0]}"
                ) from callbacks.errors[0]
            raise
        chain = ssl_connection.get_peer_cert_chain(as_cryptography=True) or []
        self.server_certs = [certutils.SSLCert(c) for c in chain]
        # On the client side OpenSSL's peer chain starts with the peer's own certificate:
        # reuse it rather than have pyOpenSSL copy it out (DER round trip) a second time.
        if chain:
            peer = chain[0]
            self.cert = self.server_certs[0]
        else:
            peer = ssl_connection.get_peer_certificate(as_cryptography=True)
            self.cert = certutils.SSLCert(peer) if peer is not None else None
        if verify_upstream:
            try:
                if peer is None:
                    raise exceptions.InvalidCertificateException(
                        "the server presented no certificate")
                match_hostname(peer, sni or self.address.host)
            except exceptions.InvalidCertificateException as e:
                self.ssl_verification_error = str(e)
                raise
        self.ssl_established = True
        self.timestamp_ssl_setup = time.time()

    def __repr__(self) -> str:
        return f"<TCPClient {self.address}{' (TLS)' if self.ssl_established else ''}>"

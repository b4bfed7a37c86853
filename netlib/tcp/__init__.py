"""TCP and TLS connections: addresses, buffered I/O, clients, the threaded server.

One job per module:

- address      ``Address``: a (host, port) value
- buffered     ``Reader``/``Writer``: buffered I/O over any recv/sendall pair
- errors       socket and OpenSSL errors -> netlib exceptions (the edge)
- connection   ``Connection``: one socket, its rfile/wfile, switching to TLS;
               ``wait_readable`` for relays
- tlsio        ``TlsIO``: TLS through memory BIOs, so peeked bytes reach the handshake
- tls          building client and server ``SSL.Context``s from option values
- verify       upstream certificate checks (chain errors, host name)
- keylog       ``SSLKEYLOGFILE`` key logging
- clienthello  ``ClientHello``: SNI and ALPN from the first bytes, before the handshake
- client       ``TCPClient``
- server       ``TCPServer``, ``BaseHandler``
"""
from netlib.tcp.address import Address
from netlib.tcp.buffered import Reader, Writer
from netlib.tcp.clienthello import ClientHello, is_tls_record_magic
from netlib.tcp.client import TCPClient
from netlib.tcp.connection import DEFAULT_TIMEOUT, Connection, wait_readable
from netlib.tcp.server import BaseHandler, CertKey, TCPServer
from netlib.tcp.tls import VERSIONS, version_range

__all__ = [
    "Address", "Reader", "Writer", "ClientHello", "is_tls_record_magic", "TCPClient",
    "Connection", "DEFAULT_TIMEOUT", "wait_readable", "BaseHandler", "CertKey", "TCPServer",
    "VERSIONS", "version_range",
]

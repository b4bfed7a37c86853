"""The socket-owning side of a TCP connection, shared by TCPClient and BaseHandler.

A Connection owns one socket and, once TLS is up, one TlsIO. It is the edge where socket
errors become netlib exceptions (see netlib.tcp.errors): ``rfile``/``wfile`` are buffered
over its error-translating ``recv``/``sendall``, and everything above them is free of
``OSError`` and ``OpenSSL.SSL.Error``.

Switching to TLS (``_start_tls``) flushes the plain writer, hands the plain reader's buffered
bytes (a peeked ClientHello, say) to the TLS engine, and then replaces ``rfile``/``wfile``
by fresh ones over the TLS session, so no byte is lost or read twice.
"""
from __future__ import annotations

import select
import socket
from collections.abc import Sequence

from OpenSSL import SSL

from netlib import exceptions
from netlib.tcp.address import Address
from netlib.tcp.buffered import Reader, Writer
from netlib.tcp.errors import socket_error
from netlib.tcp.tlsio import TlsIO

__all__ = ["Connection", "configure_socket", "wait_readable", "DEFAULT_TIMEOUT"]

# Seconds a blocking socket call may wait. Long enough for a slow upstream to think, short
# enough that a peer which vanished without a FIN does not pin a connection thread forever.
DEFAULT_TIMEOUT = 60.0

# While closing, unread bytes still in the kernel buffer are discarded first (up to this
# much), because closing a socket with unread data makes the kernel send RST instead of
# FIN, and an RST can destroy our last response before the peer has read it.
CLOSE_DRAIN_LIMIT = 256 * 1024


def configure_socket(sock: socket.socket, timeout: float | None) -> None:
    """TCP_NODELAY and a timeout: what every socket in netlib gets (DESIGN.md, hot path)."""
    sock.settimeout(timeout)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # the peer may already have reset it; the first read will say so


class Connection:
    """A socket with buffered, error-translating I/O and an optional TLS session."""

    def __init__(self, connection: socket.socket | None, address: Address | None,
                 timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self.connection: socket.socket | None = None
        self.tls: TlsIO | None = None
        self.ssl_established = False
        self.finished = False
        self.rfile: Reader | None = None
        self.wfile: Writer | None = None
        if connection is not None:
            self._attach(connection)

    # --- the socket edge ----------------------------------------------------------------

    def _attach(self, sock: socket.socket) -> None:
        configure_socket(sock, self.timeout)
        self.connection = sock
        self.rfile = Reader(self._raw_recv)
        self.wfile = Writer(self._raw_sendall)

    def _raw_recv(self, n: int) -> bytes:
        try:
            return self.connection.recv(n)
        except OSError as e:
            raise socket_error(e, f"reading from {self.address}") from e

    def _raw_sendall(self, data: bytes) -> None:
        try:
            self.connection.sendall(data)
        except OSError as e:
            raise socket_error(e, f"writing to {self.address}") from e

    def settimeout(self, timeout: float | None) -> None:
        """Change the timeout of every later blocking call (the TLS engine uses the same
        socket calls, so this covers TLS too)."""
        self.timeout = timeout
        if self.connection is not None:
            self.connection.settimeout(timeout)

    # --- TLS ----------------------------------------------------------------------------

    def _start_tls(self, ssl_connection: SSL.Connection) -> None:
        """Run the handshake on ``ssl_connection`` and switch rfile/wfile over to it.

        Raises TlsException (handshake failed) or TcpException (socket failed). The caller
        sets ``ssl_established`` once it has checked whatever it needs to check.
        """
        if self.connection is None:
            raise exceptions.TcpException("cannot start TLS: not connected")
        if self.tls is not None:
            raise exceptions.TlsException("TLS is already established on this connection")
        self.wfile.flush()
        tls = TlsIO(ssl_connection, self._raw_recv, self._raw_sendall)
        tls.feed(self.rfile.read(self.rfile.buffered))
        self.tls = tls
        tls.handshake()
        self.rfile = Reader(tls.recv)
        self.wfile = Writer(tls.sendall)

    def has_pending_data(self) -> bool:
        """Whether a read would return without waiting on the socket: bytes already in
        rfile's buffer or, with TLS, records already received but not yet decrypted."""
        if self.rfile is not None and self.rfile.buffered:
            return True
        return self.tls is not None and self.tls.has_pending()

    def get_alpn_proto_negotiated(self) -> bytes:
        """The protocol ALPN settled on, or b"" (no TLS, or no agreement)."""
        if self.tls is None:
            return b""
        return self.tls.connection.get_alpn_proto_negotiated() or b""

    def get_current_cipher(self) -> tuple[str, int, str] | None:
        """(name, secret bits, protocol version) of the TLS session, or None without TLS."""
        if self.tls is None:
            return None
        conn = self.tls.connection
        return conn.get_cipher_name(), conn.get_cipher_bits(), conn.get_protocol_version_name()

    # --- closing ------------------------------------------------------------------------

    def finish(self) -> None:
        """Flush, say goodbye (close_notify) and close. Idempotent and quiet: it is called
        on paths where the connection may already be broken."""
        if self.finished:
            return
        self.finished = True
        sock = self.connection
        if sock is None:
            return
        try:
            if self.wfile is not None:
                self.wfile.flush()
        except exceptions.NetlibException:
            pass
        if self.tls is not None:
            self.tls.shutdown()
        _close_socket(sock)

    def close(self) -> None:
        """The same as ``finish`` (0.18 spelled it ``close`` for clients)."""
        self.finish()


def wait_readable(connections: Sequence[Connection], timeout: float | None) -> list[Connection]:
    """The connections a read would not block on, waiting up to ``timeout`` for one.

    For relaying between two peers (raw TCP, WebSocket): data buffered in rfile or inside
    the TLS engine counts without a system call; only when there is none does this wait
    in select() on the sockets.
    """
    # A finished connection is "readable": reading it fails at once instead of blocking.
    ready = [c for c in connections if c.finished or c.has_pending_data()]
    if ready:
        return ready
    by_socket = {c.connection: c for c in connections if c.connection is not None}
    readable, _, _ = select.select(list(by_socket), [], [], timeout)
    return [by_socket[s] for s in readable]


def _close_socket(sock: socket.socket) -> None:
    """Half-close, discard what the peer still sent, close. Never raises."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        drained = 0
        while drained < CLOSE_DRAIN_LIMIT:
            data = sock.recv(64 * 1024)
            if not data:
                break
            drained += len(data)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass

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
import struct
import sys
from collections.abc import Sequence

from OpenSSL import SSL

from netlib import exceptions
from netlib.tcp.address import Address
from netlib.tcp.buffered import Reader, Writer
from netlib.tcp.errors import socket_error
from netlib.tcp.tlsio import TlsIO

__all__ = ["Connection", "configure_socket", "set_kernel_timeout", "socket_timeout",
           "wait_readable", "idle_readable", "DEFAULT_TIMEOUT"]

# Seconds a blocking socket call may wait. Long enough for a slow upstream to think, short
# enough that a peer which vanished without a FIN does not pin a connection thread forever.
DEFAULT_TIMEOUT = 60.0

# While closing, unread bytes still in the kernel buffer are discarded first (up to this
# much), because closing a socket with unread data makes the kernel send RST instead of
# FIN, and an RST can destroy our last response before the peer has read it.
CLOSE_DRAIN_LIMIT = 256 * 1024
_MSG_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


def configure_socket(sock: socket.socket, timeout: float | None) -> None:
    """TCP_NODELAY and a timeout: what every socket in netlib gets (DESIGN.md, hot path).

    The timeout is enforced by the kernel (SO_RCVTIMEO/SO_SNDTIMEO) on a socket that Python
    treats as blocking, not by ``settimeout``: with a Python timeout every recv/send is
    preceded by a poll(), and each of the two calls releases and retakes the GIL, which
    with many connection threads means a futex handoff each time. Measured on 10 keep-alive
    connections this removes 4 polls per proxied request (see ``set_kernel_timeout``). A
    call that runs out of time fails with EAGAIN, which ``errors.socket_error`` reports as
    TcpTimeout, just as socket.timeout was before. A timeout of 0 (non-blocking) stays a
    Python one: the kernel reads a zero timeval as "wait forever".
    """
    set_kernel_timeout(sock, timeout)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # the peer may already have reset it; the first read will say so


def set_kernel_timeout(sock: socket.socket, timeout: float | None) -> None:
    """Make ``sock`` blocking with ``timeout`` seconds per recv/send enforced by the kernel
    (None: no limit; 0: non-blocking, left to Python). Connecting still needs a Python
    timeout (SO_SNDTIMEO would make connect() fail with EINPROGRESS), so callers connect
    first and configure afterwards."""
    if timeout is not None and timeout <= 0:
        sock.settimeout(timeout)
        return
    if sock.gettimeout() is not None:
        # Only when needed: settimeout(None) is an ioctl that releases the GIL, and an
        # accepted socket is blocking already.
        sock.settimeout(None)
    if timeout is None:
        seconds, micros = 0, 0
    else:
        seconds = int(timeout)
        micros = max(1, round((timeout - seconds) * 1_000_000)) if timeout != seconds else 0
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, 0
    value = struct.pack("@ll", seconds, micros)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def socket_timeout(sock: socket.socket) -> float | None:
    """The timeout ``configure_socket`` gave ``sock`` (None: none), wherever it is kept."""
    python_timeout = sock.gettimeout()
    if python_timeout is not None:
        return python_timeout
    seconds, micros = struct.unpack(
        "@ll", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.calcsize("@ll")))
    if seconds == 0 and micros == 0:
        return None
    return seconds + micros / 1_000_000


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
        # Bytes read from the socket so far (before TLS), for ``idle_readable``.
        self.bytes_received = 0
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
            data = self.connection.recv(n)
        except OSError as e:
            raise socket_error(e, f"reading from {self.address}") from e
        self.bytes_received += len(data)
        return data

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
            set_kernel_timeout(self.connection, timeout)

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


# struct tcp_info (linux/tcp.h): tcpi_state is its first byte, tcpi_bytes_received (Linux
# 4.1+) the u64 at offset 128.
_TCP_INFO = getattr(socket, "TCP_INFO", None)
_TCP_INFO_SIZE = 136
_TCPI_BYTES_RECEIVED = slice(128, 136)
_TCP_ESTABLISHED = 1


def idle_readable(connection: Connection) -> bool:
    """Whether a read on an idle ``connection`` would return at once: buffered bytes, data
    in the kernel, the peer's FIN or RST. Between two requests on a keep-alive connection
    that means the peer closed it (or sent something unasked), so it must not be reused.

    The same answer as ``wait_readable([connection], 0)``, but on Linux TCP sockets without
    select(): getsockopt(TCP_INFO) tells the connection state (anything but ESTABLISHED
    means FIN or RST arrived) and how many bytes TCP has received, which, compared with
    what we have read, says whether unread data waits. Unlike select(), getsockopt does not
    release the GIL, so the check costs no thread switch; with 10 busy connection threads
    the select() was about one GIL handoff (several futex calls) per proxied request.
    """
    if connection.finished or connection.has_pending_data():
        return True
    sock = connection.connection
    if sock is None:
        return True
    if _TCP_INFO is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_SIZE)
        except OSError:
            return True
        if len(info) >= _TCP_INFO_SIZE:
            if info[0] != _TCP_ESTABLISHED:
                return True
            received = int.from_bytes(info[_TCPI_BYTES_RECEIVED], sys.byteorder)
            return received != connection.bytes_received
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _close_socket(sock: socket.socket) -> None:
    """Half-close, discard what the peer still sent, close. Never raises."""
    try:
        sock.shutdown(socket.SHUT_WR)
        # MSG_DONTWAIT rather than setblocking(False) where there is one: one system call
        # (and one GIL release) less per connection.
        if _MSG_DONTWAIT:
            flags = _MSG_DONTWAIT
        else:
            flags = 0
            sock.setblocking(False)
        drained = 0
        while drained < CLOSE_DRAIN_LIMIT:
            data = sock.recv(64 * 1024, flags)
            if not data:
                break
            drained += len(data)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass

"""TLS over a socket through memory BIOs: OpenSSL never touches the socket itself.

Why memory BIOs instead of handing the socket to ``SSL.Connection``:

- Peek, then handshake. The proxy reads the first bytes of a client connection through its
  plain ``Reader`` (is it TLS? which SNI?) before it decides to speak TLS. Those bytes sit in
  the Reader's buffer, no longer in the kernel, so an OpenSSL attached to the socket would
  never see the start of the ClientHello. With a memory BIO they are simply fed in first
  (``feed``), and the handshake continues with whatever the socket delivers next. One code
  path serves both the peeked and the unpeeked case.
- Timeouts stay plain. OpenSSL on a socket with a timeout runs it non-blocking and answers
  ``WantReadError``, which then needs a select loop to wait correctly. Here the only blocking
  call is our own ``recv`` on a socket with a timeout, translated to ``TcpTimeout`` at the
  edge like every other read.
- It is testable without sockets: two TlsIO objects can be wired to each other in memory.

The cost is one extra copy per TLS record through Python, small next to the cipher work.

End of stream: a close_notify from the peer ends the stream (b"" from ``recv``). So does a
plain TCP EOF without close_notify, which many servers send after an HTTP/1.0 response
that is delimited by the close; browsers accept it, and so must a proxy.
"""
from __future__ import annotations

import socket
from typing import Callable

from OpenSSL import SSL

from netlib import exceptions
from netlib.tcp.errors import tls_error

__all__ = ["TlsIO", "RAW_RECV_SIZE", "SEND_CHUNK_SIZE"]

# How much ciphertext one socket read takes. A TLS record is at most ~16 KiB, so this lets
# several records arrive per system call without letting the BIO grow without bound.
RAW_RECV_SIZE = 256 * 1024

# The most plaintext asked of OpenSSL per read. One read returns at most one record (16 KiB),
# and pyOpenSSL allocates the whole requested size every call: asking for more than this
# would only make each read pay for a large allocation.
TLS_READ_SIZE = 32 * 1024

# Plaintext encrypted per round before its ciphertext is handed to the socket. Bounds the
# memory BIO when a caller sends megabytes at once.
SEND_CHUNK_SIZE = 256 * 1024


class TlsIO:
    """One TLS session: a pyOpenSSL connection on memory BIOs plus the raw socket calls.

    ``raw_recv``/``raw_sendall`` are the socket's own (already error-translating) calls.
    ``recv``/``sendall`` are the plaintext side, for ``Reader``/``Writer``.
    """

    def __init__(
        self,
        connection: SSL.Connection,
        raw_recv: Callable[[int], bytes],
        raw_sendall: Callable[[bytes], None],
    ) -> None:
        self.connection = connection
        self._raw_recv = raw_recv
        self._raw_sendall = raw_sendall
        self._eof = False

    def feed(self, data: bytes) -> None:
        """Ciphertext that was read from the socket before TLS started (a peeked hello)."""
        if data:
            self.connection.bio_write(data)

    # --- moving ciphertext --------------------------------------------------------------

    def _push(self) -> None:
        """Send whatever OpenSSL has written to its outgoing BIO."""
        while True:
            try:
                data = self.connection.bio_read(RAW_RECV_SIZE)
            except SSL.WantReadError:
                return
            self._raw_sendall(data)
            if len(data) < RAW_RECV_SIZE:
                # A memory BIO hands out all it holds up to the size asked for, so it is
                # empty now: asking again would only raise WantReadError (several cffi
                # calls, each a GIL release, plus an exception; ~5 per TLS handshake).
                return

    def _pull(self) -> None:
        """Give OpenSSL more ciphertext from the socket; at EOF, tell it so."""
        data = self._raw_recv(RAW_RECV_SIZE)
        if data:
            self.connection.bio_write(data)
        else:
            self._eof = True
            self.connection.bio_shutdown()

    # --- the TLS operations -------------------------------------------------------------

    def handshake(self) -> None:
        """Complete the handshake. Raises TlsException with OpenSSL's reason on failure,
        after sending any alert OpenSSL produced (the peer deserves to know why)."""
        while True:
            try:
                self.connection.do_handshake()
            except SSL.WantReadError:
                self._push()
                if self._eof:
                    raise exceptions.TlsException("TLS handshake: peer closed the connection")
                self._pull()
            except SSL.Error as e:
                self._push_quietly()
                if self._eof:
                    raise exceptions.TlsException(
                        "TLS handshake: peer closed the connection") from e
                raise tls_error(e, "TLS handshake") from e
            else:
                self._push()
                return

    def recv(self, n: int) -> bytes:
        """Up to ``n`` bytes of plaintext; b"" at the end of the stream."""
        while True:
            try:
                return self.connection.recv(min(n, TLS_READ_SIZE))
            except SSL.WantReadError:
                # OpenSSL may owe the peer an answer (a TLS 1.3 KeyUpdate) before it waits.
                self._push()
                if self._eof:
                    return b""
                self._pull()
            except SSL.ZeroReturnError:
                return b""
            except SSL.Error as e:
                if self._eof:
                    # EOF without close_notify (possibly in the middle of a record): the end
                    # of the stream as far as the reader is concerned; see the module doc.
                    return b""
                raise tls_error(e, "TLS read") from e

    def has_pending(self) -> bool:
        """Whether ``recv`` would return without waiting on the socket.

        A poller must ask this before selecting on the socket: one socket read can carry
        several records, and those not yet decrypted sit in the memory BIO, invisible to
        select(). SSL_peek (``MSG_PEEK``) decrypts from the BIO without consuming and,
        since OpenSSL has no socket to read here, never blocks. An error or end of stream
        counts as pending, so the reader gets to see it.
        """
        if self._eof:
            return True
        try:
            return bool(self.connection.recv(1, socket.MSG_PEEK))
        except SSL.WantReadError:
            return False
        except SSL.Error:
            return True

    def sendall(self, data: bytes) -> None:
        """Encrypt and send all of ``data``."""
        for start in range(0, len(data), SEND_CHUNK_SIZE):
            chunk = data if len(data) <= SEND_CHUNK_SIZE else data[start:start + SEND_CHUNK_SIZE]
            try:
                self.connection.sendall(chunk)
            except SSL.Error as e:
                if self._eof:
                    # OpenSSL refuses to write once it has seen the peer's EOF.
                    raise exceptions.TcpDisconnect(
                        "TLS write: the peer closed the connection") from e
                raise tls_error(e, "TLS write") from e
            self._push()

    def shutdown(self) -> None:
        """Send close_notify if the session allows it; never raises (used while closing)."""
        try:
            self.connection.shutdown()
        except SSL.Error:
            pass
        self._push_quietly()

    def _push_quietly(self) -> None:
        try:
            self._push()
        except (exceptions.NetlibException, SSL.Error):
            pass  # the connection is failing already; the caller reports the first error

"""Buffered reading and writing over a connection, independent of what the connection is.

The reader takes a ``recv(n) -> bytes`` callable and the writer a ``sendall(data)`` callable,
so the same code serves plain sockets, pyOpenSSL connections and in-memory bytes in tests.
The callables are expected to translate their errors into netlib exceptions at the edge
(see netlib.tcp.connection); these classes raise nothing else of their own.

Hot-path rules (DESIGN.md): the socket is read in large chunks, lines are found with
``bytearray.find``, and consumed bytes are dropped from the front of the buffer (CPython makes
that O(1) amortised), so a request head costs one recv and a few slices.
"""
from __future__ import annotations

import io
import time
from typing import Callable

from netlib import exceptions

__all__ = ["Reader", "Writer", "RECV_SIZE", "WRITE_BUFFER_SIZE"]

# How much one recv asks for. Large enough that a typical request head or a chunk of a
# body arrives in one call, small enough that an idle connection's buffer stays small.
RECV_SIZE = 256 * 1024

# Writes below this size are gathered and sent together on flush(), so a message's head and
# its first body bytes leave in one segment (with TCP_NODELAY, separate sends would become
# separate packets). Above it the writer sends at once rather than growing the buffer.
WRITE_BUFFER_SIZE = 64 * 1024


class Reader:
    """A read buffer over ``recv``. ``recv`` returns b"" at end of stream."""

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv
        self._buf = bytearray()
        self._eof = False
        self.first_byte_timestamp: float | None = None

    # --- filling ---

    def _fill(self) -> bool:
        """Receive once more into the buffer. Returns False at end of stream."""
        if self._eof:
            return False
        data = self._recv(RECV_SIZE)
        if not data:
            self._eof = True
            return False
        if self.first_byte_timestamp is None:
            self.first_byte_timestamp = time.time()
        self._buf += data
        return True

    def reset_timestamps(self) -> None:
        """Forget the first-byte time, so the next message gets its own.

        Bytes already buffered belong to the next message and arrived "now" as far as it is
        concerned, which is what a timestamp_start for a pipelined request should say.
        """
        self.first_byte_timestamp = time.time() if self._buf else None

    @property
    def buffered(self) -> int:
        """How many bytes are buffered but not yet read (a poller must not wait on those)."""
        return len(self._buf)

    # --- reading ---

    def _take(self, n: int) -> bytes:
        # Through a memoryview the slice is copied once, not twice (bytearray slice + bytes).
        with memoryview(self._buf) as view:
            data = bytes(view[:n])
        del self._buf[:n]
        return data

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes from the front without consuming them (fewer only at EOF)."""
        while len(self._buf) < n and self._fill():
            pass
        return bytes(self._buf[:n])

    def read(self, n: int = -1) -> bytes:
        """Exactly ``n`` bytes, or fewer if the stream ends first; ``n < 0`` reads to EOF."""
        if n < 0:
            while self._fill():
                pass
            return self._take(len(self._buf))
        if len(self._buf) >= n:
            return self._take(n)
        # Large reads: each received chunk is copied once into a BytesIO, whose getvalue()
        # hands over its own buffer (no second copy, as joining a list of chunks would
        # make, and no second body-sized allocation alive at the same time).
        out = io.BytesIO()
        with memoryview(self._buf) as view:
            out.write(view)
        missing = n - len(self._buf)
        self._buf.clear()
        while missing > 0:
            data = self._recv(min(missing, RECV_SIZE) if missing > RECV_SIZE // 4 else RECV_SIZE)
            if not data:
                self._eof = True
                break
            if self.first_byte_timestamp is None:
                self.first_byte_timestamp = time.time()
            if len(data) > missing:
                with memoryview(data) as view:
                    self._buf += view[missing:]
                    out.write(view[:missing])
                break
            out.write(data)
            missing -= len(data)
        return out.getvalue()

    def safe_read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or TcpReadIncomplete naming how many arrived."""
        data = self.read(n)
        if len(data) != n:
            raise exceptions.TcpReadIncomplete(
                f"expected {n} bytes, got {len(data)} before the connection closed")
        return data

    def readsome(self, n: int = RECV_SIZE) -> bytes:
        """Between 1 and ``n`` bytes, whatever is at hand (one recv if nothing is
        buffered); b"" only at end of stream. For relaying data of unknown length."""
        if self._buf:
            return self._take(min(n, len(self._buf)))
        if self._eof:
            return b""
        # Nothing buffered: hand over what recv gives without a trip through the buffer.
        data = self._recv(n)
        if not data:
            self._eof = True
        elif self.first_byte_timestamp is None:
            self.first_byte_timestamp = time.time()
        return data

    def readuntil(self, delimiter: bytes, limit: int) -> bytes:
        """Bytes up to and including ``delimiter``, at most ``limit`` of them.

        The result ends with ``delimiter`` unless the limit or the end of the stream came
        first; the caller tells those apart by length and raises its own, specific error.
        """
        start = 0
        while True:
            i = self._buf.find(delimiter, start)
            if i >= 0:
                end = i + len(delimiter)
                return self._take(min(end, limit))
            if len(self._buf) >= limit:
                return self._take(limit)
            # The delimiter may straddle the old and new data.
            start = max(0, len(self._buf) - len(delimiter) + 1)
            if not self._fill():
                return self._take(min(len(self._buf), limit))

    def readline(self, limit: int) -> bytes:
        """One line including its b"\\n", with the same limit rule as ``readuntil``."""
        return self.readuntil(b"\n", limit)

    @classmethod
    def from_bytes(cls, data: bytes, chunk: int | None = None) -> "Reader":
        """A reader over fixed bytes (tests, replays). ``chunk`` caps each recv, to exercise
        messages that arrive in pieces."""
        view = memoryview(data)
        pos = 0

        def recv(n: int) -> bytes:
            nonlocal pos
            if chunk is not None:
                n = min(n, chunk)
            out = bytes(view[pos:pos + n])
            pos += len(out)
            return out

        return cls(recv)


class Writer:
    """A write buffer over ``sendall``: small writes are gathered until ``flush()``.

    A large write is never copied to put what is buffered in front of it: the buffered bytes
    (a message head, say) leave joined with just the first bytes of the large one, so the
    head and the start of its body still share one send (one segment with TCP_NODELAY), and
    the rest leaves as it is, through a memoryview. ``sendall`` must therefore accept any
    bytes-like object (socket.sendall and pyOpenSSL's do).
    """

    def __init__(self, sendall: Callable[[bytes], None]) -> None:
        self._sendall = sendall
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if len(data) >= WRITE_BUFFER_SIZE:
            self._write_large(data)
            return
        self._parts.append(data)
        self._size += len(data)
        if self._size >= WRITE_BUFFER_SIZE:
            self.flush()

    def _write_large(self, data: bytes) -> None:
        if not self._parts:
            self._sendall(data)
            return
        # Top the buffer up to WRITE_BUFFER_SIZE with the front of ``data`` (a copy of at
        # most that much), then send the remainder without copying it. The buffer holds
        # less than WRITE_BUFFER_SIZE here (write flushes at that size), so lead > 0.
        lead = WRITE_BUFFER_SIZE - self._size
        view = memoryview(data)
        self._parts.append(view[:lead])
        self.flush()
        self._sendall(view[lead:])

    def flush(self) -> None:
        if not self._parts:
            return
        parts = self._parts
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._parts = []
        self._size = 0
        self._sendall(data)

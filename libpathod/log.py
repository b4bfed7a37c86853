"""What pathod remembers and prints about the traffic it serves.

Two audiences, two classes:

- ``RequestLog`` is the in-memory record that ``test.Daemon`` (and any program embedding
  pathod) queries: one dict per request, answer or error, newest last. It is bounded, so a
  long-running daemon does not grow without limit, and thread-safe, because every
  connection thread appends to it while a test thread reads it. ``wait_for`` lets a test
  wait for entries without sleeping.
- ``ConsoleLog`` prints to a file (stdout by default) what a person watching ``pathod``
  wants to see: one line per request, and with ``-q``/``-r`` the bytes that went by,
  escaped or as a hexdump (``-x``). One lock keeps the lines of concurrent connections
  from interleaving.

``RecordingWriter`` sits between the language's ``serve`` and the socket writer and keeps a
bounded copy of what was written, which is how ``-r`` sees the response bytes without the
serving code knowing about logging.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Any, TextIO

__all__ = [
    "RequestLog", "ConsoleLog", "RecordingWriter", "hexdump", "escape",
    "LOG_ENTRIES", "RECORD_LIMIT", "TIMESTAMP_FORMAT",
]

# Entries the in-memory log keeps (0.18 kept 500): plenty for a test that inspects the last
# few requests, small enough that a daemon serving millions of requests stays flat.
LOG_ENTRIES = 500

# Bytes of a request or response that -q/-r keep for printing. Pathod serves gigabytes on
# request; printing (or buffering) all of them would defeat the point of streaming them.
RECORD_LIMIT = 64 * 1024

# The timestamp that starts each console line (0.18's format: day-month-year).
TIMESTAMP_FORMAT = "%d-%m-%y %H:%M:%S"

# Bytes per hexdump line, the width of ``hexdump -C``.
HEXDUMP_WIDTH = 16


class RequestLog:
    """A bounded, thread-safe list of log entries (dicts), newest last.

    Each entry gets an ``id`` that stays unique for the life of the log, even after older
    entries have been dropped or the log was cleared, so ``by_id`` never finds the wrong one.
    """

    def __init__(self, size: int = LOG_ENTRIES) -> None:
        self._entries: collections.deque[dict] = collections.deque(maxlen=size)
        self._next_id = 0
        self._changed = threading.Condition()

    def add(self, entry: dict) -> int:
        """Record ``entry`` (it gets an ``id`` key) and return its id."""
        with self._changed:
            entry["id"] = self._next_id
            self._next_id += 1
            self._entries.append(entry)
            self._changed.notify_all()
            return entry["id"]

    def entries(self) -> list[dict]:
        """A snapshot, oldest first."""
        with self._changed:
            return list(self._entries)

    def last(self) -> dict | None:
        with self._changed:
            return self._entries[-1] if self._entries else None

    def by_id(self, identifier: int) -> dict | None:
        with self._changed:
            for entry in self._entries:
                if entry["id"] == identifier:
                    return entry
        return None

    def clear(self) -> None:
        with self._changed:
            self._entries.clear()
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float | None) -> bool:
        """Wait until at least ``count`` entries are held; False if ``timeout`` came first."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._entries) >= count, timeout)

    def __len__(self) -> int:
        with self._changed:
            return len(self._entries)


def escape(data: bytes) -> str:
    """Bytes as printable text: ASCII stays, everything else becomes a Python escape, and
    line breaks are kept as breaks so an HTTP head reads as it would on the wire."""
    lines = data.split(b"\n")
    return "\n".join(repr(line)[2:-1] for line in lines)


def hexdump(data: bytes) -> str:
    """``offset  hex bytes  |ascii|`` lines, as ``hexdump -C`` prints them."""
    out = []
    for offset in range(0, len(data), HEXDUMP_WIDTH):
        piece = data[offset:offset + HEXDUMP_WIDTH]
        hex_part = " ".join(f"{b:02x}" for b in piece)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in piece)
        out.append(f"{offset:08x}  {hex_part:<{HEXDUMP_WIDTH * 3 - 1}}  |{text}|")
    return "\n".join(out)


class ConsoleLog:
    """Timestamped, indented lines to ``fp``; ``fp=None`` prints nothing."""

    def __init__(self, fp: TextIO | None, use_hexdump: bool = False) -> None:
        self.fp = fp
        self.use_hexdump = use_hexdump
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        """One message: the first line gets the timestamp, the others are indented."""
        if self.fp is None:
            return
        stamp = time.strftime(TIMESTAMP_FORMAT)
        first, *rest = text.split("\n")
        lines = [f"{stamp}: {first}", *(f"    {line}" for line in rest)]
        with self._lock:
            try:
                self.fp.write("\n".join(lines) + "\n")
                self.fp.flush()
            except (OSError, ValueError):
                pass  # a closed or broken console must not take the connection down

    def write_bytes(self, title: str, data: bytes, truncated: bool = False) -> None:
        """``title`` and then ``data``, escaped or as a hexdump."""
        body = hexdump(data) if self.use_hexdump else escape(data)
        if truncated:
            body += f"\n... (only the first {len(data)} bytes are shown)"
        self.write(f"{title}\n{body}" if body else title)


class RecordingWriter:
    """A writer that passes everything on to ``writer`` and keeps the first ``limit`` bytes.

    It has the writer interface the language's ``serve`` uses (``write``/``flush``), and
    forwards any other attribute, so it can stand in for a netlib Writer.
    """

    def __init__(self, writer: Any, limit: int = RECORD_LIMIT) -> None:
        self.writer = writer
        self.limit = limit
        self._parts: list[bytes] = []
        self._kept = 0
        self.total = 0

    def write(self, data: bytes) -> None:
        if self._kept < self.limit:
            piece = bytes(data[:self.limit - self._kept])
            self._parts.append(piece)
            self._kept += len(piece)
        self.total += len(data)
        self.writer.write(data)

    def flush(self) -> None:
        self.writer.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)

    @property
    def truncated(self) -> bool:
        return self.total > self._kept

    def take(self) -> bytes:
        """The bytes kept since the last ``take`` (and start keeping afresh)."""
        data = b"".join(self._parts)
        self._parts = []
        self._kept = 0
        self.total = 0
        return data

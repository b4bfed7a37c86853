"""``-w``/``-a``: every completed flow (matching mitmdump's filter, if one is given) goes to
a flow file, flushed as soon as the writer has caught up, so a killed mitmdump loses at
most the flows in progress.

Encoding a flow is the dearest thing a proxy that records does (about 9 us for a small
flow with the C walker of libmproxy/flow/encode.py, two or three times that in a loaded
proxy), so it does not happen in the hook: the hook hands the flow to the writer's own
thread ("flow writer") and returns, and the connection that completed the flow goes on at
once. The thread encodes and writes flows in the order they completed, flushing whenever
no other flow waits (one write per burst). A flow is not changed after its response or
error event, so the thread may read it while the connection moves on.

The writer keeps no flows beyond those waiting for its thread (at most ``MAX_WAITING``:
then the hook waits until half of them are written, so memory stays bounded), and only
the ids of the last ``RECENT_IDS`` it wrote: an error can follow a flow's response (the
client went away before the body was sent), and that flow is written once, at its
response.
"""
from __future__ import annotations

import collections
import queue
import threading
import time
from typing import Any, BinaryIO, Callable

from libmproxy.exceptions import FlowWriteException
from libmproxy.flow.encode import encode_flow
from libmproxy.flow.master import Feature

__all__ = ["FileWriter", "RECENT_IDS", "MAX_WAITING"]

# An error follows its response at once, so a short memory is enough; the bound keeps a
# long-running mitmdump's memory flat.
RECENT_IDS = 1024

# Flows handed over and not yet written. The thread keeps up unless the disk stalls;
# then the proxy slows down to the disk's pace instead of queueing flows without limit.
MAX_WAITING = 1000

# How often a hook held by a full queue looks again, in seconds.
ROOM_POLL = 0.002

# Tells the writer thread to finish.
_DONE = None


class FileWriter(Feature):
    """Writes flows to ``path`` opened with ``mode`` ("wb" or "ab")."""

    observes = frozenset({"response", "error", "tcp_close"})

    def __init__(self, path: str, mode: str, filt: Callable[[Any], bool] | None = None) -> None:
        try:
            self.file: BinaryIO | None = open(path, mode)
        except OSError as e:
            raise FlowWriteException(f"{path}: cannot open flow file: {e.strerror}") from e
        self.path = path
        self.filt = filt
        self.master: Any = None
        self._written: collections.OrderedDict[str, None] = collections.OrderedDict()
        # A SimpleQueue: put and get in C, a few times cheaper than queue.Queue's
        # Python-level locking, on a path taken once per flow.
        self._waiting: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_waiting, name="flow writer",
                                        daemon=True)
        self._thread.start()

    def configure(self, master: Any) -> None:
        self.master = master

    def write(self, flow: Any) -> None:
        if self.file is None or flow.id in self._written:
            return
        if self.filt is not None and not self.filt(flow):
            return
        if self._waiting.qsize() >= MAX_WAITING:
            self._wait_for_room()
        self._waiting.put(flow)
        self._written[flow.id] = None
        if len(self._written) > RECENT_IDS:
            self._written.popitem(last=False)

    def _wait_for_room(self) -> None:
        """The disk is behind: hold the hook (and so the connection) until the writer has
        written half of what waits. Polled, since it only happens when the disk stalls."""
        while self._waiting.qsize() > MAX_WAITING // 2 and self._thread.is_alive():
            time.sleep(ROOM_POLL)

    def _write_waiting(self) -> None:
        """The writer thread: write each flow handed over, in order, until ``done``.

        A flow that cannot be encoded (a script put a value in it that flow files cannot
        carry, or a cycle) is left out, with an error naming it: the file is unchanged,
        since a flow is encoded whole before its first byte is written. A failed write
        (disk full, file gone) ends recording, reported once; the proxy goes on."""
        failed = False
        while (flow := self._waiting.get()) is not _DONE:
            if failed:
                continue
            try:
                encoded = encode_flow(flow)
            except Exception as e:
                encoded = None
                self._report(f"{self.path}: flow {flow.id} not written: cannot encode it "
                             f"({type(e).__name__}: {e})")
            try:
                if encoded is not None:
                    self.file.write(encoded)
                # Flushed when no other flow waits: one write for a burst of flows, and
                # none completed is left unwritten once the thread has caught up.
                if self._waiting.empty():
                    self.file.flush()
            except (OSError, ValueError) as e:  # ValueError: the file was closed
                failed = True
                self._report(f"{self.path}: cannot write flows any more ({e}); "
                             f"the proxy goes on without recording")

    def _report(self, message: str) -> None:
        from libmproxy import ctx
        ctx.emit(self.master, message, "error")

    def response(self, flow: Any) -> None:
        self.write(flow)

    def error(self, flow: Any) -> None:
        self.write(flow)

    def done(self) -> None:
        """Write what is still waiting, then close the file."""
        if self.file is not None:
            self._waiting.put(_DONE)
            self._thread.join()
            self.file.close()
            self.file = None

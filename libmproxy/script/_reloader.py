"""Notices that a script file changed, so that the script can be reloaded.

A thread per script polls the file's modification time and size (``POLL_INTERVAL``): that
needs no platform file-watching API, and a once-per-second ``stat`` costs nothing. The
thread only *notices*; it hands the reload to the master thread (``on_change``), because
hook code only ever runs there.
"""
from __future__ import annotations

import os
import threading
from typing import Callable

__all__ = ["Reloader", "file_stamp", "POLL_INTERVAL"]

# Seconds between two looks at the file: a saved script is picked up about this soon.
POLL_INTERVAL = 1.0

# How long ``stop`` waits for the thread; it wakes at once when told, so this is only
# reached if ``on_change`` blocks.
STOP_WAIT = 5.0

Stamp = tuple[int, int]


def file_stamp(path: str) -> Stamp | None:
    """(mtime in ns, size) of ``path``, or None if it cannot be read right now."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class Reloader:
    """Calls ``on_change()`` (from its own thread) each time ``path``'s stamp differs from
    the one it last saw. A file that vanished is waited for, not reported: editors that
    save by rename make it vanish for a moment."""

    def __init__(self, path: str, stamp: Stamp | None, on_change: Callable[[], None],
                 interval: float = POLL_INTERVAL) -> None:
        self.path = path
        self.stamp = stamp
        self.on_change = on_change
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"script reloader {os.path.basename(path)}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_WAIT)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            stamp = file_stamp(self.path)
            if stamp is not None and stamp != self.stamp:
                self.stamp = stamp
                self.on_change()

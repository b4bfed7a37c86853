"""What a running script can reach without being handed it: ``master`` and ``log``.

The 0.18 documentation's scripts say ``mitmproxy.ctx.log("...")`` from any event, even from
a ``@concurrent`` handler running on a thread of its own. The script feature sets
``master`` (and which thread is the master's) before it calls into a script.

Rules of this file:

- ``log`` on the master thread goes straight to ``master.add_event``, so a script's line is
  printed before the flow it talks about. From any other thread (a ``@concurrent`` handler,
  a thread the script started) it is *told* to the master as a "log" event, exactly as a
  connection thread logs: the master's output is only ever written by the master thread.
- Without a master (a script imported on its own, e.g. by its tests) lines go to the
  ``libmproxy`` logger.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["master", "log"]

# The running master, set by the script feature; None until a script runs.
master: Any = None

# The ident of the thread that runs the master's hooks (see the module doc).
_master_thread: int | None = None


def enter(running_master: Any) -> None:
    """Called by the script feature on the master thread before it calls into a script."""
    global master, _master_thread
    master = running_master
    _master_thread = threading.get_ident()


def emit(to: Any, msg: str, level: str = "info") -> None:
    """Report ``msg`` through master ``to`` from whatever thread we are on (module doc)."""
    msg = str(msg)
    if to is None:
        from libmproxy.controller.master import LOG_LEVELS
        logging.getLogger("libmproxy").log(LOG_LEVELS.get(level, logging.INFO), msg)
    elif threading.get_ident() == _master_thread:
        to.add_event(msg, level)
    else:
        from libmproxy.controller import DummyReply, Event
        from libmproxy.proxy.log import LogEntry
        to.event_queue.put(Event("log", LogEntry(msg, level), DummyReply()))


class Log:
    """``ctx.log(msg, level="info")``, and ``ctx.log.debug/info/warn/error(msg)``."""

    def __call__(self, msg: str, level: str = "info") -> None:
        emit(master, msg, level)

    def debug(self, msg: str) -> None:
        emit(master, msg, "debug")

    def info(self, msg: str) -> None:
        emit(master, msg, "info")

    def warn(self, msg: str) -> None:
        emit(master, msg, "warn")

    def error(self, msg: str) -> None:
        emit(master, msg, "error")


log = Log()

"""The ``context`` argument of 0.17-style handlers (``response(context, flow)``).

One per loaded script: handlers of older scripts keep their state on it
(``context.old = argv[1]``), so it lives until the script is reloaded.
"""
from __future__ import annotations

from typing import Any

from libmproxy import ctx

__all__ = ["ScriptContext"]


class ScriptContext:
    """0.18's script context: ``log``, ``master``, ``kill_flow``, ``duplicate_flow``,
    ``replay_request``."""

    def __init__(self, master: Any) -> None:
        self._master = master

    @property
    def master(self) -> Any:
        return self._master

    def log(self, message: str, level: str = "info") -> None:
        """Write to the event log (mitmdump's output), from any thread."""
        ctx.emit(self._master, message, level)

    def kill_flow(self, flow: Any) -> None:
        """Drop ``flow``'s connection (it gets an error saying it was killed)."""
        flow.kill(self._master)

    def duplicate_flow(self, flow: Any) -> Any:
        """A copy of ``flow`` with a new id, not live."""
        return flow.copy()

    def replay_request(self, flow: Any) -> Any:
        """Send ``flow``'s request again (see ``FlowMaster.replay_request``)."""
        return self._master.replay_request(flow)

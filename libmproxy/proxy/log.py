"""What a connection thread tells the master for the event log."""
from __future__ import annotations

import dataclasses

__all__ = ["LogEntry", "LEVELS"]

# The levels of the 0.18 event log, least to most severe.
LEVELS = ("debug", "info", "warn", "error")


@dataclasses.dataclass
class LogEntry:
    """One line (or a few) for the event log: the ``log`` event's object."""

    msg: str
    level: str = "info"

    def __str__(self) -> str:
        return self.msg

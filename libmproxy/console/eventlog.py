"""The event log pane (``e`` in the flow list): what happened that is not a flow.

Entries come from ``ConsoleMaster.add_event`` (the proxy's log, the features' messages,
errors in scripts). The master keeps the last ``EVENTLOG_SIZE`` in a deque; the pane shows
them and scrolls with new ones unless the user scrolled up to read.
"""
from __future__ import annotations

import collections
from typing import Any, Iterable

import urwid

__all__ = ["EVENTLOG_SIZE", "EventLog", "LEVEL_ATTRS"]

# Entries kept: enough to scroll back through a busy session, bounded so a long run's
# memory stays flat (each entry is one short line or a traceback).
EVENTLOG_SIZE = 10_000

# 0.18's vi keys in the pane (g, G: the first, the last entry).
MOVEMENT_KEYS = {"j": "down", "k": "up", "g": "home", "G": "end"}

# How an entry of each level is drawn.
LEVEL_ATTRS = {"error": "error", "warn": "warn", "info": "text", "debug": "debug"}


def new_events() -> collections.deque[tuple[str, str]]:
    """The master's record of entries: (level, message), oldest dropped first."""
    return collections.deque(maxlen=EVENTLOG_SIZE)


def _entry(level: str, message: str) -> urwid.Text:
    return urwid.Text((LEVEL_ATTRS.get(level, "text"), message))


class EventLog(urwid.ListBox):
    """The pane. ``add`` shows a new entry; ``clear`` empties it (``z`` in the pane)."""

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self.walker = urwid.SimpleFocusListWalker([_entry(*e) for e in entries])
        super().__init__(self.walker)
        if self.walker:
            self.walker.set_focus(len(self.walker) - 1)

    def add(self, level: str, message: str) -> None:
        """Append an entry; keep the last one in sight unless the user scrolled away."""
        walker = self.walker
        at_end = not walker or walker.focus == len(walker) - 1
        walker.append(_entry(level, message))
        if len(walker) > EVENTLOG_SIZE:
            del walker[0]
        if at_end:
            walker.set_focus(len(walker) - 1)

    def clear(self) -> None:
        del self.walker[:]

    def keypress(self, size: Any, key: str) -> str | None:
        if key == "z":
            self.clear()
            return None
        return super().keypress(size, MOVEMENT_KEYS.get(key, key))

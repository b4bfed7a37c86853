"""How the master's event queue and urwid's loop share the main thread.

The master thread runs every hook, and in the console it is also the thread that draws.
Instead of blocking on the queue (``Master.run``), it waits in urwid's loop, and the queue
wakes that loop through a pipe: ``WakingQueue`` writes one byte when an event arrives
while no wake-up is pending, and the loop's callback drains the queue.

Rules of this file:

- Draining never blocks: it takes what is queued, for at most ``DRAIN_SECONDS``, then
  lets the loop read the keyboard before it continues, so the UI stays responsive under
  load while asked events (intercepted requests) still wait only as long as a pass takes.
- Drawing is coalesced: after proxy events the screen is redrawn at most every
  ``REDRAW_SECONDS``; after a key or a resize it is redrawn at once. Drawing per event
  under load would cost more than proxying.
- Drawing never waits for the queue to empty: urwid draws only when its loop goes idle,
  and under steady load the wake-up pipe is readable on every pass, so it would never go
  idle and the screen would freeze (keys handled, never shown). Each pass of draining
  therefore ends with ``draw_if_due``.
- Drawing never starves the queue either: after a draw that took t, the next one not
  asked for by a key waits at least ``DRAW_SHARE`` times t, so a slow screen takes at
  most a third of the thread from the events.
"""
from __future__ import annotations

import os
import queue
import time
from typing import Any, Callable

import urwid

__all__ = ["ConsoleLoop", "DRAIN_SECONDS", "DRAW_SHARE", "REDRAW_SECONDS", "WakingQueue",
           "drain"]

# The longest one pass of draining runs before the loop gets to read the keyboard.
DRAIN_SECONDS = 0.05

# The shortest time between two redraws caused by proxy events (keys redraw at once):
# ten a second looks live and costs little next to the proxying itself.
REDRAW_SECONDS = 0.1

# After a draw, the time until the next one (unless a key asks) is at least this many times
# what the draw took: 2 leaves the events at least two thirds of the thread.
DRAW_SHARE = 2.0


class WakingQueue(queue.Queue):
    """The master's event queue, writing a byte to ``wake_fd`` when an event arrives
    while none is pending. The writer end is non-blocking: a full pipe means a wake-up is
    pending anyway."""

    def __init__(self) -> None:
        super().__init__()
        self.wake_fd: int | None = None
        self._armed = True

    def _put(self, item: Any) -> None:  # called with the queue's lock held
        super()._put(item)
        if self._armed and self.wake_fd is not None:
            self._armed = False
            self._write()

    def _write(self) -> None:
        try:
            os.write(self.wake_fd, b"\0")  # type: ignore[arg-type]
        except (BlockingIOError, OSError):
            pass

    def rearm(self) -> None:
        """The loop is about to drain: the next event must wake it again."""
        with self.mutex:
            self._armed = True

    def poke(self) -> None:
        """Wake the loop now (events are left after a pass hit its time limit)."""
        with self.mutex:
            self._armed = False
            if self.wake_fd is not None:
                self._write()


class ConsoleLoop(urwid.MainLoop):
    """urwid's MainLoop with coalesced redraws (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._urgent = True
        self._next_draw = 0.0  # the monotonic time from which a redraw is due
        self._draw_alarm: Any = None

    def process_input(self, keys: Any) -> bool:
        self._urgent = True
        return super().process_input(keys)

    def entering_idle(self) -> None:
        if not self.draw_if_due() and self._draw_alarm is None:
            # Going idle wakes the loop up again and draws then.
            self._draw_alarm = self.set_alarm_at(self._next_draw, self._alarm)

    def draw_if_due(self) -> bool:
        """Draw now if a key asked for it or the interval since the last draw is over;
        whether it drew. Called on going idle and after each pass over the queue."""
        start = time.monotonic()
        if not self._urgent and start < self._next_draw:
            return False
        self._urgent = False
        if self._draw_alarm is not None:
            self.remove_alarm(self._draw_alarm)
            self._draw_alarm = None
        super().entering_idle()
        end = time.monotonic()
        self._next_draw = end + max(REDRAW_SECONDS - (end - start),
                                    DRAW_SHARE * (end - start))
        return True

    def _alarm(self, loop: Any, data: Any) -> None:
        self._draw_alarm = None

    def draw_screen(self) -> None:
        before_draw = getattr(self.widget, "before_draw", None)
        if before_draw is not None:
            before_draw()
        super().draw_screen()


def drain(event_queue: WakingQueue, dispatch: Callable[[Any], None]) -> None:
    """One pass over the queue: ``dispatch`` each event (for at most DRAIN_SECONDS)."""
    event_queue.rearm()
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        try:
            event = event_queue.get_nowait()
        except queue.Empty:
            return
        dispatch(event)
        if time.monotonic() > deadline:
            if not event_queue.empty():
                event_queue.poke()
            return

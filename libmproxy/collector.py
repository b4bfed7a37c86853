"""Python's cycle collector and the many objects a proxy makes and keeps.

Pausing it while many containers are made at once: content views make hundreds of
thousands of lines for a large body, and a flow file's reader makes tens of thousands of
flows; none of them is in a cycle. The collector, triggered by every few hundred new
containers, would scan them again and again as they pile up (measured here: three to four
times as long to make the lines of a 5 MB JSON body). Paused, it scans them once, when it
is back on.

Keeping what a store holds for long out of its sight (``Kept``, ``paused(kept=True)``):
see ``Kept``.
"""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator

__all__ = ["paused", "Kept", "FREEZE_STEP"]

# How many kept objects (console flows) are added between two freezes. Each freeze first
# runs a young-generation collection (a few ms); the objects made since the last freeze,
# at most this many flows' worth, are all a full collection then scans (~0.1 s).
FREEZE_STEP = 10_000


@contextlib.contextmanager
def paused(kept: bool = False) -> Iterator[None]:
    """The collector off for the ``with`` block, and on again after it unless it was off
    before. Other threads meanwhile only miss collections; they never wait.

    ``kept``: what the block made stays for long (the flows of a file loaded into the
    console). Then it is moved out of the collector's sight (``gc.freeze``), since it has
    no cycles to find: otherwise the next full collection would scan it all, a pause of
    about 0.6 s per 50,000 flows, at whatever keypress it happens to follow.
    Reference counting still frees such objects once they are dropped (a deleted flow).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if kept:
            gc.freeze()
        gc.enable()


class Kept:
    """The collector's side of a store that keeps what it is given for long: the
    console's flows, every one of them, for the whole session.

    A full collection scans every container alive: with 150,000 flows held that is a
    pause of over a second, for every thread, each time the heap has grown by a quarter
    (measured: the console's 99th-percentile latency grew with the flows it held, to
    1.2 s). Every ``FREEZE_STEP`` additions the store's objects are frozen out of the
    collector's sight (``gc.freeze``) after a young collection; reference counting still
    frees what the store drops.

    Dropped objects in reference cycles (a flow and its reply point at each other) are
    only freed by the collector, so ``removed`` thaws everything (``gc.unfreeze``): the
    next full collection finds them, then later additions freeze again. A store that
    drops as it adds (the console's ``max_flows``) therefore keeps the collector's
    ordinary behaviour; nothing is lost either way.
    """

    def __init__(self, step: int | None = None) -> None:
        self.step = FREEZE_STEP if step is None else step
        self._added = 0

    def added(self) -> None:
        self._added += 1
        if self._added >= self.step:
            self._added = 0
            if gc.isenabled():
                gc.collect(1)
                gc.freeze()

    def removed(self) -> None:
        gc.unfreeze()

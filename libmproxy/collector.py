"""Pausing Python's cycle collector while many containers are made at once.

Content views make hundreds of thousands of lines for a large body, and a flow file's
reader makes tens of thousands of flows; none of them is in a cycle. The collector,
triggered by every few hundred new containers, would scan them again and again as they
pile up (measured here: three to four times as long to make the lines of a 5 MB JSON
body). Paused, it scans them once, when it is back on.
"""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator

__all__ = ["paused"]


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

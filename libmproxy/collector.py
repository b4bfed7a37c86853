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
def paused() -> Iterator[None]:
    """The collector off for the ``with`` block, and on again after it unless it was off
    before. Other threads meanwhile only miss collections; they never wait."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

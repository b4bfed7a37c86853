"""``@concurrent``: run a blocking script handler on a thread of its own.

The FlowMaster does the threading (see ``flow/master.py``): it runs any handler whose
``concurrent`` attribute is true on a worker thread, takes the flow's reply meanwhile and
resumes the rest of the chain on the master thread afterwards. The decorator only marks the
function; the script feature copies the mark onto the handler it builds for it.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from libmproxy.exceptions import ScriptException

__all__ = ["concurrent"]

F = TypeVar("F", bound=Callable)

# Lifecycle events run once, in order, around every other event: a thread there would let
# a request arrive before start has finished, or after done.
NOT_CONCURRENT = frozenset({"start", "done"})


def concurrent(fn: F) -> F:
    """Mark ``fn`` (an event handler of a script) to run in its own thread."""
    if getattr(fn, "__name__", None) in NOT_CONCURRENT:
        raise ScriptException(f"the concurrent decorator is not supported for {fn.__name__!r}")
    fn.concurrent = True  # type: ignore[attr-defined]
    return fn

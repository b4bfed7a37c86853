"""Flow files: tnetstrings of ``flow.get_state()``, one flow after another.

Rules of this file:

- A writer flushes after every flow, so a proxy killed at any moment leaves a file that
  holds every flow completed before it, and at most one damaged flow at the end.
- A reader yields every complete flow before it reports damage: a truncated tail costs the
  flow it cuts, never the flows before it. Damage is a ``FlowReadException`` naming the
  byte offset where the damaged flow starts.
- Saved flows carry their layout version. The reader converts each older or newer layout
  to ours through ``MIGRATIONS``, a chain of small steps, each taking a state of one
  version to the next version on the way to ours. A version with no step is refused with a
  message naming it. 0.18's layout *is* ours (0.18.0 to 0.18.2 share it); the steps from
  today's mitmproxy formats (0.19 up to 21) are in ``libmproxy/flow/compat.py``. A step
  may return None for a flow our model cannot hold (a WebSocket or DNS flow, say): the
  reader skips it and goes on. A step that fails on a malformed state is a ValueError.
"""
from __future__ import annotations

import os
from typing import Any, BinaryIO, Callable, Hashable, Iterable, Iterator

from netlib import tnetstring
from netlib.exceptions import TnetstringException

from libmproxy import collector, models
from libmproxy.flow import compat
from libmproxy.flow.encode import encode_flow
from libmproxy.exceptions import FlowReadException
from libmproxy.models import FLOW_FORMAT_VERSION, Flow

__all__ = [
    "FlowWriter", "FlowReader", "read_flows_from_paths", "MIGRATIONS", "CURRENT_VERSION",
    "version_key", "migrate",
]

# The layout this code reads natively. Patch releases never changed the layout, so a
# version is compared on its (major, minor) part only.
CURRENT_VERSION: tuple[int, int] = tuple(FLOW_FORMAT_VERSION[:2])  # type: ignore[assignment]

# version key -> step converting a state of that version one version closer to ours. Each
# step sets the state's "version" to the version it produces.
Migration = Callable[[dict[str, Any]], "dict[str, Any] | None"]
MIGRATIONS: dict[Hashable, Migration] = dict(compat.MIGRATIONS)

# More steps than there are versions means a cycle in MIGRATIONS: a bug, reported as such.
MAX_MIGRATION_STEPS = 64


def version_key(version: Any) -> Hashable:
    """The key a saved "version" is looked up by: ``(major, minor)`` for the tuple versions
    of 0.x and 1.x (``[0, 18, 2]`` -> ``(0, 18)``), the number itself for the integer
    versions of later mitmproxy releases.

    Raises ValueError for anything else, since then we cannot tell what the flow is.
    """
    if isinstance(version, bool):
        raise ValueError(f"unknown flow format version {version!r}")
    if isinstance(version, int):
        return version
    if (isinstance(version, (list, tuple)) and len(version) >= 2
            and all(isinstance(part, int) and not isinstance(part, bool) for part in version)):
        return tuple(version[:2])
    raise ValueError(f"unknown flow format version {version!r}")


def _describe(key: Hashable) -> str:
    return ".".join(map(str, key)) if isinstance(key, tuple) else str(key)


def migrate(state: dict[str, Any]) -> dict[str, Any] | None:
    """``state`` converted to our layout through ``MIGRATIONS``; None when a step skips a
    flow our model cannot hold.

    Raises ValueError naming the version when no step leads from it to ours.
    """
    if "version" not in state:
        raise ValueError("the flow has no format version")
    for _ in range(MAX_MIGRATION_STEPS):
        key = version_key(state["version"])
        if key == CURRENT_VERSION:
            return state
        step = MIGRATIONS.get(key)
        if step is None:
            raise ValueError(
                f"flow format version {_describe(key)} is not supported "
                f"(this version reads {_describe(CURRENT_VERSION)})")
        try:
            state = step(state)
        except (KeyError, TypeError, IndexError, AttributeError) as e:
            raise ValueError(
                f"invalid flow of format version {_describe(key)}: {e!r}") from e
        if state is None:
            return None
    raise ValueError(f"no end to the conversion of flow format version {state['version']!r}")


def flow_from_state(state: Any) -> Flow | None:
    """The flow saved as ``state``, in whatever known layout it was saved; None for a flow
    the migration skips (see ``compat``).

    Raises ValueError saying what is wrong with the state.
    """
    if not isinstance(state, dict):
        raise ValueError(f"a saved flow is a dictionary, not {type(state).__name__}")
    state = migrate(state)
    if state is None:
        return None
    flow_type = state.get("type")
    cls = models.FLOW_TYPES.get(flow_type)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown flow type {flow_type!r}")
    try:
        return cls.from_state(state)
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"invalid {flow_type} flow: {e!r}") from e


class FlowWriter:
    """Appends flows to an open binary file, flushing after each (see ``add``)."""

    def __init__(self, fo: BinaryIO) -> None:
        self.fo = fo

    def add(self, flow: Flow, flush: bool = True) -> None:
        """Write ``flow`` and flush, so the file holds it even if the process dies next.
        A writer with more flows at hand may pass ``flush=False`` for all but the last.

        The flow is encoded whole (by ``encode_flow``, the bytes of
        ``tnetstring.dumps(flow.get_state())`` at a third of the cost) before the first
        byte is written: an encoding error leaves the file as it was.
        """
        self.fo.write(encode_flow(flow))
        if flush:
            self.fo.flush()


class _CountingReader:
    """A read-only view of a file that counts the bytes read, so damage can be reported by
    offset even in a pipe, where ``tell()`` does not work."""

    def __init__(self, fo: BinaryIO) -> None:
        self.fo = fo
        self.offset = 0

    def read(self, n: int) -> bytes:
        data = self.fo.read(n)
        self.offset += len(data)
        return data


class FlowReader:
    """Reads the flows of an open binary file, in order."""

    def __init__(self, fo: BinaryIO) -> None:
        self.fo = fo

    def stream(self) -> Iterator[Flow]:
        """Yield each flow of the file; stop at its clean end.

        Raises FlowReadException, after every complete flow before it has been yielded,
        when a flow is damaged, truncated, of an unknown version or not a flow at all.
        """
        reader = _CountingReader(self.fo)
        while True:
            start = reader.offset
            try:
                state = tnetstring.load(reader)  # type: ignore[arg-type]
            except EOFError:
                return
            except TnetstringException as e:
                raise FlowReadException(f"damaged flow at byte {start}: {e}") from e
            try:
                flow = flow_from_state(state)
            except ValueError as e:
                raise FlowReadException(f"invalid flow at byte {start}: {e}") from e
            if flow is not None:
                yield flow


def read_flows_from_paths(paths: Iterable[str | os.PathLike]) -> list[Flow]:
    """Every flow of every file in ``paths`` (``~`` expanded), in order.

    Raises FlowReadException naming the file that cannot be opened or is damaged; an
    all-or-nothing read, since the callers (replay, ``-r``) should not run on part of what
    the user asked for.
    """
    flows: list[Flow] = []
    with collector.paused(kept=True):  # all of them kept: see libmproxy.collector
        for path in paths:
            _read_all(path, flows)
    return flows


def _read_all(path: str | os.PathLike, flows: list[Flow]) -> None:
    """Append every flow of ``path`` to ``flows``, with read_flows_from_paths's errors."""
    path = os.path.expanduser(os.fspath(path))
    try:
        with open(path, "rb") as fo:
            flows.extend(FlowReader(fo).stream())
    except OSError as e:
        raise FlowReadException(f"{path}: cannot read flows: {e.strerror}") from e
    except FlowReadException as e:
        raise FlowReadException(f"{path}: {e}") from e

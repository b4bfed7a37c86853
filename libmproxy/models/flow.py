"""The base of HTTP and TCP flows: identity, connections, error, interception, undo.

A flow is passed like a baton between its connection thread and the master (DESIGN.md):
``reply`` is the answer object of the event the master is handling right now, set by the
master's dispatch. ``intercept``/``resume``/``kill`` act through it; they keep 0.18's
signatures (with a ``master`` to notify) because 0.18 scripts and tools call them so.
"""
from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING, Any, Callable, Mapping

from libmproxy import exceptions
from libmproxy.models.connections import ClientConnection, ServerConnection
from libmproxy.models.error import Error
from libmproxy.stateobject import StateObject

if TYPE_CHECKING:  # pragma: no cover
    from libmproxy.controller import DummyReply, Master, Reply

__all__ = ["Flow", "FLOW_FORMAT_VERSION"]

# The flow-file format version written into every saved flow: the 0.18 layout, which the
# flow reader (and today's mitmproxy, through its migrations) knows how to open.
FLOW_FORMAT_VERSION = (0, 18, 2)

# Flow ids are random (version 4) UUIDs, as in 0.18. They must be unique, not secret, so
# they come from a private Mersenne Twister seeded from the OS once (and again in a forked
# child, so parent and child do not repeat each other) instead of uuid.uuid4(), which makes
# a getrandom() system call per flow: one syscall (and one GIL handoff) less per request.
# Private, so that a script calling random.seed() cannot make ids repeat across runs.
_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))
# The bits uuid.UUID(version=4) clears and sets: variant RFC 4122, version 4.
_UUID4_CLEAR = ~((0xc000 << 48) | (0xf000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


def new_flow_id() -> str:
    """A fresh random UUID in its usual text form, like str(uuid.uuid4()) but without
    a system call."""
    h = "%032x" % ((_ids.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Flow(StateObject):
    """What every flow has. ``live`` is the root layer while the client connection is
    open (None for flows loaded from a file or made by a script)."""

    _stateobject_attributes: dict[str, Any] = dict(
        id=str,
        error=Error,
        client_conn=ClientConnection,
        server_conn=ServerConnection,
        type=str,
        intercepted=bool,
        marked=bool,
    )

    def __init__(self, type: str, client_conn: ClientConnection | None,
                 server_conn: ServerConnection | None, live: Any = None) -> None:
        self.type = type
        self.id = new_flow_id()
        self.client_conn = client_conn
        self.server_conn = server_conn
        self.error: Error | None = None
        self.intercepted = False
        self.marked = False
        self._init_live(live)

    def _init_live(self, live: Any) -> None:
        """The fields that are never saved: they describe the flow while it is in flight."""
        self.live = live
        self.reply: Reply | DummyReply | None = None
        self._backup: dict[str, Any] | None = None

    # --- state --------------------------------------------------------------------------------

    # Saved after the table's fields, the same in every flow (as lists): the layout
    # version. Read by get_state and by the flow encoder (libmproxy/flow/encode.py).
    _state_constants: dict[str, tuple] = {"version": FLOW_FORMAT_VERSION}

    def _current_state(self) -> dict[str, Any]:
        state = super().get_state()
        for name, value in self._state_constants.items():
            state[name] = list(value)
        return state

    def get_state(self) -> dict[str, Any]:
        """The flow-file form. As in 0.18, a modified flow also carries its original state
        under "backup", so that it can still be reverted after saving and loading."""
        state = self._current_state()
        if self._backup is not None and self._backup != state:
            state["backup"] = self._backup
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Load ``state``, which must already be in the current layout (the flow reader
        migrates older files); "version" is not checked here."""
        state = dict(state)
        state.pop("version", None)
        backup = state.pop("backup", None)
        super().set_state(state)
        if backup is not None:
            self._backup = backup

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Flow:
        flow = cls.__new__(cls)
        flow._init_live(None)
        flow.set_state(state)
        return flow

    def match(self, f: str | Callable[[Flow], bool]) -> bool:
        """Whether this flow matches the filter ``f``: a compiled filter (any callable
        taking a flow) or a filter expression, compiled (once, cached) by libmproxy.filt.

        Raises ValueError for an invalid expression.
        """
        if isinstance(f, str):
            from libmproxy import filt  # the filter language depends on the models
            f = filt.parse(f)
        return bool(f(self))

    def copy(self) -> Flow:
        """A new flow (new id) with equal content, not live, not intercepted."""
        new = super().copy()
        new.id = new_flow_id()
        new.intercepted = False
        new._init_live(None)
        return new

    # --- undo (0.18's backup/revert) ---------------------------------------------------------

    def modified(self) -> bool:
        """True if the flow differs from its backup."""
        return self._backup is not None and self._backup != self._current_state()

    def backup(self, force: bool = False) -> None:
        """Remember the current state for ``revert`` (unless a backup exists and not
        ``force``): callers back up before every edit, and only the first one counts."""
        if self._backup is None or force:
            self._backup = self._current_state()

    def revert(self) -> None:
        """Go back to the backed-up state, and forget the backup."""
        if self._backup is not None:
            self.set_state(self._backup)
            self._backup = None

    # --- interception -------------------------------------------------------------------------

    @property
    def killable(self) -> bool:
        """True while a connection thread waits for this flow's answer."""
        return self.reply is not None and not self.reply.done

    def _live_reply(self) -> Reply | DummyReply:
        if self.reply is None:
            raise exceptions.ControlException(f"{self!r} is not waiting for an answer")
        return self.reply

    def intercept(self, master: Master) -> None:
        """Hold the flow: its connection waits until ``resume`` or ``kill``."""
        if self.intercepted:
            return
        self._live_reply().take()
        self.intercepted = True
        master.handle_intercept(self)

    def resume(self, master: Master) -> None:
        """Let an intercepted flow go on."""
        if not self.intercepted:
            return
        self.intercepted = False
        self._live_reply().ack()
        master.handle_accept_intercept(self)

    accept_intercept = resume  # the 0.18 name

    def kill(self, master: Master) -> None:
        """Drop the flow's connection: the connection thread gets Kill. The flow's error
        says so, and the master's error handlers see it."""
        reply = self._live_reply()
        self.error = Error(Error.KILLED_MESSAGE)
        self.intercepted = False
        reply.kill()
        master.handle_kill(self)

"""One explicit answer object per asked event.

Rules of this file:

- A connection thread that *asks* the master about an object gets back exactly one answer:
  a value (``ack``) or ``Kill`` (``kill``). The answer is chosen once; choosing twice is a
  bug in the caller and raises ``ControlException`` instead of being silently ignored (0.18
  kept a string state on the message and lost or doubled replies that way).
- Choosing and delivering are separate steps, because the master runs a *chain* of handlers
  on one event: while the master's dispatch holds the reply, ``ack``/``kill`` only record the
  answer and the master delivers it (``commit``) when the whole chain is done, so no handler
  ever touches a flow that the connection thread already owns again.
- ``take()`` moves the reply out of the dispatch (interception, ``@concurrent``): the master
  then does not deliver, and whoever took it delivers by calling ``ack``/``kill``, which on a
  taken reply deliver at once.
- ``abort()`` is the shutdown path: it delivers ``Kill`` whatever the state, and never raises.

A told event (no one waits) carries a ``DummyReply`` with the same methods doing nothing, so
a handler can call ``flow.reply.take()`` without knowing how it was reached.
"""
from __future__ import annotations

import enum
import threading
from typing import Any

from libmproxy import exceptions

__all__ = ["Reply", "DummyReply", "ReplyState", "PendingReplies"]


class ReplyState(enum.Enum):
    """Who holds the reply right now."""

    PENDING = "pending"  # the master's dispatch holds it
    TAKEN = "taken"  # someone outside the dispatch holds it (interception, a worker thread)
    COMMITTED = "committed"  # the asking thread has its answer


class _Kill:
    """The recorded answer of ``kill()``; turned into a raised ``Kill`` for the asker."""

    def __repr__(self) -> str:
        return "KILL"


KILL = _Kill()


class Reply:
    """The answer to one asked event about ``obj``.

    ``ack(value)`` answers with ``value``; without a value (or with None) the answer is
    ``obj`` itself, as in 0.18, so ``flow = channel.ask("request", flow)`` reads naturally.
    """

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self._lock = threading.Lock()
        # A latch: held until the answer is delivered. A bare lock, not threading.Event,
        # whose Condition costs more to make than a whole inline-handled ask.
        self._delivered = threading.Lock()
        self._delivered.acquire()
        self._state = ReplyState.PENDING
        self._answer: Any = None  # None: not chosen yet; KILL; or a 1-tuple holding the value

    def __repr__(self) -> str:
        return f"<Reply {self._state.value} answer={self._answer!r} for {self.obj!r}>"

    @property
    def state(self) -> ReplyState:
        return self._state

    @property
    def taken(self) -> bool:
        return self._state is ReplyState.TAKEN

    @property
    def acked(self) -> bool:
        """True once an answer (value or kill) has been chosen."""
        return self._answer is not None

    @property
    def done(self) -> bool:
        """True once the asking thread has been released."""
        return self._state is ReplyState.COMMITTED

    @property
    def killed(self) -> bool:
        """True once the answer chosen is Kill."""
        return self._answer is KILL

    # --- handler side ---------------------------------------------------------------------

    def take(self) -> None:
        """Keep the reply beyond the handler: the master will not deliver it."""
        with self._lock:
            if self._state is not ReplyState.PENDING or self._answer is not None:
                raise exceptions.ControlException(
                    f"cannot take a reply that is {self._state.value}"
                    + (" and already answered" if self._answer is not None else "")
                    + f": {self.obj!r}"
                )
            self._state = ReplyState.TAKEN

    def ack(self, value: Any = None) -> None:
        """Answer with ``value`` (default: the object itself)."""
        self._choose((self.obj if value is None else value,))

    def kill(self) -> None:
        """Answer with Kill: the asking thread raises ``Kill`` and drops the connection."""
        self._choose(KILL)

    def commit(self) -> None:
        """Deliver the chosen answer now (acking with the object if none was chosen)."""
        with self._lock:
            if self._state is ReplyState.COMMITTED:
                raise exceptions.ControlException(f"reply already committed: {self.obj!r}")
            self._deliver()

    def settle(self) -> None:
        """The dispatcher's last step: deliver the chosen answer (or the object), unless the
        reply was taken or has already been delivered (e.g. by shutdown)."""
        with self._lock:
            if self._state is ReplyState.PENDING:
                self._deliver()

    def _choose(self, answer: Any) -> None:
        with self._lock:
            if self._answer is not None:
                raise exceptions.ControlException(
                    f"reply already answered ({self._describe()}); "
                    f"an event is acked or killed only once: {self.obj!r}"
                )
            self._answer = answer
            if self._state is ReplyState.TAKEN:
                self._deliver()

    def _describe(self) -> str:
        return "killed" if self._answer is KILL else "acked"

    def _deliver(self) -> None:
        # Called with the lock held. No answer chosen means "go on": ack with the object.
        if self._answer is None:
            self._answer = (self.obj,)
        self._state = ReplyState.COMMITTED
        self._delivered.release()

    # --- shutdown ---------------------------------------------------------------------------

    def abort(self) -> None:
        """Release the asker with Kill unless it already has its answer. Never raises."""
        with self._lock:
            if self._state is ReplyState.COMMITTED:
                return
            self._answer = KILL
            self._deliver()

    # --- asking side --------------------------------------------------------------------------

    def wait(self) -> Any:
        """Block until delivered; return the value, or raise ``Kill``."""
        if self._state is not ReplyState.COMMITTED:
            with self._delivered:  # blocks until _deliver releases it
                pass
        if self._answer is KILL:
            raise exceptions.Kill("killed by the master")
        return self._answer[0]


class DummyReply:
    """The reply of a told event: nobody waits, so every method is a harmless no-op."""

    state = ReplyState.COMMITTED
    taken = False
    acked = False
    killed = False
    done = True

    def __repr__(self) -> str:
        return "<DummyReply>"

    def take(self) -> None:
        pass

    def ack(self, value: Any = None) -> None:
        pass

    def kill(self) -> None:
        pass

    def commit(self) -> None:
        pass

    def settle(self) -> None:
        pass

    def abort(self) -> None:
        pass


class PendingReplies:
    """The replies some thread is blocked on, so that shutdown can release them all.

    Once closed, no new reply is admitted: an ``ask`` after shutdown fails at once with Kill
    instead of waiting for a master that no longer listens. This is why no waiting thread
    polls ``should_exit``: shutdown answers every pending reply.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: set[Reply] = set()
        self._closed = False

    def add(self, reply: Reply) -> bool:
        """Register ``reply``; False if already closed (the asker should raise Kill)."""
        with self._lock:
            if self._closed:
                return False
            self._replies.add(reply)
            return True

    def discard(self, reply: Reply) -> None:
        with self._lock:
            self._replies.discard(reply)

    def __len__(self) -> int:
        with self._lock:
            return len(self._replies)

    def close(self) -> None:
        """Refuse new replies and release every registered one with Kill."""
        with self._lock:
            self._closed = True
            replies = list(self._replies)
            self._replies.clear()
        for reply in replies:
            reply.abort()

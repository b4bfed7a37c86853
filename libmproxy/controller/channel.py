"""How a connection thread talks to the master: ``ask`` (wait for the answer) or ``tell``.

A proxy thread uses it like this::

    try:
        channel.ask("request", flow)      # blocks until every handler is done with the flow
    except exceptions.Kill:
        ...                               # a handler, the user or shutdown killed it: close
    channel.tell("log", LogEntry(...))    # returns at once; the master handles it later

While ``ask`` blocks, the master (or whoever took the reply) owns the object; when it
returns, the object is the connection thread's again. A told object must not be changed by
the master's handlers: it may already be in use again by the thread that told it.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Mapping, NamedTuple

from libmproxy import exceptions
from libmproxy.controller.reply import DummyReply, PendingReplies, Reply

__all__ = ["ASK", "Channel", "Event", "EventPolicy", "SKIP", "TELL", "TELL_BACKLOG", "ToldReply"]

# What ``Channel.hook`` does with an event (the values of an EventPolicy).
ASK = "ask"  # queue it and wait for the answer: a handler may change, hold or kill it
TELL = "tell"  # queue it and go on: every handler only observes (read-only)
SKIP = "skip"  # nobody handles it: do not queue it at all
POLICY_ACTIONS = (ASK, TELL, SKIP)


# How many told events may wait for the master before a telling thread waits too, and the
# longest it waits (after that it queues anyway: a stuck master must not stop the proxy).
TELL_BACKLOG = 1000
TELL_WAIT = 1.0


class ToldReply(DummyReply):
    """The reply of a told event that holds one place of the master's backlog; the master
    frees it (``release``) once the event is handled."""

    __slots__ = ("_backlog",)

    def __init__(self, backlog: threading.Semaphore) -> None:
        self._backlog = backlog

    def release(self) -> None:
        self._backlog.release()


class Event(NamedTuple):
    """One message on the master's queue: the event name, its object and its reply.

    The reply travels next to the object (not only as ``obj.reply``) so that the master
    always delivers the answer of *this* event, whatever happened to the object since.
    """

    mtype: str
    obj: Any
    reply: Reply | DummyReply


class EventPolicy:
    """Event name -> ASK | TELL | SKIP, shared by a master and all its channels.

    The master replaces the whole table at once (``set``), so a connection thread reading
    it never sees half an update: reading one dict entry is atomic in CPython and the dict
    itself is never mutated after it is published.
    """

    def __init__(self, actions: Mapping[str, str] | None = None, default: str = ASK) -> None:
        self.default = _check_action("default", default)
        self._actions: dict[str, str] = {}
        # Which "log" entries are worth queueing, by level (None: all of them). A master
        # that would drop most entries (mitmdump -q shows only errors) says so here, so a
        # connection thread does not wake the master thread for each debug line: with ~2
        # such lines per connection that was two queue puts, two thread switches and a GIL
        # handoff each for nothing.
        self.log_filter: Callable[[str], bool] | None = None
        if actions:
            self.set(actions)

    def set(self, actions: Mapping[str, str]) -> None:
        """Replace the table. Raises ValueError naming a bad action."""
        table = {name: _check_action(name, action) for name, action in actions.items()}
        self._actions = table

    def update(self, actions: Mapping[str, str]) -> None:
        """Change some entries, keeping the others."""
        self.set({**self._actions, **actions})

    def action(self, mtype: str) -> str:
        return self._actions.get(mtype, self.default)

    def wants_log(self, level: str) -> bool:
        """Whether a "log" entry at ``level`` is to be queued at all."""
        if self._actions.get("log", self.default) == SKIP:
            return False
        log_filter = self.log_filter
        return log_filter is None or log_filter(level)

    def as_dict(self) -> dict[str, str]:
        return dict(self._actions)

    @classmethod
    def from_handlers(cls, asked: Iterable[str] = (), told: Iterable[str] = (),
                      everything_else: str = SKIP) -> EventPolicy:
        """A policy for a master whose handlers are known: ``asked`` events are asked,
        ``told`` ones (observed only) told, all others get ``everything_else``."""
        actions = {name: TELL for name in told}
        actions.update({name: ASK for name in asked})
        return cls(actions, default=everything_else)

    def __repr__(self) -> str:
        return f"<EventPolicy default={self.default} {self._actions}>"


def _check_action(name: str, action: str) -> str:
    if action not in POLICY_ACTIONS:
        raise ValueError(
            f"invalid event policy for {name!r}: {action!r} (expected one of "
            f"{', '.join(POLICY_ACTIONS)})")
    return action


class Channel:
    """The connection-thread end of the master's event queue.

    ``pending`` is the registry shutdown releases; a master shares its own with every
    channel it creates. A channel made without one still refuses to ask once
    ``should_exit`` is set, but nothing will release a thread already waiting.
    """

    def __init__(self, q: queue.Queue, should_exit: threading.Event,
                 pending: PendingReplies | None = None,
                 policy: EventPolicy | None = None,
                 backlog: threading.Semaphore | None = None, inline: Any = None) -> None:
        self.q = q
        self.inline = inline
        self.backlog = backlog
        self.should_exit = should_exit
        self.pending = PendingReplies() if pending is None else pending
        self.policy = EventPolicy() if policy is None else policy

    def ask(self, mtype: str, obj: Any) -> Any:
        """Put the event on the master's queue and block until it is answered.

        Returns the answer (the object itself unless a handler acked with another value).
        Raises ``Kill`` if the answer is Kill or the master is shutting down.
        """
        reply = Reply(obj)
        if self.should_exit.is_set() or not self.pending.add(reply):
            raise exceptions.Kill("the master is shutting down")
        try:
            inline = self.inline
            if inline is not None and inline.inline_ready:
                with inline.dispatch_lock:
                    now = not self.q.unfinished_tasks
                    if now:
                        inline.dispatch(mtype, obj, reply)
                if now:
                    return reply.wait()
            self.q.put(Event(mtype, obj, reply))
            return reply.wait()
        finally:
            self.pending.discard(reply)

    def tell(self, mtype: str, obj: Any) -> None:
        """Put the event on the master's queue and return at once, unless the master is
        ``TELL_BACKLOG`` told events behind: then wait (at most ``TELL_WAIT`` seconds) for
        it to catch up. Without that bound, a proxy faster than its master (writing every
        flow to a file) would queue flows, and memory, without limit."""
        backlog = self.backlog
        token = backlog is not None and backlog.acquire(timeout=TELL_WAIT)
        self.q.put(Event(mtype, obj, ToldReply(backlog) if token else DummyReply()))

    def hook(self, mtype: str, obj: Any) -> Any:
        """Deliver a hook event as the policy says; return what the connection goes on with.

        ASK: the master's answer (``obj`` unless a handler acked with another value), or
        ``Kill``. TELL and SKIP: ``obj`` at once; with TELL the master's handlers see the
        same object the thread keeps using, so they must only read it.
        """
        action = self.policy.action(mtype)
        if action == SKIP:
            return obj
        if action == TELL:
            self.tell(mtype, obj)
            return obj
        return self.ask(mtype, obj)

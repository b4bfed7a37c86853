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
from typing import Any, NamedTuple

from libmproxy import exceptions
from libmproxy.controller.reply import DummyReply, PendingReplies, Reply

__all__ = ["Channel", "Event"]


class Event(NamedTuple):
    """One message on the master's queue: the event name, its object and its reply.

    The reply travels next to the object (not only as ``obj.reply``) so that the master
    always delivers the answer of *this* event, whatever happened to the object since.
    """

    mtype: str
    obj: Any
    reply: Reply | DummyReply


class Channel:
    """The connection-thread end of the master's event queue.

    ``pending`` is the registry shutdown releases; a master shares its own with every
    channel it creates. A channel made without one still refuses to ask once
    ``should_exit`` is set, but nothing will release a thread already waiting.
    """

    def __init__(self, q: queue.Queue, should_exit: threading.Event,
                 pending: PendingReplies | None = None) -> None:
        self.q = q
        self.should_exit = should_exit
        self.pending = PendingReplies() if pending is None else pending

    def ask(self, mtype: str, obj: Any) -> Any:
        """Put the event on the master's queue and block until it is answered.

        Returns the answer (the object itself unless a handler acked with another value).
        Raises ``Kill`` if the answer is Kill or the master is shutting down.
        """
        reply = Reply(obj)
        if self.should_exit.is_set() or not self.pending.add(reply):
            raise exceptions.Kill("the master is shutting down")
        try:
            self.q.put(Event(mtype, obj, reply))
            return reply.wait()
        finally:
            self.pending.discard(reply)

    def tell(self, mtype: str, obj: Any) -> None:
        """Put the event on the master's queue and return at once."""
        self.q.put(Event(mtype, obj, DummyReply()))

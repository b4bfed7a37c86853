"""The master: the main thread's loop that runs every hook, one event at a time.

``run()`` blocks on one queue (no polling tick, so an idle proxy uses no CPU). Connection
threads put events on it through their ``Channel``; the master calls the handler method
named after the event, then delivers the reply unless the handler took it. Because all hook
code runs on this one thread, hooks never need locks.

An ask need not travel: when nothing is queued before it, the asking thread handles it
itself, holding ``dispatch_lock`` (``Channel.ask``). Every event is handled under that
lock, on whichever thread, so hooks still run one at a time and never need locks of their
own, and the order of events holds (an ask waits behind events still queued). This saves
two thread switches and a GIL hand-over per event, which under load were most of what a
script cost. A master whose hooks must run on its own thread (the console, whose hooks
change what the screen shows) sets ``INLINE_ASKS = False``.

Shutdown is final: it stops the servers, answers every pending reply with ``Kill`` (so no
connection thread stays blocked) and puts a sentinel on the queue so ``run()`` returns.
"""
from __future__ import annotations

import logging
import queue
import threading
import traceback
from typing import Any, Callable, Mapping, Protocol, TypeVar

from libmproxy.controller.channel import TELL_BACKLOG, Channel, Event, EventPolicy, ToldReply
from libmproxy.controller.reply import DummyReply, PendingReplies, Reply

__all__ = ["Master", "handler", "Server"]

# The attribute ``@handler`` sets; only methods carrying it are called for events, so an
# event named like an ordinary method ("run", "shutdown") can never call that method.
HANDLER_MARK = "__controller_handler__"

# The name of the thread that runs a server's accept loop (suffixed for further servers).
SERVER_THREAD_NAME = "ProxyServer"

# How long shutdown waits for a server's accept loop to end, in seconds. The loop is told
# to stop first, so this is only reached if a server misbehaves; its thread is a daemon.
SERVER_JOIN_TIMEOUT = 5.0

# ``add_event`` levels (the names the 0.18 event log used) as ``logging`` levels.
LOG_LEVELS = {
    "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
    "error": logging.ERROR,
}

# Put on the queue by shutdown to wake run() up.
_STOP = object()

log = logging.getLogger("libmproxy")

F = TypeVar("F", bound=Callable[..., Any])


def handler(f: F) -> F:
    """Mark a Master method as the handler of the event of the same name.

    The dispatcher delivers the reply after the method returns, unless the method took it
    (``obj.reply.take()``) or it was delivered otherwise; the method needs to do nothing
    about replies unless it wants to keep or kill the flow.
    """
    setattr(f, HANDLER_MARK, True)
    return f


class Server(Protocol):
    """What the master needs from a server: ``ProxyServer`` and ``DummyServer`` fit."""

    def set_channel(self, channel: Channel) -> None: ...

    def serve_forever(self) -> None: ...

    def shutdown(self) -> None: ...


class Master:
    """The base of every master (``FlowMaster``, ``DumpMaster``, the console).

    Subclasses define ``@handler`` methods named after events (``request``, ``response``,
    ``clientconnect``, ``log``, ...), each taking the event's object.
    """

    # Whether asks may be handled on the asking thread (Channel.ask). A master whose hooks
    # must run on its own thread (the console: its hooks change what the screen shows)
    # says False.
    INLINE_ASKS = True

    def __init__(self, server: Server | None = None) -> None:
        self.event_queue: queue.Queue = queue.Queue()
        self.should_exit = threading.Event()
        self.pending = PendingReplies()
        self.event_policy = EventPolicy()
        # Places for told events not yet handled (channel.TELL_BACKLOG).
        self.backlog = threading.Semaphore(TELL_BACKLOG)
        self.servers: list[Server] = []
        self._threads: list[threading.Thread] = []
        self._shutdown_lock = threading.Lock()
        # Held while any event is handled, on whatever thread: hooks still run one at a
        # time (see Channel.ask for the asks handled on their connection's thread).
        self.dispatch_lock = threading.Lock()
        # Set while run() loops: only then may a channel handle an ask on its own thread.
        self.inline_ready = False
        if server is not None:
            self.add_server(server)

    def make_channel(self) -> Channel:
        """A channel onto this master's queue, whose waiting threads shutdown releases."""
        return Channel(self.event_queue, self.should_exit, self.pending, self.event_policy,
                       self.backlog, self if self.INLINE_ASKS else None)

    def set_event_policy(self, actions: Mapping[str, str], default: str | None = None) -> None:
        """Say per event whether the proxy asks ("ask"), tells ("tell") or skips ("skip") it
        (see channel.EventPolicy); events not named get ``default`` (unchanged if None).
        Applies at once to every channel this master made, before or after."""
        if default is not None:
            self.event_policy.default = EventPolicy(default=default).default
        self.event_policy.set(actions)

    def add_server(self, server: Server) -> None:
        """Connect ``server`` to this master; ``start()`` runs its accept loop."""
        server.set_channel(self.make_channel())
        self.servers.append(server)

    # --- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run each server's ``serve_forever`` in its own named thread."""
        for server in self.servers[len(self._threads):]:
            n = len(self._threads)
            name = SERVER_THREAD_NAME if n == 0 else f"{SERVER_THREAD_NAME}-{n + 1}"
            thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def run(self) -> None:
        """Start the servers and handle events on this thread until ``shutdown()``.

        Told events still queued at shutdown are handled too: the proxy has already
        answered their clients, so their flows belong in the output and the flow file.
        """
        self.start()
        self.inline_ready = True
        try:
            while (event := self.event_queue.get()) is not _STOP:
                self._dispatch_queued(event)
        finally:
            self.inline_ready = False
            self.shutdown()
            self._drain()

    def _dispatch_queued(self, event: Event) -> None:
        reply = event.reply
        if isinstance(reply, ToldReply):
            reply.release()
        with self.dispatch_lock:
            try:
                if self.should_exit.is_set() and not isinstance(reply, DummyReply):
                    return  # an asked event: shutdown has already answered it with Kill
                self.dispatch(*event)
            finally:
                self.event_queue.task_done()

    def _drain(self) -> None:
        while True:
            try:
                event = self.event_queue.get_nowait()
            except queue.Empty:
                return
            if event is not _STOP:
                self._dispatch_queued(event)
            else:
                self.event_queue.task_done()

    def dispatch(self, mtype: str, obj: Any, reply: Reply | DummyReply | None = None
                 ) -> Reply | DummyReply:
        """Handle one event now, on this thread, and deliver its reply unless taken.

        ``run()`` calls this for each queued event; tests and tools that have no
        connection thread (loading flows from a file) may call it directly, in which case a
        fresh Reply is made so handlers can take, ack or kill as usual. Returns the reply.
        """
        if reply is None:
            reply = Reply(obj)
        try:
            obj.reply = reply
        except AttributeError:
            pass  # a plain value (a str, a tuple) cannot carry it; handlers never need it
        try:
            self.run_handler(mtype, obj)
        finally:
            reply.settle()
        return reply

    def run_handler(self, mtype: str, obj: Any) -> None:
        """Call the handler of ``mtype`` with ``obj`` if there is one; report its errors.

        An exception in a handler is logged through ``add_event`` and goes no further: a
        bad hook must never hang or kill a connection. Replies are not touched here.
        """
        method = getattr(self, mtype, None)
        if method is None:
            return
        if not getattr(method, HANDLER_MARK, False):
            self.add_event(
                f"{type(self).__name__}.{mtype} is not marked with @controller.handler; "
                f"the {mtype!r} event was not handled", "error")
            return
        try:
            method(obj)
        except Exception:
            self.add_event(
                f"error in the {mtype!r} handler of {type(self).__name__}:\n"
                + traceback.format_exc().rstrip(), "error")

    def add_event(self, e: str, level: str = "info") -> None:
        """Report something to the user. Here it goes to the ``libmproxy`` logger; masters
        with their own event log (dump output, the console's event pane) override it."""
        log.log(LOG_LEVELS.get(level, logging.INFO), e)

    def shutdown(self) -> None:
        """Stop the servers, release every waiting thread with Kill and end ``run()``.

        Safe to call from any thread and more than once.
        """
        with self._shutdown_lock:
            if self.should_exit.is_set():
                return
            self.should_exit.set()
        self.pending.close()
        for server in self.servers:
            server.shutdown()
        self.event_queue.put(_STOP)
        for thread in self._threads:
            if thread is not threading.current_thread():
                try:
                    thread.join(SERVER_JOIN_TIMEOUT)
                except RuntimeError:
                    # start() appended it but has not started it yet (shutdown from another
                    # thread right after run() began): its serve_forever returns at once,
                    # since the server's shutdown was requested above.
                    pass

    # --- interception hooks (0.18 names), called by Flow.intercept/resume/kill ----------------

    def handle_intercept(self, flow: Any) -> None:
        """A flow was intercepted. Masters with a view refresh it here."""

    def handle_accept_intercept(self, flow: Any) -> None:
        """An intercepted flow was resumed. Masters with a view refresh it here."""

    def handle_kill(self, flow: Any) -> None:
        """A flow was killed: its ``error`` is set, so the error handlers see it (as 0.18's
        ``flow.kill`` called ``master.error``)."""
        self.run_handler("error", flow)

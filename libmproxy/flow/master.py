"""FlowMaster: the master as an ordered chain of features.

Each feature is a small object shaped like an inline script: methods named after the events
it handles (``request(flow)``, ``response(flow)``, ``clientconnect(root_layer)``, ...). The
master calls them in chain order, on the master thread, one event at a time. A feature never
reaches into another; what they share is the flow.

Rules of this file:

- The master asks the proxy only for events some feature handles (``update_policy``): an
  event nobody handles is skipped by the connection thread, one whose handlers all only
  observe it (``Feature.observes``) is told, anything else is asked.
- The chain stops early when a feature decides the flow's fate: it killed or acked the
  reply, or took it (interception). Features that take replies therefore go last.
- A ``@concurrent`` handler (``handler.concurrent`` is true) runs in a thread of its own; the
  master takes the reply for it and, when the thread is done, runs the rest of the chain
  back on the master thread and only then answers the proxy.
- An exception in a feature is logged with its traceback and the chain goes on: one bad
  hook never breaks the proxy or the other features.
"""
from __future__ import annotations

import threading
import traceback
from typing import Any, Iterable

from libmproxy import controller
from libmproxy.controller import ASK, SKIP, TELL
from libmproxy.controller.reply import DummyReply, Reply, ReplyState

__all__ = ["EVENTS", "Feature", "FlowMaster"]

# Every event a proxy, a replay or a flow file can deliver, in 0.18's names.
EVENTS = (
    "clientconnect", "clientdisconnect", "serverconnect", "serverdisconnect",
    "request", "responseheaders", "response", "error",
    "tcp_open", "tcp_message", "tcp_error", "tcp_close",
    "websocket_message",
    "log",
)

# A @concurrent handler's worker thread is named after this and the event.
CONCURRENT_THREAD_NAME = "concurrent hook"

# Put on the master's queue by a finished @concurrent worker: run the rest of the chain.
_RESUME = "__resume_chain__"

# Put on the master's queue by ``call_soon``: a function to run on the master thread.
_CALL = "__call_soon__"


class Feature:
    """The optional base of a feature; any object with event methods will do.

    ``observes``: the events this feature handles read-only (printing, writing). When every
    handler of an event only observes it, the proxy tells it instead of asking, and the
    connection thread does not wait.

    ``configure(master)`` is called when the feature joins a master, ``running()`` when the
    master's loop starts (client replay begins there), ``done()`` when the master shuts
    down (scripts call their ``done`` there, files are closed).
    """

    observes: frozenset[str] = frozenset()

    def configure(self, master: FlowMaster) -> None:
        pass

    def running(self) -> None:
        pass

    def done(self) -> None:
        pass


def _handles(feature: Any, event: str) -> bool:
    return callable(getattr(feature, event, None))


class FlowMaster(controller.Master):
    """A master whose event handling is its chain of features (``self.addons``).

    Embedders subclass it, or ``controller.Master``, as the spec's FlowMaster chapter does;
    mitmdump's DumpMaster and the console build their chains from options.
    """

    def __init__(self, server: controller.Server | None = None) -> None:
        super().__init__(server)
        self.addons: list[Any] = []
        self._observers_from: dict[str, int] = {}
        self._done = False
        # Replies taken for a running @concurrent handler, until the rest of their chain ran.
        self._concurrent: set[Reply] = set()
        self.update_policy()

    # --- the chain ----------------------------------------------------------------------

    def add_feature(self, feature: Any, index: int | None = None) -> Any:
        """Add ``feature`` to the chain (at the end, or before position ``index``)."""
        if index is None:
            self.addons.append(feature)
        else:
            self.addons.insert(index, feature)
        configure = getattr(feature, "configure", None)
        if configure is not None:
            configure(self)
        self.update_policy()
        return feature

    def remove_feature(self, feature: Any) -> None:
        self.addons.remove(feature)
        self.update_policy()

    def get_feature(self, kind: type) -> Any:
        """The first feature of class ``kind`` in the chain, or None."""
        return next((f for f in self.addons if isinstance(f, kind)), None)

    def update_policy(self) -> None:
        """Tell the proxy, per event, whether to ask, tell or skip it (see module doc)."""
        actions = {}
        for event in EVENTS:
            handlers = [f for f in self.addons if _handles(f, event)]
            if not handlers:
                actions[event] = SKIP
            elif event == "log" or all(event in getattr(f, "observes", ()) for f in handlers):
                actions[event] = TELL
            else:
                actions[event] = ASK
        self.set_event_policy(actions, default=SKIP)
        # Per event, the chain position from which every handler only observes it.
        self._observers_from = {}
        for event in EVENTS:
            position = len(self.addons)
            for i in range(len(self.addons) - 1, -1, -1):
                feature = self.addons[i]
                if _handles(feature, event):
                    if event not in getattr(feature, "observes", ()):
                        break
                    position = i
            self._observers_from[event] = position

    # --- dispatch -----------------------------------------------------------------------

    def run_handler(self, mtype: str, obj: Any) -> None:
        if mtype in EVENTS:
            self.run_chain(mtype, obj, 0)
        elif mtype == _RESUME:
            mtype, obj, reply, start = obj
            self._concurrent.discard(reply)
            if not reply.done:  # shutdown may have answered it meanwhile
                self.run_chain(mtype, obj, start, reply)
        elif mtype == _CALL:
            self._safe(obj[0])
        else:
            super().run_handler(mtype, obj)

    def call_soon(self, fn: Any) -> None:
        """Run ``fn()`` on the master thread after the events already queued; its errors
        are logged. For other threads that must change what hooks see (a script's reload
        watcher): hook code only ever runs on the master thread."""
        self.event_queue.put(controller.Event(_CALL, (fn,), DummyReply()))

    def run_chain(self, mtype: str, obj: Any, start: int = 0, reply: Any = None) -> None:
        """Call ``mtype`` on each feature from position ``start``, stopping when one of them
        decided the flow's fate. ``reply`` is the event's reply when resuming after a
        @concurrent handler (then this call also delivers it)."""
        if reply is None:
            reply = getattr(obj, "reply", None)
        asked = isinstance(reply, Reply)
        # PENDING on a fresh event, TAKEN when resuming after a @concurrent handler; a
        # feature that changes it (takes the reply) or answers it ends the chain.
        state = reply.state if asked else None
        chain = self.addons
        observers_from = self._observers_from.get(mtype, len(chain))
        for i in range(start, len(chain)):
            method = getattr(chain[i], mtype, None)
            if method is None:
                continue
            if asked and i >= observers_from:
                # Only observers are left (the flow file, the printer): the connection
                # thread gets its answer now and goes on while they read the flow, as it
                # would if the event had been told.
                if state is ReplyState.PENDING:
                    reply.settle()
                elif not reply.done:
                    reply.ack()
                asked = False
            if asked and state is ReplyState.PENDING and getattr(method, "concurrent", False):
                self._run_concurrent(mtype, obj, reply, method, i + 1)
                return
            self._call(chain[i], mtype, method, obj)
            if asked and (reply.acked or reply.state is not state):
                break
        if asked and state is ReplyState.TAKEN and not reply.done:
            reply.ack()

    def _call(self, feature: Any, mtype: str, method: Any, obj: Any) -> None:
        try:
            method(obj)
        except Exception:
            self.add_event(
                f"error in the {mtype!r} handler of {type(feature).__name__}:\n"
                + traceback.format_exc().rstrip(),
                "error")

    def _run_concurrent(self, mtype: str, obj: Any, reply: Reply, method: Any,
                        next_index: int) -> None:
        """Run ``method`` on a thread; then queue the rest of the chain for this thread."""
        reply.take()
        self._concurrent.add(reply)

        def work() -> None:
            try:
                method(obj)
            except Exception:
                self.add_event(f"error in concurrent {mtype} handler:\n"
                               + traceback.format_exc().rstrip(), "error")
            if reply.done:
                return
            if self.should_exit.is_set():
                self._concurrent.discard(reply)
                reply.abort()
                return
            self.event_queue.put(controller.Event(_RESUME, (mtype, obj, reply, next_index),
                                                  DummyReply()))

        threading.Thread(target=work, name=f"{CONCURRENT_THREAD_NAME} {mtype}",
                         daemon=True).start()

    def handle_kill(self, flow: Any) -> None:
        """A flow was killed (``flow.kill(master)``): every error handler of the chain sees
        it. Its reply is already answered, so the chain runs without one (nothing it does
        could change the answer any more)."""
        self.run_chain("error", flow, 0, DummyReply())

    # --- flows that come from files instead of the proxy --------------------------------

    def load_flow(self, flow: Any) -> None:
        """Run the chain over a saved flow in the documented order: request,
        responseheaders and response if it has one, error if it has one."""
        if getattr(flow, "request", None) is not None:
            if self._dispatch_saved("request", flow):
                return
        if getattr(flow, "response", None) is not None:
            if self._dispatch_saved("responseheaders", flow):
                return
            if self._dispatch_saved("response", flow):
                return
        if getattr(flow, "error", None) is not None:
            self._dispatch_saved("error", flow)

    def _dispatch_saved(self, mtype: str, flow: Any) -> bool:
        """Dispatch one event of a saved flow; True if a feature killed it. A @concurrent
        handler is waited for (the rest of its chain runs here), so saved flows keep the
        documented event order."""
        reply = self.dispatch(mtype, flow)
        while reply in self._concurrent:
            self._dispatch_queued(self.event_queue.get())
        return reply.killed

    def load_flows(self, flows: Iterable[Any]) -> int:
        """``load_flow`` each flow; returns how many there were."""
        n = 0
        for flow in flows:
            self.load_flow(flow)
            n += 1
        return n

    # --- lifecycle ----------------------------------------------------------------------

    def run(self) -> None:
        for feature in list(self.addons):
            running = getattr(feature, "running", None)
            if running is not None:
                self._safe(running)
        try:
            super().run()
        finally:
            # A connection thread may still be inside a hook it handles itself (an inline
            # ask): the features' done waits for it, so it never runs beside a hook.
            with self.dispatch_lock:
                self.done()

    def _safe(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            self.add_event(f"error in {getattr(fn, '__qualname__', fn)}:\n"
                           + traceback.format_exc().rstrip(), "error")

    def done(self) -> None:
        """Call each feature's ``done`` once (scripts' done events, closing files)."""
        if self._done:
            return
        self._done = True
        for feature in list(self.addons):
            done = getattr(feature, "done", None)
            if done is not None:
                self._safe(done)

    # --- replaying a saved request (client replay, the console's "r") ------------------

    def replay_request(self, flow: Any, block: bool = False) -> Any:
        """Send ``flow``'s request to its server again, on a RequestReplayThread whose
        events run through this chain like a proxied flow's; returns the started thread
        (joined first if ``block``; never block on the master's own thread, which must
        stay free to answer the replay's events). The flow is backed up (so it can be
        reverted), its request marked ``is_replay``, its response and error cleared.

        Raises ReplayException, naming the reason, for a flow that cannot be replayed:
        live or intercepted (a connection still owns it), without a request, or whose
        request body was not kept.
        """
        from libmproxy.exceptions import ReplayException
        from libmproxy.flow.replay import RequestReplayThread

        if getattr(flow, "request", None) is None:
            raise ReplayException("Can't replay a flow without a request.")
        if flow.live:
            raise ReplayException("Can't replay live request.")
        if flow.intercepted:
            raise ReplayException("Can't replay while intercepting.")
        if flow.request.raw_content is None:
            raise ReplayException("Can't replay request with missing content.")
        config = next((s.config for s in self.servers
                       if getattr(s, "config", None) is not None), None)
        if config is None:
            raise ReplayException("Can't replay without a proxy configuration.")
        flow.backup()
        request = flow.request
        request.is_replay = True
        if "content-length" in request.headers:
            request.headers["content-length"] = str(len(request.raw_content))
        flow.response = None
        flow.error = None
        thread = RequestReplayThread(config, flow, self.make_channel())
        thread.start()
        if block:
            thread.join()
        return thread

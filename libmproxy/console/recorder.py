"""The console's own feature, last in the chain: it puts flows into the console's store as
they arrive, writes log entries into the event log, and holds the flows that match the
interception pattern.

Rules of this file:

- While no interception pattern is set, it only observes, so the proxy tells it its
  events and never waits for the console (``observes``). With a pattern set, requests and
  responses are asked, so a matching flow can be held: its reply is taken and the
  connection waits until the user accepts (``a``) or kills it.
- Only flows a connection waits for are held: a flow loaded from a file has no client
  to hold (``loading``), and an event whose answer is already given cannot be held.
- A flow the user deleted stays deleted when its response arrives.
"""
from __future__ import annotations

from typing import Any, Callable

from libmproxy.controller.reply import Reply, ReplyState
from libmproxy.flow.master import Feature

__all__ = ["Recorder"]

_OBSERVED = frozenset({
    "request", "response", "error", "tcp_open", "tcp_message", "tcp_error", "tcp_close",
    "websocket_message", "log",
})
# The events that are asked while an interception pattern is set.
_INTERCEPTED = frozenset({"request", "response"})


class Recorder(Feature):
    """Feeds ``master.state`` and ``master.add_event``; holds intercepted flows."""

    def __init__(self, master: Any) -> None:
        self.master = master
        self.state = master.state
        self.intercept_filter: Callable[[Any], bool] | None = None
        self.loading = False
        self.observes = _OBSERVED

    def set_intercept(self, intercept_filter: Callable[[Any], bool] | None) -> None:
        """Hold the flows matching ``intercept_filter`` (None: hold nothing). The master
        updates its event policy after this."""
        self.intercept_filter = intercept_filter
        self.observes = _OBSERVED if intercept_filter is None else _OBSERVED - _INTERCEPTED

    def _hold_if_matching(self, flow: Any) -> None:
        f = self.intercept_filter
        if f is None or self.loading:
            return
        reply = flow.reply
        if isinstance(reply, Reply) and reply.state is ReplyState.PENDING and f(flow):
            flow.intercept(self.master)

    # --- HTTP ------------------------------------------------------------------------------

    def request(self, flow: Any) -> None:
        self.state.add_flow(flow)
        self._hold_if_matching(flow)

    def response(self, flow: Any) -> None:
        if self.state.update_flow(flow):
            self._hold_if_matching(flow)

    def error(self, flow: Any) -> None:
        self.state.update_flow(flow)

    def websocket_message(self, flow: Any) -> None:
        handshake = getattr(flow, "handshake_flow", None)
        if handshake is not None:
            self.state.update_flow(handshake)

    # --- TCP -------------------------------------------------------------------------------

    def tcp_open(self, flow: Any) -> None:
        self.state.add_flow(flow)

    def tcp_message(self, flow: Any) -> None:
        self.state.update_flow(flow)

    def tcp_error(self, flow: Any) -> None:
        self.state.update_flow(flow)

    def tcp_close(self, flow: Any) -> None:
        self.state.update_flow(flow)

    # --- the event log ---------------------------------------------------------------------

    def log(self, entry: Any) -> None:
        self.master.add_event(entry.msg, getattr(entry, "level", "info"))

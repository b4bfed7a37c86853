"""The console's flow store: every flow in arrival order, the view the limit filter lets
through, and the focus.

Rules of this file:

- Built for 50,000 flows and more: adding a flow, changing one and moving the focus cost
  O(1) or O(log n); only user actions that change what the view means (a new limit, clear)
  walk all flows. Both lists stay in arrival order, so a flow's place in either is found
  by bisection on its arrival number.
- Flows are known by identity, not by ``flow.id``: a flow file loaded twice holds the same
  ids twice, and both copies must stay apart.
- The store knows nothing of urwid: listeners (``listeners``) hear about every change, with
  the flow that changed or None when the view as a whole changed; inside ``batch()`` they
  hear once, at its end (loading a file tells them once per step, not twice per flow).
- A flow removed while its client waits (intercepted) must not leave that client hanging:
  ``on_remove`` (set by the master) releases it first.
"""
from __future__ import annotations

import bisect
import contextlib
from typing import Any, Callable, Iterator

from libmproxy import collector

__all__ = ["State"]

Listener = Callable[[Any], None]


class State:
    """The flows of a console session.

    ``flows``: all flows, oldest first. ``view``: those matching the limit filter (and
    only the marked ones while ``marked_only``), in the same order. ``focus``: the index of
    the focused flow in ``view`` (None when the view is empty). ``follow``: the focus moves
    to each new flow. ``max_flows``: when set, the oldest flows are dropped beyond it
    (never one a client waits for).
    """

    def __init__(self, max_flows: int | None = None) -> None:
        self.flows: list[Any] = []
        self.view: list[Any] = []
        self.focus: int | None = None
        self.follow = False
        self.max_flows = max_flows
        self.limit_txt: str | None = None
        self.marked_only = False
        self._limit: Callable[[Any], bool] | None = None
        self._order: dict[int, int] = {}  # id(flow) -> arrival number
        self._in_view: set[int] = set()
        self._arrivals = 0
        self.listeners: list[Listener] = []
        self.on_remove: Callable[[Any], None] | None = None
        self._batching = 0
        self._batched = False
        # Every flow is kept for the session: out of the cycle collector's sight.
        self._kept = collector.Kept()

    # --- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.flows)

    def __contains__(self, flow: Any) -> bool:
        return id(flow) in self._order

    @property
    def focus_flow(self) -> Any:
        """The focused flow, or None."""
        return None if self.focus is None else self.view[self.focus]

    def index(self, flow: Any) -> int | None:
        """The position of ``flow`` in the view, or None if it is not there."""
        if id(flow) not in self._in_view:
            return None
        return self._position(self.view, flow)

    def next_flow(self, flow: Any) -> Any:
        """The flow after ``flow`` in the view, or None."""
        i = self.index(flow)
        if i is None or i + 1 >= len(self.view):
            return None
        return self.view[i + 1]

    def prev_flow(self, flow: Any) -> Any:
        """The flow before ``flow`` in the view, or None."""
        i = self.index(flow)
        if i is None or i == 0:
            return None
        return self.view[i - 1]

    def _key(self, flow: Any) -> int:
        return self._order[id(flow)]

    def _position(self, flows: list[Any], flow: Any) -> int:
        """Where ``flow`` is (or would go) in ``flows``, a list in arrival order."""
        return bisect.bisect_left(flows, self._order[id(flow)], key=self._key)

    @property
    def _filtered(self) -> bool:
        """Whether a flow's changes can move it into or out of the view."""
        return self._limit is not None or self.marked_only

    def _matches(self, flow: Any) -> bool:
        if self.marked_only and not flow.marked:
            return False
        return self._limit is None or bool(self._limit(flow))

    # --- focus -----------------------------------------------------------------------------

    def set_focus(self, index: int | None) -> None:
        """Focus the view's ``index``-th flow (clamped to the view)."""
        if not self.view or index is None:
            self.focus = None if not self.view else 0
        else:
            self.focus = max(0, min(index, len(self.view) - 1))
        self._notify(None)

    def set_focus_flow(self, flow: Any) -> bool:
        """Focus ``flow``; False (focus unchanged) if it is not in the view."""
        i = self.index(flow)
        if i is None:
            return False
        self.focus = i
        self._notify(None)
        return True

    def refresh(self) -> None:
        """Every flow may look different now (a display option changed): tell the
        listeners, so the list draws its entries anew."""
        self._notify(None)

    def set_follow(self, follow: bool) -> None:
        """Follow mode: when on, the newest flow is focused now and on every arrival."""
        self.follow = follow
        if follow and self.view:
            self.set_focus(len(self.view) - 1)

    # --- changing --------------------------------------------------------------------------

    def add_flow(self, flow: Any) -> Any:
        """Add a new flow at the end (a flow already here is only updated)."""
        if id(flow) in self._order:
            self.update_flow(flow)
            return flow
        self._order[id(flow)] = self._arrivals
        self._arrivals += 1
        self.flows.append(flow)
        self._kept.added()
        if self._matches(flow):
            self.view.append(flow)
            self._in_view.add(id(flow))
            if self.follow or self.focus is None:
                self.focus = len(self.view) - 1
        self._evict()
        self._notify(flow)
        return flow

    def update_flow(self, flow: Any) -> bool:
        """``flow`` changed: it may enter or leave the view. False if it is not here
        (deleted meanwhile: it stays deleted)."""
        if id(flow) not in self._order:
            return False
        if self._filtered:
            shown = id(flow) in self._in_view
            if self._matches(flow) != shown:
                if shown:
                    self._remove_from_view(flow)
                else:
                    self._insert_into_view(flow)
                self._notify(None)
                return True
        self._notify(flow)
        return True

    def delete_flow(self, flow: Any) -> None:
        """Remove ``flow`` (releasing a client that waits for it, see ``on_remove``)."""
        if id(flow) not in self._order:
            return
        self._forget(flow)
        self._notify(None)

    def duplicate_flow(self, flow: Any) -> Any:
        """A copy of ``flow`` (new id, not intercepted), added at the end."""
        return self.add_flow(flow.copy())

    def clear(self) -> None:
        """Remove every flow except the intercepted ones, which wait for the user's
        decision (accept or kill) and would otherwise leave their clients hanging."""
        kept = [f for f in self.flows if f.intercepted]
        for flow in self.flows:
            if not flow.intercepted:
                self._release(flow)
        self.flows = kept
        self._order = {id(f): self._order[id(f)] for f in kept}
        self._rebuild_view(None)

    def set_limit(self, filtstr: str | None) -> None:
        """Show only the flows matching the filter expression ``filtstr`` (None or empty:
        all). Raises ValueError, with the parser's message, for a bad expression; the
        view is then unchanged. The focused flow stays focused if it is still shown."""
        limit = None
        if filtstr:
            from libmproxy import filt
            limit = filt.parse(filtstr)
        focused = self.focus_flow
        self._limit = limit
        self.limit_txt = filtstr or None
        self._rebuild_view(focused)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Changes made inside tell the listeners once, at the end, that the view changed."""
        self._batching += 1
        try:
            yield
        finally:
            self._batching -= 1
            if not self._batching and self._batched:
                self._batched = False
                self._notify(None)

    def set_marked_only(self, marked_only: bool) -> None:
        """Show only the marked flows (``M``), within the limit; the focused flow stays
        focused if it is still shown."""
        focused = self.focus_flow
        self.marked_only = marked_only
        self._rebuild_view(focused)

    def unmark_all(self) -> None:
        """Unmark every flow (``U``)."""
        for flow in self.flows:
            flow.marked = False
        if self.marked_only:
            self._rebuild_view(self.focus_flow)
        else:
            self._notify(None)

    # --- internals -------------------------------------------------------------------------

    def _rebuild_view(self, focused: Any) -> None:
        """Recompute the view from ``flows`` and put the focus back on ``focused`` if it is
        shown, else on the nearest flow after it."""
        self.view = [f for f in self.flows if self._matches(f)]
        self._in_view = {id(f) for f in self.view}
        if not self.view:
            self.focus = None
        elif focused is None or id(focused) not in self._order:
            self.focus = len(self.view) - 1 if self.follow else 0
        else:
            self.focus = min(self._position(self.view, focused), len(self.view) - 1)
        self._notify(None)

    def _insert_into_view(self, flow: Any) -> None:
        i = self._position(self.view, flow)
        self.view.insert(i, flow)
        self._in_view.add(id(flow))
        if self.focus is None:
            self.focus = i
        elif i <= self.focus:
            self.focus += 1

    def _remove_from_view(self, flow: Any) -> None:
        i = self._position(self.view, flow)
        del self.view[i]
        self._in_view.discard(id(flow))
        if not self.view:
            self.focus = None
        elif self.focus is not None and (i < self.focus or self.focus >= len(self.view)):
            self.focus -= 1

    def _release(self, flow: Any) -> None:
        if self.on_remove is not None:
            self.on_remove(flow)
        self._kept.removed()

    def _forget(self, flow: Any) -> None:
        self._release(flow)
        if id(flow) in self._in_view:
            self._remove_from_view(flow)
        del self.flows[self._position(self.flows, flow)]
        del self._order[id(flow)]

    def _evict(self) -> None:
        """Drop the oldest flows beyond ``max_flows``, skipping those a client waits for."""
        if self.max_flows is None:
            return
        excess = len(self.flows) - self.max_flows
        i = 0
        while excess > 0 and i < len(self.flows):
            flow = self.flows[i]
            if flow.intercepted or getattr(flow, "killable", False):
                i += 1
                continue
            self._forget(flow)
            excess -= 1

    def _notify(self, flow: Any) -> None:
        if self._batching:
            self._batched = True
            return
        for listener in self.listeners:
            listener(flow)

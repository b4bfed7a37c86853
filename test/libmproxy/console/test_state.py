"""The console's flow store: arrival order, the limit view, focus, follow, the cap, and a
session of 50,000 flows."""
from __future__ import annotations

import pytest

from libmproxy.console.state import State

MANY = 50_000


@pytest.fixture
def flows(make_flow):
    """Ten flows /0 ... /9, the odd ones answered 404."""
    return [make_flow(f"/{i}", status=404 if i % 2 else 200) for i in range(10)]


def paths(flows):
    return [f.request.path for f in flows]


def test_flows_keep_arrival_order_and_the_focus_starts_on_the_first(flows):
    state = State()
    for f in flows:
        state.add_flow(f)
    assert state.flows == flows and state.view == flows
    assert state.focus == 0 and state.focus_flow is flows[0]


def test_follow_focuses_each_new_flow(flows):
    state = State()
    state.add_flow(flows[0])
    state.add_flow(flows[1])
    state.set_follow(True)
    assert state.focus_flow is flows[1]
    state.add_flow(flows[2])
    assert state.focus_flow is flows[2]
    state.set_follow(False)
    state.add_flow(flows[3])
    assert state.focus_flow is flows[2]


def test_limit_filters_the_view_and_keeps_the_focused_flow(flows):
    state = State()
    for f in flows:
        state.add_flow(f)
    state.set_focus_flow(flows[3])
    state.set_limit("~c 404")
    assert paths(state.view) == ["/1", "/3", "/5", "/7", "/9"]
    assert state.focus_flow is flows[3]
    assert state.flows == flows  # nothing is lost
    state.set_limit(None)
    assert state.view == flows and state.focus_flow is flows[3]


def test_a_bad_limit_is_refused_and_changes_nothing(flows):
    state = State()
    for f in flows:
        state.add_flow(f)
    state.set_limit("~c 404")
    with pytest.raises(ValueError):
        state.set_limit("~nonsense")
    assert state.limit_txt == "~c 404" and len(state.view) == 5


def test_a_flow_enters_the_view_when_it_starts_to_match(make_flow):
    state = State()
    state.set_limit("~s")  # flows with a response
    waiting = make_flow("/waiting", status=None)
    done = make_flow("/done")
    state.add_flow(waiting)
    state.add_flow(done)
    assert state.view == [done]
    later = make_flow("/later", status=None)
    state.add_flow(later)
    waiting.response = done.response
    assert state.update_flow(waiting)
    assert state.view == [waiting, done]  # in arrival order, not update order
    assert state.focus_flow is done


def test_delete_moves_the_focus_to_the_next_flow(flows):
    state = State()
    for f in flows[:3]:
        state.add_flow(f)
    state.set_focus_flow(flows[1])
    state.delete_flow(flows[1])
    assert state.focus_flow is flows[2]
    state.delete_flow(flows[2])
    assert state.focus_flow is flows[0]
    state.delete_flow(flows[0])
    assert state.focus is None and state.view == []
    assert not state.update_flow(flows[0])  # a deleted flow stays deleted


def test_removed_flows_are_released(flows):
    """Whoever removes a flow, its waiting client is released (on_remove)."""
    released = []
    state = State()
    state.on_remove = released.append
    for f in flows[:3]:
        state.add_flow(f)
    state.delete_flow(flows[0])
    assert released == [flows[0]]


def test_clear_keeps_intercepted_flows(flows):
    state = State()
    for f in flows[:3]:
        state.add_flow(f)
    flows[1].intercepted = True
    state.clear()
    assert state.flows == [flows[1]] and state.focus_flow is flows[1]


def test_duplicate_adds_a_copy_at_the_end(flows):
    state = State()
    state.add_flow(flows[0])
    state.add_flow(flows[1])
    copy = state.duplicate_flow(flows[0])
    assert state.flows == [flows[0], flows[1], copy]
    assert copy is not flows[0] and copy.id != flows[0].id
    assert copy.request.path == "/0"


def test_the_same_saved_flow_twice_is_two_flows(flows):
    """Loading a file twice gives flows with equal ids: both are kept and shown."""
    state = State()
    twin = flows[0].copy()
    twin.id = flows[0].id
    state.add_flow(flows[0])
    state.add_flow(twin)
    assert len(state.view) == 2
    state.delete_flow(twin)
    assert state.flows == [flows[0]]


def test_neighbours_in_the_view(flows):
    state = State()
    for f in flows:
        state.add_flow(f)
    state.set_limit("~c 200")
    assert state.next_flow(flows[0]) is flows[2]
    assert state.prev_flow(flows[2]) is flows[0]
    assert state.prev_flow(flows[0]) is None and state.next_flow(flows[8]) is None
    assert state.next_flow(flows[1]) is None  # not in the view


def test_the_cap_drops_the_oldest_flows_but_not_intercepted_ones(flows):
    state = State(max_flows=3)
    flows[0].intercepted = True
    for f in flows[:5]:
        state.add_flow(f)
    assert state.flows == [flows[0], flows[3], flows[4]]


def test_listeners_hear_of_each_flow_alone(flows):
    """Adding or changing one flow names that flow: the list redraws one entry, not all."""
    heard = []
    state = State()
    state.listeners.append(heard.append)
    state.add_flow(flows[0])
    state.update_flow(flows[0])
    assert heard == [flows[0], flows[0]]


def test_a_batch_is_heard_once(flows):
    """Loading a file: the listeners hear once that the view changed, not per flow."""
    heard = []
    state = State()
    state.listeners.append(heard.append)
    with state.batch():
        for f in flows:
            state.add_flow(f)
        with state.batch():
            state.delete_flow(flows[0])
        assert heard == []
    assert heard == [None] and state.flows == flows[1:]
    with state.batch():
        pass  # nothing changed: nothing to hear
    assert heard == [None]


def test_only_the_marked_flows_within_the_limit(flows):
    state = State()
    for f in flows:
        state.add_flow(f)
    for i in (1, 2, 3):
        flows[i].marked = True
    state.set_limit("~c 404")
    state.set_focus_flow(flows[3])
    state.set_marked_only(True)
    assert paths(state.view) == ["/1", "/3"] and state.focus_flow is flows[3]
    flows[5].marked = True  # marking a flow brings it in
    state.update_flow(flows[5])
    assert paths(state.view) == ["/1", "/3", "/5"]
    flows[3].marked = False  # unmarking takes it out; the focus moves on
    state.update_flow(flows[3])
    assert paths(state.view) == ["/1", "/5"] and state.focus_flow is flows[5]
    state.unmark_all()
    assert state.view == [] and state.focus is None
    state.set_marked_only(False)
    assert paths(state.view) == ["/1", "/3", "/5", "/7", "/9"]


def test_fifty_thousand_flows(make_flow):
    state = State()
    many = [make_flow(f"/{i}", status=404 if i % 10 == 0 else 200) for i in range(MANY)]
    for f in many:
        state.add_flow(f)
    assert len(state.view) == MANY and state.focus == 0
    state.set_focus(MANY - 1)
    assert state.focus_flow is many[-1]
    assert state.prev_flow(many[-1]) is many[-2]
    state.set_limit("~c 404")
    assert len(state.view) == MANY // 10
    assert state.focus_flow is many[-10]  # the nearest shown flow before it is gone
    assert state.set_focus_flow(many[25_000])
    assert state.next_flow(many[25_000]) is many[25_010]
    state.delete_flow(many[25_000])
    assert state.focus_flow is many[25_010]
    state.set_follow(True)
    newest = make_flow("/newest", status=404)
    state.add_flow(newest)
    assert state.focus_flow is newest and len(state.flows) == MANY


def test_kept_flows_leave_the_collectors_sight_and_deleted_ones_are_still_collected(
        make_flow, monkeypatch):
    """Every FREEZE_STEP flows the store's objects are frozen (no full collection scans
    them again); deleting thaws them, so a deleted flow in a reference cycle is still
    freed by the collector."""
    import gc
    import weakref

    from libmproxy import collector

    monkeypatch.setattr(collector, "FREEZE_STEP", 3)
    gc.unfreeze()
    state = State()
    flows = [make_flow(f"/{i}") for i in range(3)]
    for f in flows[:2]:
        state.add_flow(f)
    assert gc.get_freeze_count() == 0
    state.add_flow(flows[2])
    assert gc.get_freeze_count() > 0
    doomed = flows[0]
    doomed.cycle = doomed  # a flow only the collector can free once dropped
    gone = weakref.ref(doomed)
    state.delete_flow(doomed)
    del doomed, flows
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gone() is None

"""The channel's event policy on its own: what hook() does for ask, tell and skip."""
from __future__ import annotations

import queue
import threading

import pytest

from libmproxy import controller, exceptions
from libmproxy.controller import ASK, SKIP, TELL, Channel, EventPolicy


def make_channel(policy: EventPolicy) -> tuple[Channel, queue.Queue, threading.Event]:
    q: queue.Queue = queue.Queue()
    should_exit = threading.Event()
    return Channel(q, should_exit, policy=policy), q, should_exit


def test_skip_does_not_queue():
    channel, q, _ = make_channel(EventPolicy({"request": SKIP}))
    obj = object()
    assert channel.hook("request", obj) is obj
    assert q.empty()


def test_tell_queues_without_waiting():
    channel, q, _ = make_channel(EventPolicy({"response": TELL}))
    obj = object()
    assert channel.hook("response", obj) is obj
    event = q.get_nowait()
    assert (event.mtype, event.obj) == ("response", obj)
    assert event.reply.done  # a DummyReply: nobody waits for it


def test_ask_is_the_default_and_waits_for_the_answer():
    channel, q, _ = make_channel(EventPolicy())
    answers = []
    asker = threading.Thread(target=lambda: answers.append(channel.hook("x", "obj")),
                             name="asker")
    asker.start()
    event = q.get(timeout=10)
    event.reply.ack("changed")
    event.reply.commit()
    asker.join(10)
    assert answers == ["changed"]


def test_ask_after_shutdown_is_kill():
    channel, _, should_exit = make_channel(EventPolicy())
    should_exit.set()
    with pytest.raises(exceptions.Kill):
        channel.hook("request", object())


def test_policy_tables():
    policy = EventPolicy.from_handlers(asked=["request"], told=["response", "request"])
    assert policy.action("request") == ASK  # asked wins over told
    assert policy.action("response") == TELL
    assert policy.action("error") == SKIP
    policy.update({"error": ASK})
    assert policy.as_dict() == {"request": ASK, "response": TELL, "error": ASK}
    assert "default=skip" in repr(policy)
    with pytest.raises(ValueError, match="'maybe'"):
        EventPolicy(default="maybe")


def test_master_policy_reaches_existing_channels():
    master = controller.Master()
    channel = master.make_channel()
    master.set_event_policy({"request": SKIP}, default=TELL)
    assert channel.policy.action("request") == SKIP
    assert channel.policy.action("anything") == TELL

"""libmproxy.collector: pausing the cycle collector, and keeping a store's objects out of
its sight (freezing) without losing what the store drops."""
from __future__ import annotations

import gc

import pytest

from libmproxy import collector


@pytest.fixture(autouse=True)
def thawed():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_paused_turns_the_collector_off_and_on_again():
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with collector.paused(kept=True):
        kept = [[i] for i in range(100)]
    assert gc.isenabled() and gc.get_freeze_count() >= len(kept)


def test_paused_leaves_a_collector_that_was_off_alone():
    gc.disable()
    try:
        with collector.paused(kept=True):
            pass
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_kept_freezes_every_step_and_thaws_on_removal():
    kept = collector.Kept(step=4)
    for _ in range(3):
        kept.added()
    assert gc.get_freeze_count() == 0
    kept.added()
    assert gc.get_freeze_count() > 0
    kept.removed()
    assert gc.get_freeze_count() == 0


def test_kept_does_not_freeze_while_the_collector_is_off():
    kept = collector.Kept(step=1)
    with collector.paused():
        kept.added()
    assert gc.get_freeze_count() == 0

"""Fixtures shared by the whole suite."""
import threading
from typing import Iterator

import pytest

# How long a thread that a test started may take to end after the test; only reached when
# something is wrong (a thread that is still alive then is a leak).
THREAD_END_WAIT = 10.0


@pytest.fixture
def no_thread_leaks() -> Iterator[None]:
    """Fail the test if a thread it started is still alive after it (DESIGN.md: every
    thread ends when its connection or server ends). Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("no_thread_leaks")`` or an autouse wrapper."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before]
    for thread in leaked:
        thread.join(THREAD_END_WAIT)
    alive = [t.name for t in leaked if t.is_alive()]
    assert not alive, f"threads left behind: {alive}"

"""Every test here must leave no thread behind (DESIGN.md, thread hygiene)."""
import pytest


@pytest.fixture(autouse=True)
def _no_thread_leaks(no_thread_leaks):
    yield

"""A flow's communication error, as distinct from an HTTP error response."""
from __future__ import annotations

import time

from libmproxy.stateobject import StateObject

__all__ = ["Error"]


class Error(StateObject):
    """Something went wrong outside normal protocol communication: an interrupted
    connection, a timeout, a protocol error, or the user killing the flow.

    A server's "500 Internal Server Error" is a normal response, not an Error.
    """

    # The message of a flow killed by the user or a script (``Flow.kill``).
    KILLED_MESSAGE = "Connection killed"

    _stateobject_attributes = dict(msg=str, timestamp=float)

    def __init__(self, msg: str, timestamp: float | None = None) -> None:
        self.msg = msg
        self.timestamp = time.time() if timestamp is None else timestamp

    def __str__(self) -> str:
        return self.msg

    def __repr__(self) -> str:
        return f"Error({self.msg!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Error):
            return NotImplemented
        return self.get_state() == other.get_state()

    __hash__ = None  # mutable

"""A raw TCP flow (``--tcp`` hosts, ignored hosts with stream inspection) and its messages."""
from __future__ import annotations

import time
from typing import Any

from libmproxy.models.connections import ClientConnection, ServerConnection
from libmproxy.models.flow import Flow

__all__ = ["TCPFlow", "TCPMessage"]


class TCPMessage:
    """One chunk of payload as it arrived from one side. Scripts may change ``content``
    in the ``tcp_message`` event before it is forwarded.

    Saved as the triple ``[from_client, content, timestamp]``, as 0.18 and today's
    mitmproxy write it.
    """

    def __init__(self, from_client: bool, content: bytes, timestamp: float | None = None
                 ) -> None:
        self.from_client = from_client
        self.content = content
        self.timestamp = time.time() if timestamp is None else timestamp

    def get_state(self) -> list[Any]:
        return [self.from_client, self.content, self.timestamp]

    def set_state(self, state: list[Any]) -> None:
        self.from_client, self.content, self.timestamp = state

    @classmethod
    def from_state(cls, state: list[Any]) -> TCPMessage:
        from_client, content, timestamp = state
        return cls(from_client, content, timestamp)

    def copy(self) -> TCPMessage:
        return TCPMessage(self.from_client, self.content, self.timestamp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TCPMessage):
            return NotImplemented
        return self.get_state() == other.get_state()

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        direction = "->" if self.from_client else "<-"
        return f"<TCPMessage {direction} {self.content!r}>"


class TCPFlow(Flow):
    """A TCP connection's payloads, in order, both directions in one list."""

    _stateobject_attributes = dict(Flow._stateobject_attributes, messages=[TCPMessage])

    def __init__(self, client_conn: ClientConnection | None,
                 server_conn: ServerConnection | None, live: Any = None) -> None:
        super().__init__("tcp", client_conn, server_conn, live)
        self.messages: list[TCPMessage] = []

    def __repr__(self) -> str:
        return f"<TCPFlow ({len(self.messages)} messages)>"

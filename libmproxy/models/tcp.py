"""A raw TCP flow (``--tcp`` hosts, ignored hosts with stream inspection) and its messages.

Also the flow "as of one message" (``snapshot``) that the ``tcp_message`` and
``websocket_message`` events hand over: the connection thread goes on appending messages
while the master's handlers look at an earlier one.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from libmproxy.models.connections import ClientConnection, ServerConnection
from libmproxy.models.flow import Flow

__all__ = ["MessagesSoFar", "TCPFlow", "TCPMessage", "snapshot"]

F = TypeVar("F", bound=Flow)


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
    """A TCP connection's payloads, in order, both directions in one list.

    The ``tcp_message`` event hands over the flow with the payload just received last
    (``flow.messages[-1]``). The same object is the spec's ``TcpMessage``
    (``tcp_message(context, tcp_msg)``), so scripts written either way run unchanged:

    - ``message``: that payload (bytes); assigning it changes what the other side gets,
      exactly as assigning ``flow.messages[-1].content`` does;
    - ``sender`` / ``receiver``: the connections it comes from and goes to, each
      ``client_conn`` or ``server_conn`` (``tcp_msg.sender == tcp_msg.client_conn``: it
      goes to the server).

    All three are None while the flow has no message yet.

    What an event hands over is a ``snapshot`` of the connection's flow (same id,
    connections and message objects), so a handler that keeps it finds its own message
    last even after later ones arrived.
    """

    _stateobject_attributes = dict(Flow._stateobject_attributes, messages=[TCPMessage])

    def __init__(self, client_conn: ClientConnection | None,
                 server_conn: ServerConnection | None, live: Any = None) -> None:
        super().__init__("tcp", client_conn, server_conn, live)
        self.messages: list[TCPMessage] = []

    def __repr__(self) -> str:
        return f"<TCPFlow ({len(self.messages)} messages)>"

    # --- the spec's TcpMessage -------------------------------------------------------------

    @property
    def message(self) -> bytes | None:
        return self.messages[-1].content if self.messages else None

    @message.setter
    def message(self, content: bytes) -> None:
        if not self.messages:
            raise ValueError("this TCP flow has no message yet to change")
        self.messages[-1].content = content

    @property
    def sender(self) -> ClientConnection | ServerConnection | None:
        if not self.messages:
            return None
        return self.client_conn if self.messages[-1].from_client else self.server_conn

    @property
    def receiver(self) -> ClientConnection | ServerConnection | None:
        if not self.messages:
            return None
        return self.server_conn if self.messages[-1].from_client else self.client_conn


class MessagesSoFar(Sequence):
    """The first ``length`` items of a list that goes on growing: what a hook sees as
    ``flow.messages``, so that ``[-1]`` stays its message while the connection thread
    appends the next ones. A view, not a copy: one per message, however long the
    connection (a raw TCP relay of a big transfer makes thousands)."""

    __slots__ = ("_items", "_length")

    def __init__(self, items: list[Any], length: int) -> None:
        self._items = items
        self._length = length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self._items[:self._length][index]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("message index out of range")
        return self._items[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # compares by content, like the list it stands for

    def copy(self) -> list[Any]:
        """A list of copies of the messages: ``flow.copy()`` of a snapshot is a flow of
        its own, as the copy of any flow is."""
        return [message.copy() for message in self]

    def __repr__(self) -> str:
        return f"<MessagesSoFar {self._length} of {len(self._items)}>"


def snapshot(flow: F) -> F:
    """``flow`` as of now, for a hook: a shallow copy (same id, connections and message
    objects) whose ``messages`` end with the last message so far. Changes to that
    message's content are seen by the connection thread; the copy itself costs the same
    whatever the number of messages."""
    view = copy.copy(flow)
    view.messages = MessagesSoFar(flow.messages, len(flow.messages))  # type: ignore
    return view

"""A WebSocket connection after its handshake, and its messages (RFC 6455).

Shaped like the TCP flow model: ``flow.messages`` lists every complete message of the
connection, both directions in order, and the ``websocket_message`` event hands the flow
over with the new message last (``flow.messages[-1]``). A script that is asked the event
may change that message's ``content`` (or ``type``) before it is forwarded.

``handshake_flow`` is the HTTPFlow of the Upgrade request and its 101 answer, which went
through the request and response events (and into a ``-w`` flow file) like any HTTP flow.

Not saved: the 0.18 flow-file layout we write has no WebSocket flows, and a file holding
one could not be read back by 0.18 tools or by our reader. ``get_state`` (the flow-file
form) refuses with FlowWriteException, so a script handing one to a FlowWriter learns why
instead of writing a file nobody can open; copying, backup and revert work as for any flow.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from libmproxy.exceptions import FlowWriteException
from libmproxy.models.connections import ClientConnection, ServerConnection
from libmproxy.models.flow import Flow

if TYPE_CHECKING:  # pragma: no cover
    from libmproxy.models.http import HTTPFlow

__all__ = ["WebSocketFlow", "WebSocketMessage", "MESSAGE_TYPES"]

# The two kinds of data message (RFC 6455 section 5.6), as scripts name them.
MESSAGE_TYPES = ("text", "binary")

# How text payloads become ``str`` and back. A text message must be UTF-8; one that is not
# still round-trips byte for byte (the receiving endpoint, not the proxy, judges it).
TEXT_ENCODING = "utf-8"
TEXT_ERRORS = "surrogateescape"


class WebSocketMessage:
    """One complete data message, reassembled from its frames.

    ``type`` is "text" or "binary"; ``content`` is a ``str`` for text and ``bytes`` for
    binary messages (a script may assign either kind to either type: text is sent as
    UTF-8). ``payload`` is what goes on the wire.
    """

    def __init__(self, type: str, from_client: bool, content: str | bytes,
                 timestamp: float | None = None) -> None:
        if type not in MESSAGE_TYPES:
            raise ValueError(f"invalid WebSocket message type {type!r}: expected "
                             f"{' or '.join(MESSAGE_TYPES)}")
        self.type = type
        self.from_client = from_client
        self.content = content
        self.timestamp = time.time() if timestamp is None else timestamp

    @classmethod
    def from_payload(cls, type: str, from_client: bool, payload: bytes,
                     timestamp: float | None = None) -> WebSocketMessage:
        """The message whose wire payload is ``payload`` (text is decoded)."""
        content: str | bytes = payload
        if type == "text":
            content = payload.decode(TEXT_ENCODING, TEXT_ERRORS)
        return cls(type, from_client, content, timestamp)

    @property
    def is_text(self) -> bool:
        return self.type == "text"

    @property
    def payload(self) -> bytes:
        """The content as bytes on the wire."""
        content = self.content
        if isinstance(content, str):
            return content.encode(TEXT_ENCODING, TEXT_ERRORS)
        return bytes(content)

    def get_state(self) -> list[Any]:
        return [self.type, self.from_client, self.payload, self.timestamp]

    def set_state(self, state: list[Any]) -> None:
        loaded = self.from_state(state)
        self.__dict__.update(loaded.__dict__)

    @classmethod
    def from_state(cls, state: list[Any]) -> WebSocketMessage:
        type, from_client, payload, timestamp = state
        return cls.from_payload(type, from_client, payload, timestamp)

    def copy(self) -> WebSocketMessage:
        return WebSocketMessage(self.type, self.from_client, self.content, self.timestamp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WebSocketMessage):
            return NotImplemented
        return self.get_state() == other.get_state()

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        direction = "->" if self.from_client else "<-"
        return f"<WebSocketMessage {direction} {self.type} {self.content!r}>"


class WebSocketFlow(Flow):
    """The messages of one WebSocket connection and how it ended.

    ``close_code``/``close_reason`` are those of the first Close frame (None while open,
    or if the connection ended without one); ``close_sender`` says who sent it, "client"
    or "server". ``error`` is set when the connection failed (a protocol violation, a
    connection lost without a close handshake).
    """

    _stateobject_attributes = dict(
        Flow._stateobject_attributes, messages=[WebSocketMessage], close_code=int,
        close_reason=str, close_sender=str)

    # A link to the handshake, not part of the flow's own state (see module doc).
    handshake_flow: HTTPFlow | None = None

    def __init__(self, client_conn: ClientConnection | None,
                 server_conn: ServerConnection | None, handshake_flow: HTTPFlow | None = None,
                 live: Any = None) -> None:
        super().__init__("websocket", client_conn, server_conn, live)
        self.handshake_flow = handshake_flow
        self.messages: list[WebSocketMessage] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.close_sender: str | None = None

    def get_state(self) -> dict[str, Any]:
        raise FlowWriteException(
            "WebSocket flows are not saved: the 0.18 flow format has none (the handshake "
            "is saved as an HTTP flow)")

    def __repr__(self) -> str:
        return f"<WebSocketFlow ({len(self.messages)} messages)>"

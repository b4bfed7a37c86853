"""What rendering a spec needs to know about its surroundings.

A spec is text; its bytes depend on where it is served: the static directory that file
values read from, the Host a request goes to, the key of the websocket handshake being
answered, whether frames are sent by a client (and must be masked), and for HTTP/2 the
connection's stream ids. The server and the client build one Settings per connection.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any

__all__ = ["Settings"]


@dataclasses.dataclass
class Settings:
    """
    is_client: we are pathoc; websocket frames get a mask and a key by default.
    staticdir: the directory file values and ``+`` includes read from; None disables them.
    unconstrained_file_access: file paths may leave ``staticdir`` (pathoc, trusted user).
    request_host: the Host header a request gets when its spec sets none.
    websocket_key: the client's Sec-WebSocket-Key; a ``ws`` request sends it (a fresh one
        when None) and a ``ws`` response answers it (required there).
    protocol: None for HTTP/1; for HTTP/2 an object with ``next_stream_id()`` (and an
        optional ``max_frame_size``), e.g. ``libpathod.language.http2.Http2Framing``.
    stop_event: set it to cut short pauses in ``serve`` (a pause forever included), e.g.
        when a server shuts down; the interrupted serve stops writing and asks for a
        disconnect.
    """

    is_client: bool = False
    staticdir: str | None = None
    unconstrained_file_access: bool = False
    request_host: str | None = None
    websocket_key: str | bytes | None = None
    protocol: Any = None
    stop_event: threading.Event | None = None

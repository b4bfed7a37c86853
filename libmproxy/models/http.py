"""HTTP flows and mitmproxy's thin layer over netlib's Request and Response.

``HTTPRequest``/``HTTPResponse`` add only what the proxy tracks about a message beyond its
content: whether it was replayed, whether sticky cookies/auth were applied, whether a
response is streamed. ``wrap`` adopts a netlib message without copying it, because the
HTTP/1 reader builds one per message on the hot path.
"""
from __future__ import annotations

import html
import time
from typing import Any, Callable, Mapping

from netlib.http import Headers, Request, Response, status_codes
from netlib.tcp.address import Address

from libmproxy.models.connections import ClientConnection, ServerConnection
from libmproxy.models.flow import Flow

__all__ = [
    "HTTPFlow", "HTTPRequest", "HTTPResponse", "make_error_response", "make_connect_request",
    "make_connect_response", "expect_continue_response",
]

# The reason phrase of a successful CONNECT, as proxies conventionally send it.
CONNECT_ESTABLISHED_REASON = "Connection established"


class HTTPRequest(Request):
    """A request as the proxy sees it: a netlib ``Request`` plus replay and sticky flags.

    Its state is netlib's plus ``is_replay``, ``stickycookie`` and ``stickyauth`` (the
    0.18 flow-file layout).
    """

    # Saved next to netlib's fields, with their defaults.
    _extra_state = {"is_replay": False, "stickycookie": False, "stickyauth": False}

    def __init__(self, first_line_format: str, method: str | bytes,
                 scheme: str | bytes | None, host: str | bytes | None, port: int | None,
                 path: str | bytes, http_version: str | bytes, headers: Any,
                 content: bytes | None, timestamp_start: float | None = None,
                 timestamp_end: float | None = None, is_replay: bool = False,
                 stickycookie: bool = False, stickyauth: bool = False) -> None:
        super().__init__(first_line_format, method, scheme, host, port, path, http_version,
                         headers, content, timestamp_start, timestamp_end)
        self.is_replay = is_replay
        self.stickycookie = stickycookie
        self.stickyauth = stickyauth

    @classmethod
    def wrap(cls, request: Request) -> HTTPRequest:
        """An HTTPRequest sharing the fields of ``request`` (no copy)."""
        new = cls.__new__(cls)
        new.data = request.data
        new.__dict__.update(cls._extra_state)
        return new

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        for name in self._extra_state:
            state[name] = getattr(self, name)
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        loaded = type(self).from_state(state)
        self.data = loaded.data
        for name in self._extra_state:
            setattr(self, name, getattr(loaded, name))

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> HTTPRequest:
        state = dict(state)
        missing = sorted(set(cls._extra_state) - set(state))
        if missing:
            raise ValueError(f"invalid {cls.__name__} state: missing {missing}")
        extras = {name: state.pop(name) for name in cls._extra_state}
        request = super().from_state(state)
        request.__dict__.update(extras)
        return request


class HTTPResponse(Response):
    """A response as the proxy sees it: a netlib ``Response`` plus ``is_replay`` and
    ``stream``.

    ``stream`` is set by a ``responseheaders`` script: True relays the body chunk by chunk
    without keeping it; a callable also rewrites each chunk. Neither is saved (the 0.18
    flow-file layout has netlib's fields only).
    """

    def __init__(self, http_version: str | bytes, status_code: int,
                 reason: str | bytes | None, headers: Any, content: bytes | None,
                 timestamp_start: float | None = None, timestamp_end: float | None = None,
                 is_replay: bool = False) -> None:
        super().__init__(http_version, status_code, reason, headers, content,
                         timestamp_start, timestamp_end)
        self.is_replay = is_replay
        self.stream: bool | Callable[..., Any] = False

    @classmethod
    def wrap(cls, response: Response) -> HTTPResponse:
        """An HTTPResponse sharing the fields of ``response`` (no copy)."""
        new = cls.__new__(cls)
        new.data = response.data
        new.is_replay = False
        new.stream = False
        return new


class HTTPFlow(Flow):
    """A single HTTP transaction: request, response (if any) and error (if any).

    A flow may have both a response and an error: the response arrived, but sending it on
    to the client failed.
    """

    _stateobject_attributes = dict(
        Flow._stateobject_attributes, request=HTTPRequest, response=HTTPResponse,
    )

    def __init__(self, client_conn: ClientConnection | None,
                 server_conn: ServerConnection | None, live: Any = None) -> None:
        super().__init__("http", client_conn, server_conn, live)
        self.request: HTTPRequest | None = None
        self.response: HTTPResponse | None = None

    def __repr__(self) -> str:
        parts = [repr(self.request)]
        if self.response is not None:
            parts.append(repr(self.response))
        if self.error is not None:
            parts.append(repr(self.error))
        return f"<HTTPFlow {' '.join(parts)}>"

    def replace(self, pattern: str | bytes, repl: str | bytes, *args: Any, **kwargs: Any
                ) -> int:
        """Replace the regex ``pattern`` with ``repl`` in the request and the response
        (headers, path, decoded bodies; encoded bodies are re-encoded). Extra arguments go
        to ``re`` (``flags``). Returns the number of replacements."""
        count = 0
        if self.request is not None:
            count += self.request.replace(pattern, repl, *args, **kwargs)
        if self.response is not None:
            count += self.response.replace(pattern, repl, *args, **kwargs)
        return count


def make_error_response(status_code: int, message: str = "",
                        headers: Headers | None = None) -> HTTPResponse:
    """The proxy's own answer when it cannot get one from the server (400, 502, ...): a
    small HTML page showing ``message`` (escaped: it may quote what a client sent), and
    ``Connection: close`` because after such an error the connection is not reused."""
    reason = status_codes.RESPONSES.get(status_code, "Unknown")
    body = (
        f"<html><head><title>{status_code} {html.escape(reason)}</title></head>"
        f"<body>{html.escape(message)}</body></html>"
    ).encode("utf-8", "replace")
    if headers is None:
        headers = Headers(
            Connection="close", Content_Type="text/html; charset=utf-8",
        )
    headers["Content-Length"] = str(len(body))
    now = time.time()
    return HTTPResponse(b"HTTP/1.1", status_code, reason, headers, body, now, now)


def make_connect_request(address: Address | tuple) -> HTTPRequest:
    """``CONNECT host:port HTTP/1.1``, as sent to an upstream proxy to open a tunnel."""
    address = Address.wrap(address)
    return HTTPRequest("authority", b"CONNECT", None, address.host, address.port, b"",
                       b"HTTP/1.1", Headers(), b"")


def make_connect_response(http_version: str | bytes) -> HTTPResponse:
    """The proxy's "200 Connection established" answer to a client's CONNECT."""
    return HTTPResponse(http_version, 200, CONNECT_ESTABLISHED_REASON, Headers(), b"")


# The interim answer to "Expect: 100-continue". Shared: it is only ever sent, never changed.
expect_continue_response = HTTPResponse(b"HTTP/1.1", 100, "Continue", Headers(), b"")

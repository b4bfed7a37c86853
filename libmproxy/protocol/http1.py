"""Http1Layer: HTTP/1 on the wire, for the HttpLayer above it.

The HttpLayer holds the logic of a flow and calls these methods for I/O, so the same
HttpLayer can later run over HTTP/2 streams. Everything here is framing: where a message
ends, how a body goes out, when a connection must close. Writes go through netlib's
buffered writer, so a head and the first bytes of its body leave in one segment
(DESIGN.md, hot path); ``flush`` ends each message.

Trailers: the reader sets a chunked body's trailers on its message once the last chunk is
read, and the writer sends the message's trailers after a chunked body, looking them up
only then (``http1.read_body`` / ``assemble_body``); so a body relayed as it is read passes
them on too, and a hook's change to ``.trailers`` is what goes out.
"""
from __future__ import annotations

import time
from typing import Iterable, Iterator

from netlib.http import Request, http1
from netlib.tcp import Address

from libmproxy.models import HTTPFlow, HTTPRequest, HTTPResponse
from libmproxy.protocol.base import Layer

__all__ = ["Http1Layer", "HOP_BY_HOP_TO_ORIGIN", "UNTIL_CLOSE"]

# Headers a client sends only for the proxy itself; an origin server must not see them
# (RFC 7235: Proxy-Authorization is consumed by the proxy it is meant for). Without proxy
# authentication they stay in the flow (scripts see what the client sent) and only the
# wire copy loses them; with it, good credentials are removed from the flow itself
# (HttpLayer._authenticate, as the spec says).
HOP_BY_HOP_TO_ORIGIN = ("proxy-connection", "proxy-authorization")

# expected_http_body_size's answer for "the body ends when the connection closes".
UNTIL_CLOSE = -1


class Http1Layer(Layer):
    """HTTP/1 transport; ``mode`` ("regular", "upstream" or "transparent") says which
    request forms the HttpLayer expects (see protocol.http)."""

    def __init__(self, ctx: Layer, mode: str) -> None:
        super().__init__(ctx)
        self.mode = mode

    def __call__(self) -> None:
        from libmproxy.protocol.http import HttpLayer
        HttpLayer(self, self.mode)()

    # --- the client side ----------------------------------------------------------------

    def read_request_head(self) -> HTTPRequest:
        return HTTPRequest.wrap(http1.read_request_head(self.client_io.rfile))

    def read_request_body(self, request: HTTPRequest) -> Iterator[bytes]:
        size = http1.expected_http_body_size(request)
        if size == 0:
            return iter(())
        return http1.read_body(self.client_io.rfile, size, self.config.body_size_limit,
                               message=request)

    def send_response(self, response: HTTPResponse, request: HTTPRequest | None = None
                      ) -> None:
        """Send ``response``; with the ``request`` it answers, a response that may not
        carry a body (to HEAD; 1xx, 204, 304) goes out as its head alone."""
        wfile = self.client_io.wfile
        if request is not None and not http1.response_has_body(request, response):
            wfile.write(http1.assemble_response_head(response))
        else:
            for part in http1.assemble_response_parts(response):
                wfile.write(part)
        wfile.flush()

    def send_response_head(self, response: HTTPResponse) -> None:
        self.client_io.wfile.write(http1.assemble_response_head(response))

    def send_response_body(self, request: HTTPRequest, response: HTTPResponse,
                           chunks: Iterable[bytes]) -> None:
        """Relay ``chunks`` as they come (flushing each), framed as the headers say; nothing
        at all for a response that may not carry a body."""
        wfile = self.client_io.wfile
        if not http1.response_has_body(request, response):
            wfile.flush()
            return
        for data in http1.assemble_body(response.headers, chunks, response):
            wfile.write(data)
            wfile.flush()
        wfile.flush()

    # --- the server side ----------------------------------------------------------------

    def send_request(self, request: HTTPRequest, form: str,
                     extra_headers: dict[str, bytes] | None = None,
                     strip_headers: Iterable[str] = ()) -> None:
        """Send ``request`` with its target in ``form``, plus/minus some headers that
        belong to this hop only. The flow's request itself is left unchanged."""
        wire = _wire_copy(request, form, extra_headers or {}, strip_headers)
        wfile = self.server_io.wfile
        for part in http1.assemble_request_parts(wire):
            wfile.write(part)
        wfile.flush()

    def read_response_head(self) -> HTTPResponse:
        return HTTPResponse.wrap(http1.read_response_head(self.server_io.rfile))

    def read_response_body(self, request: HTTPRequest, response: HTTPResponse
                           ) -> Iterator[bytes]:
        size = http1.expected_http_body_size(request, response)
        if size == 0:
            return iter(())
        return http1.read_body(self.server_io.rfile, size, self.config.body_size_limit,
                               message=response)

    # --- connection management ----------------------------------------------------------

    def check_close_connection(self, flow: HTTPFlow) -> bool:
        """Whether this flow ends the client connection: either side said close (or is
        HTTP/1.0 without keep-alive), or the response body ran until the server closed."""
        request, response = flow.request, flow.response
        if http1.connection_close(request.data.http_version, request.headers):
            return True
        if response is None:
            return False
        if http1.connection_close(response.data.http_version, response.headers):
            return True
        return http1.expected_http_body_size(request, response) == UNTIL_CLOSE


def _wire_copy(request: HTTPRequest, form: str, extra: dict[str, bytes],
               strip: Iterable[str]) -> Request:
    """The request as this hop must see it: a shallow copy (the body is shared) when
    anything differs from the flow's request, the request itself otherwise."""
    strip = [name for name in strip if name in request.headers]
    if form == request.data.first_line_format and not extra and not strip:
        return request
    wire = Request.__new__(Request)
    wire.data = request.data.copy()
    wire.data.first_line_format = form
    for name in strip:
        del wire.data.headers[name]
    for name, value in extra.items():
        wire.data.headers[name] = value.decode("latin-1")
    return wire


def target_address(request: HTTPRequest) -> Address:
    """Where an absolute-form (or CONNECT) request wants to go."""
    return Address(request.data.host.decode("ascii"), request.data.port)


def stamp_end(message: HTTPRequest | HTTPResponse) -> None:
    message.timestamp_end = time.time()

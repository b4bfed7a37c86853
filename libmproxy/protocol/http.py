"""HttpLayer: the request/response cycle of one flow after another on a client connection.

For each request (DESIGN.md, "how a request travels"):

1. read the request (answering "100 Continue" first if the client waits for it); a
   malformed one gets 400 and the connection closes. In regular and upstream mode,
   proxy authentication comes next (``_authenticate``): without good credentials the
   client gets 407 and no hook hears of the request;
2. work out the target from the request and the mode:
   "regular" expects absolute-form (or CONNECT) and connects where the URL says;
   "upstream" expects the same and sends everything to the upstream proxy (CONNECT
   becomes a tunnel through it); "transparent" (reverse mode, the inside of a CONNECT
   tunnel) expects origin-form and keeps the server the outer layers chose;
3. hook "request": a hook may answer (``flow.response``) or kill; a registered app
   (``config.apps``, e.g. mitm.it) may answer; only otherwise is the server connected,
   as late as possible, reusing the connection of the previous request to the same place;
4. send the request, read the response head, hook "responseheaders"; then either stream
   the body (``flow.response.stream``), relay it as it is read when the event policy says
   no hook can change the response (neither "responseheaders" nor "response" is asked),
   or read it whole;
5. hook "response", send the response; keep the connection if both sides allow it.

A failure while talking to the server sets ``flow.error``, fires hook "error" and, if the
client has not received anything for this flow yet, answers 502 with the reason. ``Kill``
from a hook (or from shutdown) ends the connection.
"""
from __future__ import annotations

import io
import time
from typing import Callable, Iterator

from netlib import exceptions as netlib_exceptions
from netlib.http import Headers
from netlib.http.http1 import join_body

from libmproxy import exceptions
from libmproxy.controller.channel import ASK, TELL
from libmproxy.models import (
    Error, HTTPFlow, HTTPRequest, HTTPResponse, expect_continue_response, make_connect_response,
    make_error_response,
)
from libmproxy.protocol.base import Layer
from libmproxy.protocol.http1 import HOP_BY_HOP_TO_ORIGIN, Http1Layer, target_address
from libmproxy.protocol.websockets import WebSocketLayer, can_relay_messages, \
    strip_extension_offer

__all__ = ["HttpLayer", "REQUEST_FORMS", "IDEMPOTENT_METHODS", "PROXY_AUTH_LAYER_MODES"]

# The request-target forms each mode accepts (RFC 7230 section 5.3).
REQUEST_FORMS = {
    "regular": ("absolute", "authority"),
    "upstream": ("absolute", "authority"),
    "transparent": ("relative",),
}

# The modes in which the client talks to us as a proxy, so proxy authentication applies
# (ProxyConfig refuses it in the other proxy modes). Requests inside a CONNECT tunnel
# ("transparent") need none: the CONNECT itself was checked.
PROXY_AUTH_LAYER_MODES = ("regular", "upstream")

# Methods that may be sent again when a reused server connection turns out to be closed
# before any byte of the response arrived (RFC 7230 section 6.3.1).
IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})

# The status code of a response that switches protocols (WebSocket and friends).
SWITCHING_PROTOCOLS = 101


def _tee(chunks: Iterator[bytes], keep: Callable[[bytes], object]) -> Iterator[bytes]:
    """``chunks`` unchanged, each also handed to ``keep`` on its way."""
    for chunk in chunks:
        keep(chunk)
        yield chunk


class _ClientError(Exception):
    """The client sent something we cannot serve; ``status`` says how to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class HttpLayer(Layer):
    """Runs flows over the transport below it (``ctx``: an Http1Layer)."""

    stage = "tunnel"

    def __init__(self, ctx: Http1Layer, mode: str) -> None:
        super().__init__(ctx)
        self.mode = mode
        self.transport = ctx
        # Where origin-form requests go: the server the outer layers chose.
        self._origin = (self.server_conn.address, self.server_tls)
        # Requests sent on the current server connection (for the reuse retry rule).
        self._server_requests = 0
        self._server_io_seen = None
        self._client_answered = False
        self._authenticator = self.config.authenticator if mode in PROXY_AUTH_LAYER_MODES \
            else None

    def __call__(self) -> None:
        # The accepting server (None for a handler made without one, as in tests).
        server = self.client_io.server
        while True:
            if server is not None:
                # Between requests, let a burst of new clients in first: accepting needs
                # the GIL once per connection (netlib.tcp.server module doc).
                server.yield_to_accept()
            flow = HTTPFlow(self.client_conn, self.server_conn, live=self)
            if not self._read_request(flow):
                return
            if self._authenticator is not None and not self._authenticate(flow):
                if self.transport.check_close_connection(flow):
                    return
                continue
            if flow.request.first_line_format == "authority":
                self._handle_connect(flow)
                return
            self._handle_flow(flow)
            if flow.response.status_code == SWITCHING_PROTOCOLS:
                self._relay_switched_protocol(flow)
                return
            if self.transport.check_close_connection(flow):
                return

    # --- reading the request --------------------------------------------------------------

    def _read_request(self, flow: HTTPFlow) -> bool:
        """Read the next request into ``flow``; False if the client closed (or idled out)
        instead of sending one. A bad request is answered here and ends the connection."""
        try:
            flow.request = self.transport.read_request_head()
        except netlib_exceptions.HttpReadDisconnect:
            return False
        except netlib_exceptions.TcpException:
            return False  # an idle keep-alive connection timed out or was reset
        except netlib_exceptions.HttpException as e:
            self._refuse(400, f"Bad request: {e}")
        except netlib_exceptions.NetlibException:
            return False  # TLS broke down: the client is gone as far as we can tell
        try:
            self._check_form(flow.request)
            self._read_request_body(flow)
        except _ClientError as e:
            self._refuse(e.status, str(e))
        except netlib_exceptions.HttpBodyTooLarge as e:
            self._refuse(413, str(e))
        except netlib_exceptions.HttpException as e:
            self._refuse(400, f"Bad request: {e}")
        except netlib_exceptions.TcpException as e:
            raise exceptions.ProtocolException(f"client connection lost: {e}") from e
        self._set_target(flow)
        return True

    def _check_form(self, request) -> None:
        form = request.first_line_format
        if form not in REQUEST_FORMS[self.mode]:
            expected = " or ".join(REQUEST_FORMS[self.mode])
            raise _ClientError(
                400, f"Invalid request form: {form} (this proxy expects {expected} form "
                     f"in {self.mode} mode)")
        if (form == "authority") != (request.data.method.upper() == b"CONNECT"):
            raise _ClientError(400, f"Invalid request: {request.method} with {form} form")

    def _read_request_body(self, flow: HTTPFlow) -> None:
        request = flow.request
        expect = request.headers.get("expect", "")
        if expect.lower() == "100-continue":
            self.transport.send_response(expect_continue_response)
            del request.headers["expect"]
        request.data.content = join_body(self.transport.read_request_body(request))
        request.timestamp_end = time.time()

    def _set_target(self, flow: HTTPFlow) -> None:
        """Fill in scheme, host and port of an origin-form request from the server the
        outer layers chose. The Host header is left as the client sent it (spec: Reverse
        Proxy, Host Header); the data fields are set so that no header is rewritten."""
        request = flow.request
        if request.first_line_format != "relative":
            return
        address, tls = self._origin
        if address is None:
            raise exceptions.ProtocolException("no server known for an origin-form request")
        data = request.data
        data.scheme = b"https" if tls else b"http"
        data.host = address.host.encode("idna")
        data.port = address.port

    def _refuse(self, status: int, message: str) -> None:
        """Answer a bad request and end the connection."""
        try:
            self.transport.send_response(make_error_response(status, message))
        except netlib_exceptions.NetlibException:
            pass
        raise exceptions.HttpProtocolException(f"{status}: {message}")

    # --- proxy authentication ------------------------------------------------------------

    def _authenticate(self, flow: HTTPFlow) -> bool:
        """Check the request's proxy credentials (spec: Proxy Authentication) before any
        hook sees it; True if it may go on.

        Good credentials are removed from the flow itself, not only from the wire copy
        (spec: "Authentication headers are stripped from the flows, so they are not passed
        to upstream servers"): hooks, saved flows, the origin and an upstream proxy (-U,
        which gets ``--upstream-auth`` instead) never see them. Without proxy
        authentication the header is left in the flow and only the wire copy loses it
        (http1.HOP_BY_HOP_TO_ORIGIN).

        Otherwise the client gets 407 with the Basic challenge and, as in 0.18, no flow
        event fires for the refused request. Unlike 0.18 the connection stays open
        (unless the request asked to close it): its body was read already, and a client
        may retry with credentials on the same connection.
        """
        request = flow.request
        authenticator = self._authenticator
        if authenticator.authenticate(request.headers):
            authenticator.clean(request.headers)
            return True
        self.log(f"407 Proxy Authentication Required: {request.method} "
                 f"{request.host}:{request.port}", "debug")
        headers = Headers(Content_Type="text/html; charset=utf-8")
        for name, value in authenticator.auth_challenge_headers().items():
            headers[name] = value
        flow.response = make_error_response(
            407, "This proxy requires authentication (HTTP Basic).", headers)
        try:
            self.transport.send_response(flow.response, request)
        except netlib_exceptions.NetlibException as e:
            raise exceptions.ProtocolException(f"client connection lost: {e}") from e
        return False

    # --- CONNECT ------------------------------------------------------------------------

    def _handle_connect(self, flow: HTTPFlow) -> None:
        """Regular and upstream mode: open the tunnel, then hand the connection to
        whatever the client speaks inside (TLS, HTTP, raw TCP)."""
        flow = self.channel.hook("request", flow)
        if flow.response is not None:  # a hook answered (a refusal, say)
            self.transport.send_response(flow.response, flow.request)
            if not 200 <= flow.response.status_code < 300:
                return
        else:
            flow.response = make_connect_response(flow.request.data.http_version)
            self.transport.send_response(flow.response, flow.request)
        address = target_address(flow.request)
        via = self.config.upstream_server.address if self.mode == "upstream" else None
        self.set_server(address, via=via)
        flow.server_conn = self.server_conn
        layer = self.next_layer(self)
        layer()

    # --- one flow ---------------------------------------------------------------------------

    def _handle_flow(self, flow: HTTPFlow) -> None:
        try:
            self._serve_flow(flow)
        finally:
            # The connection is done with this flow: from now on it is data that can be
            # replayed, edited or saved (the spec's ``flow.live``).
            flow.live = None

    def _serve_flow(self, flow: HTTPFlow) -> None:
        self._client_answered = False
        try:
            if self.config.websockets:
                strip_extension_offer(flow.request, self.log)
            flow = self.channel.hook("request", flow)
            if flow.response is None:
                self._ask_app(flow)
            streamed = False
            if flow.response is None:
                streamed = self._fetch_response(flow)
            flow.server_conn = self.server_conn
            flow = self.channel.hook("response", flow)
            if not streamed:
                self._client_answered = True
                self.transport.send_response(flow.response, flow.request)
        except (netlib_exceptions.NetlibException, exceptions.ProtocolException) as e:
            self._fail(flow, e)

    def _ask_app(self, flow: HTTPFlow) -> None:
        request = flow.request
        # Apps are keyed by (host, port): when no app listens on the request's port (the
        # common case, apps being few), skip building pretty_host, which parses the Host
        # header and IDNA-decodes it on every request (measured ~2% of the proxy's CPU).
        config = self.config
        port = request.data.port
        for _host, app_port in config.apps:
            if app_port == port:
                break
        else:
            return
        app = config.find_app(request.pretty_host, port)
        if app is None:
            return
        try:
            flow.response = app(request)
        except Exception as e:  # an app's bug must not take the connection down
            self.log(f"error in the app for {request.pretty_host}: {e!r}", "error")
            flow.response = make_error_response(500, f"Internal error in the app: {e!r}")

    def _fail(self, flow: HTTPFlow, error: Exception) -> None:
        """Record the error on the flow, tell the hooks, answer 502 if nothing was sent to
        the client for this flow yet, and end the connection."""
        message = str(error) or type(error).__name__
        flow.error = Error(message)
        self.channel.hook("error", flow)
        if not self._client_answered:
            try:
                self.transport.send_response(make_error_response(502, message))
            except netlib_exceptions.NetlibException:
                pass
        raise exceptions.HttpProtocolException(message)

    # --- talking to the server ------------------------------------------------------------

    def _fetch_response(self, flow: HTTPFlow) -> bool:
        """Get the response from the server into ``flow``; stream it to the client if a
        hook asked for that (returns True then)."""
        request = flow.request
        reused = not self._connect_for(flow)
        self._send_request_and_read_head(flow, reused)
        flow = self.channel.hook("responseheaders", flow)
        response = flow.response
        body = self.transport.read_response_body(request, response)
        if response.stream:
            self._stream(request, response, body)
            return True
        if self.channel.policy.action("responseheaders") != ASK:
            keep = self.channel.policy.action("response")
            if keep != ASK:
                self._relay(request, response, body, keep == TELL)
                return True
        response.data.content = join_body(body)
        response.timestamp_end = time.time()
        return False

    def _relay(self, request: HTTPRequest, response: HTTPResponse, body: Iterator[bytes],
               keep: bool) -> None:
        """Relay the body to the client as it is read, when no hook can change the
        response (neither "responseheaders" nor "response" is asked; told handlers only
        observe): buffering it whole would only delay the client and cost the body's size
        in memory. If "response" is told, its observers get the full content as usual, so
        the chunks are kept (copied once) while they go out; if it is skipped, nobody looks
        at the flow again and nothing is kept. body_size_limit still holds: read_body
        raises before a chunk beyond it is relayed."""
        self._client_answered = True
        self.transport.send_response_head(response)
        if keep:
            kept = io.BytesIO()
            self.transport.send_response_body(request, response, _tee(body, kept.write))
            response.data.content = kept.getvalue()
        else:
            self.transport.send_response_body(request, response, body)
            response.data.content = b""
        response.timestamp_end = time.time()

    def _stream(self, request: HTTPRequest, response: HTTPResponse, body: Iterator[bytes]
                ) -> None:
        """Relay the body chunk by chunk without keeping it; a callable ``stream`` wraps
        the chunk iterator (spec: Response Streaming)."""
        chunks = response.stream(body) if callable(response.stream) else body
        self._client_answered = True
        self.transport.send_response_head(response)
        self.transport.send_response_body(request, response, chunks)
        response.data.content = b""
        response.timestamp_end = time.time()

    def _connect_for(self, flow: HTTPFlow) -> bool:
        """Make sure the server connection leads where ``flow.request`` must go. Returns
        True if it had to be opened for this request, False if an open one is reused."""
        request = flow.request
        if self.mode != "upstream":
            address = target_address(request)
            tls = request.data.scheme == b"https"
            if address != self.server_conn.address or tls != self.server_tls:
                self.set_server(address, via=self.server_via)
                self.set_server_tls(tls, sni=address.host)
        if self.server_io is not self._server_io_seen:
            self._server_io_seen = self.server_io
            self._server_requests = 0
        # Only a connection that has carried a request is checked: right after a TLS
        # handshake, a TLS 1.3 server's session tickets make the socket readable.
        if self._server_requests and self.server_idle_closed():
            self.log("server closed the idle connection; reconnecting", "debug")
            self.disconnect()
        opened = False
        if not self.server_conn:
            self.connect()
            opened = True
            self._server_io_seen = self.server_io
            self._server_requests = 0
        flow.server_conn = self.server_conn
        return opened

    def _send_request_and_read_head(self, flow: HTTPFlow, reused: bool) -> None:
        """Send the request and read the final response head. A reused connection that
        fails before any response byte is retried once for idempotent requests: the
        server may have closed it just as the request went out."""
        request = flow.request
        try:
            self._send_request(request)
            response = self._read_final_response_head()
        except (netlib_exceptions.TcpException, netlib_exceptions.HttpReadDisconnect,
                netlib_exceptions.TlsException) as e:
            if not (reused and request.data.method.upper() in IDEMPOTENT_METHODS):
                raise
            self.log(f"reused server connection failed ({e}); retrying once", "debug")
            self.disconnect()
            self._connect_for(flow)
            self._send_request(request)
            response = self._read_final_response_head()
        self._server_requests += 1
        flow.response = response

    def _send_request(self, request) -> None:
        if self.mode == "upstream" and self.server_via is None:
            auth = self.config.upstream_auth
            extra = {"Proxy-Authorization": auth} if auth else None
            self.transport.send_request(request, request.data.first_line_format, extra)
        else:
            self.transport.send_request(request, "relative", strip_headers=HOP_BY_HOP_TO_ORIGIN)

    def _read_final_response_head(self) -> HTTPResponse:
        """The response head, skipping interim (1xx) responses other than 101."""
        while True:
            response = self.transport.read_response_head()
            if not 100 <= response.status_code < 200 or response.status_code == SWITCHING_PROTOCOLS:
                return response

    # --- after the flow -----------------------------------------------------------------------

    def _relay_switched_protocol(self, flow: HTTPFlow) -> None:
        """After "101 Switching Protocols" the connection is no longer HTTP: WebSocket
        goes message by message (unless --no-websockets), anything else is relayed raw."""
        if self.config.websockets and can_relay_messages(flow, self.log):
            WebSocketLayer(self, flow)()
            return
        from libmproxy.protocol.rawtcp import RawTCPLayer
        RawTCPLayer(self, ignore=True)()

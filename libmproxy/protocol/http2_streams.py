"""One HTTP/2 stream's flow, and what passes between it and the connection (protocol.http2).

A stream's flow runs in one of two ways, both driven by the connection thread's
``Http2Layer``:

- ``Http2SingleStreamLayer``: on the stream's own worker thread, an ``HttpLayer`` (the same
  code as for HTTP/1) over a transport whose reads take messages from the stream's inbox
  and whose writes post commands to the connection thread. This is the way whenever a hook
  may hold the flow (an asked event: a script, interception, a feature that changes flows).
- ``RelayedFlow``: on the connection thread itself, when no hook can hold it: every flow
  event is told or skipped (mitmdump printing or saving flows, or quiet), so nothing waits
  for the master and a thread per stream would only cost its start and four thread
  handoffs per request. It follows HttpLayer's relay (``_relay``): the request is read
  whole, told, sent; the response head is told and goes to the client at once, the body
  follows as it arrives (kept for a told "response"), then "response" is told.

Trailers arrive with the END_STREAM they carry (``Ended.trailers``) and are set on the
request or response whose body they end before any hook hears of it; on the way out, the
message's trailers (as a hook left them) end the stream after its DATA (``SendRequest``,
``SendResponse``, ``SendTrailers``). A body without trailers costs nothing more per chunk.

Rules of this file: a worker touches no socket and no h2 state; it reads its inbox and
``Stream.failure``, and posts commands (``Http2Layer.post``). The connection thread owns
everything else in ``Stream``.
"""
from __future__ import annotations

import dataclasses
import functools
import queue
import threading
import time
import traceback
from typing import Any, Callable, Iterable, Iterator

import h2.errors

from netlib import exceptions as netlib_exceptions
from netlib.http.http1 import response_has_body

from libmproxy import exceptions
from libmproxy.controller.channel import SKIP, TELL
from libmproxy.models import Error, HTTPFlow, HTTPRequest, HTTPResponse, make_error_response
from libmproxy.protocol.base import Kill, Layer
from libmproxy.protocol.http import HttpLayer
from libmproxy.protocol.http1 import HOP_BY_HOP_TO_ORIGIN
from libmproxy.protocol.http2_messages import (
    check_declared_size, request_from_h2, request_to_h2, response_from_h2, response_to_h2,
    trailers_from_h2, trailers_to_h2,
)

__all__ = ["Http2SingleStreamLayer", "RelayedFlow", "Stream", "CLIENT", "SERVER",
           "OUTBOUND_CREDIT", "SendTrailers"]

CLIENT = "client"
SERVER = "server"

ErrorCodes = h2.errors.ErrorCodes

# How many body pieces a worker relaying a body may have posted that have not gone out yet.
# Each piece is at most what arrived at once (a DATA frame, 16 KiB by default, or what
# COALESCE_LIMIT joined), so this bounds the buffer per stream.
OUTBOUND_CREDIT = 8

# How much of a body a worker takes from its inbox in one go when more has arrived than one
# frame: fewer, larger pieces mean fewer thread handoffs for a large body.
COALESCE_LIMIT = 256 * 1024

# The flow events a RelayedFlow tells: if any of them is asked, the flow needs a worker.
FLOW_EVENTS = ("request", "responseheaders", "response", "error")


# --- inbox messages (connection thread -> stream) -------------------------------------------

@dataclasses.dataclass(slots=True)
class Headers:
    fields: list[tuple[bytes, bytes]]
    timestamp: float
    ended: bool  # END_STREAM came with the headers: no body follows


@dataclasses.dataclass(slots=True)
class Data:
    data: bytes
    size: int  # flow-controlled length (with padding), what must be acknowledged


@dataclasses.dataclass(slots=True)
class Ended:
    """The sender's END_STREAM, with the trailers that came with it, if any."""
    trailers: list[tuple[bytes, bytes]] | None = None


@dataclasses.dataclass(slots=True)
class Failed:
    reason: str


# --- commands (stream -> connection thread) ---------------------------------------------------

@dataclasses.dataclass(slots=True)
class SendRequest:
    stream: Stream
    fields: list[tuple[bytes, bytes]]
    body: bytes
    trailers: list[tuple[bytes, bytes]] | None  # sent after the body, ending the stream


@dataclasses.dataclass(slots=True)
class SendResponse:
    """A response head (1xx, or final), with the whole body if ``body`` is not None;
    ``end``: nothing follows but ``trailers``, if any."""
    stream: Stream
    fields: list[tuple[bytes, bytes]]
    body: bytes | None
    end: bool
    trailers: list[tuple[bytes, bytes]] | None = None


@dataclasses.dataclass(slots=True)
class SendData:
    stream: Stream
    data: bytes
    end: bool
    on_sent: Callable[[], None] | None  # called once the bytes are out (or dropped)


@dataclasses.dataclass(slots=True)
class SendTrailers:
    """The response ends with this trailer block, after the data posted before it (instead
    of a last ``SendData`` with ``end``: the per-chunk command stays as small as it was)."""
    stream: Stream
    trailers: list[tuple[bytes, bytes]]


@dataclasses.dataclass(slots=True)
class Consumed:
    """The flow took ``size`` flow-controlled bytes of ``side``'s DATA: reopen the window."""
    stream: Stream
    side: str
    size: int


@dataclasses.dataclass(slots=True)
class StreamDone:
    """The flow has ended; ``error_code``: reset what is unfinished with it."""
    stream: Stream
    error_code: int | None


class Stream:
    """One client stream and the server stream it is relayed to.

    ``inbox`` is where the connection thread puts messages for the flow: a queue read by
    the worker (``for_worker``), or the RelayedFlow itself. ``credit`` counts the pieces a
    worker may still post unsent. ``failure`` is written by the connection thread before it
    puts ``Failed`` (so a worker about to send learns it early).
    """

    def __init__(self, client_id: int, request: Headers) -> None:
        self.client_id = client_id
        self.request = request
        self.inbox: Any = None
        self.credit: threading.Semaphore | None = None
        self.failure: str | None = None
        self.server_id: int | None = None
        self.request_ended = request.ended  # the client's END_STREAM was passed on
        self.response_ended = False  # the server's END_STREAM was passed on
        self.response_sent = False  # the whole response is queued for the client
        self.client_reset = False  # the client stream is reset: nothing more goes there
        self.server_done = False  # the server stream is reset or its connection is gone
        self.worker_done = False
        # DATA bytes put in the inbox that the flow has not reported taken, per side:
        # acknowledged when it ends without taking them (the connection window would
        # otherwise shrink for good).
        self.unconsumed = {CLIENT: 0, SERVER: 0}

    def for_worker(self) -> Stream:
        self.inbox = queue.SimpleQueue()
        self.credit = threading.Semaphore(OUTBOUND_CREDIT)
        return self


# --- on a worker thread -----------------------------------------------------------------------

class Http2SingleStreamLayer(Layer):
    """One stream's flow, on its worker thread: the transport an ``HttpLayer`` runs over.

    Reads take the connection thread's messages from the stream's inbox; writes become
    commands for the connection thread. The server is the HTTP/2 connection's, so the
    server-connection methods the HttpLayer may call refuse to change it. HttpLayer reads
    ``client_io`` only for its accepting server (``yield_to_accept``), never for I/O.
    """

    server_tls = True
    server_io = None  # the socket is the connection thread's

    def __init__(self, ctx: Any, stream: Stream) -> None:
        super().__init__(ctx)
        self.connection = ctx
        self.stream = stream
        self.server_conn = ctx.server_conn
        self._request_read = False
        self._pending: Any = None  # a message taken from the inbox but not yet used
        self._response_ended = False

    def run(self) -> None:
        error_code: int | None = None
        try:
            HttpLayer(self, "transparent")()
        except Kill:
            error_code = ErrorCodes.CANCEL
            self.log(f"HTTP/2 stream #{self.stream.client_id}: flow killed", "info")
        except exceptions.ProtocolException as e:
            error_code = ErrorCodes.INTERNAL_ERROR
            self.log(f"HTTP/2 stream #{self.stream.client_id}: {e}", "info")
        except Exception:  # a bug: report it, keep the connection's other streams going
            error_code = ErrorCodes.INTERNAL_ERROR
            self.log(f"Error in the proxy (HTTP/2 stream #{self.stream.client_id}):\n"
                     f"{traceback.format_exc().rstrip()}", "error")
        finally:
            self.connection.post(StreamDone(self.stream, error_code))

    # --- the server connection belongs to the HTTP/2 connection --------------------------------

    def set_server(self, address: Any, via: Any = None) -> None:
        raise exceptions.Http2ProtocolException(
            f"an HTTP/2 stream cannot be sent to another server ({address}) than its "
            f"connection's ({self.server_conn.address})")

    def set_server_tls(self, tls: bool, sni: str | None = None, alpn: Any = ()) -> None:
        raise exceptions.Http2ProtocolException(
            "an HTTP/2 stream cannot change the TLS settings of its server connection")

    def connect(self) -> None:
        raise exceptions.Http2ProtocolException("the HTTP/2 server connection is closed")

    def disconnect(self) -> None:
        raise exceptions.Http2ProtocolException(
            "an HTTP/2 stream cannot close its connection's server connection")

    def server_idle_closed(self) -> bool:
        return False

    # --- reading ------------------------------------------------------------------------------

    def _next(self, what: str) -> Any:
        message = self._pending
        if message is not None:
            self._pending = None
        else:
            try:
                message = self.stream.inbox.get(timeout=self.config.timeout)
            except queue.Empty:
                raise exceptions.Http2ProtocolException(
                    f"HTTP/2 stream #{self.stream.client_id}: no {what} within "
                    f"{self.config.timeout:g} s") from None
        if type(message) is Failed:
            raise exceptions.Http2ProtocolException(message.reason)
        return message

    def _body(self, side: str, limit: int | None, owner: HTTPRequest | HTTPResponse
              ) -> Iterator[bytes]:
        """The DATA of ``side`` until its END_STREAM, in pieces of what has arrived; the
        trailers that end it, if any, go to ``owner`` (the message whose body this is)."""
        received = 0
        inbox = self.stream.inbox
        while True:
            message = self._next("body data")
            if type(message) is Ended:
                if message.trailers is not None:
                    owner.data.trailers = trailers_from_h2(message.trailers)
                return
            pieces, size = [message.data], message.size
            length = len(message.data)
            while length < COALESCE_LIMIT:
                try:
                    more = inbox.get_nowait()
                except queue.Empty:
                    break
                if type(more) is not Data:
                    self._pending = more
                    break
                pieces.append(more.data)
                size += more.size
                length += len(more.data)
            self.connection.post(Consumed(self.stream, side, size))
            received += length
            if limit is not None and received > limit:
                raise netlib_exceptions.HttpBodyTooLarge(
                    f"body larger than the limit of {limit} bytes")
            yield pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def read_request_head(self) -> HTTPRequest:
        if self._request_read:
            raise netlib_exceptions.HttpReadDisconnect("an HTTP/2 stream carries one request")
        self._request_read = True
        head = self.stream.request
        return request_from_h2(head.fields, head.timestamp)

    def read_request_body(self, request: HTTPRequest) -> Iterator[bytes]:
        if self.stream.request.ended:
            return iter(())
        limit = self.config.body_size_limit
        check_declared_size(request, limit)
        return self._body(CLIENT, limit, request)

    def read_response_head(self) -> HTTPResponse:
        message = self._next("response")
        if type(message) is not Headers:
            raise exceptions.Http2ProtocolException(
                f"HTTP/2 stream #{self.stream.client_id}: body data before the response head")
        self._response_ended = message.ended
        return response_from_h2(message.fields, message.timestamp)

    def read_response_body(self, request: HTTPRequest, response: HTTPResponse
                           ) -> Iterator[bytes]:
        if self._response_ended:
            return iter(())
        limit = self.config.body_size_limit
        check_declared_size(response, limit)
        return self._body(SERVER, limit, response)

    # --- writing ------------------------------------------------------------------------------

    def send_request(self, request: HTTPRequest, form: str,
                     extra_headers: dict[str, bytes] | None = None,
                     strip_headers: Iterable[str] = ()) -> None:
        body = request.data.content or b""
        fields = request_to_h2(request, body, strip_headers)
        self.connection.post(SendRequest(self.stream, fields, body,
                                         trailers_to_h2(request.data.trailers)))

    def send_response(self, response: HTTPResponse, request: HTTPRequest | None = None
                      ) -> None:
        """The whole response; a 1xx one as an interim head."""
        if 100 <= response.status_code < 200:
            self.connection.post(SendResponse(
                self.stream, response_to_h2(response, None, False), None, False))
            return
        has_body = request is None or response_has_body(request, response)
        body = (response.data.content or b"") if has_body else None
        fields = response_to_h2(response, body, False)
        trailers = trailers_to_h2(response.data.trailers) if has_body else None
        self.connection.post(SendResponse(self.stream, fields, body, True, trailers))

    def send_response_head(self, response: HTTPResponse) -> None:
        fields = response_to_h2(response, None, callable(response.stream))
        self.connection.post(SendResponse(self.stream, fields, None, False))

    def send_response_body(self, request: HTTPRequest, response: HTTPResponse,
                           chunks: Iterable[bytes]) -> None:
        """Relay ``chunks`` as they come, at most OUTBOUND_CREDIT of them unsent; then
        the response's trailers, known once the chunks are (the reader sets them)."""
        stream, post = self.stream, self.connection.post
        trailers = None
        if response_has_body(request, response):
            for chunk in chunks:
                if not chunk:
                    continue
                if not stream.credit.acquire(timeout=self.config.timeout):
                    raise exceptions.Http2ProtocolException(
                        f"HTTP/2 stream #{stream.client_id}: the client took no data for "
                        f"{self.config.timeout:g} s")
                if stream.failure is not None:
                    raise exceptions.Http2ProtocolException(stream.failure)
                post(SendData(stream, chunk, False, stream.credit.release))
            trailers = trailers_to_h2(response.data.trailers)
        post(SendData(stream, b"", True, None) if trailers is None
             else SendTrailers(stream, trailers))

    def check_close_connection(self, flow: HTTPFlow) -> bool:
        return True  # one flow per stream


# --- on the connection thread -------------------------------------------------------------------

def can_relay(config: Any, policy: Any, server_port: int,
              fields: list[tuple[bytes, bytes]]) -> bool:
    """Whether a stream's flow may run on the connection thread (``RelayedFlow``): no flow
    event is asked, no app (``config.apps``) answers on the server's port, and the request
    needs none of what only HttpLayer does (CONNECT's refusal, "100 Continue")."""
    if any(policy.action(event) not in (SKIP, TELL) for event in FLOW_EVENTS):
        return False
    if any(port == server_port for _host, port in config.apps):
        return False
    for name, value in fields:
        if name == b"expect" or (name == b":method" and value == b"CONNECT"):
            return False
    return True


class RelayedFlow:
    """One stream's flow on the connection thread (see the module doc for when).

    It is the stream's inbox: each message the connection thread puts is handled at once,
    and the commands it makes are executed at once (``layer.execute``), so the connection's
    bookkeeping (flow control, resets, GOAWAY) is the same as for a worker's flow. The
    response body is acknowledged to the server only once it has gone to the client, so a
    slow client holds the server back instead of filling our memory.
    """

    def __init__(self, layer: Any, stream: Stream) -> None:
        self.layer = layer
        self.stream = stream
        self.flow: HTTPFlow | None = None
        self.request_body: list[bytes] = []
        self.received = 0
        self.told_request = False
        self.answering = False  # the response head has gone to the client
        self.kept: list[bytes] | None = None
        self.done = False

    def start(self) -> None:
        layer, head = self.layer, self.stream.request
        request = request_from_h2(head.fields, head.timestamp)
        # As HttpLayer._set_target: the server the connection goes to; Host as sent.
        request.data.scheme = b"https"
        request.data.host, request.data.port = layer.target
        flow = self.flow = HTTPFlow(layer.client_conn, layer.server_conn, live=layer)
        flow.request = request
        try:
            check_declared_size(request, layer.config.body_size_limit)
        except netlib_exceptions.HttpBodyTooLarge as e:
            self._refuse(413, str(e))
            return
        if head.ended:
            self._send_request()

    # --- the inbox --------------------------------------------------------------------------

    def put(self, message: Any) -> None:
        if self.done:
            return
        kind = type(message)
        if kind is Data:
            if self.told_request:
                self._response_data(message)
            else:
                self._request_data(message)
        elif kind is Headers:
            self._response_head(message)
        elif kind is Ended:
            if self.told_request:
                self._response_end(message.trailers)
            else:
                self._send_request(message.trailers)
        else:
            self._fail(message.reason)

    # --- the request ----------------------------------------------------------------------

    def _request_data(self, message: Data) -> None:
        self.layer.execute(Consumed(self.stream, CLIENT, message.size))
        self.request_body.append(message.data)
        self.received += len(message.data)
        limit = self.layer.config.body_size_limit
        if limit is not None and self.received > limit:
            self._refuse(413, f"body larger than the limit of {limit} bytes")

    def _send_request(self, trailers: list[tuple[bytes, bytes]] | None = None) -> None:
        flow, stream = self.flow, self.stream
        body = b"".join(self.request_body)
        self.request_body = []
        self.received = 0
        request = flow.request
        request.data.content = body
        if trailers is not None:
            request.data.trailers = trailers_from_h2(trailers)
        request.timestamp_end = time.time()
        self._tell("request")
        self.told_request = True
        fields = request_to_h2(request, body, HOP_BY_HOP_TO_ORIGIN)
        self.layer.execute(SendRequest(stream, fields, body,
                                       trailers_to_h2(request.data.trailers)))

    def _refuse(self, status: int, message: str) -> None:
        """A request the proxy will not pass on: answered, and no hook hears of it (as
        HttpLayer._refuse)."""
        response = make_error_response(status, message)
        self.layer.execute(SendResponse(self.stream, response_to_h2(
            response, response.content, False), response.content, True))
        self._finish(None)

    # --- the response ---------------------------------------------------------------------

    def _response_head(self, message: Headers) -> None:
        flow, layer = self.flow, self.layer
        response = response_from_h2(message.fields, message.timestamp)
        flow.response = response
        flow.server_conn = layer.server_conn
        self._tell("responseheaders")
        try:
            check_declared_size(response, layer.config.body_size_limit)
        except netlib_exceptions.HttpBodyTooLarge as e:
            self._fail(str(e))
            return
        if layer.channel.policy.action("response") != SKIP:
            self.kept = []
        self.answering = True
        layer.execute(SendResponse(self.stream, response_to_h2(response, None, False), None,
                                   message.ended))
        if message.ended:
            self._response_end(None, sent=True)

    def _response_data(self, message: Data) -> None:
        stream, layer = self.stream, self.layer
        # Taken from the inbox, but the server's window reopens only once the bytes have
        # gone to the client (on_sent), or been dropped with the client stream.
        stream.unconsumed[SERVER] -= message.size
        self.received += len(message.data)
        limit = layer.config.body_size_limit
        if limit is not None and self.received > limit:
            layer.acknowledge(SERVER, stream.server_id, message.size)
            self._fail(f"body larger than the limit of {limit} bytes")
            return
        if self.kept is not None:
            self.kept.append(message.data)
        layer.execute(SendData(stream, message.data, False, functools.partial(
            layer.acknowledge, SERVER, stream.server_id, message.size)))

    def _response_end(self, trailers: list[tuple[bytes, bytes]] | None, sent: bool = False
                      ) -> None:
        """The server's END_STREAM (with its ``trailers``); ``sent``: it came with the
        head, which has gone to the client with END_STREAM already."""
        flow = self.flow
        response = flow.response
        if trailers is not None:
            response.data.trailers = trailers_from_h2(trailers)
        if not sent:
            fields = trailers_to_h2(response.data.trailers)
            self.layer.execute(SendData(self.stream, b"", True, None) if fields is None
                               else SendTrailers(self.stream, fields))
        response.data.content = b"".join(self.kept) if self.kept is not None else b""
        response.timestamp_end = time.time()
        self._tell("response")
        self._finish(None)

    # --- the end --------------------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        """As HttpLayer._fail: the error on the flow and told, a 502 if the client has
        nothing of the response yet, else its stream is reset."""
        if not self.told_request:
            self._finish(ErrorCodes.CANCEL)  # no hook has heard of the request yet
            return
        self.flow.error = Error(reason)
        self._tell("error")
        if not self.answering:
            response = make_error_response(502, reason)
            self.layer.execute(SendResponse(self.stream, response_to_h2(
                response, response.content, False), response.content, True))
        self._finish(ErrorCodes.INTERNAL_ERROR)

    def _finish(self, error_code: int | None) -> None:
        self.done = True
        if self.flow is not None:
            self.flow.live = None
        self.layer.execute(StreamDone(self.stream, error_code))

    def _tell(self, event: str) -> None:
        """Tell the master, never ask (nothing may block this thread); skipped events are
        not sent at all."""
        channel = self.layer.channel
        if channel.policy.action(event) != SKIP:
            channel.tell(event, self.flow)

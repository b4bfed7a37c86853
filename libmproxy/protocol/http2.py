"""Http2Layer: HTTP/2 towards the client and towards the server, one flow per stream.

The client negotiated h2 by ALPN, which it is only offered when its server did (protocol.tls),
so both sides speak HTTP/2 and each client stream is relayed as one server stream. The
protocol state is h2's: one ``H2Connection`` per side (``client_side=False`` towards the
client, True towards the server), fed the bytes that arrive and asked for the bytes to send.

Threads (DESIGN.md, "Threads and the controller channel"):

- The connection thread alone owns both H2Connections and both sockets. It waits in one
  select() on the client socket, the server socket and a wake-up pipe, feeds what arrives to
  h2, and passes each stream's events to that stream's inbox.
- Each stream gets a worker thread ("Http2Stream <client> #<id>") that runs the same
  ``HttpLayer`` as HTTP/1 over a transport (``http2_streams.Http2SingleStreamLayer``) whose
  reads take messages from the inbox and whose writes post commands to the connection
  thread's queue (and write one byte to the wake-up pipe). So the hooks ("request",
  "responseheaders", "response", "error") run as for HTTP/1, and one that blocks (an
  intercepted flow, a slow script) holds up its own stream only. No lock guards the h2
  state, no worker touches a socket, and a worker ends when its stream does.
- Unless no hook can hold the flow: when the event policy asks none of the flow's events
  (they are told to observers, such as mitmdump's printer and flow writer, or skipped), the
  connection thread relays the stream itself (``http2_streams.RelayedFlow``) through the
  same commands, telling the events as HttpLayer's relay does. A worker there would only
  add a thread start and four thread handoffs per request: measured with h2load (10
  connections of 10 streams, nginx origin), the proxy's CPU per request was 1.3 ms with a
  worker per stream and 0.5 ms relayed (DESIGN.md, hot-path rules: tell, do not ask).

Flow control: received DATA is acknowledged to h2 (``acknowledge_received_data``, which sends
WINDOW_UPDATEs) when the flow has taken it, and a relayed response body only once it has
gone to the client, so a flow that is slow to consume (a stream relayed to a slow client)
holds back its sender instead of filling our memory. Bodies are sent in pieces no larger
than the peer's window and frame size allow; the rest waits for its WINDOW_UPDATE. A worker
relaying a body posts at most ``OUTBOUND_CREDIT`` pieces that have not left yet, then
waits. Our receive windows are larger than HTTP/2's 64 KiB default (``STREAM_WINDOW``,
``CONNECTION_WINDOW``): on a fast link that default would stall a large body every 64 KiB
for a round trip.

Decisions, as the spec is silent on them:

- The request looks like an HTTP/1 request to scripts and the dump output
  (``http2_messages``): "HTTP/2.0", a Host header from ``:authority``, no pseudo-headers.
- Server push is refused: the server is told SETTINGS_ENABLE_PUSH=0 (a push would have no
  request for a flow, and no client stream to go to).
- RST_STREAM from either side resets the stream's counterpart on the other side and ends
  the flow with an error. A flow killed by a hook resets its stream (CANCEL); the other
  streams go on.
- GOAWAY ends the connection: h2 closes its side of a connection that sent or received one
  (python-hyper/h2#1181), so nothing more can be exchanged with that peer. After the
  server's GOAWAY, streams the server did not process are refused to the client
  (REFUSED_STREAM, which tells it to retry); the others end with the error, which the
  client sees as a 502 if no response had started. New client streams are refused, and
  once the last stream is done the client gets a GOAWAY too. A client's GOAWAY cancels
  whatever is in flight.
- A stream cannot be sent to another server than the connection's (a script changing
  ``request.host``): the flow fails with a message saying so, as in 0.18.
- Trailers (a HEADERS frame after the DATA, ending the stream: gRPC's ``grpc-status``)
  travel with the stream's END_STREAM (``Ended``) to the flow, which keeps them in
  ``.trailers`` where hooks see and change them; what the flow holds then goes out as a
  trailer block after the body (``_Outbound.end``). Informational responses from the
  server (1xx) are skipped, as for HTTP/1.
"""
from __future__ import annotations

import collections
import os
import queue
import select
import threading
import time
from typing import Any, Callable

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from netlib import exceptions as netlib_exceptions

from libmproxy import exceptions
from libmproxy.protocol.base import Layer
from libmproxy.protocol.http2_streams import (
    CLIENT, OUTBOUND_CREDIT, SERVER, Consumed, Data, Ended, Failed, Headers,
    Http2SingleStreamLayer, RelayedFlow, SendData, SendRequest, SendResponse, SendTrailers,
    Stream, StreamDone, can_relay,
)

__all__ = ["Http2Layer", "STREAM_WINDOW", "CONNECTION_WINDOW", "MAX_CONCURRENT_STREAMS"]

# Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE) and for the whole connection,
# on both sides. They bound how much a peer may send before we have taken it: 1 MiB keeps a
# large body flowing at loopback speed; 16 MiB lets a dozen such streams share a connection.
STREAM_WINDOW = 1024 * 1024
CONNECTION_WINDOW = 16 * 1024 * 1024

# How much one _receive reads before handing it to h2 (and letting the other side have a
# turn): a few TLS records' worth.
RECEIVE_LIMIT = 256 * 1024

# The streams the client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS): h2's
# default, so at most this many worker threads per connection. Streams beyond what the
# server allows wait for one of its streams to end.
MAX_CONCURRENT_STREAMS = 100

ErrorCodes = h2.errors.ErrorCodes


def _error_name(code: int) -> str:
    try:
        return ErrorCodes(code).name
    except ValueError:
        return f"error code {code}"


class _Outbound:
    """Body bytes waiting for a peer's flow-control window, for one h2 stream; each piece
    with what to call once it is out (or dropped)."""

    __slots__ = ("pieces", "end", "ended")

    def __init__(self) -> None:
        self.pieces: collections.deque[tuple[memoryview, Callable[[], None] | None]] = \
            collections.deque()
        # How the stream ends after the last piece: not yet (False), END_STREAM on the
        # last DATA frame (True), or a trailer block (its fields), sent once the pieces
        # are out. One field for both, so that a body without trailers costs no extra
        # check per piece or per drained queue.
        self.end: bool | list[tuple[bytes, bytes]] = False
        self.ended = False  # END_STREAM has been sent


def _h2_config(client_side: bool) -> h2.config.H2Configuration:
    # header_encoding None: header names and values stay bytes, as netlib stores them.
    # Outgoing header blocks are built and normalized by http2_messages (see there why), so
    # h2 neither normalizes nor validates them (as today's mitmproxy); what comes in, it
    # validates.
    return h2.config.H2Configuration(client_side=client_side, header_encoding=None,
                                     normalize_outbound_headers=False,
                                     validate_outbound_headers=False)


def _local_settings(client_side: bool) -> h2.settings.Settings:
    values = {
        h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
        h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE:
            h2.connection.H2Connection.DEFAULT_MAX_HEADER_LIST_SIZE,
    }
    if client_side:
        values[h2.settings.SettingCodes.ENABLE_PUSH] = 0
    return h2.settings.Settings(client=client_side, initial_values=values)


class Http2Layer(Layer):
    """The connection thread's side: both H2Connections, both sockets, the streams.

    ``mode`` is the mode of the layer below, kept for symmetry with Http1Layer: HTTP/2 runs
    inside TLS only, where requests are origin-form and the server is already chosen.
    """

    def __init__(self, ctx: Layer, mode: str) -> None:
        super().__init__(ctx)
        self.mode = mode
        self.client_h2 = h2.connection.H2Connection(_h2_config(client_side=False))
        self.server_h2 = h2.connection.H2Connection(_h2_config(client_side=True))
        self._streams: dict[int, Stream] = {}  # by client stream id
        self._by_server_id: dict[int, Stream] = {}
        self._waiting: collections.deque[SendRequest] = collections.deque()
        self._outbound: dict[str, dict[int, _Outbound]] = {CLIENT: {}, SERVER: {}}
        self._workers: list[threading.Thread] = []
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r = self._wake_w = -1
        self._signalled = False
        self._client_gone = False
        self._server_gone: str | None = None  # why, once the server can take no more
        self._last_activity = time.monotonic()
        # Sides that may have bytes inside their TLS layer already (the TLS layer may have
        # read the client's first frames with its handshake).
        self._unread = {CLIENT, SERVER}

    # --- running the connection ---------------------------------------------------------------

    def __call__(self) -> None:
        server_conn = self.server_conn
        if not server_conn or server_conn.alpn_proto_negotiated != b"h2":
            raise exceptions.Http2ProtocolException(
                "the client negotiated HTTP/2, but the server connection does not speak it")
        self._client_io, self._server_io = self.client_io, self.server_io
        address = server_conn.address
        # Where every request of this connection goes (host in IDNA form, as stored).
        self.target = (address.host.encode("idna"), address.port)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        try:
            self._start()
            self._run()
        finally:
            self._stop()

    def _start(self) -> None:
        for conn in (self.client_h2, self.server_h2):
            conn.local_settings = _local_settings(conn.config.client_side)
            conn.initiate_connection()
            conn.increment_flow_control_window(
                CONNECTION_WINDOW - conn.inbound_flow_control_window)
        self._send(SERVER)
        self._send(CLIENT)

    def _run(self) -> None:
        timeout = self.config.timeout
        while not self._finished():
            self._pump(SERVER)
            self._pump(CLIENT)
            self._send(SERVER)
            self._send(CLIENT)
            if self._finished():
                return
            ready = self._wait(timeout)
            if not ready:
                if not self._streams and time.monotonic() - self._last_activity >= timeout:
                    self.log("HTTP/2 connection idle: closing it", "debug")
                    return
                continue
            self._last_activity = time.monotonic()
            for source in ready:
                if source is CLIENT or source is SERVER:
                    self._receive(source)
                else:
                    self._take_wakeups()
            self._handle_commands()

    def _finished(self) -> bool:
        """The client is gone; or the server is, and every stream is done and sent."""
        if self._client_gone:
            return True
        return (self._server_gone is not None and not self._streams
                and not self._outbound[CLIENT])

    def _wait(self, timeout: float | None) -> list[Any]:
        """CLIENT, SERVER and/or the wake-up pipe's fd, whichever has something to read.
        Bytes already inside a connection's buffers count without a system call."""
        ios = [(CLIENT, self._client_io)]
        if self._server_gone is None:
            ios.append((SERVER, self._server_io))
        # _receive leaves nothing inside the TLS layer unless it stopped at RECEIVE_LIMIT.
        ready: list[Any] = [side for side, io in ios
                            if side in self._unread and io.has_pending_data()]
        self._unread.clear()
        if ready:
            return ready
        by_fd = {io.connection.fileno(): side for side, io in ios}
        fds = [*by_fd, self._wake_r]
        if not self._commands.empty():
            return [self._wake_r]
        readable, _, _ = select.select(fds, [], [], timeout)
        return [by_fd.get(fd, fd) for fd in readable]

    def _stop(self) -> None:
        """End every stream's worker and wait for it, then say goodbye to both peers."""
        for stream in list(self._streams.values()):
            self._fail_flow(stream, "the HTTP/2 connection was closed")
        for worker in self._workers:
            worker.join()
        self._workers = []
        for side, conn in ((CLIENT, self.client_h2), (SERVER, self.server_h2)):
            if conn.state_machine.state != h2.connection.ConnectionState.CLOSED:
                try:
                    conn.close_connection()
                    self._send(side)
                except (h2.exceptions.H2Error, netlib_exceptions.NetlibException):
                    pass
        os.close(self._wake_r)
        os.close(self._wake_w)

    # --- sockets ------------------------------------------------------------------------------

    def _io(self, side: str) -> Any:
        return self._client_io if side is CLIENT else self._server_io

    def _h2(self, side: str) -> h2.connection.H2Connection:
        return self.client_h2 if side is CLIENT else self.server_h2

    def _send(self, side: str) -> None:
        if self._client_gone if side is CLIENT else self._server_gone is not None:
            return
        data = self._h2(side).data_to_send()
        if not data:
            return
        io = self._io(side)
        try:
            io.wfile.write(data)
            io.wfile.flush()
        except netlib_exceptions.NetlibException as e:
            self._peer_closed(side, f"cannot write to the {side}: {e}")

    def _receive(self, side: str) -> None:
        """Read what has arrived from ``side`` and hand it to h2. Records the TLS layer
        has already received are read too, so that ``_wait`` need not ask it (each such
        question is a call into OpenSSL that gives up the GIL: with busy connection
        threads, one thread switch each)."""
        io = self._io(side)
        try:
            data = io.rfile.readsome()
            while data and len(data) < RECEIVE_LIMIT and io.has_pending_data():
                more = io.rfile.readsome()
                if not more:
                    break
                data += more
        except netlib_exceptions.NetlibException as e:
            self._peer_closed(side, f"the {side} connection failed: {e}")
            return
        if not data:
            self._peer_closed(side, f"the {side} closed the connection")
            return
        try:
            events = self._h2(side).receive_data(data)
        except h2.exceptions.ProtocolError as e:
            # h2 has queued a GOAWAY naming the error; it goes out before we stop.
            self._send(side)
            self._peer_closed(side, f"HTTP/2 protocol error from the {side}: {e}")
            return
        if len(data) >= RECEIVE_LIMIT:
            self._unread.add(side)
        handle = self._on_client_event if side is CLIENT else self._on_server_event
        for event in events:
            handle(event)

    def _peer_closed(self, side: str, reason: str) -> None:
        if side is CLIENT:
            if not self._client_gone:
                self.log(f"HTTP/2: {reason}", "debug")
                self._client_gone = True
                for stream in list(self._streams.values()):
                    self._reset_server(stream, ErrorCodes.CANCEL)
                    self._fail_flow(stream, reason)
        else:
            self._server_lost(reason, last_stream_id=None)

    # --- the client's events -------------------------------------------------------------------

    def _on_client_event(self, event: h2.events.Event) -> None:
        kind = type(event)
        if kind is h2.events.DataReceived:
            stream = self._streams.get(event.stream_id)
            self._take_data(CLIENT, stream, event, stream is None or stream.request_ended)
        elif kind is h2.events.RequestReceived:
            self._new_stream(event)
        elif kind is h2.events.StreamEnded or kind is h2.events.TrailersReceived:
            # Trailers always end the stream (h2 refuses them without END_STREAM): they
            # end the request, and the StreamEnded after them finds it ended.
            stream = self._streams.get(event.stream_id)
            if stream is not None and not stream.request_ended:
                stream.request_ended = True
                stream.inbox.put(Ended(getattr(event, "headers", None)))
        elif kind is h2.events.StreamReset:
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                stream.client_reset = True
                self._drop(self._outbound[CLIENT].pop(stream.client_id, None))
                self._reset_server(stream, ErrorCodes.CANCEL)
                self._fail_flow(stream, f"the client reset the stream "
                                          f"({_error_name(event.error_code)})")
        elif kind is h2.events.ConnectionTerminated:
            self._peer_closed(CLIENT, f"the client ended the connection (GOAWAY, "
                                      f"{_error_name(event.error_code)})")
        # The rest (SETTINGS, PING, WINDOW_UPDATE, PRIORITY, unknown frames) is h2's
        # business, or shows in the windows the next _pump looks at.

    def _take_data(self, side: str, stream: Stream | None, event: h2.events.DataReceived,
                   ended: bool) -> None:
        """Hand DATA from ``side`` to its stream's reader; DATA nobody will read (the stream
        is gone, its message already ended, its worker done) is acknowledged at once, so
        the peer's window does not shrink for it."""
        if ended or stream.worker_done:
            self.acknowledge(side, event.stream_id, event.flow_controlled_length)
        else:
            stream.unconsumed[side] += event.flow_controlled_length
            stream.inbox.put(Data(event.data, event.flow_controlled_length))

    def _new_stream(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        if self._server_gone is not None:
            self._reset_h2(CLIENT, stream_id, ErrorCodes.REFUSED_STREAM)
            return
        stream = Stream(stream_id, Headers(event.headers, time.time(),
                                           event.stream_ended is not None))
        self._streams[stream_id] = stream
        if can_relay(self.config, self.channel.policy, self.server_conn.address.port,
                     event.headers):
            relay = stream.inbox = RelayedFlow(self, stream)
            relay.start()
            return
        worker = threading.Thread(
            target=Http2SingleStreamLayer(self, stream.for_worker()).run, daemon=True,
            name=f"Http2Stream {self.client_conn.address} #{stream_id}")
        self._workers = [w for w in self._workers if w.is_alive()]
        try:
            worker.start()
        except RuntimeError as e:  # "can't start new thread": refuse, do not crash
            self.log(f"HTTP/2 stream #{stream_id} refused: {e}", "warn")
            self._streams.pop(stream_id)
            self._reset_h2(CLIENT, stream_id, ErrorCodes.REFUSED_STREAM)
            return
        self._workers.append(worker)

    # --- the server's events -------------------------------------------------------------------

    def _on_server_event(self, event: h2.events.Event) -> None:
        kind = type(event)
        if kind is h2.events.DataReceived:
            stream = self._by_server_id.get(event.stream_id)
            self._take_data(SERVER, stream, event, stream is None or stream.response_ended)
        elif kind is h2.events.ResponseReceived:
            stream = self._by_server_id.get(event.stream_id)
            if stream is not None:
                ended = event.stream_ended is not None
                stream.response_ended = ended
                stream.inbox.put(Headers(event.headers, time.time(), ended))
        elif kind is h2.events.StreamEnded or kind is h2.events.TrailersReceived:
            # As the client's, above: trailers end the response.
            stream = self._by_server_id.get(event.stream_id)
            if stream is not None and not stream.response_ended:
                stream.response_ended = True
                stream.inbox.put(Ended(getattr(event, "headers", None)))
            self._open_waiting()
        elif kind is h2.events.StreamReset:
            self._server_reset(event)
            self._open_waiting()
        elif kind is h2.events.ConnectionTerminated:
            self._server_lost(f"the server ended the connection (GOAWAY, "
                              f"{_error_name(event.error_code)})", event.last_stream_id)
        elif kind is h2.events.RemoteSettingsChanged:
            self._open_waiting()  # it may allow more concurrent streams now
        # Informational responses are not relayed (see the module doc).

    def _server_reset(self, event: h2.events.StreamReset) -> None:
        stream = self._by_server_id.get(event.stream_id)
        if stream is None:
            return
        self._drop(self._outbound[SERVER].pop(event.stream_id, None))
        stream.server_done = True
        if event.error_code == ErrorCodes.NO_ERROR and stream.response_ended:
            return  # RFC 7540 8.1: a complete response, and no need for the rest of the body
        self._reset_client(stream, event.error_code)
        self._fail_flow(stream, f"the server reset the stream "
                                  f"({_error_name(event.error_code)})")

    def _server_lost(self, reason: str, last_stream_id: int | None) -> None:
        """The server takes no more: refuse to the client what it never processed (all
        of it when ``last_stream_id`` is None: it closed without saying), fail the flows
        whose responses are incomplete."""
        if self._server_gone is not None:
            return
        self.log(f"HTTP/2: {reason}", "debug")
        self._server_gone = reason
        self._outbound[SERVER].clear()
        # Streams not sent yet are refused when their worker sends them (_send_request):
        # until then a hook may still answer them without the server.
        for stream in list(self._streams.values()):
            if stream.response_ended or stream.client_reset or stream.server_id is None:
                continue
            stream.server_done = True
            if last_stream_id is not None and stream.server_id > last_stream_id:
                self._refuse(stream, reason)
            else:
                self._fail_flow(stream, f"{reason} before the response was complete")
        for command in self._waiting:
            self._refuse(command.stream, reason)
        self._waiting.clear()

    def _refuse(self, stream: Stream, reason: str) -> None:
        """The server never processed the stream: the client may safely retry it."""
        self._reset_client(stream, ErrorCodes.REFUSED_STREAM)
        self._fail_flow(stream, f"the server did not process the request: {reason}")

    # --- the workers' commands ------------------------------------------------------------------

    def post(self, command: Any) -> None:
        """Called by workers: queue ``command`` and wake the connection thread."""
        self._commands.put(command)
        if not self._signalled:
            self._signalled = True
            try:
                os.write(self._wake_w, b"!")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already

    def _take_wakeups(self) -> None:
        """Empty the wake-up pipe, then let workers signal again. In this order: cleared
        first, a worker's byte could be read here while its flag stayed set, and the
        next worker would then post without a byte to wake us (a command lost until the
        select() timed out). The queue is drained after this, so nothing posted before
        is missed."""
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass
        self._signalled = False

    def _handle_commands(self) -> None:
        commands = self._commands
        while True:
            try:
                command = commands.get_nowait()
            except queue.Empty:
                return
            self.execute(command)

    def execute(self, command: Any) -> None:
        """Carry out a stream's command (connection thread only: a worker's, taken from
        the queue, or a RelayedFlow's, at once)."""
        kind = type(command)
        if kind is Consumed:
            self._consumed(command)
        elif kind is SendData:
            self._send_data(command)
        elif kind is SendResponse:
            self._send_response(command)
        elif kind is SendRequest:
            self._send_request(command)
        elif kind is SendTrailers:
            self._send_trailers(command)
        else:
            self._stream_done(command)

    def _consumed(self, command: Consumed) -> None:
        stream = command.stream
        stream.unconsumed[command.side] -= command.size
        stream_id = stream.client_id if command.side is CLIENT else stream.server_id
        if stream_id is not None:
            self.acknowledge(command.side, stream_id, command.size)

    def _send_request(self, command: SendRequest) -> None:
        stream = command.stream
        if stream.client_reset or stream.failure is not None:
            return
        if self._server_gone is not None:
            self._refuse(stream, self._server_gone)
            return
        self._waiting.append(command)
        self._open_waiting()

    def _open_waiting(self) -> None:
        """Open server streams for the requests waiting, as far as the server's
        SETTINGS_MAX_CONCURRENT_STREAMS allows."""
        conn = self.server_h2
        while self._waiting and self._server_gone is None and self._server_stream_free():
            command = self._waiting.popleft()
            stream = command.stream
            if stream.client_reset or stream.failure is not None or stream.worker_done:
                continue
            stream_id = conn.get_next_available_stream_id()
            trailers = command.trailers
            try:
                conn.send_headers(stream_id, command.fields,
                                  end_stream=not command.body and trailers is None)
            except h2.exceptions.H2Error as e:
                self._fail_flow(stream, f"cannot send the request to the server: {e}")
                continue
            stream.server_id = stream_id
            self._by_server_id[stream_id] = stream
            if trailers is not None:
                self._queue(SERVER, stream_id, command.body, end=False, on_sent=None)
                self._queue_trailers(SERVER, stream_id, trailers)
            elif command.body:
                self._queue(SERVER, stream_id, command.body, end=True, on_sent=None)

    def _server_stream_free(self) -> bool:
        """Whether the server allows one more stream now. Every open server stream is
        either a flow's (``_by_server_id``) or still sending a request body
        (``_outbound``), so while those two together are under the limit, so is the number
        of open streams; only otherwise is h2 asked, whose count walks all its streams."""
        limit = self.server_h2.remote_settings.max_concurrent_streams
        if len(self._by_server_id) + len(self._outbound[SERVER]) < limit:
            return True
        return self.server_h2.open_outbound_streams < limit

    def _send_response(self, command: SendResponse) -> None:
        stream = command.stream
        if stream.client_reset:
            return
        trailers = command.trailers
        try:
            self.client_h2.send_headers(
                stream.client_id, command.fields,
                end_stream=command.end and not command.body and trailers is None)
        except h2.exceptions.H2Error as e:
            self._reset_client(stream, ErrorCodes.INTERNAL_ERROR)
            self._fail_flow(stream, f"cannot send the response to the client: {e}")
            return
        if trailers is not None:
            self._queue(CLIENT, stream.client_id, command.body or b"", end=False,
                        on_sent=None)
            self._queue_trailers(CLIENT, stream.client_id, trailers)
        elif command.body:
            self._queue(CLIENT, stream.client_id, command.body, end=command.end, on_sent=None)
        stream.response_sent = command.end

    def _send_data(self, command: SendData) -> None:
        stream = command.stream
        if stream.client_reset:
            if command.on_sent is not None:
                command.on_sent()
            return
        self._queue(CLIENT, stream.client_id, command.data, end=command.end,
                    on_sent=command.on_sent)
        stream.response_sent = command.end

    def _send_trailers(self, command: SendTrailers) -> None:
        stream = command.stream
        if stream.client_reset:
            return
        self._queue_trailers(CLIENT, stream.client_id, command.trailers)
        stream.response_sent = True

    def _stream_done(self, command: StreamDone) -> None:
        stream = command.stream
        stream.worker_done = True
        self._streams.pop(stream.client_id, None)
        if stream.server_id is not None:
            self._by_server_id.pop(stream.server_id, None)
        if not stream.response_sent:
            self._reset_client(stream, command.error_code or ErrorCodes.INTERNAL_ERROR)
        if not stream.response_ended:
            self._reset_server(stream, ErrorCodes.CANCEL)
        self.acknowledge(CLIENT, stream.client_id, stream.unconsumed[CLIENT])
        if stream.server_id is not None:
            self.acknowledge(SERVER, stream.server_id, stream.unconsumed[SERVER])

    # --- flow control ---------------------------------------------------------------------------

    def acknowledge(self, side: str, stream_id: int, size: int) -> None:
        """Reopen ``side``'s windows by ``size`` bytes the flow has taken (connection
        thread only)."""
        if not size or side is SERVER and self._server_gone is not None:
            return
        try:
            self._h2(side).acknowledge_received_data(size, stream_id)
        except h2.exceptions.H2Error:
            pass  # the connection is closing: no window to reopen

    def _queue(self, side: str, stream_id: int, data: bytes, end: bool,
               on_sent: Callable[[], None] | None) -> None:
        outbound = self._outbound[side].get(stream_id)
        if outbound is None:
            outbound = self._outbound[side][stream_id] = _Outbound()
        if data:
            outbound.pieces.append((memoryview(data), on_sent))
        elif on_sent is not None:
            on_sent()
        outbound.end = outbound.end or end

    def _queue_trailers(self, side: str, stream_id: int,
                        trailers: list[tuple[bytes, bytes]]) -> None:
        """End the stream with ``trailers`` once what is queued for it is out."""
        outbound = self._outbound[side].get(stream_id)
        if outbound is None:
            outbound = self._outbound[side][stream_id] = _Outbound()
        outbound.end = trailers

    def _pump(self, side: str) -> None:
        """Send what the peer's windows admit, stream by stream."""
        pending = self._outbound[side]
        if not pending:
            return
        conn = self._h2(side)
        frame_size = conn.max_outbound_frame_size
        for stream_id in list(pending):
            outbound = pending[stream_id]
            pieces = outbound.pieces
            try:
                while pieces:
                    window = conn.local_flow_control_window(stream_id)
                    if window <= 0:
                        break
                    view, on_sent = pieces[0]
                    size = min(window, frame_size, len(view))
                    last = size == len(view)
                    end = last and len(pieces) == 1 and outbound.end is True
                    conn.send_data(stream_id, bytes(view[:size]), end_stream=end)
                    outbound.ended = end
                    if not last:
                        pieces[0] = (view[size:], on_sent)
                        continue
                    pieces.popleft()
                    if on_sent is not None:
                        on_sent()
                if not pieces:
                    if outbound.end and not outbound.ended:
                        if outbound.end is True:
                            conn.end_stream(stream_id)
                        else:
                            conn.send_headers(stream_id, outbound.end, end_stream=True)
                    del pending[stream_id]
            except h2.exceptions.H2Error:
                # The stream was reset meanwhile: its bytes have nowhere to go.
                self._drop(pending.pop(stream_id, None))

    @staticmethod
    def _drop(outbound: _Outbound | None) -> None:
        if outbound is None:
            return
        pieces = list(outbound.pieces)
        outbound.pieces.clear()
        for _view, on_sent in pieces:
            if on_sent is not None:
                on_sent()

    # --- ending streams -----------------------------------------------------------------------

    def _fail_flow(self, stream: Stream, reason: str) -> None:
        """End the stream's flow with ``reason``: a worker's waiting ends with it (and it
        fails the flow), a relayed flow fails at once."""
        if stream.failure is not None or stream.worker_done:
            return
        stream.failure = reason
        stream.inbox.put(Failed(reason))
        if stream.credit is not None:
            stream.credit.release(OUTBOUND_CREDIT)  # a worker waiting to send goes on, and fails

    def _reset_client(self, stream: Stream, error_code: int) -> None:
        if stream.client_reset:
            return
        stream.client_reset = True
        self._drop(self._outbound[CLIENT].pop(stream.client_id, None))
        self._reset_h2(CLIENT, stream.client_id, error_code)

    def _reset_server(self, stream: Stream, error_code: int) -> None:
        """Reset the server stream of ``stream`` if it has an unfinished one."""
        if stream.server_id is None or stream.server_done:
            return
        stream.server_done = True
        self._drop(self._outbound[SERVER].pop(stream.server_id, None))
        self._reset_h2(SERVER, stream.server_id, error_code)

    def _reset_h2(self, side: str, stream_id: int, error_code: int) -> None:
        if side is SERVER and self._server_gone is not None or side is CLIENT and self._client_gone:
            return
        try:
            self._h2(side).reset_stream(stream_id, error_code)
        except h2.exceptions.H2Error:
            pass  # closed already: both sides are done with it

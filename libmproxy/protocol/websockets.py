"""WebSocketLayer: the messages of a WebSocket connection, after its HTTP/1.1 handshake.

The HttpLayer runs the handshake as an ordinary flow (request and response events, the
flow file); when the server answers the ``Upgrade: websocket`` request with 101, this
layer takes the connection over (``--no-websockets``: the raw relay does, as for any other
protocol switch). One thread watches both sockets, as the raw TCP layer does, feeds what
arrives to a sans-io ``FrameParser`` per direction and relays frame by frame.

Rules of this file:

- Every complete data message (fragments reassembled) becomes a ``WebSocketMessage`` on
  the ``WebSocketFlow`` and a "websocket_message" event. When the event is *asked* (a
  script handles it), the message's frames are held until the answer: the script may
  change ``content``/``type``, and a changed message is re-encoded as one frame. Otherwise
  frames are forwarded as they arrive: *told* observers (the dump printer) get a snapshot
  of the flow, *skipped* events keep no content at all (nobody would look at it).
- Frames go out as they came, byte for byte (fragmentation, masking keys) unless they were
  changed, or their masking was wrong for where they go: client-to-server frames must be
  masked and server-to-client frames must not be (RFC 6455 section 5.1), so such a frame
  is re-encoded, with a fresh key towards the server.
- Control frames are relayed at once, also between the fragments of a held message. The
  close handshake is relayed both ways; once both sides have sent Close, the layer
  returns and the connection ends. The first Close's code and reason are kept on the flow.
- A peer that breaks the protocol (a bad frame, a continuation without a message, a
  reserved opcode or bit) fails the connection: both sides get Close 1002 and the flow's
  ``error`` says what happened. A message above ``body_size_limit`` gets 1009.
- Nothing from either side for the socket timeout (``config.timeout``) ends the relay, as
  for raw TCP, but politely: both sides get Close 1001 "idle timeout".
- ``flow.messages`` keeps every message of the connection (as a TCPFlow keeps its
  payloads) while some handler looks at them; with the event skipped, none is kept.
- Extensions: the client's ``Sec-WebSocket-Extensions`` offer is removed from the
  handshake request (``strip_extension_offer``, on the flow itself before the request
  event, so hooks and the flow file see what the server gets), so neither side compresses
  (permessage-deflate, RFC 7692) and every payload can be shown and changed. Modified
  compressed messages could not be forwarded without re-compressing everything after them
  (the peers share a compression window). If a server negotiates an extension anyway,
  the connection is relayed raw (``can_relay_messages`` says so in the log).
- Host and Origin go to the server as the client sent them (the HTTP layer's rule): the
  server judges the Origin, not the proxy.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple

from netlib import exceptions as netlib_exceptions
from netlib.tcp import Reader, wait_readable
from netlib.websockets import OPCODE, Frame, FrameHeader, Masker, is_websocket_request, \
    is_websocket_response

from libmproxy import exceptions
from libmproxy.controller.channel import ASK, SKIP
from libmproxy.models import Error, HTTPFlow, HTTPRequest, WebSocketFlow, WebSocketMessage
from libmproxy.models.tcp import snapshot
from libmproxy.protocol.base import Layer

__all__ = [
    "WebSocketLayer", "FrameParser", "RawFrame", "strip_extension_offer",
    "can_relay_messages", "MESSAGE_EVENT", "EXTENSIONS_HEADER",
]

# The event each complete message is offered to.
MESSAGE_EVENT = "websocket_message"

# The handshake header that offers (request) or accepts (response) extensions.
EXTENSIONS_HEADER = "Sec-WebSocket-Extensions"

# Close codes (RFC 6455 section 7.4.1) the proxy itself sends.
CLOSE_GOING_AWAY = 1001  # the proxy gives the connection up (idle timeout)
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_MESSAGE_TOO_BIG = 1009

# A close frame's payload: a 2-byte code, then a UTF-8 reason; control payloads are at most
# 125 bytes, so a reason the proxy sends is cut to what fits.
CLOSE_CODE_LENGTH = 2
MAX_CLOSE_REASON = 123

# The frame header's fixed part, its extended length fields and the masking key (bytes).
HEADER_MIN_LENGTH = 2
EXTENDED_LENGTH = {126: 2, 127: 8}
MASKING_KEY_LENGTH = 4

DATA_OPCODES = {OPCODE.TEXT: "text", OPCODE.BINARY: "binary"}
OPCODES_OF_TYPE = {name: opcode for opcode, name in DATA_OPCODES.items()}


class RawFrame(NamedTuple):
    """A frame as parsed (payload unmasked) and the exact bytes it arrived as."""
    frame: Frame
    wire: bytes


class _Violation(Exception):
    """A peer broke the protocol; ``code`` is the close code the connection fails with."""

    def __init__(self, message: str, code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


class FrameParser:
    """Bytes in, frames out (sans-io): ``feed`` takes whatever the socket gave and returns
    the frames completed by it; a partial frame waits in the buffer for the next feed.

    netlib's strict header checks apply (shortest length form, control frames short and
    unfragmented); ``max_payload`` (the body size limit) refuses a frame as soon as its
    header announces more, before its payload is buffered. Raises ``_Violation``.
    """

    def __init__(self, max_payload: int | None = None) -> None:
        self.max_payload = max_payload
        self._buf = bytearray()
        self._header: FrameHeader | None = None
        self._header_length = 0

    def feed(self, data: bytes) -> Iterator[RawFrame]:
        """Buffer ``data``; the frames now complete, each parsed only when the previous
        one has been taken (so the good frames before a bad one are still relayed)."""
        self._buf += data
        return self._frames()

    def _frames(self) -> Iterator[RawFrame]:
        while (raw := self._next()) is not None:
            yield raw

    def _next(self) -> RawFrame | None:
        buf = self._buf
        if self._header is None:
            if len(buf) < HEADER_MIN_LENGTH:
                return None
            second = buf[1]
            length = HEADER_MIN_LENGTH + EXTENDED_LENGTH.get(second & 0x7F, 0) \
                + (MASKING_KEY_LENGTH if second & 0x80 else 0)
            if len(buf) < length:
                return None
            try:
                header = FrameHeader.from_file(Reader.from_bytes(bytes(buf[:length])))
            except netlib_exceptions.WebSocketException as e:
                raise _Violation(str(e)) from e
            if self.max_payload is not None and header.payload_length > self.max_payload:
                raise _Violation(
                    f"frame payload of {header.payload_length} bytes exceeds the limit of "
                    f"{self.max_payload}", CLOSE_MESSAGE_TOO_BIG)
            self._header, self._header_length = header, length
        header = self._header
        end = self._header_length + header.payload_length
        if len(buf) < end:
            return None
        wire = bytes(buf[:end])
        del buf[:end]
        self._header = None
        payload = wire[self._header_length:]
        if header.mask and header.masking_key:
            payload = Masker(header.masking_key).mask(payload)
        return RawFrame(Frame.from_header(header, payload), wire)


class _Direction:
    """One direction of the connection: its parser, where its frames go, the message in
    progress and whether this side has sent Close."""

    def __init__(self, from_client: bool, source: Any, destination: Any,
                 max_payload: int | None) -> None:
        self.from_client = from_client
        self.name = "client" if from_client else "server"
        self.source = source
        self.destination = destination
        self.parser = FrameParser(max_payload)
        self.closed = False
        # The message in progress: its opcode (None between messages), how it is relayed
        # (ASK: frames held; TELL: forwarded, content kept; SKIP: forwarded only), its
        # payload pieces, size and held frames.
        self.opcode: int | None = None
        self.action = SKIP
        self.parts: list[bytes] = []
        self.size = 0
        self.held: list[RawFrame] = []

    def end_message(self) -> None:
        self.opcode = None
        self.parts = []
        self.size = 0
        self.held = []


class WebSocketLayer(Layer):
    """Relays the frames of a WebSocket connection whose handshake was ``handshake_flow``."""

    def __init__(self, ctx: Layer, handshake_flow: HTTPFlow) -> None:
        super().__init__(ctx)
        self.handshake_flow = handshake_flow

    def __call__(self) -> None:
        flow = WebSocketFlow(self.client_conn, self.server_conn, self.handshake_flow,
                             live=self)
        client, server = self.client_io, self.server_io
        limit = self.config.body_size_limit
        sides = {client: _Direction(True, client, server, limit),
                 server: _Direction(False, server, client, limit)}
        self.log(f"WebSocket connection to {flow.server_conn.address}", "debug")
        try:
            self._relay(flow, sides)
        except _Violation as e:
            self._fail(flow, sides, e)
        except (netlib_exceptions.NetlibException, OSError, ValueError) as e:
            flow.error = Error(f"WebSocket connection lost: {e}")
            if not isinstance(e, netlib_exceptions.Disconnect):
                raise exceptions.ProtocolException(flow.error.msg) from e
        finally:
            flow.live = None

    # --- the relay loop ------------------------------------------------------------------

    def _relay(self, flow: WebSocketFlow, sides: dict[Any, _Direction]) -> None:
        """Until both sides have sent Close, one side hangs up, or nothing happens for a
        whole timeout."""
        connections = list(sides)
        while True:
            ready = wait_readable(connections, self.config.timeout)
            if not ready:
                self.log("WebSocket connection idle for too long; closing it", "info")
                self._close_all(sides, CLOSE_GOING_AWAY, "idle timeout")
                return
            for source in ready:
                side = sides[source]
                data = source.rfile.readsome()
                if not data:
                    if flow.close_sender is None:
                        flow.error = Error(
                            f"the {side.name} closed the connection without a close "
                            f"handshake")
                    return
                try:
                    for raw in side.parser.feed(data):
                        self._handle_frame(flow, side, raw)
                        if all(s.closed for s in sides.values()):
                            return
                except _Violation as e:
                    raise _Violation(f"from the {side.name}: {e}", e.code) from e
                finally:
                    side.destination.wfile.flush()

    def _handle_frame(self, flow: WebSocketFlow, side: _Direction, raw: RawFrame) -> None:
        header = raw.frame.header
        if side.closed:
            self.log(f"WebSocket: dropped a frame the {side.name} sent after Close", "debug")
            return
        if header.rsv1 or header.rsv2 or header.rsv3:
            raise _Violation("reserved bit set, but no extension was negotiated")
        opcode = header.opcode
        if opcode == OPCODE.CLOSE:
            self._handle_close(flow, side, raw)
        elif opcode in (OPCODE.PING, OPCODE.PONG):
            self._send(side, raw)
        elif opcode in DATA_OPCODES or opcode == OPCODE.CONTINUE:
            self._handle_data(flow, side, raw)
        else:
            raise _Violation(f"reserved opcode {opcode:#x}")

    def _handle_data(self, flow: WebSocketFlow, side: _Direction, raw: RawFrame) -> None:
        header = raw.frame.header
        if header.opcode == OPCODE.CONTINUE:
            if side.opcode is None:
                raise _Violation("continuation frame without a message to continue")
        elif side.opcode is not None:
            raise _Violation("new message before the previous one was finished")
        else:
            side.opcode = header.opcode
            side.action = self.channel.policy.action(MESSAGE_EVENT)
        side.size += header.payload_length
        limit = self.config.body_size_limit
        if limit is not None and side.size > limit:
            raise _Violation(f"message of more than {limit} bytes", CLOSE_MESSAGE_TOO_BIG)
        if side.action != SKIP:
            side.parts.append(raw.frame.payload)
        if side.action == ASK:
            side.held.append(raw)
        else:
            self._send(side, raw)
        if header.fin:
            self._complete_message(flow, side)

    def _complete_message(self, flow: WebSocketFlow, side: _Direction) -> None:
        if side.action == SKIP:
            side.end_message()
            return
        payload = b"".join(side.parts)
        message = WebSocketMessage.from_payload(DATA_OPCODES[side.opcode], side.from_client,
                                                payload)
        flow.messages.append(message)
        if side.action == ASK:
            held, original = side.held, (message.type, message.content)
            side.end_message()
            side.destination.wfile.flush()  # what went before need not wait for the hook
            flow = self.channel.ask(MESSAGE_EVENT, flow)
            self._send_answer(side, flow.messages[-1], held, original, payload)
            return
        side.end_message()
        if self.channel.policy.action(MESSAGE_EVENT) != SKIP:
            self.channel.tell(MESSAGE_EVENT, snapshot(flow))

    def _send_answer(self, side: _Direction, message: WebSocketMessage, held: list[RawFrame],
                     original: tuple[str, Any], payload: bytes) -> None:
        """Forward the held frames as they came, or the message as one new frame if a
        hook changed it. A change that cannot be sent (a type other than text or binary,
        content that is not str or bytes) is reported and the message goes out as it
        came: the hook's mistake is the user's to see, not the peers' to suffer."""
        type_, content = original
        unchanged = message.type == type_ and message.content is content
        if not unchanged:
            try:
                opcode = OPCODES_OF_TYPE[message.type]
                new_payload = message.payload
            except (KeyError, TypeError, ValueError) as e:
                self.log(f"websocket_message: cannot send the changed message ({e!r}); "
                         f"sending it as it came", "error")
                unchanged = True
            else:
                unchanged = message.type == type_ and new_payload == payload
        if unchanged:
            for raw in held:
                self._send(side, raw)
            return
        self._send(side, RawFrame(Frame(new_payload, opcode=opcode, fin=True), b""))

    def _handle_close(self, flow: WebSocketFlow, side: _Direction, raw: RawFrame) -> None:
        payload = raw.frame.payload
        if len(payload) == 1:
            raise _Violation("close frame with a 1-byte payload")
        if flow.close_sender is None:
            flow.close_sender = side.name
            if payload:
                flow.close_code = int.from_bytes(payload[:CLOSE_CODE_LENGTH], "big")
                flow.close_reason = payload[CLOSE_CODE_LENGTH:].decode("utf-8", "replace")
        for held in side.held:  # a message cut short by Close goes out as it came
            self._send(side, held)
        side.end_message()
        self._send(side, raw)
        side.closed = True

    # --- sending -------------------------------------------------------------------------

    def _send(self, side: _Direction, raw: RawFrame) -> None:
        """Write ``raw`` towards the other side, re-encoded if its masking is wrong for
        that direction (or it has no wire form, being new)."""
        header = raw.frame.header
        to_server = side.from_client
        wire = raw.wire
        if not wire or header.mask != to_server or (to_server and not header.masking_key):
            frame = Frame(raw.frame.payload, opcode=header.opcode, fin=header.fin,
                          mask=to_server)
            wire = frame.to_bytes()
        side.destination.wfile.write(wire)

    def _fail(self, flow: WebSocketFlow, sides: dict[Any, _Direction], error: _Violation
              ) -> None:
        message = f"WebSocket protocol error {error}"
        flow.error = Error(message)
        self._close_all(sides, error.code, str(error))
        raise exceptions.ProtocolException(message) from error

    def _close_all(self, sides: dict[Any, _Direction], code: int, reason: str) -> None:
        """Send Close(``code``, ``reason``) to each peer that has not had one yet; a peer
        that is gone already is no reason to stop."""
        # Cut to fit, without splitting a UTF-8 sequence (the reason must stay valid).
        text = reason.encode("utf-8")[:MAX_CLOSE_REASON].decode("utf-8", "ignore")
        body = code.to_bytes(CLOSE_CODE_LENGTH, "big") + text.encode("utf-8")
        for side in sides.values():
            if side.closed:  # its Close went to its destination already
                continue
            try:
                self._send(side, RawFrame(Frame(body, opcode=OPCODE.CLOSE, fin=True), b""))
                side.destination.wfile.flush()
            except netlib_exceptions.NetlibException:
                pass


# --- the handshake, for the HTTP layer ---------------------------------------------------

def strip_extension_offer(request: HTTPRequest, log: Callable[[str, str], None]) -> None:
    """Remove the extension offer (permessage-deflate, ...) from a WebSocket handshake
    request, so that the server answers without one (see module doc). Cheap for every
    other request: one header lookup."""
    headers = request.headers
    if EXTENSIONS_HEADER not in headers or not is_websocket_request(headers):
        return
    log(f"WebSocket: not offering extensions ({headers[EXTENSIONS_HEADER]}) to the server",
        "debug")
    del headers[EXTENSIONS_HEADER]


def can_relay_messages(flow: HTTPFlow, log: Callable[[str, str], None]) -> bool:
    """Whether the 101 of ``flow`` starts a WebSocket connection this layer can read:
    a WebSocket handshake on both sides, without extensions."""
    if not (is_websocket_request(flow.request.headers)
            and is_websocket_response(flow.response.headers)):
        return False
    extensions = flow.response.headers.get(EXTENSIONS_HEADER)
    if extensions:
        log(f"WebSocket: the server negotiated extensions ({extensions}); relaying the "
            f"connection raw", "info")
        return False
    return True

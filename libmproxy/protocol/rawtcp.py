"""RawTCPLayer: relay bytes both ways (``--ignore`` hosts, ``--tcp`` hosts, non-HTTP).

Ignored connections are relayed untouched and unrecorded. Otherwise (``--tcp`` hosts,
``--rawtcp``) each chunk becomes a ``TCPMessage`` on a ``TCPFlow`` and a "tcp_message"
event, in one of three ways (the channel's policy for the event):

- *asked* (a script handles it): the chunk waits for the answer; what goes to the other
  side is the message's content then (``tcp_msg.message`` or ``flow.messages[-1].content``).
  Content that is not bytes is reported and the chunk goes out as it came.
- *told* (only observers, the dump printer): the chunk goes on at once.
- *skipped* (nobody handles it): the chunk goes on and is not recorded (nobody would
  look at it, and a long transfer would otherwise keep all of it in memory).

Asked or told, the event carries a snapshot of the flow (``models.tcp.snapshot``): its
``messages`` end with this chunk even after the thread has appended the next ones, so
an observer still reading it (the printer runs after the answer, or long after a tell)
never shows a later chunk in its place.

One thread watches both sockets (netlib's ``wait_readable``) and relays whatever arrives
in the chunks it arrives in. The relay ends when either side closes, or when neither has
said anything for the socket timeout.
"""
from __future__ import annotations

from netlib import exceptions as netlib_exceptions
from netlib.tcp import wait_readable

from libmproxy import exceptions
from libmproxy.controller.channel import SKIP
from libmproxy.models import Error, TCPFlow, TCPMessage
from libmproxy.models.tcp import snapshot
from libmproxy.protocol.base import Layer

__all__ = ["RawTCPLayer", "MESSAGE_EVENT"]

# The event each chunk is offered to.
MESSAGE_EVENT = "tcp_message"

# What a hook may leave as a message's content: what a socket can send as it is.
_SENDABLE = (bytes, bytearray, memoryview)


class RawTCPLayer(Layer):
    """``ignore``: relay without recording or hooks."""

    def __init__(self, ctx: Layer, ignore: bool = False) -> None:
        super().__init__(ctx)
        self.ignore = ignore

    def __call__(self) -> None:
        if not self.server_conn:
            self.connect()
        flow = None if self.ignore else TCPFlow(self.client_conn, self.server_conn, live=self)
        client, server = self.client_io, self.server_io
        try:
            while True:
                ready = wait_readable([client, server], self.config.timeout)
                if not ready:
                    return  # idle for a whole timeout: give up the connection
                for source in ready:
                    data = source.rfile.readsome()
                    if not data:
                        return
                    from_client = source is client
                    if flow is not None:
                        data = self._hook_message(flow, from_client, data)
                    destination = server if from_client else client
                    destination.wfile.write(data)
                    destination.wfile.flush()
        except (netlib_exceptions.NetlibException, OSError, ValueError) as e:
            if flow is not None:
                flow.error = Error(str(e))
                self.channel.hook("tcp_error", flow)
            if isinstance(e, netlib_exceptions.Disconnect):
                return
            raise exceptions.ProtocolException(f"TCP relay failed: {e}") from e

    def _hook_message(self, flow: TCPFlow, from_client: bool, data: bytes) -> bytes:
        """Record ``data``, offer it to the hooks (see module doc); what to send."""
        if self.channel.policy.action(MESSAGE_EVENT) == SKIP:
            return data
        message = TCPMessage(from_client, data)
        flow.messages.append(message)
        self.channel.hook(MESSAGE_EVENT, snapshot(flow))
        content = message.content
        if content is data:
            return data
        if not isinstance(content, _SENDABLE):
            self.log(f"{MESSAGE_EVENT}: the changed message must be bytes, not "
                     f"{type(content).__name__}; sending it as it came", "error")
            message.content = data
            return data
        return content

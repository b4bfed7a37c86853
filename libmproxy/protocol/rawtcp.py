"""RawTCPLayer: relay bytes both ways (``--ignore`` hosts, ``--tcp`` hosts, non-HTTP).

Ignored connections are relayed untouched and unrecorded. Otherwise (``--tcp`` hosts,
``--rawtcp``) each chunk becomes a ``TCPMessage`` on a ``TCPFlow`` and is offered to the
"tcp_message" hook before it is forwarded, so a script may change ``content``.

One thread watches both sockets (netlib's ``wait_readable``) and relays whatever arrives
in the chunks it arrives in. The relay ends when either side closes, or when neither has
said anything for the socket timeout.
"""
from __future__ import annotations

from netlib import exceptions as netlib_exceptions
from netlib.tcp import wait_readable

from libmproxy import exceptions
from libmproxy.models import Error, TCPFlow, TCPMessage
from libmproxy.protocol.base import Layer

__all__ = ["RawTCPLayer"]


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
        flow.messages.append(TCPMessage(from_client, data))
        flow = self.channel.hook("tcp_message", flow)
        return flow.messages[-1].content

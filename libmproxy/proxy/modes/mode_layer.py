"""What every proxy mode layer does: own the server connection, run the next layer."""
from __future__ import annotations

from libmproxy.protocol import Layer, ServerConnectionMixin

__all__ = ["ModeLayer"]


class ModeLayer(Layer, ServerConnectionMixin):
    """The outermost layer of a connection: it holds the server connection that the
    layers inside use (and may re-point), and closes it when they are done."""

    stage = "start"

    def __call__(self) -> None:
        layer = self.next_layer(self)
        try:
            layer()
        finally:
            if self.server_io is not None:
                self.disconnect()

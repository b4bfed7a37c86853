"""The server of ``-n`` (no proxy): the master runs, nothing listens."""
from __future__ import annotations

from typing import Any

from libmproxy.controller.channel import Channel

__all__ = ["DummyServer"]


class DummyServer:
    """Stands in for ``ProxyServer`` when no proxy should run (reading or replaying flow
    files only), so the master's code has no special case for "no server"."""

    def __init__(self, config: Any = None) -> None:
        self.config = config
        self.channel: Channel | None = None

    def set_channel(self, channel: Channel) -> None:
        self.channel = channel

    def serve_forever(self) -> None:
        pass

    def shutdown(self) -> None:
        pass

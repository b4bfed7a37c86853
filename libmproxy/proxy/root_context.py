"""RootContext: the outermost context of every layer on one client connection.

It offers what the spec documents (``client_conn``, ``channel``, ``config``,
``next_layer``, ``log``) plus ``client_io``, the client's netlib connection, which only
this connection's thread reads and writes.
"""
from __future__ import annotations

from typing import Any, Sequence

from netlib.tcp import Connection

from libmproxy.controller import Channel
from libmproxy.models import ClientConnection
from libmproxy.protocol import Layer
from libmproxy.proxy import next_layer as next_layer_policy
from libmproxy.proxy.log import LogEntry

__all__ = ["RootContext"]


class RootContext:
    """The root of the layer stack (spec: Proxy Server)."""

    def __init__(self, client_conn: ClientConnection, config: Any, channel: Channel,
                 client_io: Connection | None = None) -> None:
        self.client_conn = client_conn
        self.config = config
        self.channel = channel
        self.client_io = client_io

    @property
    def mode(self) -> str:
        return self.config.mode

    @property
    def root_context(self) -> RootContext:
        return self

    @property
    def layers(self) -> list[Layer]:
        return []

    def next_layer(self, top_layer: Layer) -> Layer:
        """The layer that goes on top of ``top_layer`` (see proxy.next_layer's rules)."""
        facts = next_layer_policy.ConnectionFacts(top_layer, self.config, self.client_io)
        return next_layer_policy.build(next_layer_policy.decide(facts), top_layer, facts)

    def log(self, msg: str, level: str, subs: Sequence[str] = ()) -> None:
        """Tell the master (event "log"): the client's address, the message, and indented
        sub-lines. Never waits for the master, even when the policy says "ask"."""
        if not self.channel.policy.wants_log(level):
            return
        lines = [f"{self.client_conn.address}: {msg}", *(f"  -> {sub}" for sub in subs)]
        self.channel.tell("log", LogEntry("\n".join(lines), level))

    def __repr__(self) -> str:
        return f"RootContext({self.client_conn.address})"

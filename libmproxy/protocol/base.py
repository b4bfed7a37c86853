"""The layer API (spec: Protocols): ``Layer`` and ``ServerConnectionMixin``.

A layer is an object whose ``__call__`` runs until its protocol is done and raises only
``ProtocolException`` (and ``Kill``, which the connection handler turns into a closed
connection). Each layer gets its parent as ``ctx``.

Attribute lookup on the context is limited to ``CONTEXT_ATTRIBUTES``: the documented ones
(``client_conn``, ``server_conn``, ``config``, ``channel``, ``mode``, ``log``,
``next_layer``, ...) and the server-connection methods the mixin provides to inner layers.
0.18 forwarded *any* missing attribute up the stack, so a typo failed far away or, worse,
found an unrelated attribute of an outer layer; here it is an AttributeError at once.

Models and sockets are kept apart (STYLE.md): ``client_conn``/``server_conn`` are the
metadata objects scripts see; ``client_io``/``server_io`` are the netlib connections this
thread reads and writes, and nobody else touches.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from netlib import exceptions as netlib_exceptions
from netlib.tcp import Address, TCPClient
from netlib.tcp.connection import idle_readable

from libmproxy import exceptions
from libmproxy.exceptions import Kill
from libmproxy.models import ServerConnection
from libmproxy.protocol import server_io

__all__ = ["Layer", "ServerConnectionMixin", "Kill", "CONTEXT_ATTRIBUTES"]

# What a layer may look up on its context. Everything else must be passed explicitly.
CONTEXT_ATTRIBUTES = frozenset({
    # the documented context (spec: Protocols, Proxy Server)
    "client_conn", "server_conn", "config", "channel", "mode", "log", "next_layer",
    "root_context",
    # the sockets behind the models, owned by this connection's thread
    "client_io", "server_io",
    # the server connection, provided by the nearest ServerConnectionMixin
    "connect", "disconnect", "set_server", "set_server_tls", "server_tls", "server_sni",
    "server_via", "server_idle_closed",
})


class Layer:
    """Base class of every protocol layer.

    ``stage`` tells ``RootContext.next_layer`` where in a connection a layer asking for
    its successor stands: "start" (a proxy mode layer), "tunnel" (the HTTP layer after a
    CONNECT), "tls" (after the TLS layer). Layers that never ask leave it None.
    """

    stage: str | None = None

    def __init__(self, ctx: Any, **mixin_args: Any) -> None:
        self.ctx = ctx
        super().__init__(**mixin_args)

    def __call__(self) -> None:
        """Run the protocol. Returns when done; raises ProtocolException on errors."""
        raise NotImplementedError  # pragma: no cover

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup failed. ``ctx`` is read from __dict__ so that an
        # object half-way through __init__ cannot recurse here.
        #
        # The object that holds ``name`` (the root context for client_conn, the mode layer
        # for server_conn, ...) is found once per layer and name and remembered; later
        # lookups read the attribute from it directly instead of going through __getattr__
        # on every layer in between. The value itself is not cached: server_conn changes
        # when the server connection does. (Measured: context lookups were ~8% of the
        # proxy's CPU on keep-alive requests, each one 2-3 nested __getattr__ calls.)
        # Context layers are read-only for their inner layers (spec: Protocols), so
        # which object holds an attribute does not change.
        state = self.__dict__
        owners = state.get("_context_owners")
        if owners is not None:
            owner = owners.get(name)
            if owner is not None:
                return getattr(owner, name)
        ctx = state.get("ctx")
        if name in CONTEXT_ATTRIBUTES and ctx is not None:
            owner = _context_owner(ctx, name)
            if owner is not None:
                value = getattr(owner, name)
                if owners is None:
                    owners = state["_context_owners"] = {}
                owners[name] = owner
                return value
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
            + ("" if name in CONTEXT_ATTRIBUTES else
               " (layers look up only the documented context attributes on their parent)"))

    @property
    def layers(self) -> list[Any]:
        """[self, self.ctx, self.ctx.ctx, ...] up to (not including) the root context."""
        outer = self.ctx.layers if isinstance(self.ctx, Layer) else []
        return [self, *outer]

    def __repr__(self) -> str:
        return type(self).__name__


def _context_owner(ctx: Any, name: str) -> Any:
    """The nearest of ``ctx``, ``ctx.ctx``, ... that holds ``name`` itself (in its own
    __dict__ or its class), or None if no layer does and the chain ends in None. A context
    that is not a Layer (the RootContext, or any object a test passes) ends the walk."""
    while isinstance(ctx, Layer):
        if name in ctx.__dict__ or hasattr(type(ctx), name):
            return ctx
        ctx = ctx.__dict__.get("ctx")
    return ctx


class ServerConnectionMixin:
    """Gives a layer a server connection that inner layers use through the context.

    The server address is set in the constructor or by ``set_server``; ``connect`` opens
    it (through the upstream proxy given as ``via``, with TLS if ``set_server_tls`` asked
    for it); ``disconnect`` closes it. Every (re)connection gets a fresh
    ``ServerConnection`` model, so a flow keeps the record of the connection it used.
    Subclasses call ``disconnect`` before returning if ``server_conn`` is connected.
    """

    def __init__(self, server_address: Address | tuple | None = None) -> None:
        super().__init__()
        self.server_io: TCPClient | None = None
        self.server_tls: bool = False
        self.server_sni: str | None = None
        self.server_alpn: tuple[bytes, ...] = ()
        self.server_via: Address | None = None
        self.server_conn = ServerConnection(server_address)

    def set_server(self, address: Address | tuple, via: Address | tuple | None = None) -> None:
        """Point at a new server (closing the current connection, if any). ``via`` is an
        upstream proxy to reach it through a CONNECT tunnel; TLS settings are reset."""
        address = Address.wrap(address)
        if self.server_io is not None:
            self.disconnect()
        self.log(f"Set new server address: {address}", "debug")
        self.server_via = Address.wrap(via) if via is not None else None
        self.server_tls = False
        self.server_sni = None
        self.server_alpn = ()
        self.server_conn = self._fresh_model(address)

    def set_server_tls(self, tls: bool, sni: str | None = None,
                       alpn: Sequence[bytes] = ()) -> None:
        """Whether the next ``connect`` speaks TLS to the server, with which SNI and ALPN
        offers. Does not touch an open connection."""
        self.server_tls = tls
        self.server_sni = sni if tls else None
        self.server_alpn = tuple(alpn) if tls else ()

    def connect(self) -> None:
        """Open the server connection. Raises ProtocolException naming the reason."""
        if self.server_io is not None:
            raise exceptions.ProtocolException("already connected to the server")
        model = self.server_conn
        if model.address is None:
            raise exceptions.ProtocolException("Cannot connect to server: no server address given")
        self.channel.hook("serverconnect", model)
        io = server_io.open_connection(
            self.config, model.address, via=self.server_via, tls=self.server_tls,
            sni=self.server_sni, alpn=self.server_alpn,
            spoof_source=self.client_conn.address.host if self.config.spoof_source_address
            else None)
        self.server_io = io
        server_io.record(model, io)
        self.log(f"serverconnect -> {model.address}", "debug")

    def disconnect(self) -> None:
        """Close the server connection and tell the master (spec: serverdisconnect)."""
        io, model = self.server_io, self.server_conn
        if io is None:
            raise exceptions.ProtocolException("not connected to the server")
        self.server_io = None
        io.finish()
        model.connected = False
        model.timestamp_end = time.time()
        self.server_conn = self._fresh_model(model.address)
        try:
            self.channel.hook("serverdisconnect", model)
        except Kill:
            pass  # the connection is closing anyway

    def server_idle_closed(self) -> bool:
        """Whether the idle server connection has something to read: between requests
        that means the server closed it (or sent garbage), so it must not be reused."""
        io = self.server_io
        if io is None:
            return False
        # idle_readable rather than a select(): it asks the kernel with getsockopt, which
        # keeps the GIL, so the check before every reused request costs no thread switch.
        try:
            return idle_readable(io)
        except (OSError, ValueError, netlib_exceptions.NetlibException):
            return True

    def _fresh_model(self, address: Address | None) -> ServerConnection:
        model = ServerConnection(address)
        if self.server_via is not None:
            model.via = ServerConnection(self.server_via)
        return model

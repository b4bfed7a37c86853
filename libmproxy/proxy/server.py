"""ProxyServer (the accept loop) and ConnectionHandler (one client connection, one thread).

Thread rules (DESIGN.md): netlib's TCPServer gives each accepted client its own thread,
bounded in number; that thread builds the connection's models and root context, runs the
mode layer, and ends when the connection ends. ``shutdown`` wakes every connection
thread, including one blocked reading from a server (its socket is shut down too), and
waits for them; threads blocked in ``channel.ask`` are released by the master's shutdown.
"""
from __future__ import annotations

import socket
import threading
import time
import traceback
from typing import Any

from netlib import exceptions as netlib_exceptions
from netlib.tcp import BaseHandler, TCPServer
from netlib.tcp.server import DEFAULT_MAX_CONNECTIONS

from libmproxy import exceptions
from libmproxy.controller import Channel
from libmproxy.models import ClientConnection
from libmproxy.proxy.config import ProxyConfig
from libmproxy.proxy.modes import MODE_LAYERS, ModeLayer, make_mode_layer
from libmproxy.proxy.root_context import RootContext

__all__ = ["ProxyServer", "ConnectionHandler", "THREAD_NAME_PREFIX"]

# Connection threads are called "ProxyConnection 127.0.0.1:50588".
THREAD_NAME_PREFIX = "ProxyConnection"

# The hint logged when a client refuses our certificate (spec: About Certificates).
CA_HINT = ("The client may not trust the proxy's certificate for {server}: install the "
           "mitmproxy CA (http://mitm.it/ from the client) or ignore the host (--ignore).")


class ProxyServer(TCPServer):
    """Listens on ``config.host:config.port`` and serves each client in its own thread."""

    def __init__(self, config: ProxyConfig) -> None:
        if config.mode not in MODE_LAYERS:
            raise exceptions.ServerException(
                f"Error starting proxy server: {config.mode} mode is not available yet")
        self.config = config
        self.channel: Channel | None = None
        self._handlers: set[ConnectionHandler] = set()
        self._handlers_lock = threading.Lock()
        try:
            super().__init__(
                (config.host, config.port), timeout=config.timeout,
                max_connections=config.max_connections or DEFAULT_MAX_CONNECTIONS)
        except netlib_exceptions.TcpException as e:
            reason = e.__cause__ if isinstance(e.__cause__, OSError) else e
            raise exceptions.ServerException(f"Error starting proxy server: {reason}") from e

    def set_channel(self, channel: Channel) -> None:
        self.channel = channel

    def handle_client_connection(self, connection: socket.socket, client_address: Any) -> None:
        if self.channel is None:
            raise exceptions.ServerException("ProxyServer has no channel: call set_channel")
        handler = ConnectionHandler(connection, client_address, self.config, self.channel, self)
        threading.current_thread().name = f"{THREAD_NAME_PREFIX} {handler.client_conn.address}"
        with self._handlers_lock:
            self._handlers.add(handler)
        try:
            handler.handle()
        finally:
            with self._handlers_lock:
                self._handlers.discard(handler)

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        """Stop accepting, wake every connection thread (both sockets), wait for them."""
        self._shutdown_requested = True
        with self._handlers_lock:
            handlers = list(self._handlers)
        for handler in handlers:
            handler.wake()
        super().shutdown(*args, **kwargs)


class ConnectionHandler:
    """Serves one client: models, root context, the mode layer, and the events around."""

    def __init__(self, sock: socket.socket, client_address: Any, config: ProxyConfig,
                 channel: Channel, server: TCPServer | None = None) -> None:
        self.config = config
        self.channel = channel
        self.client_io = BaseHandler(sock, client_address, server, timeout=config.timeout)
        self.client_conn = ClientConnection(client_address, timestamp_start=time.time())
        self.client_conn.connected = True
        self.root_context = RootContext(self.client_conn, config, channel, self.client_io)
        self.root_layer: ModeLayer | None = None

    def handle(self) -> None:
        root_layer = self.root_layer = make_mode_layer(self.root_context)
        log = self.root_context.log
        try:
            self.channel.hook("clientconnect", root_layer)
            root_layer()
        except exceptions.Kill:
            log("Connection killed", "info")
        except exceptions.ClientHandshakeException as e:
            log(str(e), "warn", [CA_HINT.format(server=e.server)])
        except exceptions.ProtocolException as e:
            log(str(e), "info")
        except Exception:  # a bug in a layer: report it, keep the server running
            log(f"Error in the proxy:\n{traceback.format_exc().rstrip()}", "error")
        finally:
            self._close(root_layer)

    def _close(self, root_layer: ModeLayer) -> None:
        if root_layer.server_io is not None:
            root_layer.disconnect()
        self.client_io.finish()
        self.client_conn.connected = False
        self.client_conn.timestamp_end = time.time()
        try:
            self.channel.hook("clientdisconnect", root_layer)
        except exceptions.Kill:
            pass  # shutting down: the connection is closed either way

    def wake(self) -> None:
        """Called from another thread at shutdown: make blocked reads on the server
        socket return, as netlib does for the client socket."""
        root_layer = self.root_layer
        server_io = root_layer.server_io if root_layer is not None else None
        sock = server_io.connection if server_io is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its own thread

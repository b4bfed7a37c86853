"""The proxy server (spec: Proxy Server): its configuration, the accept loop, the root
context of each connection and the proxy modes.

A master wires it up like this::

    config = ProxyConfig(port=8080)
    server = ProxyServer(config)          # ServerException if it cannot listen
    master = SomeMaster(server)           # Master.add_server -> server.set_channel(...)
    master.run()
"""
from libmproxy.controller import DummyServer
from libmproxy.proxy.config import ProxyConfig
from libmproxy.proxy.log import LogEntry
from libmproxy.proxy.root_context import RootContext
from libmproxy.proxy.server import ConnectionHandler, ProxyServer

__all__ = ["ProxyConfig", "ProxyServer", "DummyServer", "RootContext", "ConnectionHandler",
           "LogEntry"]

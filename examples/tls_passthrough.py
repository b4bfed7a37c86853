"""Stops intercepting TLS to a server once a client has refused our certificate for it:
later connections to that server pass through untouched (as with ``--ignore``), so a
client that pins its certificates keeps working, only unrecorded.

Usage: mitmdump -s examples/tls_passthrough.py

How it tells: the client asked for a tunnel (CONNECT) to the server, and by the time it
disconnected no TLS session with it had been established. The script then adds the
server ("host:port") to the proxy's ignore patterns, which every new connection checks.
A client that opens a tunnel and leaves without even trying TLS counts as refusing too:
this proxy tells scripts no more than that about a handshake that failed.
"""
import re

from mitmproxy import ctx
from mitmproxy.proxy.config import HostMatcher

state = {
    # id(client connection) -> (host, port) of the tunnel it asked for, until it closes.
    "tunnels": {},
}


def request(flow):
    if flow.request.method == "CONNECT":
        state["tunnels"][id(flow.client_conn)] = (flow.request.host, flow.request.port)


def clientdisconnect(root_layer):
    client_conn = root_layer.client_conn
    target = state["tunnels"].pop(id(client_conn), None)
    if target is None or client_conn.tls_established:
        return
    config = proxy_config()
    if config is None:
        return
    pattern = "^%s:%d$" % (re.escape(target[0]), target[1])
    if pattern in config.ignore_hosts.patterns:
        return
    # A new matcher replaces the old one at once: connection threads that are deciding
    # right now keep the one they read.
    config.ignore_hosts = HostMatcher(config.ignore_hosts.patterns + [pattern],
                                      "ignore pattern")
    ctx.log("TLS passthrough for %s:%d: the client refused our certificate" % target, "warn")


def proxy_config():
    for server in ctx.master.servers:
        config = getattr(server, "config", None)
        if config is not None:
            return config
    return None

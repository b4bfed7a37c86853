"""Sends some requests through a second upstream proxy, in upstream proxy mode (-U): each
request whose host matches PATTERN (a regex) goes through ALTERNATIVE_PROXY, the others
through the -U proxy.

Usage: mitmdump -U http://default-upstream-proxy.local:8080/ \\
           -s "examples/change_upstream_proxy.py alternative-proxy.local:8081 'example\\.org$'"

``flow.live`` is the flow's connection while it is in flight; ``set_server`` (the layer
API) points it at another server, closing the current server connection if it leads
elsewhere. This works for plain HTTP requests. An HTTPS request comes as a CONNECT
tunnel, which is opened through the -U proxy before the script could choose; to change
the target server itself instead, change ``flow.request.host`` and ``flow.request.port``.

Caveat: this script must not be combined with a script that handles ``serverdisconnect``:
switching closes the previous server connection from within this handler, and that
event would then wait for this very handler to finish.
"""
import re
import sys

from mitmproxy import ctx

state = {}


def start():
    if len(sys.argv) != 3:
        raise ValueError('Usage: -s "change_upstream_proxy.py HOST:PORT PATTERN"')
    host, _, port = sys.argv[1].rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("expected the alternative proxy as HOST:PORT, got %r" % sys.argv[1])
    state["alternative"] = (host, int(port))
    state["pattern"] = re.compile(sys.argv[2])


def default_proxy():
    """The -U proxy, as configured on the proxy server."""
    for server in ctx.master.servers:
        config = getattr(server, "config", None)
        if config is not None and config.upstream_server is not None:
            return config.upstream_server.address.address  # (host, port)
    return None


def proxy_address(flow):
    if state["pattern"].search(flow.request.host):
        return state["alternative"]
    return default_proxy()


def request(flow):
    if flow.request.method == "CONNECT" or not flow.live:
        # A CONNECT is tunnelled through the -U proxy; a flow read from a file has no
        # connection to change.
        return
    address = proxy_address(flow)
    if address is not None and address != flow.live.server_conn.address:
        ctx.log("upstream proxy for %s: %s:%d" % (flow.request.host, address[0], address[1]))
        flow.live.set_server(address)

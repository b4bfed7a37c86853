"""Watches and changes raw TCP traffic: every payload containing "foo" has it replaced
by "bar", and each payload is logged with its direction.

The proxy relays a connection as raw TCP (instead of parsing it as HTTP) when its server
matches a ``--tcp`` pattern, and calls ``tcp_message`` with the connection's flow for each
payload, before forwarding it: the payload is the flow's last message
(``flow.messages[-1]``), and changing its ``content`` changes what the other side gets.

Usage: mitmdump --tcp ".*" -s examples/tcp_message.py
"""
from mitmproxy import ctx


def tcp_message(flow):
    message = flow.messages[-1]
    modified = message.content.replace(b"foo", b"bar")
    is_modified = modified != message.content
    message.content = modified
    if message.from_client:
        sender, receiver = "client", "server"
        sender_address, receiver_address = flow.client_conn.address, flow.server_conn.address
    else:
        sender, receiver = "server", "client"
        sender_address, receiver_address = flow.server_conn.address, flow.client_conn.address
    ctx.log("[tcp_message%s] from %s %s to %s %s: %r" % (
        " (modified)" if is_modified else "", sender, sender_address, receiver,
        receiver_address, message.content))

"""Watches and changes raw TCP traffic: every payload containing "foo" has it replaced
by "bar", and each payload is logged with its direction.

The proxy relays a connection as raw TCP (instead of parsing it as HTTP) when its server
matches a ``--tcp`` pattern, and calls ``tcp_message`` for each payload, before forwarding
it. The one object it passes can be used in either of two forms:

- as the connection's flow (this script): the payload is the flow's last message
  (``flow.messages[-1]``, with ``content`` and ``from_client``), and changing its
  ``content`` changes what the other side gets;
- as the spec's ``TcpMessage``, in 0.18's ``tcp_message(context, tcp_msg)``:
  ``tcp_msg.message`` is the payload (bytes; assign it to change what the other side
  gets), ``tcp_msg.sender`` and ``tcp_msg.receiver`` are the connections it comes from
  and goes to (``.address``), and ``tcp_msg.sender == tcp_msg.client_conn`` tells that it
  goes to the server::

      def tcp_message(context, tcp_msg):
          tcp_msg.message = tcp_msg.message.replace(b"foo", b"bar")
          direction = "to server" if tcp_msg.sender == tcp_msg.client_conn else "to client"
          context.log("%s %r" % (direction, tcp_msg.message))

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

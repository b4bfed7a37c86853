"""The controller: how connection threads and the master (main thread) talk.

``Master`` runs the hooks; ``Channel`` is what a connection thread holds (``ask`` waits for
the master's answer, ``tell`` does not); ``Reply`` is the one answer to one asked event.
"""
from libmproxy.controller.channel import ASK, SKIP, TELL, Channel, Event, EventPolicy
from libmproxy.controller.dummy_server import DummyServer
from libmproxy.controller.master import Master, Server, handler
from libmproxy.controller.reply import DummyReply, PendingReplies, Reply, ReplyState

__all__ = [
    "ASK", "SKIP", "TELL", "EventPolicy", "Channel", "DummyReply", "DummyServer", "Event", "Master", "PendingReplies", "Reply",
    "ReplyState", "Server", "handler",
]

"""The flow model: flows, their messages and connections, as scripts and tools see them.

Every model saves itself as a plain dict (``get_state``) in the 0.18 flow-file layout and
loads from one (``from_state``); ``FLOW_TYPES`` maps a saved flow's "type" to its class.
"""
from libmproxy.models.connections import ClientConnection, ServerConnection
from libmproxy.models.error import Error
from libmproxy.models.flow import FLOW_FORMAT_VERSION, Flow
from libmproxy.models.http import (
    HTTPFlow, HTTPRequest, HTTPResponse, expect_continue_response, make_connect_request,
    make_connect_response, make_error_response,
)
from libmproxy.models.tcp import TCPFlow, TCPMessage
from libmproxy.models.websocket import WebSocketFlow, WebSocketMessage

# WebSocket flows are not saved (the 0.18 layout has none; see models.websocket).
FLOW_TYPES: dict[str, type[Flow]] = {"http": HTTPFlow, "tcp": TCPFlow}

__all__ = [
    "ClientConnection", "Error", "FLOW_FORMAT_VERSION", "FLOW_TYPES", "Flow", "HTTPFlow",
    "HTTPRequest", "HTTPResponse", "ServerConnection", "TCPFlow", "TCPMessage",
    "WebSocketFlow", "WebSocketMessage",
    "expect_continue_response", "make_connect_request", "make_connect_response",
    "make_error_response",
]

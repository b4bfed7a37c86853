"""WebSocket (RFC 6455): frames in ``frame``, the opening handshake in ``protocol``."""
from netlib.websockets.frame import MAX_CONTROL_PAYLOAD, OPCODE, Frame, FrameHeader, Masker
from netlib.websockets.protocol import (
    VERSION,
    check_client_version,
    check_server_accept,
    client_handshake_headers,
    create_client_nonce,
    create_server_nonce,
    get_client_key,
    get_protocol,
    get_server_accept,
    is_websocket_request,
    is_websocket_response,
    server_handshake_headers,
)

__all__ = [
    "OPCODE", "Frame", "FrameHeader", "Masker", "MAX_CONTROL_PAYLOAD", "VERSION",
    "create_client_nonce", "create_server_nonce", "client_handshake_headers",
    "server_handshake_headers", "check_client_version", "get_client_key", "get_server_accept",
    "check_server_accept", "get_protocol", "is_websocket_request", "is_websocket_response",
]

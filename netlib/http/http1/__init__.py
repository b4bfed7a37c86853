"""HTTP/1.1 on a buffered reader: read requests and responses, assemble them back to bytes.

The names are mitmproxy 0.18's, which the proxy layers call. ``read`` holds the parsers, the
limits and the framing rules (expected_http_body_size, connection_close); ``assemble`` the
writers.
"""
from netlib.http.http1.assemble import (
    assemble_body, assemble_request, assemble_request_head, assemble_request_parts,
    assemble_response, assemble_response_head, assemble_response_parts,
)
from netlib.http.http1.read import (
    connection_close, expected_http_body_size, get_header_tokens, join_body, read_body,
    read_request, read_request_head, read_response, read_response_head, response_has_body,
)

__all__ = [
    "read_request", "read_request_head", "read_response", "read_response_head", "read_body",
    "join_body", "expected_http_body_size", "response_has_body", "connection_close",
    "get_header_tokens",
    "assemble_request", "assemble_request_head", "assemble_request_parts",
    "assemble_response", "assemble_response_head", "assemble_response_parts", "assemble_body",
]

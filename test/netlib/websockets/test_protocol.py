import base64
import re

import pytest

from netlib import websockets
from netlib.exceptions import WebSocketException
from netlib.http.headers import Headers

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_rfc_handshake_example():
    assert websockets.create_server_nonce(RFC_KEY) == RFC_ACCEPT
    assert websockets.create_server_nonce(RFC_KEY.encode()) == RFC_ACCEPT


def test_client_nonces_are_fresh_16_byte_keys():
    a, b = websockets.create_client_nonce(), websockets.create_client_nonce()
    assert a != b
    assert len(base64.b64decode(a)) == 16


def test_client_handshake_headers():
    headers = websockets.client_handshake_headers("example.com", RFC_KEY, protocols=["chat", "superchat"])
    assert headers.fields == (
        (b"Host", b"example.com"),
        (b"Connection", b"Upgrade"),
        (b"Upgrade", b"websocket"),
        (b"Sec-WebSocket-Key", RFC_KEY.encode()),
        (b"Sec-WebSocket-Version", b"13"),
        (b"Sec-WebSocket-Protocol", b"chat, superchat"),
    )
    assert websockets.is_websocket_request(headers)
    assert websockets.get_client_key(headers) == RFC_KEY
    assert websockets.get_protocol(headers) == "chat, superchat"
    websockets.check_client_version(headers)


def test_client_handshake_makes_a_key_when_none_is_given():
    headers = websockets.client_handshake_headers("example.com", version=8, protocols="chat")
    assert len(base64.b64decode(headers["sec-websocket-key"])) == 16
    assert headers["sec-websocket-version"] == "8"
    assert headers["sec-websocket-protocol"] == "chat"
    with pytest.raises(WebSocketException, match="unsupported WebSocket version '8'"):
        websockets.check_client_version(headers)


def test_server_handshake_headers_answer_the_key():
    headers = websockets.server_handshake_headers(RFC_KEY, protocol="chat")
    assert headers["Sec-WebSocket-Accept"] == RFC_ACCEPT
    assert websockets.is_websocket_response(headers)
    assert websockets.get_server_accept(headers) == RFC_ACCEPT
    assert websockets.get_protocol(headers) == "chat"
    websockets.check_server_accept(RFC_KEY, headers)


def test_server_accept_for_another_key_is_refused():
    headers = websockets.server_handshake_headers(websockets.create_client_nonce())
    assert websockets.get_protocol(headers) is None
    expected = re.escape(f"does not match the key sent, expected '{RFC_ACCEPT}'")
    with pytest.raises(WebSocketException, match=expected):
        websockets.check_server_accept(RFC_KEY, headers)


def test_missing_headers_are_named():
    empty = Headers()
    with pytest.raises(WebSocketException, match="without a Sec-WebSocket-Key"):
        websockets.get_client_key(empty)
    with pytest.raises(WebSocketException, match="without a Sec-WebSocket-Accept"):
        websockets.get_server_accept(empty)
    with pytest.raises(WebSocketException, match="version None"):
        websockets.check_client_version(empty)


@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ=", ""])
def test_invalid_client_key(key):
    with pytest.raises(WebSocketException, match="invalid Sec-WebSocket-Key"):
        websockets.get_client_key(Headers(sec_websocket_key=key))


@pytest.mark.parametrize("fields, expected", [
    ({"connection": "Upgrade", "upgrade": "websocket", "sec-websocket-key": RFC_KEY}, True),
    ({"connection": "keep-alive, Upgrade", "upgrade": "WebSocket", "sec-websocket-key": RFC_KEY}, True),
    ({"connection": "keep-alive", "upgrade": "websocket", "sec-websocket-key": RFC_KEY}, False),
    ({"connection": "Upgrade", "upgrade": "h2c", "sec-websocket-key": RFC_KEY}, False),
    ({"connection": "Upgrade", "upgrade": "websocket"}, False),
    ({}, False),
])
def test_is_websocket_request(fields, expected):
    headers = Headers([(k.encode(), v.encode()) for k, v in fields.items()])
    assert websockets.is_websocket_request(headers) is expected


def test_is_websocket_response_needs_an_accept():
    assert not websockets.is_websocket_response(Headers(connection="upgrade", upgrade="websocket"))


class BytesHeaders(dict):
    """A plain mapping with lower-case names and bytes values, like a raw header dict."""


def test_any_mapping_with_bytes_values_works():
    headers = BytesHeaders({"connection": b"Upgrade", "upgrade": b"websocket",
                            "sec-websocket-key": RFC_KEY.encode()})
    assert websockets.is_websocket_request(headers)
    assert websockets.get_client_key(headers) == RFC_KEY

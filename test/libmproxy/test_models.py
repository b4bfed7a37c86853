"""The flow model: the 0.18 flow-file layout, wrapping, copying, undo, helpers."""
from __future__ import annotations

from pathlib import Path

import pytest

from netlib import encoding, tnetstring
from netlib.certutils import SSLCert
from netlib.http import Headers, Request, Response
from netlib.tcp.address import Address

from libmproxy import controller, exceptions
from libmproxy.models import (
    FLOW_TYPES, ClientConnection, Error, HTTPFlow, HTTPRequest, HTTPResponse,
    ServerConnection, TCPFlow, TCPMessage, expect_continue_response, make_connect_request,
    make_connect_response, make_error_response,
)

# The flow files recorded by real mitmproxy releases, in shared/ beside the repository.
SHARED_FLOWS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flows"
DUMPFILE_018 = SHARED_FLOWS / "dumpfile-018.mitm"


def load_018_state() -> dict:
    with DUMPFILE_018.open("rb") as f:
        return tnetstring.load(f)


def through_file(state: dict) -> dict:
    """What a state looks like after being written and read back (tuples become lists)."""
    return tnetstring.loads(tnetstring.dumps(state))


def make_flow() -> HTTPFlow:
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 5000)),
                    ServerConnection(("example.com", 80)))
    flow.request = HTTPRequest("relative", "GET", "http", "example.com", 80, "/path",
                               "HTTP/1.1", [("Host", "example.com")], b"request body")
    flow.response = HTTPResponse("HTTP/1.1", 200, "OK", [("Content-Type", "text/plain")],
                                 b"response body")
    return flow


# --- the 0.18 flow file ---------------------------------------------------------------------

def test_a_flow_from_a_018_file_saves_back_to_the_same_state():
    state = load_018_state()
    flow = FLOW_TYPES[state["type"]].from_state(state)
    assert through_file(flow.get_state()) == state


def test_a_flow_from_a_018_file_has_the_documented_attributes():
    flow = HTTPFlow.from_state(load_018_state())
    assert flow.id == "55367415-10f5-4938-b69f-8a523394f947"
    assert flow.request.pretty_url == "https://www.example.com/"
    assert flow.request.is_replay is False and flow.request.stickycookie is False
    assert flow.response.status_code == 200 and b"Example Domain" in flow.response.content
    assert flow.client_conn.address == ("127.0.0.1", 52774)
    assert flow.client_conn.ssl_established and flow.client_conn.clientcert is None
    server = flow.server_conn
    assert server.address.host == "www.example.com" and server.ip_address.port == 443
    assert server.source_address == ("10.67.53.133", 52775)
    assert isinstance(server.cert, SSLCert) and server.cert.cn == "www.example.org"
    assert server.sni == "www.example.com"
    assert isinstance(server.via, ServerConnection) and server.via.via is None
    assert flow.error is None and not flow.intercepted and not flow.marked
    assert flow.live is None and flow.reply is None and not flow.modified()
    # Loaded connections are not open.
    assert not flow.client_conn and not flow.server_conn


def test_state_with_missing_or_unknown_keys_is_refused_naming_them():
    state = load_018_state()
    del state["marked"]
    state["extra"] = 1
    with pytest.raises(ValueError, match=r"HTTPFlow state: missing \['marked'\], "
                                         r"unexpected \['extra'\]"):
        HTTPFlow.from_state(state)
    request_state = load_018_state()["request"]
    del request_state["stickyauth"]
    with pytest.raises(ValueError, match="missing .'stickyauth'."):
        HTTPRequest.from_state(request_state)


# --- HTTP messages ----------------------------------------------------------------------------

def test_wrap_adopts_a_netlib_request_without_copying():
    request = Request.make("GET", "http://example.com/a")
    wrapped = HTTPRequest.wrap(request)
    assert isinstance(wrapped, HTTPRequest) and wrapped == request
    assert (wrapped.is_replay, wrapped.stickycookie, wrapped.stickyauth) == (False,) * 3
    wrapped.path = "/b"
    assert request.path == "/b"


def test_wrap_adopts_a_netlib_response_without_copying():
    response = Response.make(404, b"gone")
    wrapped = HTTPResponse.wrap(response)
    assert isinstance(wrapped, HTTPResponse) and wrapped.content == b"gone"
    assert wrapped.is_replay is False and wrapped.stream is False
    wrapped.status_code = 410
    assert response.status_code == 410


def test_request_state_adds_replay_and_sticky_flags_and_round_trips():
    request = HTTPRequest("absolute", "POST", "https", "example.com", 443, "/", "HTTP/1.1",
                          Headers(), b"x", 1.0, 2.0, is_replay=True, stickyauth=True)
    state = request.get_state()
    assert state["is_replay"] is True and state["stickyauth"] is True
    assert state["stickycookie"] is False and state["method"] == b"POST"
    again = HTTPRequest.from_state(through_file(state))
    assert again == request and again.is_replay and again.stickyauth
    other = HTTPRequest.wrap(Request.make("GET", "http://other/"))
    other.set_state(state)
    assert other == request and other.is_replay


def test_response_state_is_netlibs_and_round_trips():
    response = HTTPResponse("HTTP/1.1", 302, "Found", [("Location", "/x")], b"", 1.0, 2.0,
                            is_replay=True)
    state = response.get_state()
    assert "is_replay" not in state  # the 0.18 layout does not save it
    assert state == Response.get_state(response)
    assert HTTPResponse.from_state(through_file(state)) == response


# --- HTTP flows -------------------------------------------------------------------------------

def test_replace_counts_replacements_in_request_and_response():
    flow = make_flow()
    assert flow.replace("body", "text") == 2
    assert flow.request.content == b"request text"
    assert flow.response.content == b"response text"
    assert flow.replace(b"nothing", b"x") == 0


def test_replace_works_on_decoded_content_and_reencodes():
    flow = make_flow()
    flow.response.headers["Content-Encoding"] = "gzip"
    flow.response.content = b"hello hello"
    raw = flow.response.raw_content
    assert raw != b"hello hello"
    assert flow.replace("hello", "bye", flags=0) == 2
    assert encoding.decode(flow.response.raw_content, "gzip") == b"bye bye"


def test_replace_on_a_flow_without_messages_counts_nothing():
    assert HTTPFlow(None, None).replace("a", "b") == 0


def test_match_calls_a_compiled_filter():
    flow = make_flow()
    assert flow.match(lambda f: f.response.status_code == 200) is True
    assert flow.match(lambda f: None) is False


def test_match_compiles_a_filter_expression():
    flow = make_flow()
    assert flow.match("~s") is True
    assert flow.match("~q") is False
    with pytest.raises(ValueError, match="invalid filter expression"):
        flow.match("~c foo")


def test_tcp_flows_match_too():
    flow = TCPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 80)))
    assert flow.match("~tcp") is True
    assert flow.match("~http") is False


def test_copy_has_a_new_id_equal_content_and_is_independent():
    flow = make_flow()
    flow.error = Error("oops", 5.0)
    flow.reply = controller.Reply(flow)
    flow.live = object()
    copy = flow.copy()
    assert copy.id != flow.id
    original, copied = flow.get_state(), copy.get_state()
    del original["id"], copied["id"]
    assert copied == original
    assert copy.live is None and copy.reply is None
    copy.request.headers["X"] = "1"
    copy.response.content = b"changed"
    copy.client_conn.ssl_established = True
    copy.error.msg = "other"
    assert "X" not in flow.request.headers and flow.response.content == b"response body"
    assert not flow.client_conn.ssl_established and flow.error.msg == "oops"


def test_backup_and_revert_restore_the_original():
    flow = make_flow()
    assert not flow.modified()
    flow.backup()
    flow.request.path = "/first-edit"
    flow.backup()  # a second backup keeps the first
    flow.response.status_code = 500
    assert flow.modified()
    flow.revert()
    assert flow.request.path == "/path" and flow.response.status_code == 200
    assert not flow.modified()
    flow.revert()  # nothing to revert: no change


def test_backup_with_force_replaces_the_previous_backup():
    flow = make_flow()
    flow.backup()
    flow.request.path = "/new"
    flow.backup(force=True)
    assert not flow.modified()


def test_a_modified_flow_saves_its_backup_and_can_be_reverted_after_loading():
    flow = make_flow()
    flow.backup()
    assert "backup" not in flow.get_state()  # unmodified: nothing extra to save
    flow.request.method = "PUT"
    state = through_file(flow.get_state())
    assert state["backup"]["request"]["method"] == b"GET"
    loaded = HTTPFlow.from_state(state)
    assert loaded.request.method == "PUT"
    loaded.revert()
    assert loaded.request.method == "GET"


def test_an_http_flow_repr_shows_request_response_and_error():
    flow = make_flow()
    flow.error = Error("reset")
    assert repr(flow) == ("<HTTPFlow Request(GET example.com/path) "
                          "Response(200 OK, text/plain, 13b) Error('reset')>")


# --- connections ------------------------------------------------------------------------------

def test_client_connection_state_round_trips(tmp_path):
    client = ClientConnection(("::1", 5432), None, True, 1.0, 3.0, 2.0)
    state = client.get_state()
    assert state["address"] == {"address": ("::1", 5432), "use_ipv6": True}
    assert sorted(state) == ["address", "clientcert", "ssl_established", "timestamp_end",
                             "timestamp_ssl_setup", "timestamp_start"]
    assert ClientConnection.from_state(through_file(state)) == client


def test_server_connection_state_round_trips_with_cert_and_via():
    cert = HTTPFlow.from_state(load_018_state()).server_conn.cert
    upstream = ServerConnection(("proxy", 8080))
    server = ServerConnection(("example.com", 443), ("10.0.0.1", 4000),
                              ip_address=("93.184.216.34", 443), ssl_established=True,
                              cert=cert, sni="example.com", via=upstream,
                              timestamp_start=1.0, timestamp_tcp_setup=2.0,
                              timestamp_ssl_setup=3.0, timestamp_end=4.0)
    again = ServerConnection.from_state(through_file(server.get_state()))
    assert again == server and again.cert == cert and again.via == upstream
    assert again != upstream and server != "a string"


def test_connections_hold_addresses_however_they_are_assigned():
    server = ServerConnection.make_dummy(("example.com", 80))
    server.address = ("other.com", 443)
    server.source_address = Address("127.0.0.1", 1234)
    assert isinstance(server.address, Address) and server.address.port == 443
    assert ServerConnection.address.__class__.__name__ == "_AddressAttribute"
    server.ip_address = None
    assert server.ip_address is None


def test_connections_are_true_while_open_and_read_well_in_logs():
    client = ClientConnection.make_dummy(("127.0.0.1", 5432))
    assert repr(client) == "<ClientConnection: 127.0.0.1:5432>"
    assert not client
    client.connected = True
    assert client
    client.ssl_established = True
    assert repr(client) == "<ClientConnection: 127.0.0.1:5432 (TLS)>"
    assert client.tls_established


def test_a_connection_copy_is_equal_and_independent():
    server = ServerConnection(("example.com", 443), via=ServerConnection(("proxy", 3128)))
    server.connected = True
    copy = server.copy()
    assert copy == server and copy is not server and copy.via is not server.via
    assert copy.connected  # live details are kept by a copy
    copy.via.sni = "changed"
    assert server.via.sni is None
    assert ClientConnection(("a", 1)) != ServerConnection(("a", 1))


# --- errors and TCP ---------------------------------------------------------------------------

def test_error_state_round_trips():
    error = Error("connection reset", 1234.5)
    assert error.get_state() == {"msg": "connection reset", "timestamp": 1234.5}
    assert Error.from_state(error.get_state()) == error
    assert str(error) == "connection reset" and repr(error) == "Error('connection reset')"
    assert Error("now").timestamp > 0
    assert error != "connection reset"


def test_tcp_flow_state_round_trips_with_its_messages():
    flow = TCPFlow(ClientConnection(("127.0.0.1", 1)), ServerConnection(("example.com", 2)))
    flow.messages.append(TCPMessage(True, b"hello", 1.0))
    flow.messages.append(TCPMessage(False, b"world", 2.0))
    state = flow.get_state()
    assert state["type"] == "tcp" and state["version"] == [0, 18, 2]
    assert state["messages"] == [[True, b"hello", 1.0], [False, b"world", 2.0]]
    again = FLOW_TYPES["tcp"].from_state(through_file(state))
    assert again.messages == flow.messages
    assert through_file(again.get_state()) == through_file(state)
    assert repr(again) == "<TCPFlow (2 messages)>"


def test_tcp_message_copy_state_and_repr():
    message = TCPMessage(False, b"data")
    assert message.timestamp > 0
    copy = message.copy()
    assert copy == message and copy is not message
    copy.set_state([True, b"other", 3.0])
    assert (copy.from_client, copy.content, copy.timestamp) == (True, b"other", 3.0)
    assert repr(copy) == "<TCPMessage -> b'other'>" and repr(message).startswith("<TCPMessage <-")
    assert message != "data"


def test_a_tcp_flow_copy_does_not_share_messages():
    flow = TCPFlow(None, None)
    flow.messages.append(TCPMessage(True, b"a"))
    copy = flow.copy()
    copy.messages[0].content = b"b"
    assert flow.messages[0].content == b"a"


# --- helpers ----------------------------------------------------------------------------------

def test_make_error_response_escapes_the_message_and_closes_the_connection():
    response = make_error_response(502, "<script>alert('x')</script>")
    assert isinstance(response, HTTPResponse)
    assert response.status_code == 502 and response.reason == "Bad Gateway"
    assert b"<script>" not in response.content
    assert b"&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in response.content
    assert b"<title>502 Bad Gateway</title>" in response.content
    assert response.headers["Connection"] == "close"
    assert response.headers["Content-Length"] == str(len(response.content))


def test_make_error_response_keeps_given_headers_and_names_unknown_codes():
    response = make_error_response(599, headers=Headers(X_Custom="1"))
    assert response.reason == "Unknown" and response.headers["X-Custom"] == "1"
    assert response.headers["Content-Length"] == str(len(response.content))


def test_connect_helpers():
    request = make_connect_request(("example.com", 443))
    assert request.method == "CONNECT" and request.first_line_format == "authority"
    assert (request.host, request.port) == ("example.com", 443)
    response = make_connect_response("HTTP/1.0")
    assert response.status_code == 200 and response.http_version == "HTTP/1.0"
    assert response.reason == "Connection established"
    assert expect_continue_response.status_code == 100
    assert expect_continue_response.reason == "Continue"


def test_the_0_18_import_names_work():
    from mitmproxy.models import ClientConnection as AliasedClient
    from mitmproxy.models import HTTPFlow as AliasedFlow
    assert AliasedFlow is HTTPFlow and AliasedClient is ClientConnection


def test_a_told_flow_is_not_killable_and_a_loaded_one_cannot_be_resumed():
    flow = make_flow()
    flow.reply = controller.DummyReply()
    assert not flow.killable
    loaded = HTTPFlow.from_state(load_018_state())
    loaded.intercepted = True
    with pytest.raises(exceptions.ControlException, match="not waiting for an answer"):
        loaded.resume(controller.Master())

"""HTTP/1 request and response specs: the docs' examples, rendering, canonical text."""
import pytest

from libpathod.language import ParseException, RenderError, Settings, parse_pathoc, parse_pathod
from libpathod.language import base, http, useragents

from .helpers import render, served

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="

# The Response Examples table (the Etag example with its quotes repaired; see below).
RESPONSE_EXAMPLES = [
    "200", "200:r", "200:da", "200:b@100", "200:b@100:h\"Etag\"=\"';drop table servers;'\"",
    "200:b@100:dr", "200:b@100,ascii:ir,@1", "200:b@1k:c\"text/json\"", "200:b@1k:p50,120",
    "200:b@1k:pr,f", "200:b@100:h@1k,ascii_letters='foo'",
]
# The Request Examples table with the colons the grammar needs, and the other request forms
# the docs use.
REQUEST_EXAMPLES = [
    "get:/", "get:/:b@100", "get:/:h\"Etag\"=\"&;drop table browsers;\"",
    "get:/:u\"&;drop table browsers;\"", "get:/:b@100:dr", "get:/:b@100,ascii:ir,@1", "ws:/",
    "get:/p/:s'401:ir,@1'", "get:'http://google.com'", "get:/:b@10:ir,@1",
]


def response(text):
    return next(parse_pathod(text))


def request(text):
    return next(parse_pathoc(text))


@pytest.mark.parametrize("text", RESPONSE_EXAMPLES)
def test_response_examples_round_trip_and_resolve_reproducibly(text):
    settings = Settings(websocket_key=WS_KEY)
    msg = response(text)
    assert response(msg.spec()) == msg
    resolved = msg.resolve(settings)
    assert response(resolved.spec()) == resolved
    assert resolved.resolve(settings) == resolved
    assert served(resolved.preview_safe(), settings)[0] == served(resolved.preview_safe(), settings)[0]


@pytest.mark.parametrize("text", REQUEST_EXAMPLES)
def test_request_examples_round_trip_and_resolve_reproducibly(text):
    settings = Settings(request_host="example.com")
    msg = request(text)
    assert request(msg.spec()) == msg
    resolved = msg.resolve(settings)
    assert request(resolved.spec()) == resolved
    assert resolved.resolve(settings) == resolved
    assert render(resolved, settings) == render(resolved, settings)


@pytest.mark.parametrize("text,fixed", [
    ("get:/b@100", "get:/:b@100"),
    ("get:/h\"Etag\"=\"&;drop table browsers;\"", "get:/:h\"Etag\"=\"&;drop table browsers;\""),
    ("get:/u\"&;drop table browsers;\"", "get:/:u\"&;drop table browsers;\""),
    ("get:/b@100:dr", "get:/:b@100:dr"),
    ("get:/b@100,ascii:ir,@1", "get:/:b@100,ascii:ir,@1"),
])
def test_dropped_colon_forms_from_the_docs_are_errors_suggesting_the_fix(text, fixed):
    with pytest.raises(ParseException) as e:
        request(text)
    assert e.value.col == 6
    assert "separated by ':'" in str(e.value)
    assert repr(fixed) in str(e.value)


def test_docs_etag_response_example_with_broken_quotes_is_an_error():
    with pytest.raises(ParseException) as e:
        response("200:b@100:h\"Etag\"=\"\";drop table servers;\"")
    assert e.value.col == 20


def test_basic_response_gets_content_length_zero():
    assert render(response("200").resolve(Settings())) == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def test_response_body_literal():
    assert render(response("200:b'foo'").resolve(Settings())) == \
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nfoo"


def test_raw_response_has_no_content_length():
    assert render(response("200:r:b'foo'").resolve(Settings())) == b"HTTP/1.1 200 OK\r\n\r\nfoo"


def test_explicit_content_length_is_not_duplicated():
    data = render(response("200:h'content-length'='9':b'foo'").resolve(Settings()))
    assert data == b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nfoo"


def test_informational_response_gets_no_content_length():
    assert render(response("100").resolve(Settings())) == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_reason_is_chosen_from_code_or_set_with_m():
    assert render(response("404").resolve(Settings())).startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert render(response("404:m'Gone Fishing'")).startswith(b"HTTP/1.1 404 Gone Fishing\r\n")
    assert render(response("799")).startswith(b"HTTP/1.1 799 Unknown\r\n")


def test_generated_body_has_size_and_type():
    resolved = response("200:b@1k,digits").resolve(Settings())
    head, body = render(resolved).split(b"\r\n\r\n", 1)
    assert b"Content-Length: 1024" in head
    assert len(body) == 1024 and body.isdigit()


def test_content_type_and_location_shortcuts_render_as_headers():
    data = render(response("302:c'text/json':l'http://foo/'"))
    assert b"\r\nContent-Type: text/json\r\nLocation: http://foo/\r\n" in data


def test_generated_header_name():
    resolved = response("200:h@1k,ascii_letters='foo'").resolve(Settings())
    line = render(resolved).split(b"\r\n")[1]
    name, value = line.split(b": ")
    assert len(name) == 1024 and name.isalpha() and value == b"foo"


def test_websocket_response_answers_the_clients_key():
    msg = response("ws")
    assert msg.ws and msg.status_code == 101
    assert render(msg.resolve(Settings(websocket_key=WS_KEY))) == (
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")


def test_websocket_response_with_explicit_code_keeps_it():
    msg = response("ws:200:h'Upgrade'='nope'")
    assert msg.spec() == "ws:200:h'Upgrade'='nope'"
    data = render(msg.resolve(Settings(websocket_key=WS_KEY.encode())))
    assert data.startswith(b"HTTP/1.1 200 OK\r\nUpgrade: nope\r\nConnection: Upgrade\r\n")
    assert data.count(b"Upgrade: ") == 1


def test_websocket_response_without_key_is_a_render_error():
    with pytest.raises(RenderError, match="websocket key"):
        response("ws").resolve(Settings())


def test_simple_request_renders_request_line_only():
    assert render(request("get:/").resolve(Settings())) == b"GET / HTTP/1.1\r\n\r\n"


def test_request_gets_host_from_settings_first():
    data = render(request("get:/:h'X'='y'").resolve(Settings(request_host="example.com")))
    assert data == b"GET / HTTP/1.1\r\nHost: example.com\r\nX: y\r\n\r\n"


def test_request_keeps_its_own_host_header():
    data = render(request("get:/:h'host'='other'").resolve(Settings(request_host="example.com")))
    assert data == b"GET / HTTP/1.1\r\nhost: other\r\n\r\n"


def test_request_with_body_gets_content_length_unless_raw():
    assert render(request("post:/:b'abc'").resolve(Settings())) == \
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
    assert render(request("post:/:b'abc':r").resolve(Settings())) == b"POST / HTTP/1.1\r\n\r\nabc"


@pytest.mark.parametrize("text,method", [
    ("get:/", b"GET"), ("GET:/", b"GET"), ("Post:/", b"POST"), ("'FOO':/", b"FOO"),
    ("'get':/", b"get"), ("patch:/", b"PATCH"),
])
def test_methods_bare_or_quoted(text, method):
    assert render(request(text)).startswith(method + b" / ")


def test_canonical_method_is_quoted_as_pathoc_shows_it():
    assert request("get:/").spec() == "'GET':/"
    assert request("get:/") == request("'GET':/")


def test_proxy_request_with_full_url():
    msg = request("get:'http://google.com'")
    assert render(msg).startswith(b"GET http://google.com HTTP/1.1\r\n")
    assert msg.spec() == "'GET':'http://google.com'"


def test_generated_path():
    line = render(request("get:@10,digits")).split(b"\r\n")[0]
    assert len(line) == len(b"GET  HTTP/1.1") + 10


@pytest.mark.parametrize("name", sorted(useragents.USER_AGENTS))
def test_user_agent_shortcuts_give_real_strings(name):
    data = render(request(f"get:/:u{name}"))
    agent = data.split(b"User-Agent: ")[1].split(b"\r\n")[0].decode()
    assert agent == useragents.USER_AGENTS[name]
    assert agent.startswith("Mozilla/5.0 (")


def test_user_agent_shortcut_is_case_insensitive_and_canonical_lowercase():
    assert request("get:/:uChrome").spec() == "'GET':/:uchrome"


def test_websocket_request_has_handshake_headers_with_the_settings_key():
    settings = Settings(request_host="example.com", websocket_key=WS_KEY)
    assert render(request("ws:/").resolve(settings)) == (
        b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: " + WS_KEY.encode() + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def test_websocket_request_without_key_makes_one_and_names_it_in_the_spec():
    resolved = request("ws:/").resolve(Settings())
    key = resolved.get_header(b"sec-websocket-key").header_pair()[1]
    assert len(key.data) == 24
    assert resolved.ws


def test_websocket_request_with_method():
    msg = request("ws:post:/x")
    assert msg.ws and msg.spec() == "ws:post:/x"
    assert render(msg).startswith(b"POST /x HTTP/1.1")
    assert request("ws:get:/x").spec() == "ws:/x"


def test_quoted_path_after_ws_is_a_path_not_a_method():
    assert render(request("ws:'/a b'")).startswith(b"GET /a b HTTP/1.1")


def test_embedded_response_is_resolved_into_the_path():
    settings = Settings(request_host="localhost")
    resolved = request("get:/p/:s'401:ir,@1'").resolve(settings)
    nested = resolved.nested_response.response
    inject = nested.actions[0]
    assert isinstance(inject.offset, int) and len(inject.value.data) == 1
    assert nested.get_header(b"Content-Length")
    line = render(resolved, settings).split(b"\r\n")[0]
    assert line.startswith(b"GET /p/401:i")
    # What pathod parses out of the path is the resolved response itself.
    import urllib.parse
    embedded = urllib.parse.unquote_to_bytes(line[len(b"GET /p/"):-len(b" HTTP/1.1")])
    assert response(embedded.decode("latin-1")) == nested


def test_embedded_response_percent_encodes_what_a_request_line_cannot_carry():
    line = render(request("get:/p/:s'200:b\"a b%#?\"'")).split(b"\r\n")[0]
    assert line == b"GET /p/200:b'a%20b%25%23%3F' HTTP/1.1"


def test_embedded_response_errors_point_into_the_embedded_spec():
    with pytest.raises(ParseException) as e:
        request("get:/:s'200:b@1x'")
    assert "embedded response" in e.value.msg
    assert e.value.col == 14  # the "1x" inside the quotes


def test_times_is_exposed_and_expanded():
    msg = next(parse_pathoc("get:/:x3"))
    assert msg.times is None
    specs = list(parse_pathoc("get:/:x3 get:/b"))
    assert [s.spec() for s in specs] == ["'GET':/"] * 3 + ["'GET':/b"]


def test_accessors():
    msg = response("200:b'x':h'A'='b':da:r")
    assert msg.body.value.data == b"x"
    assert msg.raw
    assert len(msg.headers) == 1 and msg.get_header(b"a") and not msg.get_header(b"b")
    assert [type(a).__name__ for a in msg.actions] == ["DisconnectAt"]
    assert isinstance(msg.tok(base.Header), base.Header)


def test_log_records_fields_truncated():
    log = response("200:b@10k:m'Fine'").resolve(Settings()).log(Settings())
    assert log["code"] == 200 and log["reason"] == "Fine"
    assert len(log["body"]) >= 1024 and log["spec"].startswith("200:b@10k,bytes,")
    req_log = request("get:/foo").log(Settings())
    assert req_log == {"method": "GET", "path": "/foo", "body": None, "spec": "'GET':/foo"}


def test_preview_safe_drops_pauses_only():
    msg = response("200:p1,f:da:b'x'")
    assert msg.preview_safe().spec() == "200:da:b'x'"


def test_spec_equality_and_hash_follow_canonical_text():
    assert response("200:b\"foo\"") == response("200:b'foo'")
    assert hash(response("200:b\"foo\"")) == hash(response("200:b'foo'"))
    assert response("200") != request("get:/")
    assert (response("200") == 200) is False
    assert str(response("200:b'x'")) == "200:b'x'"


def test_file_body_is_read_from_staticdir(settings):
    assert render(response("200:b<file").resolve(settings), settings).endswith(b"\r\n\r\ntestfile")
    assert render(response("200:b<'sub/nested'"), settings).endswith(b"nested contents")


def test_file_body_outside_staticdir_is_refused_at_resolve(settings):
    from libpathod.language import FileAccessDenied
    with pytest.raises(FileAccessDenied):
        response("200:b<../secret").resolve(settings)


def test_path_that_cannot_be_bare_is_quoted_in_canonical_form():
    assert request("get:'\\xff'").spec() == "'GET':'\\xff'"
    assert request("get:'/a\\x01'").spec() == "'GET':'/a\\x01'"
    assert request("get:'/plain'").spec() == "'GET':/plain"


def test_websocket_request_accepts_key_as_bytes():
    data = render(request("ws:/").resolve(Settings(websocket_key=WS_KEY.encode())))
    assert b"Sec-WebSocket-Key: " + WS_KEY.encode() + b"\r\n" in data


def test_no_colon_suggestion_after_a_quoted_path():
    with pytest.raises(ParseException) as e:
        request("get:'/x'y")
    assert "did you mean" not in str(e.value)


def test_times_and_tokens_have_canonical_text():
    msg = http.Request(tokens=(base.Times(3), base.Raw()))
    assert msg.spec() == "'GET':/:x3:r" and str(msg.tokens[0]) == "x3"
    assert msg.times == 3 and msg.strike_times().spec() == "'GET':/:r"


def test_error_response_uses_code_800_and_explains():
    msg = http.make_error_response("Bad spec", "unknown feature 'z'")
    data = render(msg.resolve(Settings()))
    assert data.startswith(b"HTTP/1.1 800 Bad spec\r\nContent-Type: text/plain\r\n")
    assert data.endswith(b"\r\n\r\npathod error: unknown feature 'z'")
    assert response(msg.spec()) == msg


def test_host_with_port_and_international_name():
    data = render(request("get:/").resolve(Settings(request_host="example.com:8080")))
    assert b"\r\nHost: example.com:8080\r\n" in data
    data = render(request("get:/").resolve(Settings(request_host="b\u00fccher.example")))
    assert b"\r\nHost: xn--bcher-kva.example\r\n" in data


def test_ws_response_logs_the_101_it_sends():
    response = next(parse_pathod("ws"))
    settings = Settings(websocket_key=b"dGhlIHNhbXBsZSBub25jZQ==")
    assert response.resolve(settings).log(settings)["code"] == 101

"""What Request and Response share: head, body encodings, text, replace, copy and state.

The behaviours are exercised on a Response; test_request.py checks that a Request shares them.
"""
import gzip

import pytest

from netlib import encoding
from netlib.http import Headers, Response


def response(headers=(), content=b"") -> Response:
    return Response(b"HTTP/1.1", 200, b"OK", Headers(headers), content, 1.0, 2.0)


def gzipped(body: bytes = b"hello world") -> Response:
    return response([(b"Content-Encoding", b"gzip")], gzip.compress(body))


# --- head -------------------------------------------------------------------------------

def test_http_version_is_str_and_accepts_bytes():
    r = response()
    assert r.http_version == "HTTP/1.1"
    r.http_version = b"HTTP/1.0"
    assert r.http_version == "HTTP/1.0"
    assert r.data.http_version == b"HTTP/1.0"


def test_headers_can_be_replaced_by_a_dict_or_pairs():
    r = response()
    r.headers = {"X-A": "1"}
    assert r.headers.fields == ((b"X-A", b"1"),)
    r.headers = [("X-B", b"2")]
    assert r.headers.fields == ((b"X-B", b"2"),)
    h = Headers(x="3")
    r.headers = h
    assert r.headers is h


def test_timestamps_can_be_read_and_set():
    r = response()
    assert (r.timestamp_start, r.timestamp_end) == (1.0, 2.0)
    r.timestamp_start, r.timestamp_end = 3.0, 4.0
    assert (r.timestamp_start, r.timestamp_end) == (3.0, 4.0)


# --- body -------------------------------------------------------------------------------

def test_content_is_decoded_and_raw_content_is_as_on_the_wire():
    r = gzipped()
    assert r.content == b"hello world"
    assert gzip.decompress(r.raw_content) == b"hello world"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_setting_content_encodes_with_the_content_encoding(coding):
    r = response([(b"Content-Encoding", coding.encode())])
    r.content = b"new body"
    assert encoding.decode(r.raw_content, coding) == b"new body"
    assert r.content == b"new body"
    assert r.headers["content-length"] == str(len(r.raw_content))


def test_setting_content_updates_content_length():
    r = response([(b"Content-Length", b"0")], b"")
    r.content = b"12345"
    assert r.headers["Content-Length"] == "5"
    assert r.raw_content == b"12345"


def test_setting_content_of_a_chunked_message_adds_no_content_length():
    r = response([(b"Transfer-Encoding", b"chunked")])
    r.content = b"12345"
    assert "content-length" not in r.headers


def test_setting_content_with_an_encoding_we_cannot_produce_sends_it_unencoded():
    r = response([(b"Content-Encoding", b"compress")])
    r.content = b"plain"
    assert r.raw_content == b"plain"
    assert "content-encoding" not in r.headers


def test_content_may_be_none_when_the_body_was_not_read():
    r = response(content=None)
    assert r.content is None and r.text is None and r.raw_content is None
    r.content = b"x"
    r.content = None
    assert r.raw_content is None


def test_content_must_be_bytes():
    with pytest.raises(TypeError, match="text"):
        response().content = "str"
    with pytest.raises(TypeError, match="bytes"):
        response().raw_content = "str"


def test_raw_content_setter_does_not_touch_headers():
    r = gzipped()
    r.raw_content = b"not gzip"
    assert r.headers["content-encoding"] == "gzip"
    assert "content-length" not in r.headers


def test_content_with_an_invalid_encoding_raises_valueerror_when_strict():
    r = response([(b"Content-Encoding", b"gzip")], b"not gzip")
    with pytest.raises(ValueError, match="gzip"):
        r.content
    assert r.get_content(strict=False) == b"not gzip"


def test_get_content_with_unknown_encoding():
    r = response([(b"Content-Encoding", b"compress")], b"data")
    with pytest.raises(ValueError, match="compress"):
        r.get_content()
    assert r.get_content(strict=False) == b"data"


# --- text ------------------------------------------------------------------------------

def test_text_uses_the_charset_of_content_type():
    r = response([(b"Content-Type", b"text/html; charset=latin-1")], "Zoë".encode("latin-1"))
    assert r.text == "Zoë"


def test_text_decodes_content_encoding_first():
    r = response([(b"Content-Type", b"text/plain; charset=utf-8"), (b"Content-Encoding", b"gzip")],
                 gzip.compress("Zoë".encode()))
    assert r.text == "Zoë"


def test_text_without_charset_is_utf8():
    assert response([(b"Content-Type", b"text/plain")], "Zoë".encode()).text == "Zoë"


def test_text_without_charset_falls_back_to_latin1_for_non_utf8():
    assert response(content=b"Zo\xeb").text == "Zoë"


@pytest.mark.parametrize("charset", ["utf-8", "no-such-charset"])
def test_text_that_the_declared_charset_cannot_decode_is_a_valueerror_when_strict(charset):
    r = response([(b"Content-Type", f"text/plain; charset={charset}".encode())], b"Zo\xeb")
    with pytest.raises(ValueError, match=charset):
        r.text
    assert r.get_text(strict=False) == "Zoë"


def test_setting_text_encodes_with_the_declared_charset():
    r = response([(b"Content-Type", b"text/plain; charset=latin-1")])
    r.text = "Zoë"
    assert r.raw_content == b"Zo\xeb"
    assert r.headers["content-length"] == "3"


def test_setting_text_without_charset_writes_utf8():
    r = response()
    r.text = "Zoë"
    assert r.raw_content == "Zoë".encode()


def test_setting_text_the_charset_cannot_hold_switches_to_utf8_and_says_so():
    r = response([(b"Content-Type", b"text/plain; charset=latin-1")])
    r.text = "snow \u2603"
    assert r.raw_content == "snow \u2603".encode()
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == "snow \u2603"


def test_setting_text_none_clears_the_body():
    r = response(content=b"x")
    r.text = None
    assert r.raw_content is None


# --- decode / encode --------------------------------------------------------------------

def test_decode_removes_the_content_encoding():
    r = gzipped()
    r.decode()
    assert r.raw_content == b"hello world"
    assert "content-encoding" not in r.headers
    assert r.headers["content-length"] == "11"


def test_decode_of_a_corrupt_body_raises_when_strict_and_keeps_it_otherwise():
    r = response([(b"Content-Encoding", b"gzip")], b"not gzip")
    with pytest.raises(ValueError):
        r.decode()
    assert r.headers["content-encoding"] == "gzip"
    r.decode(strict=False)
    assert r.raw_content == b"not gzip"
    assert "content-encoding" not in r.headers


def test_decode_without_a_body_changes_nothing():
    r = response([(b"Content-Encoding", b"gzip")], None)
    r.decode()
    assert r.headers["content-encoding"] == "gzip"


def test_encode_applies_an_encoding():
    r = response(content=b"hello")
    r.encode("gzip")
    assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(r.raw_content) == b"hello"
    assert r.headers["content-length"] == str(len(r.raw_content))


def test_encode_replaces_a_previous_encoding():
    r = gzipped()
    r.encode("br")
    assert r.headers.get_all("content-encoding") == ["br"]
    assert encoding.decode(r.raw_content, "br") == b"hello world"


def test_encode_with_an_unknown_coding_raises_and_changes_nothing():
    r = response(content=b"hello")
    with pytest.raises(ValueError, match="compress"):
        r.encode("compress")
    assert r.raw_content == b"hello"
    assert "content-encoding" not in r.headers


def test_encode_without_a_body_changes_nothing():
    r = response(content=None)
    r.encode("gzip")
    assert "content-encoding" not in r.headers


# --- replace ----------------------------------------------------------------------------

def test_replace_covers_headers_and_decoded_body_and_counts():
    r = gzipped(b"hello world, hello")
    r.headers["X-Greeting"] = "hello"
    assert r.replace("hello", "bye") == 3
    assert r.content == b"bye world, bye"
    assert r.headers["x-greeting"] == "bye"
    assert r.headers["content-encoding"] == "gzip"


def test_replace_leaves_an_undecodable_body_alone():
    r = response([(b"Content-Encoding", b"gzip")], b"hello")
    assert r.replace(b"hello", b"bye") == 0
    assert r.raw_content == b"hello"


def test_replace_without_a_match_does_not_reencode():
    r = gzipped()
    raw = b"\x1f\x8b" + r.raw_content[2:]
    r.raw_content = raw
    assert r.replace("absent", "x") == 0
    assert r.raw_content is raw


# --- equality, copy, state -------------------------------------------------------------

def test_messages_with_equal_data_are_equal():
    assert response(content=b"a") == response(content=b"a")
    assert response(content=b"a") != response(content=b"b")
    assert response() != "not a message"


def test_messages_are_unhashable():
    with pytest.raises(TypeError):
        hash(response())


def test_copy_is_independent_including_headers():
    r = response([(b"X", b"1")], b"body")
    c = r.copy()
    assert c == r and c is not r
    c.headers["X"] = "2"
    c.status_code = 404
    assert r.headers["X"] == "1"
    assert r.status_code == 200


def test_state_round_trips_and_set_state_replaces_everything():
    original = gzipped()
    target = response()
    target.set_state(original.get_state())
    assert target == original
    assert Response.from_state(original.get_state()) == original


def test_from_state_names_missing_and_unexpected_keys():
    state = response().get_state()
    del state["reason"]
    state["extra"] = 1
    with pytest.raises(ValueError, match=r"missing \['reason'\], unexpected \['extra'\]"):
        Response.from_state(state)


def test_replace_with_an_empty_body_counts_only_headers():
    r = response([(b"X", b"a")], b"")
    assert r.replace("a", "b") == 1
    assert r.raw_content == b""
    assert "content-length" not in r.headers

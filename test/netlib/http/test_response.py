"""netlib.http.Response: data fields, cookies, refresh and make."""
import time

import pytest

from netlib.http import Headers, Response, status_codes
from netlib.http.headers import parse_http_date
from netlib.multidict import MultiDictView

DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
DATE_PLUS_HOUR = "Wed, 21 Oct 2015 08:28:00 GMT"
RECORDED = 1445412480.0  # the timestamp of DATE


def response(headers=(), content=b"body", reason=b"OK") -> Response:
    return Response(b"HTTP/1.1", 200, reason, Headers(list(headers)), content, RECORDED, RECORDED)


# --- data ------------------------------------------------------------------------------

def test_fields_are_stored_as_bytes_and_shown_as_str():
    r = response()
    assert (r.http_version, r.status_code, r.reason) == ("HTTP/1.1", 200, "OK")
    assert (r.data.http_version, r.data.reason) == (b"HTTP/1.1", b"OK")


def test_str_arguments_and_pairs_of_headers_are_accepted():
    r = Response("HTTP/1.0", 404, "Not Found", [("X", "1")], b"")
    assert r.data.reason == b"Not Found"
    assert r.headers.fields == ((b"X", b"1"),)


def test_http2_responses_have_no_reason_phrase():
    r = Response(b"HTTP/2.0", 200, None)
    assert r.data.reason == b""
    assert r.reason == ""
    r.reason = "OK"
    r.reason = None
    assert r.reason == ""


def test_status_code_and_reason_can_be_set():
    r = response()
    r.status_code = 418
    r.reason = b"I'm a teapot"
    assert (r.status_code, r.reason) == (418, "I'm a teapot")


def test_content_must_be_bytes():
    with pytest.raises(TypeError, match="str"):
        Response(b"HTTP/1.1", 200, b"OK", (), "body")


def test_state_has_exactly_the_018_keys_and_plain_values():
    state = response([(b"X", b"1")]).get_state()
    assert state == {
        "http_version": b"HTTP/1.1", "status_code": 200, "reason": b"OK",
        "headers": [[b"X", b"1"]], "content": b"body",
        "timestamp_start": RECORDED, "timestamp_end": RECORDED,
    }
    assert Response.from_state(state) == response([(b"X", b"1")])


# --- cookies ----------------------------------------------------------------------------

def cookie_response() -> Response:
    return response([
        (b"Set-Cookie", b"session=abc; Path=/; HttpOnly"),
        (b"Content-Type", b"text/html"),
        (b"Set-Cookie", b"theme=dark; Max-Age=60; Secure"),
    ])


def test_cookies_map_names_to_value_and_attribute_view():
    cookies = cookie_response().cookies
    assert isinstance(cookies, MultiDictView)
    assert cookies.keys() == ["session", "theme"]
    value, attrs = cookies["session"]
    assert value == "abc"
    assert isinstance(attrs, MultiDictView)
    assert attrs.fields == (("Path", "/"), ("HttpOnly", None))


def test_unary_attributes_have_the_value_none():
    _, attrs = cookie_response().cookies["theme"]
    assert attrs["Secure"] is None
    assert attrs["Max-Age"] == "60"


def test_no_set_cookie_header_gives_an_empty_view():
    assert len(response().cookies) == 0


def test_a_set_cookie_header_without_a_cookie_is_skipped():
    r = response([(b"Set-Cookie", b""), (b"Set-Cookie", b"a=1")])
    assert r.cookies.keys() == ["a"]


def test_changing_cookie_attributes_rewrites_the_set_cookie_header():
    r = cookie_response()
    _, attrs = r.cookies["session"]
    attrs["Domain"] = "example.com"
    del attrs["HttpOnly"]
    assert r.headers.get_all("set-cookie") == [
        "session=abc; Path=/; Domain=example.com", "theme=dark; Max-Age=60; Secure",
    ]


def test_attribute_views_address_the_right_one_of_two_same_named_cookies():
    r = response([(b"Set-Cookie", b"a=1; Path=/x"), (b"Set-Cookie", b"a=2; Path=/y")])
    second = r.cookies.get_all("a")[1][1]
    second["Path"] = "/z"
    assert r.headers.get_all("set-cookie") == ["a=1; Path=/x", "a=2; Path=/z"]


def test_attribute_view_of_a_removed_cookie():
    r = cookie_response()
    _, attrs = r.cookies["session"]
    del r.cookies["session"]
    assert attrs.fields == ()
    with pytest.raises(KeyError, match="session"):
        attrs["Path"] = "/"


def test_setting_a_cookie_adds_a_set_cookie_header():
    r = cookie_response()
    r.cookies["new"] = ("v", {"Path": "/", "HttpOnly": None})
    assert r.headers.get_all("set-cookie")[-1] == "new=v; Path=/; HttpOnly"
    assert r.cookies["new"][0] == "v"


def test_a_cookie_may_be_set_to_a_plain_value():
    r = response()
    r.cookies["plain"] = "x"
    assert r.headers["set-cookie"] == "plain=x"


def test_deleting_a_cookie_keeps_the_others_and_other_headers():
    r = cookie_response()
    del r.cookies["session"]
    assert r.headers.get_all("set-cookie") == ["theme=dark; Max-Age=60; Secure"]
    assert r.headers["content-type"] == "text/html"


def test_assigning_cookies_replaces_all_set_cookie_headers():
    r = cookie_response()
    r.cookies = [("a", ("1", [("Secure", None)]))]
    assert r.headers.get_all("set-cookie") == ["a=1; Secure"]
    r.cookies = {}
    assert "set-cookie" not in r.headers


def test_a_folded_set_cookie_header_is_split_into_its_cookies():
    r = response([(b"Set-Cookie", f"a=1; Expires={DATE}, b=2".encode())])
    assert r.cookies.keys() == ["a", "b"]
    assert r.cookies["a"][1]["Expires"] == DATE


# --- refresh ----------------------------------------------------------------------------

def test_refresh_moves_date_headers_by_the_time_since_recording():
    r = response([(b"Date", DATE.encode()), (b"Expires", DATE.encode()),
                  (b"Last-Modified", DATE.encode())])
    r.refresh(now=RECORDED + 3600)
    assert r.headers["date"] == DATE_PLUS_HOUR
    assert r.headers["expires"] == DATE_PLUS_HOUR
    assert r.headers["last-modified"] == DATE_PLUS_HOUR


def test_refresh_moves_cookie_expiry():
    r = response([(b"Set-Cookie", f"a=1; Expires={DATE}".encode()), (b"Set-Cookie", b"b=2")])
    r.refresh(now=RECORDED + 3600)
    assert r.headers.get_all("set-cookie") == [f"a=1; Expires={DATE_PLUS_HOUR}", "b=2"]


def test_refresh_leaves_values_that_are_not_dates_alone():
    r = response([(b"Expires", b"0"), (b"Set-Cookie", b""), (b"Set-Cookie", b"a=1; Expires=never")])
    r.refresh(now=RECORDED + 3600)
    assert r.headers.fields == ((b"Expires", b"0"), (b"Set-Cookie", b""),
                                (b"Set-Cookie", b"a=1; Expires=never"))


def test_refresh_defaults_to_now():
    """The Date was the recording time, so after refreshing it is the current time."""
    r = response([(b"Date", DATE.encode())])
    r.refresh()
    assert abs(parse_http_date(r.headers["date"]) - time.time()) < 5


def test_refresh_without_a_recording_time_changes_nothing():
    r = Response(b"HTTP/1.1", 200, b"OK", Headers([(b"Date", DATE.encode())]))
    r.refresh(now=RECORDED + 3600)
    assert r.headers["date"] == DATE


# --- make, repr, status codes ------------------------------------------------------------

def test_make_defaults_to_an_empty_200():
    r = Response.make()
    assert (r.http_version, r.status_code, r.reason, r.content) == ("HTTP/1.1", 200, "OK", b"")
    assert r.headers["content-length"] == "0"
    assert r.timestamp_start is not None


def test_make_with_text_content_and_headers():
    r = Response.make(404, "Zoë not found", {"Content-Type": "text/plain; charset=utf-8"})
    assert r.reason == "Not Found"
    assert r.content == "Zoë not found".encode()
    assert r.headers["content-length"] == str(len("Zoë not found".encode()))
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


def test_make_with_an_unknown_status_code_has_an_empty_reason():
    assert Response.make(599).reason == ""


def test_repr_shows_status_type_and_size():
    assert repr(Response.make(200, b"abc", [("Content-Type", "text/plain")])) == (
        "Response(200 OK, text/plain, 3b)")
    assert repr(response(content=None)) == "Response(200 OK, unknown content type, no content)"


@pytest.mark.parametrize("code, phrase", [
    (100, "Continue"), (101, "Switching Protocols"), (204, "No Content"),
    (304, "Not Modified"), (307, "Temporary Redirect"), (404, "Not Found"),
    (418, "I'm a teapot"), (421, "Misdirected Request"), (429, "Too Many Requests"),
    (502, "Bad Gateway"), (504, "Gateway Time-out"),
])
def test_status_codes_have_reason_phrases(code, phrase):
    assert status_codes.RESPONSES[code] == phrase


def test_status_code_constants_name_the_codes():
    assert (status_codes.OK, status_codes.NOT_FOUND, status_codes.BAD_GATEWAY) == (200, 404, 502)

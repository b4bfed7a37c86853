"""netlib.http.Request: its data fields and computed properties, as the spec lists them."""
import gzip

import pytest

from netlib.http import Headers, Request
from netlib.multidict import MultiDict, MultiDictView


def request(headers=((b"Host", b"example.com"),), content=b"", path=b"/path?a=1&b=2",
            host=b"example.com", port=80, first_line_format="relative") -> Request:
    return Request(first_line_format, b"GET", b"http", host, port, path, b"HTTP/1.1",
                   Headers(list(headers)), content, 1.0, 2.0)


# --- data ------------------------------------------------------------------------------

def test_bytes_arguments_are_stored_as_bytes_and_shown_as_str():
    r = request()
    assert (r.first_line_format, r.method, r.scheme, r.host, r.port, r.path, r.http_version) == (
        "relative", "GET", "http", "example.com", 80, "/path?a=1&b=2", "HTTP/1.1")
    assert (r.data.method, r.data.scheme, r.data.host, r.data.path) == (
        b"GET", b"http", b"example.com", b"/path?a=1&b=2")


def test_str_arguments_are_accepted():
    r = Request(b"absolute", "POST", "https", "bücher.de", 443, "/", "HTTP/1.1",
                [("Host", "bücher.de")], b"x")
    assert r.data.method == b"POST"
    assert r.data.host == b"xn--bcher-kva.de"
    assert r.host == "bücher.de"
    assert r.first_line_format == "absolute"
    assert r.headers["host"] == "bücher.de"
    assert r.timestamp_start is None


def test_relative_requests_may_not_know_their_target_yet():
    r = Request("relative", b"GET", None, None, None, b"/", b"HTTP/1.1")
    assert (r.scheme, r.host, r.port) == (None, None, None)
    assert repr(r) == "Request(GET /)"


def test_asterisk_form_is_relative_with_path_star():
    r = request(path=b"*")
    r.method = "OPTIONS"
    assert r.path == "*" and r.path_components == ("*",)


def test_content_must_be_bytes():
    with pytest.raises(TypeError, match="str"):
        Request("relative", b"GET", None, None, None, b"/", b"HTTP/1.1", (), "body")


def test_setters_accept_str_and_bytes():
    r = request()
    r.method = "PUT"
    r.scheme = b"https"
    r.path = "/new"
    r.port = 8443
    r.first_line_format = "absolute"
    assert (r.method, r.scheme, r.path, r.port, r.first_line_format) == (
        "PUT", "https", "/new", 8443, "absolute")
    r.scheme = None
    assert r.scheme is None


def test_state_has_exactly_the_018_keys_and_plain_values():
    state = request(content=b"body").get_state()
    assert state == {
        "first_line_format": "relative", "method": b"GET", "scheme": b"http",
        "host": b"example.com", "port": 80, "path": b"/path?a=1&b=2",
        "http_version": b"HTTP/1.1", "headers": [[b"Host", b"example.com"]],
        "content": b"body", "timestamp_start": 1.0, "timestamp_end": 2.0,
    }
    assert Request.from_state(state) == request(content=b"body")


def test_from_state_accepts_bytes_first_line_format():
    state = request().get_state()
    state["first_line_format"] = b"relative"
    assert Request.from_state(state) == request()


# --- host ------------------------------------------------------------------------------

def test_setting_host_updates_the_host_header():
    r = request()
    r.host = "example.org"
    assert r.host == "example.org"
    assert r.headers["Host"] == "example.org"


def test_setting_host_writes_a_non_default_port_into_the_host_header():
    r = request(port=8080)
    r.host = "example.org"
    assert r.headers["Host"] == "example.org:8080"


def test_setting_host_adds_no_host_header_when_there_was_none():
    r = request(headers=())
    r.host = "example.org"
    assert "host" not in r.headers


def test_setting_a_non_ascii_host_uses_idna():
    r = request()
    r.host = "bücher.de"
    assert r.data.host == b"xn--bcher-kva.de"
    assert r.host == "bücher.de"
    assert r.headers["host"] == "xn--bcher-kva.de"
    assert r.url == "http://xn--bcher-kva.de/path?a=1&b=2"


def test_setting_host_to_none_removes_the_host_header():
    r = request()
    r.host = None
    assert r.host is None and "host" not in r.headers


def test_setting_an_invalid_host_is_a_valueerror():
    with pytest.raises(ValueError, match="exa mple"):
        request().host = "exa mple.com"


def test_host_header_reads_host_or_http2_authority():
    assert request().host_header == "example.com"
    assert request(headers=[(b":authority", b"example.org")]).host_header == "example.org"
    assert request(headers=()).host_header is None


def test_setting_host_header():
    r = request()
    r.host_header = "example.org:81"
    assert r.headers.fields == ((b"Host", b"example.org:81"),)
    h2 = request(headers=[(b":authority", b"a.com")])
    h2.host_header = "b.com"
    assert h2.headers.fields == ((b":authority", b"b.com"),)
    r.host_header = None
    assert "host" not in r.headers


# --- URL ------------------------------------------------------------------------------

def test_url_is_built_from_its_components():
    assert request().url == "http://example.com/path?a=1&b=2"
    assert request(port=8080).url == "http://example.com:8080/path?a=1&b=2"
    assert request(host=b"::1").url == "http://[::1]/path?a=1&b=2"


def test_url_of_an_authority_form_request_is_host_and_port():
    r = request(first_line_format="authority", path=b"", port=443)
    assert r.url == "example.com:443"


def test_setting_url_sets_scheme_host_port_path_and_host_header():
    r = request()
    r.url = "https://example.org:8443/x?y=z"
    assert (r.scheme, r.host, r.port, r.path) == ("https", "example.org", 8443, "/x?y=z")
    assert r.headers["host"] == "example.org:8443"


def test_setting_an_invalid_url_is_a_valueerror_naming_it():
    with pytest.raises(ValueError, match="not a url"):
        request().url = "not a url"


def test_pretty_host_prefers_the_host_header_without_its_port():
    r = request(headers=[(b"Host", b"example.org:8080")], host=b"10.0.0.1")
    assert r.host == "10.0.0.1"
    assert r.pretty_host == "example.org"


def test_pretty_host_of_ipv6_and_idna_host_headers():
    assert request(headers=[(b"Host", b"[::1]:80")]).pretty_host == "::1"
    assert request(headers=[(b"Host", b"xn--bcher-kva.de")]).pretty_host == "bücher.de"


def test_pretty_host_falls_back_to_host_without_a_usable_header():
    assert request(headers=()).pretty_host == "example.com"
    assert request(headers=[(b"Host", b"bad host:x")]).pretty_host == "example.com"


def test_pretty_url_uses_pretty_host():
    r = request(headers=[(b"Host", b"example.org")], host=b"10.0.0.1")
    assert r.url == "http://10.0.0.1/path?a=1&b=2"
    assert r.pretty_url == "http://example.org/path?a=1&b=2"
    connect = request(headers=[(b"Host", b"example.org:443")], first_line_format="authority",
                      path=b"", port=443)
    assert connect.pretty_url == "example.org:443"


# --- query and path --------------------------------------------------------------------

def test_query_is_a_multidictview_of_the_query_string():
    r = request(path=b"/p?a=1&b=2&a=3&flag")
    assert isinstance(r.query, MultiDictView)
    assert r.query["a"] == "1"
    assert r.query.get_all("a") == ["1", "3"]
    assert r.query["flag"] == ""
    assert request(path=b"/p").query.fields == ()


def test_changing_the_query_view_rewrites_the_path():
    r = request()
    r.query["b"] = "x y"
    r.query.add("c", "&")
    assert r.path == "/path?a=1&b=x+y&c=%26"


def test_assigning_the_query_accepts_dicts_and_multidicts():
    r = request()
    r.query = {"k": "v"}
    assert r.path == "/path?k=v"
    r.query = MultiDict([("a", "1"), ("a", "2")])
    assert r.path == "/path?a=1&a=2"
    r.query = []
    assert r.path == "/path"


def test_path_components_are_unquoted():
    r = request(path=b"/a/b%20c//d/?q=1")
    assert r.path_components == ("a", "b c", "d")


def test_setting_path_components_quotes_them_and_keeps_the_query():
    r = request()
    r.path_components = ["x", "y z", "a/b"]
    assert r.path == "/x/y%20z/a%2Fb?a=1&b=2"
    r2 = request(path=b"/old")
    r2.path_components = ()
    assert r2.path == "/"


# --- cookies -----------------------------------------------------------------------------

def test_cookies_are_read_from_every_cookie_header():
    r = request(headers=[(b"Cookie", b"a=1; b=2"), (b"Cookie", b"a=3")])
    assert r.cookies.fields == (("a", "1"), ("b", "2"), ("a", "3"))
    assert r.cookies.get_all("a") == ["1", "3"]


def test_no_cookie_header_gives_an_empty_view():
    cookies = request().cookies
    assert isinstance(cookies, MultiDictView)
    assert len(cookies) == 0


def test_changing_cookies_writes_one_cookie_header():
    r = request(headers=[(b"Cookie", b"a=1"), (b"Cookie", b"b=2")])
    r.cookies["c"] = "x y"
    assert r.headers.get_all("cookie") == ['a=1; b=2; c="x y"']


def test_assigning_cookies_and_removing_all_of_them():
    r = request()
    r.cookies = {"session": "abc"}
    assert r.headers["cookie"] == "session=abc"
    r.cookies = []
    assert "cookie" not in r.headers


# --- caching and compression -------------------------------------------------------------

def test_anticache_removes_cache_validators():
    r = request(headers=[(b"Host", b"a"), (b"If-Modified-Since", b"x"), (b"If-None-Match", b"y")])
    r.anticache()
    assert r.headers.fields == ((b"Host", b"a"),)
    r.anticache()  # nothing left to remove: still fine


def test_anticomp_asks_for_identity():
    r = request(headers=[(b"Accept-Encoding", b"gzip, br")])
    r.anticomp()
    assert r.headers["accept-encoding"] == "identity"


def test_constrain_encoding_keeps_only_codings_we_decode_in_order():
    r = request(headers=[(b"Accept-Encoding", b"zstd, br;q=1.0, gzip;q=0.8, sdch, deflate")])
    r.constrain_encoding()
    assert r.headers["accept-encoding"] == "br;q=1.0, gzip;q=0.8, deflate"


def test_constrain_encoding_falls_back_to_identity():
    r = request(headers=[(b"Accept-Encoding", b"zstd")])
    r.constrain_encoding()
    assert r.headers["accept-encoding"] == "identity"


def test_constrain_encoding_without_accept_encoding_adds_nothing():
    r = request()
    r.constrain_encoding()
    assert "accept-encoding" not in r.headers


# --- forms -------------------------------------------------------------------------------

FORM = [(b"Content-Type", b"application/x-www-form-urlencoded; charset=utf-8")]


def test_urlencoded_form_is_read_from_a_form_body():
    r = request(headers=FORM, content=b"a=1&b=x+y&a=2")
    assert r.urlencoded_form.fields == (("a", "1"), ("b", "x y"), ("a", "2"))


def test_urlencoded_form_of_a_gzipped_body():
    r = request(headers=FORM + [(b"Content-Encoding", b"gzip")], content=gzip.compress(b"a=1"))
    assert r.urlencoded_form["a"] == "1"


def test_urlencoded_form_is_empty_for_other_content_types():
    r = request(headers=[(b"Content-Type", b"application/json")], content=b"a=1")
    assert isinstance(r.urlencoded_form, MultiDictView)
    assert r.urlencoded_form.fields == ()
    assert request(headers=(), content=b"a=1").urlencoded_form.fields == ()


def test_changing_the_urlencoded_form_rewrites_body_and_length():
    r = request(headers=FORM, content=b"a=1")
    r.urlencoded_form["b"] = "&"
    assert r.content == b"a=1&b=%26"
    assert r.headers["content-length"] == "9"


def test_assigning_the_urlencoded_form_sets_the_content_type():
    r = request(headers=())
    r.urlencoded_form = {"x": "1"}
    assert r.headers["content-type"] == "application/x-www-form-urlencoded"
    assert r.content == b"x=1"


MULTIPART_TYPE = b"multipart/form-data; boundary=b"
MULTIPART_BODY = (b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
                  b'--b\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\nbin\r\n'
                  b"--b--\r\n")


def test_multipart_form_is_a_view_of_bytes():
    r = request(headers=[(b"Content-Type", MULTIPART_TYPE)], content=MULTIPART_BODY)
    assert r.multipart_form.fields == ((b"a", b"1"), (b"f", b"bin"))
    assert r.multipart_form[b"a"] == b"1"


def test_multipart_form_is_none_for_non_form_content():
    assert request(headers=[(b"Content-Type", b"text/plain")]).multipart_form is None
    assert request(headers=()).multipart_form is None


def test_unparseable_multipart_body_gives_an_empty_view():
    r = request(headers=[(b"Content-Type", b"multipart/form-data")], content=b"junk")
    assert r.multipart_form.fields == ()


def test_changing_the_multipart_form_rewrites_the_body():
    r = request(headers=[(b"Content-Type", MULTIPART_TYPE)], content=MULTIPART_BODY)
    r.multipart_form[b"a"] = b"changed"
    assert r.multipart_form.fields == ((b"a", b"changed"), (b"f", b"bin"))
    assert r.headers["content-length"] == str(len(r.raw_content))


def test_assigning_the_multipart_form_sets_content_type_and_body():
    r = request(headers=())
    r.multipart_form = {"name": "value"}
    assert r.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert r.multipart_form.fields == ((b"name", b"value"),)


# --- replace, make, repr ------------------------------------------------------------------

def test_replace_covers_headers_path_and_body():
    r = request(content=b"example")
    assert r.replace("example", "sample") == 2
    r2 = request(path=b"/example/x", headers=(), content=b"example")
    assert r2.replace(b"example", b"sample") == 2
    assert r2.path == "/sample/x"
    assert r2.content == b"sample"


def test_make_builds_a_complete_request():
    r = Request.make("POST", "https://example.com:8443/submit?x=1", "Zoë", {"X-A": "1"})
    assert (r.method, r.scheme, r.host, r.port, r.path) == (
        "POST", "https", "example.com", 8443, "/submit?x=1")
    assert r.http_version == "HTTP/1.1"
    assert r.headers.fields[0] == (b"Host", b"example.com:8443")
    assert r.headers["x-a"] == "1"
    assert r.content == "Zoë".encode()
    assert r.headers["content-length"] == "4"
    assert r.timestamp_start is not None


def test_make_keeps_a_given_host_header():
    r = Request.make("GET", "http://10.0.0.1/", headers=[("Host", "example.com")])
    assert r.headers.get_all("host") == ["example.com"]


def test_repr_shows_method_and_target():
    assert repr(request()) == "Request(GET example.com/path?a=1&b=2)"

"""URLs, authorities and query strings."""
import pytest

from netlib.http import url


@pytest.mark.parametrize("text, expected", [
    ("http://example.com", (b"http", b"example.com", 80, b"/")),
    ("https://example.com/a/b?c=d", (b"https", b"example.com", 443, b"/a/b?c=d")),
    ("http://example.com:8080/", (b"http", b"example.com", 8080, b"/")),
    ("http://[::1]:8080/x", (b"http", b"::1", 8080, b"/x")),
    ("https://[2001:db8::1]/", (b"https", b"2001:db8::1", 443, b"/")),
    ("http://bücher.de/", (b"http", b"xn--bcher-kva.de", 80, b"/")),
    ("http://my_host.local/", (b"http", b"my_host.local", 80, b"/")),
    (b"http://example.com/\xff", (b"http", b"example.com", 80, b"/\xff")),
])
def test_parse_gives_bytes_and_int_with_default_ports(text, expected):
    assert url.parse(text) == expected


def test_parse_drops_the_fragment_which_is_never_sent():
    assert url.parse("http://example.com/a?b#frag")[3] == b"/a?b"


@pytest.mark.parametrize("text", [
    "example.com/path",
    "http:///path",
    "http://example.com:99999/",
    "http://example.com:0/",
    "http://example.com:port/",
    "http://exa mple.com/",
    "http://[::g]/",
    "ftp://example.com/",
    "http://\udcff.com/",
])
def test_parse_rejects_invalid_urls_naming_them(text):
    with pytest.raises(ValueError) as info:
        url.parse(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("scheme, host, port, expected", [
    ("http", "example.com", 80, "example.com"),
    ("https", "example.com", 443, "example.com"),
    ("http", "example.com", 443, "example.com:443"),
    (b"https", b"::1", 8443, "[::1]:8443"),
    (None, "example.com", 443, "example.com:443"),
    ("http", b"xn--bcher-kva.de", 80, "xn--bcher-kva.de"),
])
def test_hostport_leaves_out_default_ports_and_brackets_ipv6(scheme, host, port, expected):
    assert url.hostport(scheme, host, port) == expected


def test_unparse_is_the_inverse_of_parse():
    for text in ["http://example.com/", "https://example.com:8443/a?b=c", "http://[::1]:81/"]:
        assert url.unparse(*url.parse(text)) == text


def test_default_port_knows_http_https_and_websockets():
    assert url.default_port("http") == 80
    assert url.default_port(b"HTTPS") == 443
    assert url.default_port("wss") == 443
    assert url.default_port("gopher") is None
    assert url.default_port(None) is None


@pytest.mark.parametrize("text, expected", [
    ("example.com", (b"example.com", None)),
    ("example.com:8080", (b"example.com", 8080)),
    (b"[::1]:443", (b"::1", 443)),
    ("[::1]", (b"::1", None)),
])
def test_parse_authority(text, expected):
    assert url.parse_authority(text) == expected


@pytest.mark.parametrize("text", [
    "example.com:http", "example.com:70000", "[::1", "[::1]x", "exa mple.com:80", "",
])
def test_parse_authority_rejects_invalid_ones_naming_them(text):
    with pytest.raises(ValueError) as info:
        url.parse_authority(text)
    assert repr(text) in str(info.value)


def test_encode_host_and_decode_host_handle_idna():
    assert url.encode_host("Bücher.de") == b"xn--bcher-kva.de"
    assert url.decode_host(b"xn--bcher-kva.de") == "bücher.de"
    assert url.decode_host(b"xn--invalid-punycode-\xff") == "xn--invalid-punycode-\udcff"


def test_decode_keeps_order_duplicates_and_blank_values():
    assert url.decode("a=1&b=2&a=3&c&d=") == [("a", "1"), ("b", "2"), ("a", "3"), ("c", ""), ("d", "")]


def test_decode_unquotes_and_keeps_undecodable_bytes():
    assert url.decode("q=a+b%20c&x=%FF") == [("q", "a b c"), ("x", "\udcff")]


def test_encode_quotes_and_keeps_order():
    assert url.encode([("b", "1"), ("a", "x y&z"), ("b", "2")]) == "b=1&a=x+y%26z&b=2"


def test_encode_decode_round_trip_arbitrary_bytes():
    fields = [("x", "\udcff\udcfe")]
    assert url.decode(url.encode(fields)) == fields


def test_encode_host_strips_ipv6_brackets_and_validates_addresses():
    assert url.encode_host("[::1]") == b"::1"
    with pytest.raises(ValueError, match="invalid IPv6 address"):
        url.encode_host("::g")
    with pytest.raises(ValueError, match="invalid IPv6 address"):
        url.encode_host(b"\xff::1")


def test_unparse_accepts_str_components():
    assert url.unparse("https", "example.com", 443, "/a") == "https://example.com/a"

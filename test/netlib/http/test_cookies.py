"""Cookie and Set-Cookie header values."""
import pytest

from netlib.http import cookies


# --- Cookie ---------------------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("a=1", [("a", "1")]),
    ("a=1; b=2", [("a", "1"), ("b", "2")]),
    ("a=1;b=2;", [("a", "1"), ("b", "2")]),
    ('a="quoted; value"; b=2', [("a", "quoted; value"), ("b", "2")]),
    ("a=; b", [("a", ""), ("b", None)]),
    ("token=abc==", [("token", "abc==")]),
    ("", []),
])
def test_parse_cookie_header(line, expected):
    assert cookies.parse_cookie_header(line) == expected


def test_format_cookie_header_quotes_only_values_that_need_it():
    assert cookies.format_cookie_header([("a", "1"), ("b", "x y"), ("c", None)]) == 'a=1; b="x y"; c'


def test_cookie_header_round_trips():
    line = 'a=1; b="semi;colon"; flag'
    assert cookies.format_cookie_header(cookies.parse_cookie_header(line)) == line


# --- Set-Cookie -----------------------------------------------------------------------------

def test_parse_set_cookie_with_attributes_with_and_without_values():
    line = "id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure; HttpOnly; Path=/"
    assert cookies.parse_set_cookie_header(line) == [(
        "id", "a3fWa",
        [("Expires", "Wed, 21 Oct 2015 07:28:00 GMT"), ("Secure", None), ("HttpOnly", None),
         ("Path", "/")],
    )]


def test_parse_set_cookie_splits_a_folded_header_but_not_an_expires_date():
    line = "a=1; expires=Wed, 21 Oct 2015 07:28:00 GMT, b=2; Path=/, c=3"
    assert cookies.parse_set_cookie_header(line) == [
        ("a", "1", [("expires", "Wed, 21 Oct 2015 07:28:00 GMT")]),
        ("b", "2", [("Path", "/")]),
        ("c", "3", []),
    ]


def test_parse_set_cookie_keeps_commas_in_values_that_do_not_start_a_cookie():
    assert cookies.parse_set_cookie_header("a=x,y; Path=/") == [("a", "x,y", [("Path", "/")])]


def test_parse_set_cookie_unquotes_quoted_values():
    assert cookies.parse_set_cookie_header('a="1, 2; 3"; Secure') == [("a", "1, 2; 3", [("Secure", None)])]


def test_set_cookie_without_equals_is_a_nameless_cookie_as_browsers_read_it():
    assert cookies.parse_set_cookie_header("lonely; Path=/") == [("", "lonely", [("Path", "/")])]


@pytest.mark.parametrize("line", ["", " ; ", " "])
def test_set_cookie_header_without_a_cookie_is_a_valueerror_naming_it(line):
    with pytest.raises(ValueError, match="no cookie"):
        cookies.parse_set_cookie_header(line)


def test_format_set_cookie_header_writes_attribute_values_verbatim():
    formatted = cookies.format_set_cookie_header(
        "a", "x y", [("Expires", "Wed, 21 Oct 2015 07:28:00 GMT"), ("HttpOnly", None)]
    )
    assert formatted == 'a="x y"; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly'


def test_format_nameless_set_cookie():
    assert cookies.format_set_cookie_header("", "lonely") == "lonely"


# --- refresh and expiry ------------------------------------------------------------------

def test_refresh_moves_expires_forward():
    line = "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/"
    assert cookies.refresh_set_cookie_header(line, 3600) == "a=1; Expires=Wed, 21 Oct 2015 08:28:00 GMT; Path=/"


def test_refresh_moves_every_cookie_of_a_folded_header():
    line = "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT, b=2; Expires=Thu, 22 Oct 2015 07:28:00 GMT"
    refreshed = cookies.refresh_set_cookie_header(line, 60)
    assert refreshed == "a=1; Expires=Wed, 21 Oct 2015 07:29:00 GMT, b=2; Expires=Thu, 22 Oct 2015 07:29:00 GMT"


@pytest.mark.parametrize("line", ["a=1; Max-Age=60", 'a="x"; Expires=never', "a=1"])
def test_refresh_without_a_readable_expires_returns_the_header_unchanged(line):
    assert cookies.refresh_set_cookie_header(line, 3600) == line


def test_refresh_of_a_header_without_a_cookie_is_a_valueerror():
    with pytest.raises(ValueError):
        cookies.refresh_set_cookie_header("", 60)


@pytest.mark.parametrize("attrs, expired", [
    ([], False),
    ([("Max-Age", "0")], True),
    ([("max-age", "60")], False),
    ([("Expires", "Wed, 21 Oct 2015 07:28:00 GMT")], True),
    ([("Expires", "Wed, 21 Oct 2099 07:28:00 GMT")], False),
    ([("Max-Age", "60"), ("Expires", "Wed, 21 Oct 2015 07:28:00 GMT")], False),
    ([("Max-Age", "soon"), ("Expires", "Wed, 21 Oct 2015 07:28:00 GMT")], True),
    ([("Expires", "never")], False),
])
def test_is_expired(attrs, expired):
    assert cookies.is_expired(attrs) is expired


def test_is_expired_takes_the_time_to_compare_with():
    attrs = [("Expires", "Wed, 21 Oct 2015 07:28:00 GMT")]
    assert cookies.is_expired(attrs, now=1445412480 - 1) is False
    assert cookies.is_expired(attrs, now=1445412480) is True

"""netlib.http.Headers, following the spec's example line by line, and the header helpers."""
import re

import pytest

from netlib.http import Headers
from netlib.http.headers import (
    assemble_content_type, format_http_date, parse_content_type, parse_http_date,
    split_outside_quotes, to_bytes, to_str,
)


def folded() -> Headers:
    return Headers([
        (b"Host", b"example.com"),
        (b"Accept", b"text/html"),
        (b"accept", b"application/xml"),
    ])


# --- the spec's example -----------------------------------------------------------------

def test_keyword_construction_behaves_like_a_dict():
    h = Headers(host="example.com", content_type="application/xml")
    assert h["Host"] == "example.com"
    assert h["Content-Type"] == "application/xml"


def test_lookup_is_case_insensitive():
    h = Headers(host="example.com")
    assert h["host"] == "example.com"
    assert h["HOST"] == "example.com"


def test_repeated_headers_are_folded_with_a_comma():
    assert folded()["Accept"] == "text/html, application/xml"


def test_setting_a_header_removes_all_existing_ones_of_that_name():
    h = folded()
    h["Accept"] = "application/text"
    assert h["Accept"] == "application/text"
    assert h.get_all("accept") == ["application/text"]


def test_bytes_is_an_http1_header_block():
    h = folded()
    h["Accept"] = "application/text"
    assert bytes(h) == b"Host: example.com\r\nAccept: application/text\r\n"


def test_fields_give_raw_access():
    assert folded().fields == (
        (b"Host", b"example.com"), (b"Accept", b"text/html"), (b"accept", b"application/xml"),
    )


# --- constructor parameters ---------------------------------------------------------------

def test_keywords_overwrite_fields_and_underscores_become_dashes():
    h = Headers([(b"Content-Type", b"text/plain"), (b"X", b"1")], content_type="text/html")
    assert h.fields == ((b"Content-Type", b"text/html"), (b"X", b"1"))


def test_keyword_values_may_be_bytes():
    assert Headers(x_a=b"1").fields == ((b"x-a", b"1"),)


def test_empty_headers_make_an_empty_block():
    assert bytes(Headers()) == b""
    assert len(Headers()) == 0


def test_constructor_stores_the_given_tuples_without_converting_them():
    """The HTTP/1 reader's fields are stored as they are: construction is the hot path."""
    fields = [(b"Host", b"example.com")]
    assert Headers(fields).fields[0] is fields[0]


# --- str interface over bytes ----------------------------------------------------------

def test_values_are_str_and_setting_str_stores_utf8():
    h = Headers()
    h["X-Name"] = "Zoë"
    assert h.fields == ((b"X-Name", "Zoë".encode()),)
    assert h["x-name"] == "Zoë"


def test_arbitrary_bytes_round_trip_through_the_str_interface():
    h = Headers([(b"X", b"\xff\xfe")])
    value = h["X"]
    h["X"] = value
    assert h.fields == ((b"X", b"\xff\xfe"),)


def test_bytes_keys_are_accepted_too():
    assert folded()[b"host"] == "example.com"


def test_non_string_values_are_a_typeerror():
    with pytest.raises(TypeError, match="int"):
        Headers()["Content-Length"] = 5


def test_iteration_gives_each_name_once_as_str():
    assert list(folded()) == ["Host", "Accept"]
    assert folded().keys() == ["Host", "Accept"]


def test_items_fold_and_items_multi_do_not():
    assert folded().items() == [("Host", "example.com"), ("Accept", "text/html, application/xml")]
    assert folded().items(multi=True)[2] == ("accept", "application/xml")


def test_get_all_does_not_fold_set_cookie():
    h = Headers([(b"Set-Cookie", b"a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"),
                 (b"Set-Cookie", b"b=2")])
    assert h.get_all("set-cookie") == ["a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "b=2"]


def test_set_all_sets_several_values():
    h = Headers()
    h.set_all("Set-Cookie", ["a=1", "b=2"])
    assert bytes(h) == b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n"


def test_set_keeps_the_position_and_spelling_of_the_existing_header():
    h = Headers([(b"Host", b"a"), (b"X", b"1")])
    h["host"] = "b"
    assert h.fields == ((b"Host", b"b"), (b"X", b"1"))


def test_delete_and_contains_ignore_case():
    h = folded()
    assert "ACCEPT" in h
    del h["accept"]
    assert "Accept" not in h
    assert h.fields == ((b"Host", b"example.com"),)


def test_add_and_insert_convert_to_bytes():
    h = Headers()
    h.add("B", "2")
    h.insert(0, "A", "1")
    assert h.fields == ((b"A", b"1"), (b"B", b"2"))


def test_to_dict_lists_repeated_headers():
    assert folded().to_dict() == {"Host": "example.com", "Accept": ["text/html", "application/xml"]}


def test_equality_and_copy():
    h = folded()
    c = h.copy()
    assert c == h and isinstance(c, Headers)
    c["Host"] = "other"
    assert h["Host"] == "example.com"
    assert c != h


def test_state_is_a_list_of_byte_pairs_and_round_trips():
    state = folded().get_state()
    assert state == [[b"Host", b"example.com"], [b"Accept", b"text/html"],
                     [b"accept", b"application/xml"]]
    assert Headers.from_state(state) == folded()


def test_repr_shows_the_raw_fields():
    assert repr(Headers([(b"A", b"1")])) == "Headers([(b'A', b'1')])"


# --- replace ------------------------------------------------------------------------------

def test_replace_works_on_name_value_lines_and_counts():
    h = folded()
    assert h.replace("example.com", "example.org") == 1
    assert h["Host"] == "example.org"


def test_replace_can_change_header_names():
    h = Headers([(b"Host", b"example.com")])
    assert h.replace(r"^Host: ", "X-Host: ") == 1
    assert h.fields == ((b"X-Host", b"example.com"),)


def test_replace_accepts_bytes_and_flags():
    h = folded()
    assert h.replace(b"TEXT/", b"image/", re.IGNORECASE) == 1
    assert h.get_all("accept") == ["image/html", "application/xml"]


def test_replace_that_removes_the_separator_leaves_the_header_alone():
    h = Headers([(b"Host", b"example.com")])
    assert h.replace(": ", "") == 0
    assert h.fields == ((b"Host", b"example.com"),)


# --- helpers ------------------------------------------------------------------------------

def test_to_bytes_and_to_str_round_trip_any_bytes():
    assert to_str(b"\xff") == "\udcff"
    assert to_bytes(to_str(b"\xffabc")) == b"\xffabc"


@pytest.mark.parametrize("value, expected", [
    ("text/html", ("text", "html", {})),
    ("Text/HTML; Charset=UTF-8", ("text", "html", {"charset": "UTF-8"})),
    ('multipart/form-data; boundary="a;b"; x=1', ("multipart", "form-data", {"boundary": "a;b", "x": "1"})),
    ('text/plain; name="a \\"quoted\\" name"', ("text", "plain", {"name": 'a "quoted" name'})),
    ("text/plain; flag", ("text", "plain", {})),
])
def test_parse_content_type(value, expected):
    assert parse_content_type(value) == expected


@pytest.mark.parametrize("value", ["", "text", "text/", "/html", "garbage; charset=utf-8"])
def test_parse_content_type_of_an_unusable_value_is_none(value):
    assert parse_content_type(value) is None


def test_assemble_content_type_quotes_values_that_need_it():
    assert assemble_content_type("text", "html", {"charset": "utf-8"}) == "text/html; charset=utf-8"
    assembled = assemble_content_type("multipart", "form-data", {"boundary": 'a "b"'})
    assert assembled == 'multipart/form-data; boundary="a \\"b\\""'
    assert parse_content_type(assembled)[2] == {"boundary": 'a "b"'}


def test_split_outside_quotes_respects_quoted_values_only_after_equals():
    assert split_outside_quotes('a="x;y"; b=2', ";") == ['a="x;y"', " b=2"]
    assert split_outside_quotes('a"b; c', ";") == ['a"b', " c"]


@pytest.mark.parametrize("text", [
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Wednesday, 21-Oct-15 07:28:00 GMT",
    "Wed Oct 21 07:28:00 2015",
])
def test_parse_http_date_reads_all_three_http_date_forms(text):
    assert parse_http_date(text) == 1445412480


def test_format_http_date_writes_imf_fixdate():
    assert format_http_date(1445412480) == "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.mark.parametrize("text", ["", "0", "-1", "tomorrow", "Wed, 21 Oct 99999 07:28:00 GMT"])
def test_parse_http_date_rejects_non_dates_naming_them(text):
    with pytest.raises(ValueError, match="invalid HTTP date"):
        parse_http_date(text)

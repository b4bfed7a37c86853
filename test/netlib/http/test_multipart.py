"""multipart/form-data bodies."""
import pytest

from netlib.http import multipart

CONTENT_TYPE = "multipart/form-data; boundary=----xyz"
BODY = (
    b"------xyz\r\n"
    b'Content-Disposition: form-data; name="field1"\r\n'
    b"\r\n"
    b"value1\r\n"
    b"------xyz\r\n"
    b'content-disposition: form-data; name="file"; filename="a.txt"\r\n'
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"line one\r\nline two\r\n"
    b"------xyz\r\n"
    b"Content-Disposition: form-data; name=bare\r\n"
    b"\r\n"
    b"\r\n"
    b"------xyz--\r\n"
)


def test_decode_gives_name_value_pairs_in_order():
    assert multipart.decode(CONTENT_TYPE, BODY) == [
        (b"field1", b"value1"),
        (b"file", b"line one\r\nline two"),
        (b"bare", b""),
    ]


def test_decode_skips_parts_without_a_field_name():
    body = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n"
    assert multipart.decode("multipart/form-data; boundary=b", body) == [(b"a", b"1")]


@pytest.mark.parametrize("content_type, message", [
    ("text/plain", "not a multipart/form-data"),
    ("multipart/form-data", "no boundary"),
])
def test_decode_rejects_unusable_content_types_naming_them(content_type, message):
    with pytest.raises(ValueError, match=message) as info:
        multipart.decode(content_type, BODY)
    assert repr(content_type) in str(info.value)


def test_decode_rejects_a_body_without_its_boundary():
    with pytest.raises(ValueError, match="boundary"):
        multipart.decode("multipart/form-data; boundary=other", BODY)


def test_encode_then_decode_round_trips():
    fields = [(b"a", b"1"), ("b", "zwei"), (b"file", b"\x00\xff binary\r\n")]
    content_type, body = multipart.encode(fields)
    assert multipart.decode(content_type, body) == [
        (b"a", b"1"), (b"b", b"zwei"), (b"file", b"\x00\xff binary\r\n"),
    ]


def test_encode_with_a_given_boundary_is_exact():
    content_type, body = multipart.encode([(b"a", b"1")], boundary="b")
    assert content_type == "multipart/form-data; boundary=b"
    assert body == b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n'


def test_encode_uses_a_fresh_random_boundary():
    assert multipart.encode([])[0] != multipart.encode([])[0]


def test_encode_escapes_quotes_and_newlines_in_names():
    _, body = multipart.encode([(b'a"b\r\nc', b"1")], boundary="b")
    assert b'name="a%22b%0D%0Ac"' in body


def test_decode_is_lenient_about_nameless_dispositions_and_a_missing_closing_delimiter():
    body = (b"--b\r\nContent-Disposition: form-data\r\n\r\nnameless\r\n"
            b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n')
    assert multipart.decode("multipart/form-data; boundary=b", body) == [(b"a", b"1")]

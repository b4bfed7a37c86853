"""Content-Encoding codecs."""
import zlib

import pytest

from netlib import encoding

BODY = b"hello world " * 100


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "identity", "x-gzip"])
def test_encode_then_decode_round_trips(coding):
    assert encoding.decode(encoding.encode(BODY, coding), coding) == BODY


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_encoding_compresses(coding):
    assert len(encoding.encode(BODY, coding)) < len(BODY)


@pytest.mark.parametrize("coding", [None, "", "identity"])
def test_identity_and_none_leave_data_alone(coding):
    assert encoding.encode(BODY, coding) == BODY
    assert encoding.decode(BODY, coding) == BODY


def test_deflate_decoding_accepts_raw_deflate():
    """Some servers send raw deflate although HTTP means zlib-wrapped; browsers cope."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = compressor.compress(BODY) + compressor.flush()
    assert encoding.decode(raw, "deflate") == BODY


def test_deflate_encoding_is_zlib_wrapped():
    assert zlib.decompress(encoding.encode(BODY, "deflate")) == BODY


def test_gzip_encoding_is_deterministic():
    assert encoding.encode(BODY, "gzip") == encoding.encode(BODY, "gzip")


def test_coding_names_ignore_case_and_whitespace():
    assert encoding.decode(encoding.encode(BODY, "gzip"), " GZip ") == BODY


def test_a_list_of_codings_is_undone_last_to_first():
    data = encoding.encode(BODY, "gzip, br")
    assert data == encoding.encode(encoding.encode(BODY, "gzip"), "br")
    assert encoding.decode(data, "gzip, br") == BODY


@pytest.mark.parametrize("function", [encoding.encode, encoding.decode])
def test_unknown_coding_is_a_valueerror_naming_it(function):
    with pytest.raises(ValueError, match="'compress'"):
        function(BODY, "compress")


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_corrupt_data_is_a_valueerror_naming_the_coding(coding):
    with pytest.raises(ValueError, match=repr(coding)):
        encoding.decode(b"this is not compressed", coding)


def test_truncated_gzip_is_a_valueerror():
    with pytest.raises(ValueError, match="gzip"):
        encoding.decode(encoding.encode(BODY, "gzip")[:-5], "gzip")

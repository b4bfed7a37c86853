import io
import math
import sys

import pytest

from netlib import tnetstring
from netlib.exceptions import TnetstringException


@pytest.fixture(autouse=True, params=["c", "python"])
def decoder(request, monkeypatch) -> str:
    """Every test runs with the C decoder (built by setup.py) and with the Python one
    alone, as on a machine without a compiler."""
    if request.param == "c":
        assert tnetstring._tnetstring is not None, "netlib._tnetstring was not built"
    else:
        monkeypatch.setattr(tnetstring, "_tnetstring", None)
    return request.param


@pytest.mark.parametrize("value, encoded", [
    (b"", b"0:,"),
    (b"hello", b"5:hello,"),
    ("", b"0:;"),
    ("h\u00e9", b"3:h\xc3\xa9;"),
    (0, b"1:0#"),
    (-12, b"3:-12#"),
    (2 ** 70, b"22:1180591620717411303424#"),
    (1.5, b"3:1.5^"),
    (True, b"4:true!"),
    (False, b"5:false!"),
    (None, b"0:~"),
    ([], b"0:]"),
    ({}, b"0:}"),
    ([1, b"x"], b"8:1:1#1:x,]"),
    ({"a": [1, b"x"]}, b"15:1:a;8:1:1#1:x,]}"),
    ({b"k": None}, b"7:1:k,0:~}"),
])
def test_known_encodings(value, encoded):
    """Values encode to the exact bytes mitmproxy writes, and decode back to equal values."""
    assert tnetstring.dumps(value) == encoded
    assert tnetstring.loads(encoded) == value


def test_bytes_and_str_stay_distinct():
    value = tnetstring.loads(tnetstring.dumps([b"a", "a", {b"k": 1, "k": 2}]))
    assert value == [b"a", "a", {b"k": 1, "k": 2}]
    assert type(value[0]) is bytes and type(value[1]) is str


def test_bool_is_not_written_as_int():
    assert tnetstring.loads(tnetstring.dumps(True)) is True
    assert tnetstring.loads(tnetstring.dumps([False]))[0] is False


def test_tuples_are_written_as_lists():
    assert tnetstring.dumps((1, 2)) == tnetstring.dumps([1, 2])
    assert tnetstring.loads(tnetstring.dumps((1, (2,)))) == [1, [2]]


def test_nested_structure_round_trips():
    flow = {
        "version": [0, 18, 2],
        "request": {
            "method": b"GET",
            "headers": [[b"Host", b"example.com"], [b"X-\xff", b"\x00\x01"]],
            "content": b"\x00" * 1000,
            "timestamp_start": 1466000000.123456,
            "is_replay": False,
            "stickycookie": None,
        },
        "error": {"msg": "connection reset \u2013 retry", "empty": {}, "list": [[], [[]]]},
        "big": -(2 ** 80),
    }
    assert tnetstring.loads(tnetstring.dumps(flow)) == flow


def test_float_round_trips_exactly():
    for f in (0.1, -1e300, 5e-324, math.inf):
        assert tnetstring.loads(tnetstring.dumps(f)) == f
    assert math.isnan(tnetstring.loads(tnetstring.dumps(math.nan)))


def test_unserializable_values_are_refused_with_their_type():
    with pytest.raises(TypeError, match="set"):
        tnetstring.dumps({1, 2})
    with pytest.raises(TypeError, match="keys must be bytes or str, not int"):
        tnetstring.dumps({1: b"x"})


def test_pop_returns_the_remainder():
    assert tnetstring.pop(b"1:a,2:bc,rest") == (b"a", b"2:bc,rest")
    assert tnetstring.pop(bytearray(b"0:~")) == (None, b"")


def test_loads_accepts_memoryview():
    assert tnetstring.loads(memoryview(b"2:hi,")) == b"hi"


def test_dump_and_load_a_stream_of_values():
    """A flow file is values one after another; load yields each, then EOFError."""
    f = io.BytesIO()
    values = [{"n": i, "body": b"x" * i} for i in range(50)]
    for v in values:
        tnetstring.dump(v, f)
    f.seek(0)
    assert [tnetstring.load(f) for _ in values] == values
    with pytest.raises(EOFError):
        tnetstring.load(f)


def test_load_reports_damage_at_the_tail_after_complete_values():
    data = tnetstring.dumps([1]) + tnetstring.dumps({"a": b"complete"})
    f = io.BytesIO(data + tnetstring.dumps(b"lost")[:-3])
    assert tnetstring.load(f) == [1]
    assert tnetstring.load(f) == {"a": b"complete"}
    with pytest.raises(TnetstringException, match="truncated"):
        tnetstring.load(f)


def test_clean_eof_is_not_a_value_error():
    with pytest.raises(EOFError) as e:
        tnetstring.load(io.BytesIO(b""))
    assert not isinstance(e.value, ValueError)


@pytest.mark.parametrize("data, message", [
    (b"12", "ends in its length"),
    (b"5", "ends in its length"),
    (b"x:abc,", "bad length prefix"),
    (b":abc,", "empty length prefix"),
    (b"1234567890123:", "bad length prefix"),
    (b"5:abc", "truncated"),
    (b"3:abc", "truncated"),
    (b"3:abc?", "unknown type tag"),
    (b"1:x#", "invalid int"),
])
def test_load_rejects_malformed_input(data, message):
    with pytest.raises(TnetstringException, match=message):
        tnetstring.load(io.BytesIO(data))


def test_load_reads_a_large_value_in_chunks():
    value = b"z" * (tnetstring.READ_CHUNK * 2 + 3)
    assert tnetstring.load(io.BytesIO(tnetstring.dumps(value))) == value


def test_load_of_a_lying_huge_length_fails_without_allocating_it():
    with pytest.raises(TnetstringException, match="expected 999999999999 bytes"):
        tnetstring.load(io.BytesIO(b"999999999998:" + b"a" * 10))


@pytest.mark.parametrize("data, message", [
    (b"", "empty input"),
    (b"5", "truncated"),
    (b"123", "truncated"),
    (b"abc", "not a tnetstring"),
    (b"1234567890123:x,", "not a tnetstring"),
    (b"-1:,", "bad length"),
    (b"+1:a,", "bad length"),
    (b"5:abc,", "truncated"),
    (b"3:abc", "truncated"),
    (b"1:a?", "unknown type tag b'\\?'"),
    (b"3:1.x#", "invalid int b'1.x'"),
    (b"3:abc^", "invalid float b'abc'"),
    (b"3:yes!", "invalid bool b'yes'"),
    (b"1:x~", "None with a payload"),
    (b"2:\xc3(;", "invalid UTF-8"),
    (b"7:9:abcd,]", "offset 2: length 9 runs past the end"),
    (b"5:1:a,x]", "not a tnetstring at offset 6"),
    (b"4:1:a,}", "has no value"),
    (b"8:1:1#1:a,}", "dict key at offset 2 is int"),
    (b"7:0:]1:a,}", "dict key at offset 2 is list"),
    (b"3:0:~}", "dict key at offset 2 is NoneType"),
    (b"1:a,junk", "4 unexpected bytes"),
])
def test_loads_rejects_malformed_input(data, message):
    with pytest.raises(TnetstringException, match=message):
        tnetstring.loads(data)


def test_malformed_input_is_a_value_error():
    with pytest.raises(ValueError):
        tnetstring.loads(b"3:abc?")


def test_hostile_nesting_is_a_format_error_not_a_crash():
    depth = sys.getrecursionlimit() + 100
    data = b"0:]"
    for _ in range(depth):
        data = b"%d:%s]" % (len(data), data)
    with pytest.raises(TnetstringException, match="nested too deeply"):
        tnetstring.loads(data)
    with pytest.raises(TnetstringException, match="nested too deeply"):
        tnetstring.load(io.BytesIO(data))


def test_many_flows_encode_and_decode_quickly():
    """A file of thousands of flows must not take noticeably long (no per-byte work)."""
    import time
    flow = {"request": {"headers": [[b"h%d" % i, b"v" * 40] for i in range(20)],
                        "content": b"c" * 5000}, "n": 1.5, "ok": True}
    start = time.perf_counter()
    data = b"".join(tnetstring.dumps(flow) for _ in range(2000))
    f = io.BytesIO(data)
    for _ in range(2000):
        tnetstring.load(f)
    assert time.perf_counter() - start < 5


def test_nesting_up_to_the_limit_decodes():
    value: list = []
    for _ in range(tnetstring.MAX_DEPTH - 1):
        value = [value, b"x", {"k": None}]
    assert tnetstring.loads(tnetstring.dumps(value)) == value
    assert tnetstring.load(io.BytesIO(tnetstring.dumps(value))) == value


def test_load_reports_offsets_from_the_start_of_the_payload():
    """As before the single-loop decoder: load counts from the value's payload."""
    with pytest.raises(TnetstringException, match="dict key at offset 0 is int"):
        tnetstring.load(io.BytesIO(b"8:1:1#1:a,}"))
    with pytest.raises(TnetstringException, match="offset 4: length 9 runs past"):
        tnetstring.load(io.BytesIO(b"11:1:a,9:abcd,]"))

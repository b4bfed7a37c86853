"""netlib._tnetstring, tnetstrings in C, against netlib/tnetstring.py (the reference).

encode: plain values exactly as tnetstring.dumps writes them, model objects from specs, and
the ways a bad value or spec fails (flows through both walkers are checked in
test/libmproxy/test_flow_encode.py). decode: the values the Python decoder returns, and a
failure wherever it raises (its message then comes from the Python decoder)."""
from __future__ import annotations

import collections
import enum
import random
from operator import attrgetter

import pytest

from netlib import tnetstring
from netlib.exceptions import TnetstringException

from netlib import _tnetstring  # setup.py builds it; an ImportError here is a failed build


def encode(value, specs=None, fallback=None):
    return _tnetstring.encode(value, {} if specs is None else specs, fallback)


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    def __str__(self) -> str:
        return "renamed"


PLAIN = [
    b"", b"abc", b"\x00\xff" * 100, "", "h\xe9llo \u20ac", 0, 1, -1, 2**63 - 1, -2**63,
    2**63, -2**64, 10**40, 0.0, -0.0, 1.5, 1e300, 1e-300, float("inf"), float("-inf"),
    float("nan"), True, False, None, [], (), {}, [1, [2, [3]]], (b"a", "b"),
    {"a": 1, b"b": [None, 2.5], "c": {"d": ()}},
    Color.RED, Name("x"), collections.OrderedDict([("z", 1), ("a", 2)]),
]


@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_plain_values_as_dumps_writes_them(value):
    assert encode(value) == tnetstring.dumps(value)


def test_random_nested_values():
    rnd = random.Random(7)

    def value(depth: int):
        kind = rnd.randrange(9 if depth < 4 else 6)
        if kind == 0:
            return rnd.randbytes(rnd.randrange(40))
        if kind == 1:
            return "".join(chr(rnd.randrange(1, 0x2000)) for _ in range(rnd.randrange(10)))
        if kind == 2:
            return rnd.randrange(-10**20, 10**20)
        if kind == 3:
            return rnd.uniform(-1e9, 1e9)
        if kind == 4:
            return rnd.choice([True, False, None])
        if kind == 5:
            return rnd.randrange(100)
        if kind == 6:
            return [value(depth + 1) for _ in range(rnd.randrange(5))]
        if kind == 7:
            return tuple(value(depth + 1) for _ in range(rnd.randrange(5)))
        return {rnd.choice([f"k{i}", f"k{i}".encode()]): value(depth + 1)
                for i in range(rnd.randrange(5))}

    for _ in range(500):
        v = value(0)
        assert encode(v) == tnetstring.dumps(v)


def test_an_ordered_dict_in_its_own_order():
    d = collections.OrderedDict([("a", 1), ("b", 2)])
    d.move_to_end("a")
    assert encode(d) == tnetstring.dumps(d) == b"16:1:b;1:2#1:a;1:1#}"


@pytest.mark.parametrize("value", [object(), {1: "int key"}, [1, {2.5: None}], {None: 1}])
def test_values_the_format_cannot_carry_fail_as_dumps_fails(value):
    with pytest.raises(TypeError) as reference:
        tnetstring.dumps(value)

    def refuse(obj):
        return tnetstring.dumps(obj)  # what the flow encoder's fallback ends in

    with pytest.raises(TypeError) as ours:
        encode(value, fallback=refuse)
    assert str(ours.value) == str(reference.value)


def test_a_cycle_is_a_recursion_error_not_a_crash():
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(RecursionError):
        encode(cycle)


def test_a_string_that_is_not_utf8_encodable():
    with pytest.raises(UnicodeEncodeError):
        encode("\ud800")


def test_byte_strings_over_the_copy_limit_are_left_to_the_python_walker():
    assert _tnetstring.COPY_LIMIT == tnetstring.COPY_LIMIT
    assert encode(b"x" * tnetstring.COPY_LIMIT) == tnetstring.dumps(b"x" * tnetstring.COPY_LIMIT)
    with pytest.raises(_tnetstring.LargeValue):
        encode([b"x" * (tnetstring.COPY_LIMIT + 1)])


# --- specs -------------------------------------------------------------------------------

class Point:
    def __init__(self, x, y, label=None) -> None:
        self.x, self.y, self.label = x, y, label


def point_spec(guard=None, tail=b""):
    keys = tuple(tnetstring.dumps(k) for k in ("x", "y", "label"))
    return {Point: (attrgetter("x", "y", "label"), keys, (False, False, True), tail, guard)}


def test_an_object_as_its_spec_says():
    specs = point_spec(tail=tnetstring.dumps("v") + tnetstring.dumps(1))
    assert encode(Point(1, 2.5), specs) == tnetstring.dumps({"x": 1, "y": 2.5, "v": 1})
    assert encode([Point(1, None, "p")], specs) == tnetstring.dumps(
        [{"x": 1, "y": None, "label": "p", "v": 1}])


def test_a_spec_without_keys_encodes_one_value_in_the_objects_place():
    specs = {Point: (attrgetter("x"), None, None, b"", None)}
    assert encode({"p": Point([1, 2], 0)}, specs) == tnetstring.dumps({"p": [1, 2]})


def test_a_guard_sends_the_object_to_the_fallback():
    seen = []

    def fallback(obj):
        seen.append(obj)
        return b"0:~"

    specs = point_spec(guard=lambda p: p.x < 0)
    assert encode([Point(-1, 0), Point(1, 0)], specs, fallback) == tnetstring.dumps(
        [None, {"x": 1, "y": 0}])
    assert [p.x for p in seen] == [-1]


def test_objects_without_a_spec_go_to_the_fallback():
    assert encode({"p": Point(1, 2)}, {}, lambda p: tnetstring.dumps(p.x)) == \
        tnetstring.dumps({"p": 1})


@pytest.mark.parametrize("fallback, error", [
    (lambda obj: "not bytes", TypeError),
    (lambda obj: 1 / 0, ZeroDivisionError),
])
def test_a_failing_fallback(fallback, error):
    with pytest.raises(error):
        encode([Point(1, 2)], {}, fallback)


@pytest.mark.parametrize("spec", [
    (attrgetter("x"),),
    (attrgetter("x", "y"), (b"1:x;",), None, b"", None),  # two values, one key
    (attrgetter("x", "y"), ("x", "y"), None, b"", None),  # keys not encoded
    (attrgetter("x", "y"), (b"1:x;", b"1:y;"), (True,), b"", None),
    (attrgetter("x", "y"), (b"1:x;", b"1:y;"), None, "tail", None),
])
def test_a_malformed_spec_is_a_type_error(spec):
    with pytest.raises(TypeError, match="malformed encoding spec"):
        encode(Point(1, 2), {Point: spec})


def test_a_list_emptied_by_a_fallback_is_safe():
    items: list = []

    def fallback(obj):
        items.clear()
        return b"0:~"

    items.extend([Point(0, 0), b"a", b"b"])
    encode(items, {}, fallback)  # no crash; what it writes then is unspecified


def test_arguments():
    with pytest.raises(TypeError):
        _tnetstring.encode(1, {})
    with pytest.raises(TypeError, match="specs must be a dict"):
        _tnetstring.encode(1, [], None)


# --- decode ------------------------------------------------------------------------------

def c_decode(data: bytes):
    """The C decoder on a whole tnetstring (its prefix read as tnetstring.pop reads it)."""
    begin, end = tnetstring._read_prefix(data, 0, len(data))
    return _tnetstring.decode(data, begin, end)


def python_decode(data: bytes):
    begin, end = tnetstring._read_prefix(data, 0, len(data))
    return tnetstring._decode_value(data, begin, end, 0, 0)


@pytest.mark.parametrize("value", PLAIN[:-3], ids=repr)
def test_decode_plain_values(value):
    data = tnetstring.dumps(value)
    decoded = c_decode(data)
    assert decoded == python_decode(data) or (value != value)  # nan != nan
    assert repr(decoded) == repr(python_decode(data))


@pytest.mark.parametrize("data", [
    b"3: 12#", b"4:+1_0#", b"3:1e5^", b"4:-inf^", b"6: 1.5e3^", b"19:1234567890123456789#",
    b"20:-1234567890123456789#", b"3:007#", b"2:-0#", b"0:]", b"0:}", b"8:1:a;1:b;}",
    b"16:1:a;1:1#1:a;1:2#}",  # a repeated key: the last value wins
])
def test_decode_what_int_float_and_dict_accept(data):
    assert repr(c_decode(data)) == repr(python_decode(data))


def test_decode_nesting_up_to_the_limit():
    """Both decoders take the same depth of nested containers, and refuse one more."""
    def nested(levels: int) -> bytes:
        data = b"0:]"
        for _ in range(levels):
            data = b"%d:%b]" % (len(data), data)
        return data

    levels = tnetstring.MAX_DEPTH + 1  # non-empty lists around the innermost empty one
    assert c_decode(nested(levels)) == python_decode(nested(levels))
    with pytest.raises(ValueError):
        c_decode(nested(levels + 1))
    with pytest.raises(TnetstringException, match="nested too deeply"):
        tnetstring.loads(nested(levels + 1))


def test_decode_fails_wherever_the_python_decoder_does():
    """Thousands of damaged encodings of a flow-like value: the C decoder returns what the
    Python decoder returns, or fails where it raises; never a crash or another value."""
    rnd = random.Random(1802)
    value = {"request": {"method": b"GET", "headers": [[b"Host", b"a.test"]], "port": 443,
                         "timestamp_start": 1.25, "is_replay": False, "content": None},
             "id": "f1", "version": [0, 18, 2], "marked": True}
    good = tnetstring.dumps(value)
    agreed = failed = 0
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rnd.randrange(1, 4)):
            kind = rnd.randrange(3)
            at = rnd.randrange(len(data))
            if kind == 0:
                data[at] = rnd.choice(b"0123456789:,;#^!~]}x-. ")
            elif kind == 1:
                del data[at]
            else:
                data.insert(at, rnd.choice(b"0123456789:,]}"))
        data = bytes(data)
        try:
            begin, end = tnetstring._read_prefix(data, 0, len(data))
        except TnetstringException:
            continue
        try:
            expected = tnetstring._decode_value(data, begin, end, 0, 0)
        except TnetstringException:
            with pytest.raises(Exception):
                _tnetstring.decode(data, begin, end)
            failed += 1
            continue
        assert repr(_tnetstring.decode(data, begin, end)) == repr(expected)
        agreed += 1
    assert agreed > 100 and failed > 100  # both kinds were exercised


@pytest.mark.parametrize("args", [(b"1:a,", 2, 10), (b"1:a,", 3, 2), ("1:a,", 2, 3), (b"",)])
def test_decode_arguments(args):
    with pytest.raises((ValueError, TypeError)):
        _tnetstring.decode(*args)

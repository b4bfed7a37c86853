import time

import pytest

from netlib import human
from netlib.exceptions import InvalidSizeException


@pytest.mark.parametrize("text, size", [
    ("0", 0),
    ("100", 100),
    ("12b", 12),
    ("1k", 1024),
    ("3m", 3 * 1024 ** 2),
    ("2g", 2 * 1024 ** 3),
    ("1t", 1024 ** 4),
    ("3M", 3 * 1024 ** 2),
    ("1K", 1024),
    ("2gb", 2 * 1024 ** 3),
    ("2MB", 2 * 1024 ** 2),
    (" 5k ", 5 * 1024),
    ("1.5k", 1536),
    ("1.1k", 1126),
    ("0.5m", 512 * 1024),
])
def test_parse_size(text, size):
    assert human.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "k", "1x", "-1k", "1.k", ".5k", "1e3", "3 mega", "1kk", "one"])
def test_parse_size_rejects_garbage_naming_it(text):
    with pytest.raises(InvalidSizeException, match=f"invalid size {text!r}"):
        human.parse_size(text)


def test_parse_size_error_is_a_value_error():
    """Option parsers catch ValueError to report a bad flag value."""
    with pytest.raises(ValueError):
        human.parse_size("huge")


@pytest.mark.parametrize("size, text", [
    (0, "0b"),
    (12, "12b"),
    (1000, "1000b"),
    (1024, "1k"),
    (1536, "1.5k"),
    (1100, "1.07k"),
    (3 * 1024 ** 2, "3m"),
    (1024 ** 2 - 1, "1m"),
    (int(2.25 * 1024 ** 3), "2.25g"),
    (1024 ** 4, "1t"),
    (1024 ** 5, "1024t"),
])
def test_pretty_size(size, text):
    assert human.pretty_size(size) == text


def test_pretty_size_can_be_parsed_back():
    for size in (12, 1536, 3 * 1024 ** 2, 1024 ** 4):
        assert human.parse_size(human.pretty_size(size)) == size


def test_pretty_size_refuses_negative_sizes():
    with pytest.raises(ValueError, match="-1"):
        human.pretty_size(-1)


@pytest.mark.parametrize("seconds, text", [
    (0, "0ms"),
    (0.0123, "12ms"),
    (0.999, "999ms"),
    (1, "1.00s"),
    (1.234, "1.23s"),
    (10, "10.0s"),
    (12.34, "12.3s"),
    (100, "100s"),
    (1234.5, "1234s"),
])
def test_pretty_duration(seconds, text):
    assert human.pretty_duration(seconds) == text


@pytest.fixture
def utc(monkeypatch):
    """Timestamps are shown in local time; pin the zone so the expected text is known."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_format_timestamp(utc):
    assert human.format_timestamp(1466000000.789) == "2016-06-15 14:13:20"


def test_format_timestamp_with_milli(utc):
    assert human.format_timestamp_with_milli(1466000000.789) == "2016-06-15 14:13:20.789"
    assert human.format_timestamp_with_milli(1466000000.0) == "2016-06-15 14:13:20.000"


def test_format_timestamp_uses_local_time(monkeypatch):
    monkeypatch.setenv("TZ", "Etc/GMT-2")  # POSIX sign: two hours east of UTC
    time.tzset()
    try:
        assert human.format_timestamp(1466000000) == "2016-06-15 16:13:20"
    finally:
        monkeypatch.undo()
        time.tzset()

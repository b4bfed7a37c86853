"""Sizes, durations and timestamps as people read and type them.

Sizes use powers of 1024 with one-letter units, as mitmproxy shows them and as its options
(``--stream 3m``, ``--body-size-limit 1.5k``) take them: ``b``, ``k``, ``m``, ``g``, ``t``.

Decisions, where the 0.18 docs are silent:
- ``parse_size`` is case-insensitive, ignores surrounding blanks, and also takes an optional
  ``b`` after the unit (``3mb``, ``3MB``), since that is how people write sizes elsewhere.
- A decimal number is allowed (``1.5k``), so that what ``pretty_size`` prints can be typed
  back; the result is rounded down to whole bytes (``1.1k`` is 1126).
- ``pretty_size`` shows at most two decimals and drops them when the value is whole
  (``1.5k``, ``3m``, ``12b``).
"""
from __future__ import annotations

import datetime
import decimal
import re

from netlib.exceptions import InvalidSizeException

__all__ = [
    "SIZE_UNITS", "parse_size", "pretty_size", "pretty_duration",
    "format_timestamp", "format_timestamp_with_milli",
]

SIZE_UNITS = {
    "b": 1,
    "k": 1024,
    "m": 1024 ** 2,
    "g": 1024 ** 3,
    "t": 1024 ** 4,
}

_UNITS_LARGEST_FIRST = sorted(SIZE_UNITS.items(), key=lambda unit: unit[1], reverse=True)

_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)b?", re.IGNORECASE)

# Durations: from this many seconds up, show this format. Below one second, milliseconds.
_DURATION_FORMATS = (
    (100, "{:.0f}s"),
    (10, "{:.1f}s"),
    (1, "{:.2f}s"),
)

_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_size(s: str) -> int:
    """The number of bytes that ``s`` (``"100"``, ``"1k"``, ``"1.5M"``, ``"2gb"``) means.

    Raises InvalidSizeException (a ValueError) naming the input when it is not a size.
    """
    match = _SIZE_RE.fullmatch(s.strip())
    if not match:
        raise InvalidSizeException(
            f"invalid size {s!r}: expected a number with an optional unit b, k, m, g or t, "
            f"e.g. 3m")
    number, unit = match.groups()
    return int(decimal.Decimal(number) * SIZE_UNITS[unit.lower() or "b"])


def pretty_size(size: int) -> str:
    """``size`` bytes in the largest unit it reaches: ``12b``, ``1.5k``, ``3m``."""
    if size < 0:
        raise ValueError(f"a size cannot be negative: {size}")
    suffix, factor = "b", 1
    for unit, unit_factor in _UNITS_LARGEST_FIRST:
        # Round before choosing, so that 1048575 bytes shows as 1m rather than 1024k.
        if round(size / unit_factor, 2) >= 1:
            suffix, factor = unit, unit_factor
            break
    value = round(size / factor, 2)
    if value == int(value):
        return f"{int(value)}{suffix}"
    return f"{value}{suffix}"


def pretty_duration(seconds: float) -> str:
    """A duration with about three significant digits: ``123s``, ``12.3s``, ``1.23s``,
    ``123ms``; the precision people can compare at a glance in a flow list."""
    for limit, fmt in _DURATION_FORMATS:
        if seconds >= limit:
            return fmt.format(seconds)
    return f"{seconds * 1000:.0f}ms"


def format_timestamp(ts: float) -> str:
    """A Unix timestamp as local date and time to the second: ``2016-06-15 12:34:56``."""
    return datetime.datetime.fromtimestamp(ts).strftime(_TIMESTAMP_FORMAT)


def format_timestamp_with_milli(ts: float) -> str:
    """Like format_timestamp, with milliseconds: ``2016-06-15 12:34:56.789``. For timing
    details, where the second alone says little."""
    when = datetime.datetime.fromtimestamp(ts)
    return f"{when.strftime(_TIMESTAMP_FORMAT)}.{when.microsecond // 1000:03d}"

"""Lazy byte sources: generated data, file contents, and transforms of them.

A spec may ask for a terabyte (``200:b@1t``), so no value is ever built whole. Every source
has a length and answers slices (``source[start:stop]``); ``iter_blocks`` walks a range of
any source, plain ``bytes`` included, in blocks of ``BLOCKSIZE``.

Generated data, and why it is fast and reproducible: a ``RandomGenerator`` draws one block of
at most ``RANDOM_PERIOD`` bytes from a PRNG seeded with its seed, translates it into the data
type's alphabet once (``bytes.translate``), and repeats that block for as long as the value
is. Serving is then slicing and copying (gigabytes per second), any slice can be produced
without the bytes before it, and the same (size, type, seed) always gives the same bytes,
which is what lets a resolved spec (``@1g,bytes,1234``) reproduce a response exactly. The
price is that data longer than the period repeats itself; for a pathological server that
is no loss.
"""
from __future__ import annotations

import os
import random
import string
from collections.abc import Callable, Iterator
from typing import Protocol, Union

from libpathod.language.exceptions import RenderError

__all__ = [
    "BLOCKSIZE", "RANDOM_PERIOD", "DATATYPES", "ByteSource", "RandomGenerator",
    "FileGenerator", "MaskedSource", "iter_blocks", "source_bytes", "slice_bounds",
]

# The unit of writing: big enough that a gigabyte is 16k writes, small enough to stay in cache.
BLOCKSIZE = 64 * 1024

# How many random bytes a generated value draws before it repeats (see the module docstring).
RANDOM_PERIOD = 64 * 1024

_BYTE_ALPHABET = bytes(range(256))

# The data types of ``@SIZE,TYPE``: name -> the bytes it draws from (the spec's table).
DATATYPES: dict[str, bytes] = {
    "ascii": bytes(range(128)),
    "ascii_letters": string.ascii_letters.encode(),
    "ascii_lowercase": string.ascii_lowercase.encode(),
    "ascii_uppercase": string.ascii_uppercase.encode(),
    "bytes": _BYTE_ALPHABET,
    "digits": string.digits.encode(),
    "hexdigits": string.hexdigits.encode(),
    "octdigits": string.octdigits.encode(),
    "punctuation": string.punctuation.encode() + b" ",
    "whitespace": string.whitespace.encode(),
}
DEFAULT_DATATYPE = "bytes"


class ByteSource(Protocol):
    """What a value renders to: a length and slices. ``bytes`` is one."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: slice) -> bytes: ...


Source = Union[bytes, ByteSource]


def _translation_table(alphabet: bytes) -> bytes:
    """Maps each of the 256 byte values onto the alphabet, round-robin, so that a uniformly
    random byte becomes a (nearly) uniformly random letter of the alphabet."""
    return bytes(alphabet[i % len(alphabet)] for i in range(256))


_TABLES = {name: _translation_table(alphabet) for name, alphabet in DATATYPES.items()}


def slice_bounds(key: slice, length: int) -> tuple[int, int]:
    if not isinstance(key, slice):
        raise TypeError(f"byte sources take slices, not {type(key).__name__}")
    start, stop, step = key.indices(length)
    if step != 1:
        raise ValueError("byte sources take contiguous slices only")
    return start, max(start, stop)


class RandomGenerator:
    """``size`` bytes of the data type ``datatype``, a pure function of ``seed``."""

    def __init__(self, size: int, datatype: str, seed: int) -> None:
        if datatype not in DATATYPES:
            raise ValueError(f"unknown data type {datatype!r}")
        self.size = size
        self.datatype = datatype
        self.seed = seed
        self._cached_block: bytes | None = None

    @property
    def _block(self) -> bytes:
        """Drawn on first use: asking a value its length must not cost a PRNG run."""
        if self._cached_block is None:
            block = random.Random(self.seed).randbytes(min(self.size, RANDOM_PERIOD))
            if self.datatype != DEFAULT_DATATYPE:
                block = block.translate(_TABLES[self.datatype])
            self._cached_block = block
        return self._cached_block

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> bytes:
        start, stop = slice_bounds(key, self.size)
        if start == stop:
            return b""
        period = len(self._block)
        offset = start % period
        count = stop - start
        if offset + count <= period:
            return self._block[offset:offset + count]
        repeats = (offset + count + period - 1) // period
        return (self._block * repeats)[offset:offset + count]

    def __repr__(self) -> str:
        return f"RandomGenerator({self.size}, {self.datatype!r}, seed={self.seed})"


class FileGenerator:
    """The contents of a file, read slice by slice as they are served. The length is taken
    when the generator is made; a file that shrinks meanwhile is a RenderError rather than
    a message shorter than its Content-Length."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = os.stat(path).st_size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> bytes:
        start, stop = slice_bounds(key, self.size)
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read(stop - start)
        if len(data) != stop - start:
            raise RenderError(f"file {self.path!r} shrank while it was being served")
        return data

    def iter_blocks(self, start: int, stop: int, blocksize: int) -> Iterator[bytes]:
        """One open file for the whole range, instead of one per block."""
        with open(self.path, "rb") as f:
            f.seek(start)
            while start < stop:
                data = f.read(min(blocksize, stop - start))
                if not data:
                    raise RenderError(f"file {self.path!r} shrank while it was being served")
                start += len(data)
                yield data

    def __repr__(self) -> str:
        return f"FileGenerator({self.path!r})"


class MaskedSource:
    """Another source passed through a position-aware transform, such as websocket
    masking, where the byte at offset n depends on n: ``transform(data, offset)``."""

    def __init__(self, source: Source, transform: Callable[[bytes, int], bytes]) -> None:
        self.source = source
        self.transform = transform

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: slice) -> bytes:
        start, stop = slice_bounds(key, len(self.source))
        return self.transform(self.source[start:stop], start)


def iter_blocks(source: Source, start: int = 0, stop: int | None = None,
                blocksize: int = BLOCKSIZE) -> Iterator[bytes]:
    """The bytes of ``source[start:stop]`` in blocks of at most ``blocksize``."""
    stop = len(source) if stop is None else min(stop, len(source))
    own = getattr(source, "iter_blocks", None)
    if own is not None:
        yield from own(start, stop, blocksize)
        return
    while start < stop:
        end = min(stop, start + blocksize)
        yield source[start:end]
        start = end


def source_bytes(source: Source) -> bytes:
    """All of a source at once; for the small values that headers and methods are."""
    return source if isinstance(source, bytes) else source[0:len(source)]

"""VALUEs: quoted literals, generated data (``@SIZE[,TYPE]``) and file contents (``<path``).

Each value is an immutable object with three jobs: its canonical text (``spec()``), the lazy
byte source it renders to (``get_generator(settings)``), and ``resolve(settings)``, which
fixes whatever is random about it.

Resolving generated data: a value of at most ``RESOLVE_INLINE_LIMIT`` bytes becomes the
literal it drew (``ir,@1`` resolves to ``i35,'\\x1b'``, as the docs show), a longer one gets
a seed and is written ``@SIZE,TYPE,SEED``, which reproduces the same bytes without putting a
gigabyte into a log line. The seed form is this implementation's extension of the grammar;
``@SIZE[,TYPE]`` without a seed draws fresh data every time it is resolved.

File access rules (``static_path``): a file value needs a static directory; relative paths
only, and the real path (symlinks followed) must stay inside the directory, unless the
settings allow unconstrained access (pathoc, whose user is the one typing the spec).
"""
from __future__ import annotations

import codecs
import dataclasses
import os
import random
import re
import warnings
from typing import Union

from netlib.human import SIZE_UNITS

from libpathod.language import generators
from libpathod.language.exceptions import FileAccessDenied
from libpathod.language.settings import Settings

__all__ = [
    "Value", "LiteralValue", "GeneratedValue", "FileValue", "RESOLVE_INLINE_LIMIT",
    "escape_bytes", "unescape", "quote", "static_path", "size_spec",
]

# Generated values up to this size resolve into literals; see the module docstring.
RESOLVE_INLINE_LIMIT = 16

# Seeds are drawn from this many bits: short in a log line, plenty for distinct data.
SEED_BITS = 32

# Characters a file path may use without quotes (the rest of a VALUE's terminators excluded).
NAKED_FILE_PATH = re.compile(r"[^\s:,=@'\"<]+")

_SHORT_ESCAPES = {0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
_PRINTABLE = range(0x20, 0x7F)
# A quote inside a quoted literal is written as \x27 / \x22, which survives being quoted
# again (an embedded response spec inside a request spec) without a pile of backslashes.
_ESCAPE_TABLE = [
    _SHORT_ESCAPES.get(b) or (chr(b) if b in _PRINTABLE and b not in (0x27, 0x22) else f"\\x{b:02x}")
    for b in range(256)
]


def escape_bytes(data: bytes) -> str:
    """``data`` as the inside of a quoted literal: printable ASCII as is, the rest escaped."""
    return "".join([_ESCAPE_TABLE[b] for b in data])


def quote(data: bytes) -> str:
    """The canonical literal for ``data``."""
    return f"'{escape_bytes(data)}'"


def unescape(inner: str) -> bytes:
    """The bytes of a quoted literal's inside, with Python's backslash escapes applied.
    An unknown escape such as ``\\q`` stays as written, as in Python; a malformed one such
    as ``\\x4`` raises ValueError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return codecs.escape_decode(inner.encode("utf-8"))[0]


def size_spec(size: int) -> str:
    """``size`` with the largest unit that divides it exactly: 1024 -> ``1k``, 100 -> ``100``."""
    for unit, factor in sorted(SIZE_UNITS.items(), key=lambda item: -item[1]):
        if factor > 1 and size and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def static_path(path: str, settings: Settings) -> str:
    """The file that ``path`` names under the settings' static directory, or
    FileAccessDenied saying why it may not be read."""
    if not settings.staticdir:
        raise FileAccessDenied(f"cannot read {path!r}: file access is disabled (no static directory)")
    if settings.unconstrained_file_access:
        full = os.path.join(settings.staticdir, os.path.expanduser(path))
    else:
        if os.path.isabs(path):
            raise FileAccessDenied(
                f"cannot read {path!r}: file paths are relative to the static directory")
        root = os.path.realpath(settings.staticdir)
        full = os.path.realpath(os.path.join(root, path))
        if os.path.commonpath([root, full]) != root:
            raise FileAccessDenied(f"cannot read {path!r}: it is outside the static directory")
    if not os.path.isfile(full):
        raise FileAccessDenied(f"cannot read {path!r}: no such file in the static directory")
    return full


class Value:
    """Base of the three kinds of VALUE."""

    def spec(self) -> str:
        raise NotImplementedError

    def get_generator(self, settings: Settings) -> generators.Source:
        raise NotImplementedError

    def resolve(self, settings: Settings) -> "Value":
        return self

    def __str__(self) -> str:
        return self.spec()


@dataclasses.dataclass(frozen=True)
class LiteralValue(Value):
    data: bytes

    def spec(self) -> str:
        return quote(self.data)

    def get_generator(self, settings: Settings) -> bytes:
        return self.data


@dataclasses.dataclass(frozen=True)
class GeneratedValue(Value):
    size: int
    datatype: str = generators.DEFAULT_DATATYPE
    seed: int | None = None

    def spec(self) -> str:
        text = f"@{size_spec(self.size)}"
        if self.seed is not None:
            return f"{text},{self.datatype},{self.seed}"
        if self.datatype != generators.DEFAULT_DATATYPE:
            return f"{text},{self.datatype}"
        return text

    def get_generator(self, settings: Settings) -> generators.RandomGenerator:
        seed = self.seed if self.seed is not None else random.getrandbits(SEED_BITS)
        return generators.RandomGenerator(self.size, self.datatype, seed)

    def resolve(self, settings: Settings) -> Value:
        if self.size <= RESOLVE_INLINE_LIMIT:
            return LiteralValue(generators.source_bytes(self.get_generator(settings)))
        if self.seed is not None:
            return self
        return dataclasses.replace(self, seed=random.getrandbits(SEED_BITS))


@dataclasses.dataclass(frozen=True)
class FileValue(Value):
    path: str

    def spec(self) -> str:
        if NAKED_FILE_PATH.fullmatch(self.path):
            return f"<{self.path}"
        return f"<{quote(self.path.encode('utf-8'))}"

    def get_generator(self, settings: Settings) -> generators.FileGenerator:
        return generators.FileGenerator(static_path(self.path, settings))


AnyValue = Union[LiteralValue, GeneratedValue, FileValue]

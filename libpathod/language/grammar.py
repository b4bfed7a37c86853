"""The pyparsing building blocks shared by every kind of spec: VALUEs, OFFSETs, integers,
and the error reporting that turns a failed parse into one clear message.

Rules of this module:
- Nothing skips whitespace: in a spec, whitespace only separates whole specs (pathoc takes
  several), so every element here is built with ``leave_whitespace``.
- Where the input can only be a mistake (a ``b`` not followed by a VALUE, a size with an
  unknown suffix, a path followed by something other than ``:``), the grammar raises a
  fatal error right there, naming what was expected. pyparsing's own "Expected ..." after
  backtracking would point somewhere else and say less.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyparsing as pp

from netlib.human import SIZE_UNITS

from libpathod.language import generators
from libpathod.language.values import FileValue, GeneratedValue, LiteralValue, unescape

__all__ = [
    "SpecError", "fatal", "end_of", "value", "literal", "naked", "integer", "offset",
    "seconds", "keyword", "flag", "quiet",
]

SEPARATOR = ":"

# A quoted literal in single or double quotes; a backslash escapes anything, the quote too.
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
# Generated data: @SIZE[UNIT][,TYPE[,SEED]]; each part is checked in the parse action, so
# that a wrong one is reported at its own position.
_GENERATED = r"@(?P<size>\d*)(?P<unit>[A-Za-z]*)(?:,(?P<type>[A-Za-z_]*)(?:,(?P<seed>\d*))?)?"
_NAKED_FILE = r"[^\s:,=@'\"<]+"

OFFSET_RANDOM = "r"
OFFSET_END = "a"
PAUSE_FOREVER = "f"


class SpecError(pp.ParseFatalException):
    """A fatal parse error raised by this grammar, with a message meant for the user."""


def quiet(expr: pp.ParserElement) -> pp.ParserElement:
    return expr.leave_whitespace()


def fatal(message: str | Callable[[str, int], str]) -> pp.ParserElement:
    """Matches nothing and stops the parse with ``message`` at the current position.
    ``message`` may be a function of (spec, position) for messages that quote the input."""
    def action(s: str, loc: int, toks: pp.ParseResults) -> None:
        text = message(s, loc) if callable(message) else message
        raise SpecError(s, loc, text)
    return quiet(pp.Empty()).set_parse_action(action)


def end_of(what: str, hint: Callable[[str, int], str] | None = None) -> pp.ParserElement:
    """Zero-width check after a component: the next character must end it (``:``,
    whitespace, or the end). ``hint`` may add a suggestion for the offending input."""
    def action(s: str, loc: int, toks: pp.ParseResults) -> None:
        if loc < len(s) and s[loc] != SEPARATOR and not s[loc].isspace():
            text = f"unexpected {s[loc]!r} after {what}; features are separated by ':'"
            if hint:
                text += hint(s, loc)
            raise SpecError(s, loc, text)
    return quiet(pp.Empty()).set_parse_action(action)


def _literal_action(s: str, loc: int, toks: pp.ParseResults) -> LiteralValue:
    text = toks[0]
    try:
        return LiteralValue(unescape(text[1:-1]))
    except ValueError as e:
        raise SpecError(s, loc, f"invalid escape in the literal {text}: {e}") from None


def _generated_action(s: str, loc: int, toks: pp.ParseResults) -> GeneratedValue:
    match: re.Match = toks[0]
    if not match["size"]:
        raise SpecError(s, loc + 1, "expected a size after '@', as in @100 or @1k")
    unit = match["unit"].lower()
    if unit and unit not in SIZE_UNITS:
        raise SpecError(s, loc + 1, f"invalid size {match['size'] + match['unit']!r}: the "
                                    f"suffix must be one of {', '.join(SIZE_UNITS)}")
    size = int(match["size"]) * SIZE_UNITS[unit or "b"]
    datatype = match["type"]
    if datatype is None:
        return GeneratedValue(size)
    type_loc = match.start("type")  # positions in the match are positions in the spec
    if not datatype:
        raise SpecError(s, type_loc, "expected a data type after ',', as in @100,ascii")
    if datatype not in generators.DATATYPES:
        raise SpecError(s, type_loc, f"unknown data type {datatype!r}; expected one of "
                                     f"{', '.join(generators.DATATYPES)}")
    seed = match["seed"]
    if seed == "":
        raise SpecError(s, match.start("seed"), "expected a seed (an integer) after the data type")
    return GeneratedValue(size, datatype, int(seed) if seed is not None else None)


def _file_action(s: str, loc: int, toks: pp.ParseResults) -> FileValue:
    path = toks[1]
    if isinstance(path, LiteralValue):
        path = path.data.decode("utf-8", "surrogateescape")
    return FileValue(path)


def _unterminated(s: str, loc: int) -> str:
    return f"unterminated quoted string starting with {s[loc]}"


def _build_value() -> tuple[pp.ParserElement, pp.ParserElement]:
    quoted = quiet(pp.Regex(_QUOTED, flags=re.DOTALL)).set_parse_action(_literal_action)
    unterminated = quiet(pp.FollowedBy(pp.Char("'\""))) + fatal(_unterminated)
    literal_expr = quoted | unterminated
    generated = quiet(pp.Regex(_GENERATED, as_match=True)).set_parse_action(_generated_action)
    file_path = literal_expr | quiet(pp.Regex(_NAKED_FILE)) | fatal(
        "expected a file path after '<', as in <my/path or <'my/path'")
    file_value = (quiet(pp.Literal("<")) + file_path).set_parse_action(_file_action)
    return literal_expr, quiet(literal_expr | generated | file_value)


_LITERAL, _VALUE = _build_value()


def literal() -> pp.ParserElement:
    """A quoted literal only (embedded specs, which must be known at parse time)."""
    return _LITERAL.copy()


def value(what: str = "") -> pp.ParserElement:
    """A VALUE; with ``what`` (``"b"``), anything else is a fatal error that names it."""
    if not what:
        return _VALUE.copy()
    return _VALUE.copy() | fatal(
        f"expected a VALUE after {what}: a quoted literal ('foo'), generated data (@100,ascii) "
        f"or a file (<path)")


def naked(pattern: str) -> pp.ParserElement:
    """An unquoted word matching ``pattern`` (bare paths, methods)."""
    return quiet(pp.Regex(pattern))


def integer(what: str) -> pp.ParserElement:
    return quiet(pp.Regex(r"\d+")).set_parse_action(lambda toks: int(toks[0])) | fatal(
        f"expected an integer after {what}")


def offset(what: str) -> pp.ParserElement:
    """OFFSET: a byte count, ``r`` (random) or ``a`` (the end of the message)."""
    def convert(toks: pp.ParseResults) -> int | str:
        return toks[0] if toks[0] in (OFFSET_RANDOM, OFFSET_END) else int(toks[0])
    return quiet(pp.Regex(r"\d+|[ra]")).set_parse_action(convert) | fatal(
        f"expected an OFFSET after {what}: an integer, r (random) or a (end of message)")


def seconds(what: str) -> pp.ParserElement:
    """A pause: seconds (an integer; a decimal also works) or ``f`` for forever."""
    def convert(toks: pp.ParseResults) -> float | str:
        text = toks[0]
        if text == PAUSE_FOREVER:
            return text
        number = float(text)
        return int(number) if number.is_integer() else number
    return quiet(pp.Regex(r"\d+(?:\.\d+)?|f")).set_parse_action(convert) | fatal(
        f"expected the seconds to pause after {what}: an integer, or f (forever)")


def keyword(text: str) -> pp.ParserElement:
    """A fixed word that leads a feature (``b``, ``-fin``)."""
    return quiet(pp.Literal(text))


def comma(what: str) -> pp.ParserElement:
    return quiet(pp.Literal(",")).suppress() | fatal(f"expected ',' in {what}")


def flag(text: str, build: Callable[[], Any], what: str) -> pp.ParserElement:
    """A feature that is a word alone (``r``, ``fin``): it must end where the word ends."""
    return (keyword(text).suppress() + end_of(what)).set_parse_action(lambda: build())

"""The features of HTTP messages: headers and their shortcuts, body, raw flag, reason,
repetition, and the grammar of each.

A feature is an immutable token: ``spec()`` is its canonical text, ``resolve(settings, msg)``
returns it with its values fixed (see values.py). Features that can only appear once in a
message name themselves in ``unique_name``; the message grammar refuses a second one.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import pyparsing as pp

from libpathod.language import grammar, useragents
from libpathod.language.settings import Settings
from libpathod.language.values import LiteralValue, Value

__all__ = [
    "Token", "ValueToken", "Header", "ShortcutContentType", "ShortcutLocation",
    "ShortcutUserAgent", "Body", "Raw", "Reason", "Times", "header_expr", "value_feature",
    "user_agent_expr", "times_expr", "raw_expr",
]


class Token:
    """A feature of a message."""

    unique_name: ClassVar[str | None] = None

    def spec(self) -> str:
        raise NotImplementedError

    def resolve(self, settings: Settings, msg: object) -> "Token":
        return self

    def __str__(self) -> str:
        return self.spec()


@dataclasses.dataclass(frozen=True)
class ValueToken(Token):
    """A one-letter feature followed by a VALUE (``b'foo'``, ``c'text/json'``)."""

    prefix: ClassVar[str] = ""
    value: Value

    def spec(self) -> str:
        return f"{self.prefix}{self.value.spec()}"

    def resolve(self, settings: Settings, msg: object) -> "ValueToken":
        return dataclasses.replace(self, value=self.value.resolve(settings))


class HeaderLike:
    """A feature that renders as a header field."""

    def header_pair(self) -> tuple[Value, Value]:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Header(Token, HeaderLike):
    key: Value
    value: Value

    def spec(self) -> str:
        return f"h{self.key.spec()}={self.value.spec()}"

    def resolve(self, settings: Settings, msg: object) -> "Header":
        return Header(self.key.resolve(settings), self.value.resolve(settings))

    def header_pair(self) -> tuple[Value, Value]:
        return self.key, self.value


@dataclasses.dataclass(frozen=True)
class _HeaderShortcut(ValueToken, HeaderLike):
    header_name: ClassVar[bytes] = b""

    def header_pair(self) -> tuple[Value, Value]:
        return LiteralValue(self.header_name), self.value


class ShortcutContentType(_HeaderShortcut):
    prefix = "c"
    header_name = b"Content-Type"


class ShortcutLocation(_HeaderShortcut):
    prefix = "l"
    header_name = b"Location"


@dataclasses.dataclass(frozen=True)
class ShortcutUserAgent(_HeaderShortcut):
    """``uchrome`` (a shortcut name, kept as written in the spec) or ``u'any agent'``."""

    prefix = "u"
    header_name = b"User-Agent"
    shortcut: str | None = None

    @classmethod
    def from_shortcut(cls, name: str) -> "ShortcutUserAgent":
        agent = useragents.get_by_shortcut(name)
        assert agent is not None, name
        return cls(LiteralValue(agent.encode("ascii")), name.lower())

    def spec(self) -> str:
        return f"u{self.shortcut}" if self.shortcut else super().spec()


class Body(ValueToken):
    prefix = "b"
    unique_name = "b (body)"


class Reason(ValueToken):
    prefix = "m"
    unique_name = "m (reason)"


@dataclasses.dataclass(frozen=True)
class Raw(Token):
    unique_name = "r (raw)"

    def spec(self) -> str:
        return "r"


@dataclasses.dataclass(frozen=True)
class Times(Token):
    unique_name = "x (times)"
    count: int

    def spec(self) -> str:
        return f"x{self.count}"


def value_feature(cls: type[ValueToken], what: str) -> pp.ParserElement:
    """``<prefix>VALUE`` building ``cls``."""
    expr = grammar.keyword(cls.prefix).suppress() + grammar.value(f"'{cls.prefix}'") + grammar.end_of(what)
    return expr.set_parse_action(lambda toks: cls(toks[0]))


def header_expr() -> pp.ParserElement:
    equals = grammar.quiet(pp.Literal("=")).suppress() | grammar.fatal(
        "expected '=' between the header name and its value, as in h'Name'='value'")
    expr = (grammar.keyword("h").suppress() + grammar.value("'h'") + equals
            + grammar.value("'=' in a header") + grammar.end_of("the header"))
    return expr.set_parse_action(lambda toks: Header(toks[0], toks[1]))


def user_agent_expr() -> pp.ParserElement:
    # Longest names first, so that no name is cut short by a shorter one it starts with.
    names = sorted(useragents.USER_AGENTS, key=len, reverse=True)
    shortcut = grammar.quiet(pp.MatchFirst([pp.CaselessLiteral(n) for n in names]))
    shortcut = shortcut.set_parse_action(lambda toks: ShortcutUserAgent.from_shortcut(toks[0]))
    literal = grammar.value().set_parse_action(lambda toks: ShortcutUserAgent(toks[0]))
    agent = shortcut | literal | grammar.fatal(
        f"expected a User-Agent after 'u': a VALUE or one of {', '.join(useragents.USER_AGENTS)}")
    return grammar.keyword("u").suppress() + agent + grammar.end_of("the user agent")


def raw_expr() -> pp.ParserElement:
    return grammar.flag("r", Raw, "'r' (raw)")


def times_expr() -> pp.ParserElement:
    expr = grammar.keyword("x").suppress() + grammar.integer("'x'") + grammar.end_of("'x' (times)")
    return expr.set_parse_action(lambda toks: Times(toks[0]))

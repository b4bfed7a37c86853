"""The actions: pause (``p``), disconnect (``d``) and inject (``i``) at an OFFSET.

Offsets count bytes of the message as rendered, before any injection; ``serve`` applies the
actions in offset order (see writer.py). Resolving an action turns ``r`` into a random offset
inside the message and ``a`` into the message's length (its end), and fixes the injected
value, so a resolved spec repeats the same damage.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Protocol

import pyparsing as pp

from libpathod.language import grammar
from libpathod.language.base import Token
from libpathod.language.settings import Settings
from libpathod.language.values import Value

__all__ = ["Action", "PauseAt", "DisconnectAt", "InjectAt", "pause_expr", "disconnect_expr",
           "inject_expr"]

Offset = int | str
Seconds = int | float | str


class _Sized(Protocol):
    def length(self, settings: Settings) -> int: ...


def resolve_offset(offset: Offset, settings: Settings, msg: _Sized) -> int:
    if offset == grammar.OFFSET_RANDOM:
        length = msg.length(settings)
        return random.randrange(length) if length else 0
    if offset == grammar.OFFSET_END:
        return msg.length(settings)
    return int(offset)


@dataclasses.dataclass(frozen=True)
class Action(Token):
    offset: Offset

    def resolve(self, settings: Settings, msg: _Sized) -> "Action":
        return dataclasses.replace(self, offset=resolve_offset(self.offset, settings, msg))

    def log(self) -> dict:
        """What the server's log records of this action, once it has happened."""
        return {"type": self.kind, "offset": self.offset}

    kind = ""


@dataclasses.dataclass(frozen=True)
class PauseAt(Action):
    kind = "pause"
    seconds: Seconds

    def spec(self) -> str:
        return f"p{self.offset},{self.seconds}"

    def log(self) -> dict:
        return {**super().log(), "seconds": self.seconds}


@dataclasses.dataclass(frozen=True)
class DisconnectAt(Action):
    kind = "disconnect"

    def spec(self) -> str:
        return f"d{self.offset}"


@dataclasses.dataclass(frozen=True)
class InjectAt(Action):
    kind = "inject"
    value: Value

    def spec(self) -> str:
        return f"i{self.offset},{self.value.spec()}"

    def resolve(self, settings: Settings, msg: _Sized) -> "InjectAt":
        return InjectAt(resolve_offset(self.offset, settings, msg), self.value.resolve(settings))

    def log(self) -> dict:
        return {**super().log(), "value": self.value.spec()}


def pause_expr() -> pp.ParserElement:
    expr = (grammar.keyword("p").suppress() + grammar.offset("'p'") + grammar.comma("a pause, as in p10,5")
            + grammar.seconds("'p'") + grammar.end_of("the pause"))
    return expr.set_parse_action(lambda toks: PauseAt(toks[0], toks[1]))


def disconnect_expr() -> pp.ParserElement:
    expr = grammar.keyword("d").suppress() + grammar.offset("'d'") + grammar.end_of("the disconnect")
    return expr.set_parse_action(lambda toks: DisconnectAt(toks[0]))


def inject_expr() -> pp.ParserElement:
    expr = (grammar.keyword("i").suppress() + grammar.offset("'i'")
            + grammar.comma("an injection, as in i10,'foo'") + grammar.value("the offset of 'i'")
            + grammar.end_of("the injection"))
    return expr.set_parse_action(lambda toks: InjectAt(toks[0], toks[1]))

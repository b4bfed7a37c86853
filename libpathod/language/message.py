"""What every kind of spec shares: its features, the derived views of them, the canonical
text, equality, the log entry, and the grammar of a colon-separated feature list.

A message is immutable: ``resolve`` returns a new one, so a parsed spec can be served any
number of times, from any thread, and each serve resolves its own copy.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import ClassVar

import pyparsing as pp

from libpathod.language import generators, grammar
from libpathod.language.actions import Action, PauseAt
from libpathod.language.base import Body, HeaderLike, Raw, Times, Token
from libpathod.language.settings import Settings
from libpathod.language.values import LiteralValue, Value, escape_bytes

__all__ = ["Message", "features_expr", "LOG_TRUNCATE"]

# How much of a value the log keeps: enough to recognise it, never a gigabyte body.
LOG_TRUNCATE = 1024


class Message:
    """Base of Request, Response and WebsocketFrame.

    Subclasses are frozen dataclasses declared with ``eq=False`` (equality is by canonical
    text, below) that hold their head fields and ``tokens``, the features in spec order.
    """

    tokens: tuple[Token, ...]

    # The fields that ``log`` records, each a Value, bytes, an int or None.
    logattrs: ClassVar[tuple[str, ...]] = ()

    def spec(self) -> str:
        raise NotImplementedError

    def values(self, settings: Settings) -> list[generators.Source]:
        """The byte sources that make up the message on the wire, in order."""
        raise NotImplementedError

    def resolve(self, settings: Settings, msg: "Message | None" = None) -> "Message":
        raise NotImplementedError

    # --- views of the features ---------------------------------------------------------

    def toks(self, klass: type) -> list:
        return [t for t in self.tokens if isinstance(t, klass)]

    def tok(self, klass: type):
        found = self.toks(klass)
        return found[0] if found else None

    @property
    def actions(self) -> list[Action]:
        return self.toks(Action)

    @property
    def times(self) -> int | None:
        token = self.tok(Times)
        return token.count if token else None

    @property
    def body(self) -> Body | None:
        return self.tok(Body)

    @property
    def raw(self) -> bool:
        return self.tok(Raw) is not None

    @property
    def headers(self) -> list[HeaderLike]:
        return self.toks(HeaderLike)

    def get_header(self, name: bytes) -> HeaderLike | None:
        """The first header whose name is a literal equal to ``name``, case ignored.
        (A generated or file name cannot be known to match.)"""
        name = name.lower()
        for header in self.headers:
            key = header.header_pair()[0]
            if isinstance(key, LiteralValue) and key.data.lower() == name:
                return header
        return None

    def with_tokens(self, tokens: Sequence[Token]) -> "Message":
        return dataclasses.replace(self, tokens=tuple(tokens))

    def strike_times(self) -> "Message":
        """This message without its ``x`` feature (what each repetition sends)."""
        return self.with_tokens([t for t in self.tokens if not isinstance(t, Times)])

    def preview_safe(self) -> "Message":
        """A copy without pauses, to render for a preview or a log without waiting."""
        return self.with_tokens([t for t in self.tokens if not isinstance(t, PauseAt)])

    def length(self, settings: Settings) -> int:
        return sum(len(v) for v in self.values(settings))

    def resolve_tokens(self, settings: Settings, build: Callable[[tuple[Token, ...]], "Message"],
                       extra: Sequence[Token] = (), front: Sequence[Token] = ()) -> "Message":
        """The common last step of ``resolve``: fix every value, add the ``front`` and
        ``extra`` tokens (automatic headers), then fix the actions against the length of the
        message they will act on. ``build`` makes the message from its new tokens."""
        tokens = tuple(t if isinstance(t, Action) else t.resolve(settings, self) for t in self.tokens)
        intermediate = build(tuple(front) + tokens + tuple(extra))
        return intermediate.with_tokens(
            [t.resolve(settings, intermediate) if isinstance(t, Action) else t
             for t in intermediate.tokens])

    # --- text, equality, log -----------------------------------------------------------

    def features_spec(self) -> str:
        return "".join(f":{t.spec()}" for t in self.tokens)

    def __str__(self) -> str:
        return self.spec()

    def __eq__(self, other: object) -> bool:
        """Specs are equal when their canonical texts are: ``get:/`` equals ``'GET':/``."""
        if not isinstance(other, Message):
            return NotImplemented
        return type(self) is type(other) and self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.spec()))

    def extra_log(self) -> dict:
        """Log fields a kind of message computes rather than stores."""
        return {}

    def log(self, settings: Settings) -> dict:
        """The message's fields for a log entry, with values cut at LOG_TRUNCATE bytes."""
        entry: dict = {}
        for name in self.logattrs:
            entry[name] = _loggable(getattr(self, name), settings)
        entry.update(self.extra_log())
        entry["spec"] = self.spec()
        return entry


def _loggable(item: object, settings: Settings) -> object:
    if isinstance(item, Body):
        item = item.value
    if isinstance(item, Value):
        source = item.get_generator(settings)
        item = source[0:min(len(source), LOG_TRUNCATE)]
    if isinstance(item, bytes):
        return escape_bytes(item[:LOG_TRUNCATE])
    return item


def _located(expr: pp.ParserElement) -> pp.ParserElement:
    """Pairs a feature with the column it starts at, for errors found after parsing it."""
    return expr.copy().add_parse_action(lambda s, loc, toks: [(loc, toks[0])])


def check_unique(s: str, located: Sequence[tuple[int, Token]]) -> tuple[Token, ...]:
    """The tokens, or a SpecError at the second of two features that may appear once."""
    seen: set[str] = set()
    for loc, token in located:
        name = token.unique_name
        if name is not None:
            if name in seen:
                raise grammar.SpecError(s, loc, f"the spec has more than one {name} feature")
            seen.add(name)
    return tuple(token for _, token in located)


def features_expr(features: Sequence[pp.ParserElement], context: str,
                  rejected: dict[str, str] | None = None, letters: str = "") -> pp.ParserElement:
    """``(:feature)*`` for a kind of message. Parses to a list of (column, token) pairs.

    ``rejected`` maps feature letters that exist elsewhere but not here (HTTP/2's ``m``) to
    the reason; ``letters`` lists the valid ones for the unknown-feature message.
    """
    alternatives = list(features)
    for prefix, reason in sorted((rejected or {}).items(), key=lambda item: -len(item[0])):
        alternatives.append(pp.FollowedBy(grammar.keyword(prefix)) + grammar.fatal(reason))
    feature = pp.MatchFirst([_located(f) for f in alternatives]) | grammar.fatal(
        lambda s, loc: (f"expected a feature after ':' in {context}"
                        if loc >= len(s) or s[loc] in ": \t\r\n"
                        else f"unknown feature {s[loc]!r} in {context}") + f"; features: {letters}")
    return pp.Group(pp.ZeroOrMore(grammar.keyword(grammar.SEPARATOR).suppress() + feature))

"""Turning spec text into messages: the top-level grammars, ``+file`` includes, and the
expansion of ``x`` repetitions.

Several specs may be given in one string, separated by whitespace (pathoc's command line,
a spec file). ``+path`` in place of a spec reads specs from a file in the static directory
(the same access rules as ``<path`` values); includes may nest up to MAX_INCLUDE_DEPTH.

The grammars are built once and shared; pyparsing keeps per-parse state on its elements,
so parses are serialised by a lock (a parse takes well under a millisecond).
"""
from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Iterator

import pyparsing as pp

from libpathod.language import grammar, http, http2, websockets
from libpathod.language.exceptions import ParseException
from libpathod.language.message import Message
from libpathod.language.settings import Settings
from libpathod.language.values import LiteralValue, static_path

__all__ = ["parse_pathod", "parse_pathoc", "parse_websocket_frame", "MAX_INCLUDE_DEPTH"]

# Includes that include themselves must end somewhere.
MAX_INCLUDE_DEPTH = 8

_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class _Include:
    path: str
    loc: int


def _include_expr() -> pp.ParserElement:
    path = grammar.literal() | grammar.naked(r"\S+") | grammar.fatal("expected a file path after '+'")

    def build(s: str, loc: int, toks: pp.ParseResults) -> _Include:
        value = toks[0]
        if isinstance(value, LiteralValue):
            value = value.data.decode("utf-8", "surrogateescape")
        return _Include(value, loc)
    return (grammar.keyword("+").suppress() + path).set_parse_action(build)


def _specs_expr(*kinds: pp.ParserElement) -> pp.ParserElement:
    white = grammar.quiet(pp.White()).suppress()
    item = pp.MatchFirst([_include_expr(), *kinds])
    expr = (pp.Optional(white) + item + pp.ZeroOrMore(white + ~pp.StringEnd() + item)
            + pp.Optional(white) + pp.StringEnd())
    return expr.leave_whitespace(recursive=True)


@functools.cache
def _grammar(kind: str, use_http2: bool) -> pp.ParserElement:
    frame = websockets.websocket_frame_expr()
    if kind == "websocket":
        return _specs_expr(frame)
    if kind == "pathod":
        return _specs_expr(http2.response_expr()) if use_http2 else _specs_expr(frame, http.http1_response_expr())
    return _specs_expr(http2.request_expr()) if use_http2 else _specs_expr(frame, http.http1_request_expr())


def _parse(s: str | bytes, kind: str, use_http2: bool, settings: Settings | None,
           depth: int = 0) -> list[Message]:
    if isinstance(s, bytes):
        try:
            s = s.decode("ascii")
        except UnicodeDecodeError as e:
            raise ParseException("a spec must be ASCII text", repr(s), e.start) from None
    if not s.strip():
        raise ParseException("empty spec", s, 0)
    try:
        with _lock:
            items = list(_grammar(kind, use_http2).parse_string(s, parse_all=True))
    except grammar.SpecError as e:
        raise ParseException(e.msg, s, e.loc) from None
    except pp.ParseBaseException as e:
        found = f"unexpected {s[e.loc]!r}" if e.loc < len(s) else "unexpected end of spec"
        raise ParseException(found, s, e.loc) from None
    messages = []
    for item in items:
        if isinstance(item, _Include):
            messages += _include(item, s, kind, use_http2, settings, depth)
        else:
            messages.append(item)
    return messages


def _include(item: _Include, s: str, kind: str, use_http2: bool, settings: Settings | None,
             depth: int) -> list[Message]:
    if depth >= MAX_INCLUDE_DEPTH:
        raise ParseException(f"includes nested more than {MAX_INCLUDE_DEPTH} deep", s, item.loc)
    path = static_path(item.path, settings or Settings())
    with open(path, "rb") as f:
        text = f.read()
    try:
        return _parse(text, kind, use_http2, settings, depth + 1)
    except ParseException as e:
        raise ParseException(f"in {item.path!r}: {e.msg}", e.s, e.col) from None


def _expand(messages: list[Message]) -> Iterator[Message]:
    """Each message, repeated ``x`` times (without its ``x``), lazily: ``x1000000`` costs
    nothing up front."""
    for msg in messages:
        times = msg.times
        if times is None:
            yield msg
        else:
            single = msg.strike_times()
            for _ in range(times):
                yield single


def parse_pathod(s: str | bytes, use_http2: bool = False,
                 settings: Settings | None = None) -> Iterator[Message]:
    """Response specs (and ``wf`` frame specs), ``x`` expanded. ParseException when the
    text is not a spec; ``settings`` gives the static directory for ``+path``."""
    return _expand(_parse(s, "pathod", use_http2, settings))


def parse_pathoc(s: str | bytes, use_http2: bool = False,
                 settings: Settings | None = None) -> Iterator[Message]:
    """Request specs (and ``wf`` frame specs), separated by whitespace, ``x`` expanded."""
    return _expand(_parse(s, "pathoc", use_http2, settings))


def parse_websocket_frame(s: str | bytes, settings: Settings | None = None) -> Iterator[Message]:
    """Websocket frame specs only (pathoc's frames after a ``ws`` handshake), ``x`` expanded."""
    return _expand(_parse(s, "websocket", False, settings))

"""Filter expressions: the small language that picks flows (``~q ~b test``, ``!~a``).

``parse(expression)`` compiles an expression into a ``Filter``, a callable that takes a
flow and answers True or False. An invalid expression raises ``FilterError`` (a
ValueError) whose message quotes the expression and puts a caret under the culprit;
``parse`` never returns None. Compiled filters are cached by expression, so
``flow.match("~q")`` in a loop compiles once.

The language (the spec's "Filter expressions" table is the contract):

    ~a            asset in the response: CSS, JavaScript, Flash, images (by Content-Type)
    ~b regex      request or response body       ~bq / ~bs   request / response body
    ~c int        HTTP response code
    ~d regex      domain (the request's host)
    ~dst regex    destination address, "host:port" of the server connection
    ~e            the flow has an error
    ~h regex      a request or response header   ~hq / ~hs   request / response header
    ~http         HTTP flows                     ~tcp        TCP flows
    ~m regex      request method
    ~q            a request with no response     ~s          a flow with a response
    ~src regex    source address, "host:port" of the client connection
    ~t regex      Content-Type, request or response   ~tq / ~ts   request / response
    ~u regex      request URL
    word          a word or quoted string alone is a URL regex:
                  ``google\\.com`` is ``~u google\\.com``
    !  &  |  ( )  not, and, or, grouping; ``!`` binds tightest, then ``&``, then ``|``.
                  Two filters side by side are joined by ``&`` (``~q ~b test``).

Decisions, where the table is silent:
- Regexes are Python regexes, searched (not anchored). They are case-sensitive, as in 0.18,
  except for ``~d`` and ``~m`` (host names and methods, which 0.18 matched ignoring case);
  ``(?i)`` makes any other one case-insensitive. ``~a`` ignores case too, since media types
  are case-insensitive (RFC 7231, 3.1.1.1), and looks at the media type at the start of
  the value (0.18 searched the whole value, parameters included).
- Header operators see one ``name: value`` line per field, as sent (so ``^`` and ``$`` work
  per line). Content-Type operators see each Content-Type value. Body operators see the
  body with its Content-Encoding undone (the raw body when that fails), and ``.`` matches
  newlines there. Headers, bodies and Content-Type are matched as bytes: the regex is
  UTF-8 encoded, so a non-ASCII pattern finds UTF-8 text.
- ``~b``/``~bq``/``~bs`` also search a TCP flow's messages (all / from the client / from
  the server), as 0.18 did. ``~e``, ``~src`` and ``~dst`` apply to any flow. Every other
  operator is about HTTP and is simply False for a TCP flow.
- Lexing: a regex argument or bare word is a run of characters up to whitespace or one of
  ``( ) ~ ' " & |``; anything else needs quotes (``~u "a|b"``). In a quoted string a
  backslash before the quote character stands for that character; every other backslash is
  kept for the regex (``"\\d+\\.js"`` means what it says).
- Juxtaposition is ``&`` with ``&``'s precedence: ``~a | ~q ~e`` is ``~a | (~q & ~e)``.
  (0.18's grammar joined side-by-side filters after ``|``; the spec says only that ``&`` is
  the default operator, and giving both spellings one meaning is the least surprising.)

The grammar is small enough to parse by hand, which lets every error say exactly where it
is (pyparsing reports where its backtracking gave up, which is often somewhere else):

    expression := or
    or         := and ("|" and)*
    and        := unary (["&"] unary)*
    unary      := "!" unary | atom
    atom       := "(" or ")" | operator [argument] | argument
    argument   := word | quoted string
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable

from libmproxy.models.http import HTTPFlow
from libmproxy.models.tcp import TCPFlow

__all__ = ["parse", "problem", "match", "Filter", "FilterError", "help", "PARSE_CACHE_SIZE"]

# How many compiled expressions ``parse`` remembers. A console session or a script uses a
# handful (view limit, intercept, one per replace or set-headers rule); the bound only
# keeps a program that builds expressions on the fly from growing without end.
PARSE_CACHE_SIZE = 256

# The Content-Types that make a response an asset for ``~a``, as 0.18 listed them.
ASSET_CONTENT_TYPES = (
    "text/javascript",
    "application/x-javascript",
    "application/javascript",
    "text/css",
    "image/.*",
    "application/x-shockwave-flash",
)

_CONTENT_TYPE = b"content-type"
_CONTENT_ENCODING = b"content-encoding"

Flow = Any  # HTTPFlow | TCPFlow: filters take any flow and decide from its type


# --- errors ------------------------------------------------------------------------------

class FilterError(ValueError):
    """An invalid filter expression. ``position`` is the 0-based index of the offending
    character (``len(expression)`` when something is missing at the end), ``reason`` the
    problem in words. The message shows both: the expression with a caret under the spot.
    """

    def __init__(self, expression: str, position: int, reason: str) -> None:
        self.expression = expression
        self.position = position
        self.reason = reason
        # Tabs and newlines would shift the caret off its character: show them as spaces.
        shown = re.sub(r"\s", " ", expression)
        super().__init__(
            f"invalid filter expression {expression!r}: {reason} (column {position + 1})\n"
            f"    {shown}\n"
            f"    {' ' * position}^"
        )


# --- how the operators read a flow -------------------------------------------------------

def _header_lines(message: Any) -> bytes:
    """A message's header fields as ``name: value`` lines, the text ``~h`` searches."""
    return b"".join([b"%s: %s\n" % field for field in message.headers.fields])


def _content_types(message: Any) -> list[bytes]:
    return [value for name, value in message.headers.fields if name.lower() == _CONTENT_TYPE]


def _body(message: Any) -> bytes | None:
    """The decoded body, the raw one if it cannot be decoded; None if empty or unread.

    Most bodies have no Content-Encoding; finding that out from the fields directly is
    several times cheaper than the decoding machinery's header lookup.
    """
    raw = message.raw_content
    if not raw:
        return None
    for name, _ in message.headers.fields:
        if name.lower() == _CONTENT_ENCODING:
            return message.get_content(strict=False)
    return raw


def _address(connection: Any) -> str | None:
    if connection is None or connection.address is None:
        return None
    return str(connection.address)


# --- the nodes of a compiled filter ------------------------------------------------------
#
# Every node is a callable object whose ``__repr__`` is the expression it stands for, in
# a canonical spelling (fully parenthesised, arguments quoted when they must be).

class _Node:
    __slots__ = ()

    def __call__(self, flow: Flow) -> bool:  # pragma: no cover - every node overrides
        raise NotImplementedError


class _Operator(_Node):
    """An operator of the table: ``code`` is its name after the ``~``."""

    __slots__ = ()
    code = ""
    help = ""

    def __repr__(self) -> str:
        return f"~{self.code}"


class FAsset(_Operator):
    __slots__ = ()
    code = "a"
    help = "Match asset in response: CSS, Javascript, Flash, images."
    # Anchored at the media type, which begins the value: "text/html; x=text/css" is not
    # an asset (0.18 searched anywhere in the value).
    _regex = re.compile(
        rb"\s*(?:" + "|".join(ASSET_CONTENT_TYPES).encode("ascii") + rb")", re.IGNORECASE
    )

    def __call__(self, flow: Flow) -> bool:
        if not isinstance(flow, HTTPFlow) or flow.response is None:
            return False
        match_ = self._regex.match
        return any(match_(value) for value in _content_types(flow.response))


class FErr(_Operator):
    __slots__ = ()
    code = "e"
    help = "Match error"

    def __call__(self, flow: Flow) -> bool:
        return flow.error is not None


class FHTTP(_Operator):
    __slots__ = ()
    code = "http"
    help = "Match HTTP flows"

    def __call__(self, flow: Flow) -> bool:
        return isinstance(flow, HTTPFlow)


class FTCP(_Operator):
    __slots__ = ()
    code = "tcp"
    help = "Match TCP flows"

    def __call__(self, flow: Flow) -> bool:
        return isinstance(flow, TCPFlow)


class FReq(_Operator):
    __slots__ = ()
    code = "q"
    help = "Match request with no response"

    def __call__(self, flow: Flow) -> bool:
        return (isinstance(flow, HTTPFlow) and flow.request is not None
                and flow.response is None)


class FResp(_Operator):
    __slots__ = ()
    code = "s"
    help = "Match response"

    def __call__(self, flow: Flow) -> bool:
        return isinstance(flow, HTTPFlow) and flow.response is not None


class FCode(_Operator):
    __slots__ = ("status_code",)
    code = "c"
    help = "HTTP response code"

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"~c {self.status_code}"

    def __call__(self, flow: Flow) -> bool:
        return (isinstance(flow, HTTPFlow) and flow.response is not None
                and flow.response.status_code == self.status_code)


class _Regex(_Operator):
    """An operator with a regex argument, compiled once here. ``binary`` operators search
    bytes (headers, bodies), the others str (URL, host, method, addresses)."""

    __slots__ = ("expr", "regex")
    flags = 0
    binary = False

    def __init__(self, expr: str) -> None:
        self.expr = expr
        # Compiled as str first in any case, so that an error's position is a position
        # in the expression the user typed.
        self.regex = re.compile(expr, self.flags)
        if self.binary:
            self.regex = re.compile(expr.encode("utf-8", "surrogateescape"), self.flags)

    def __repr__(self) -> str:
        return f"~{self.code} {_quote(self.expr)}"


class FBod(_Regex):
    __slots__ = ()
    code = "b"
    help = "Body"
    flags = re.DOTALL
    binary = True

    def __call__(self, flow: Flow) -> bool:
        search = self.regex.search
        if isinstance(flow, HTTPFlow):
            for message in (flow.request, flow.response):
                if message is not None:
                    body = _body(message)
                    if body is not None and search(body):
                        return True
            return False
        if isinstance(flow, TCPFlow):
            return any(search(m.content) for m in flow.messages)
        return False


class FBodRequest(_Regex):
    __slots__ = ()
    code = "bq"
    help = "Request body"
    flags = re.DOTALL
    binary = True

    def __call__(self, flow: Flow) -> bool:
        if isinstance(flow, HTTPFlow):
            if flow.request is None:
                return False
            body = _body(flow.request)
            return body is not None and self.regex.search(body) is not None
        if isinstance(flow, TCPFlow):
            search = self.regex.search
            return any(search(m.content) for m in flow.messages if m.from_client)
        return False


class FBodResponse(_Regex):
    __slots__ = ()
    code = "bs"
    help = "Response body"
    flags = re.DOTALL
    binary = True

    def __call__(self, flow: Flow) -> bool:
        if isinstance(flow, HTTPFlow):
            if flow.response is None:
                return False
            body = _body(flow.response)
            return body is not None and self.regex.search(body) is not None
        if isinstance(flow, TCPFlow):
            search = self.regex.search
            return any(search(m.content) for m in flow.messages if not m.from_client)
        return False


class FDomain(_Regex):
    __slots__ = ()
    code = "d"
    help = "Domain"
    flags = re.IGNORECASE

    def __call__(self, flow: Flow) -> bool:
        if not isinstance(flow, HTTPFlow) or flow.request is None:
            return False
        host = flow.request.host
        return host is not None and self.regex.search(host) is not None


class FDst(_Regex):
    __slots__ = ()
    code = "dst"
    help = "Match destination address"

    def __call__(self, flow: Flow) -> bool:
        address = _address(flow.server_conn)
        return address is not None and self.regex.search(address) is not None


class FHead(_Regex):
    __slots__ = ()
    code = "h"
    help = "Header"
    flags = re.MULTILINE
    binary = True

    def __call__(self, flow: Flow) -> bool:
        if not isinstance(flow, HTTPFlow):
            return False
        search = self.regex.search
        return any(
            message is not None and search(_header_lines(message))
            for message in (flow.request, flow.response)
        )


class FHeadRequest(_Regex):
    __slots__ = ()
    code = "hq"
    help = "Request header"
    flags = re.MULTILINE
    binary = True

    def __call__(self, flow: Flow) -> bool:
        return (isinstance(flow, HTTPFlow) and flow.request is not None
                and self.regex.search(_header_lines(flow.request)) is not None)


class FHeadResponse(_Regex):
    __slots__ = ()
    code = "hs"
    help = "Response header"
    flags = re.MULTILINE
    binary = True

    def __call__(self, flow: Flow) -> bool:
        return (isinstance(flow, HTTPFlow) and flow.response is not None
                and self.regex.search(_header_lines(flow.response)) is not None)


class FMethod(_Regex):
    __slots__ = ()
    code = "m"
    help = "Method"
    flags = re.IGNORECASE

    def __call__(self, flow: Flow) -> bool:
        return (isinstance(flow, HTTPFlow) and flow.request is not None
                and self.regex.search(flow.request.method) is not None)


class FSrc(_Regex):
    __slots__ = ()
    code = "src"
    help = "Match source address"

    def __call__(self, flow: Flow) -> bool:
        address = _address(flow.client_conn)
        return address is not None and self.regex.search(address) is not None


class FContentType(_Regex):
    __slots__ = ()
    code = "t"
    help = "Content-type header"
    binary = True

    def __call__(self, flow: Flow) -> bool:
        if not isinstance(flow, HTTPFlow):
            return False
        search = self.regex.search
        for message in (flow.request, flow.response):
            if message is not None and any(search(v) for v in _content_types(message)):
                return True
        return False


class FContentTypeRequest(_Regex):
    __slots__ = ()
    code = "tq"
    help = "Request Content-Type header"
    binary = True

    def __call__(self, flow: Flow) -> bool:
        if not isinstance(flow, HTTPFlow) or flow.request is None:
            return False
        search = self.regex.search
        return any(search(v) for v in _content_types(flow.request))


class FContentTypeResponse(_Regex):
    __slots__ = ()
    code = "ts"
    help = "Response Content-Type header"
    binary = True

    def __call__(self, flow: Flow) -> bool:
        if not isinstance(flow, HTTPFlow) or flow.response is None:
            return False
        search = self.regex.search
        return any(search(v) for v in _content_types(flow.response))


class FUrl(_Regex):
    __slots__ = ()
    code = "u"
    help = "URL"

    def __call__(self, flow: Flow) -> bool:
        return (isinstance(flow, HTTPFlow) and flow.request is not None
                and self.regex.search(flow.request.url) is not None)


class FNot(_Node):
    __slots__ = ("operand",)

    def __init__(self, operand: _Node) -> None:
        self.operand = operand

    def __call__(self, flow: Flow) -> bool:
        return not self.operand(flow)

    def __repr__(self) -> str:
        return f"!{self.operand!r}"


class FAnd(_Node):
    __slots__ = ("operands",)

    def __init__(self, operands: list[_Node]) -> None:
        self.operands = tuple(operands)

    def __call__(self, flow: Flow) -> bool:
        for operand in self.operands:
            if not operand(flow):
                return False
        return True

    def __repr__(self) -> str:
        return "(" + " & ".join(map(repr, self.operands)) + ")"


class FOr(_Node):
    __slots__ = ("operands",)

    def __init__(self, operands: list[_Node]) -> None:
        self.operands = tuple(operands)

    def __call__(self, flow: Flow) -> bool:
        for operand in self.operands:
            if operand(flow):
                return True
        return False

    def __repr__(self) -> str:
        return "(" + " | ".join(map(repr, self.operands)) + ")"


# The operators in the spec's table order: what ``help`` lists and what the parser knows.
_TABLE: tuple[type[_Operator], ...] = (
    FAsset, FBod, FBodRequest, FBodResponse, FCode, FDomain, FDst, FErr, FHead,
    FHeadRequest, FHeadResponse, FHTTP, FMethod, FReq, FResp, FSrc, FContentType, FTCP,
    FContentTypeRequest, FContentTypeResponse, FUrl,
)
_OPERATORS: dict[str, type[_Operator]] = {klass.code: klass for klass in _TABLE}


def _argument_kind(klass: type[_Operator]) -> str:
    if issubclass(klass, _Regex):
        return "regex"
    if klass is FCode:
        return "int"
    return ""


help: list[tuple[str, str]] = [
    (f"~{klass.code} {_argument_kind(klass)}".rstrip(), klass.help) for klass in _TABLE
] + [("!", "unary not"), ("&", "and"), ("|", "or"), ("(...)", "grouping")]


# --- the parser ----------------------------------------------------------------------------

_SPACE = re.compile(r"\s*")
_WORD = re.compile(r"""[^\s()~'"&|]+""")
_OPERATOR_NAME = re.compile(r"~\w*")
_INTEGER = re.compile(r"[0-9]+")
# The characters that can begin a filter (as opposed to ending one: ")", "|", the end).
_STARTS_FILTER = re.compile(r"""[!(~'"]|[^\s()~'"&|]""")


def _quote(text: str) -> str:
    """``text`` as the parser reads it back: as is if it is a plain word, else quoted."""
    if _WORD.fullmatch(text) and not text.startswith("!"):
        return text
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
            continue
        out.append('\\"' if char == '"' else char)
        i += 1
    return '"' + "".join(out) + '"'


class _Parser:
    """One parse of one expression: recursive descent straight over the string."""

    def __init__(self, expression: str) -> None:
        self.text = expression
        self.pos = 0

    def error(self, reason: str, position: int | None = None) -> FilterError:
        return FilterError(self.text, self.pos if position is None else position, reason)

    def skip_space(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()

    def peek(self) -> str:
        """The next character after whitespace ("" at the end)."""
        self.skip_space()
        return self.text[self.pos:self.pos + 1]

    def found(self) -> str:
        """What is at the current position, for "expected X, found Y"."""
        char = self.peek()
        if not char:
            return "the end of the expression"
        word = (_OPERATOR_NAME if char == "~" else _WORD).match(self.text, self.pos)
        return repr(word.group() if word else char)

    def parse(self) -> _Node:
        if not self.text.strip():
            raise self.error("the expression is empty", 0)
        node = self.parse_or()
        if self.peek():  # only a ")" can be left over: everything else starts or joins
            raise self.error("unmatched ')'")
        return node

    def parse_or(self, after: str = "") -> _Node:
        operands = [self.parse_and(after)]
        while self.peek() == "|":
            self.pos += 1
            operands.append(self.parse_and("'|'"))
        return operands[0] if len(operands) == 1 else FOr(operands)

    def parse_and(self, after: str = "") -> _Node:
        operands = [self.parse_unary(after)]
        while True:
            char = self.peek()
            if char == "&":
                self.pos += 1
                operands.append(self.parse_unary("'&'"))
            elif char and _STARTS_FILTER.match(char):
                operands.append(self.parse_unary())
            else:
                break
        return operands[0] if len(operands) == 1 else FAnd(operands)

    def parse_unary(self, after: str = "") -> _Node:
        if self.peek() == "!":
            self.pos += 1
            return FNot(self.parse_unary("'!'"))
        return self.parse_atom(after)

    def parse_atom(self, after: str) -> _Node:
        char = self.peek()
        start = self.pos
        if char == "(":
            self.pos += 1
            node = self.parse_or("'('")
            if self.peek() != ")":
                raise self.error("'(' is never closed", start)
            self.pos += 1
            return node
        if char == "~":
            return self.parse_operator()
        if char and _STARTS_FILTER.match(char):
            text, offset = self.parse_argument("a URL regex")
            return self.compile_regex(FUrl, text, start, offset)
        where = f" after {after}" if after else ""
        raise self.error(f"expected a filter{where}, found {self.found()}")

    def parse_operator(self) -> _Node:
        start = self.pos
        name = _OPERATOR_NAME.match(self.text, self.pos).group()
        klass = _OPERATORS.get(name[1:])
        if klass is None:
            known = ", ".join(f"~{code}" for code in sorted(_OPERATORS))
            reason = f"unknown operator {name!r} (known: {known})" if name != "~" else (
                "'~' must be followed by an operator name")
            raise self.error(reason, start)
        self.pos += len(name)
        kind = _argument_kind(klass)
        if not kind:
            return klass()
        self.skip_space()
        arg_start = self.pos
        if kind == "int":
            word = _WORD.match(self.text, self.pos)
            if word is None or not _INTEGER.fullmatch(word.group()):
                raise self.error(f"{name} needs an integer status code, found {self.found()}")
            self.pos = word.end()
            return FCode(int(word.group()))
        text, offset = self.parse_argument(f"{name} needs a regex")
        return self.compile_regex(klass, text, arg_start, offset)

    def parse_argument(self, needs: str) -> tuple[str, int | None]:
        """A bare word or a quoted string, and the index in the expression of its first
        character when its characters map one to one onto the expression (None when
        escapes were undone), so that a regex error can point inside it."""
        self.skip_space()
        char = self.text[self.pos:self.pos + 1]
        if char in ("'", '"'):
            return self.parse_quoted(char)
        word = _WORD.match(self.text, self.pos)
        if word is None:
            hint = " (a regex with ( ) ~ & | in it must be quoted)" if char else ""
            raise self.error(f"{needs}, found {self.found()}{hint}")
        self.pos = word.end()
        return word.group(), word.start()

    def parse_quoted(self, quote: str) -> tuple[str, int | None]:
        start = self.pos
        text = self.text
        out = []
        one_to_one = True
        i = start + 1
        while i < len(text):
            char = text[i]
            if char == quote:
                self.pos = i + 1
                return "".join(out), start + 1 if one_to_one else None
            if char == "\\" and i + 1 < len(text):
                if text[i + 1] == quote:
                    out.append(quote)
                    one_to_one = False
                else:
                    out.append(text[i:i + 2])
                i += 2
                continue
            out.append(char)
            i += 1
        raise self.error(f"unterminated string: the {quote} is never closed", start)

    def compile_regex(self, klass: type[_Regex], text: str, start: int,
                      offset: int | None) -> _Node:
        try:
            return klass(text)
        except re.error as e:
            if e.pos is not None and offset is not None:
                start = offset + e.pos
            raise self.error(f"invalid regex {text!r} for ~{klass.code}: {e.msg}",
                             start) from None


# --- the public API ------------------------------------------------------------------------

class Filter:
    """A compiled filter expression: call it with a flow to get True or False.

    ``pattern`` is the expression as given; ``repr(filter.root)`` shows how it was read
    (fully parenthesised).
    """

    __slots__ = ("pattern", "root")

    def __init__(self, pattern: str, root: _Node) -> None:
        self.pattern = pattern
        self.root = root

    def __call__(self, flow: Flow) -> bool:
        return self.root(flow)

    def __repr__(self) -> str:
        return f"Filter({self.pattern!r})"

    def __str__(self) -> str:
        return self.pattern


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def _compile(expression: str) -> Filter:
    # lru_cache does not keep exceptions: an invalid expression is re-parsed (and raises)
    # every time, which only costs the caller who keeps passing it.
    return Filter(expression, _Parser(expression).parse())


def parse(expression: str) -> Filter:
    """Compile a filter expression. Raises FilterError (a ValueError) if it is invalid."""
    if not isinstance(expression, str):
        raise TypeError(f"a filter expression is a str, not {type(expression).__name__}")
    return _compile(expression)


def problem(expression: str) -> str | None:
    """What is wrong with ``expression`` in one line (the parser's message names it and
    the column; the lines after it draw a caret, which a status bar or a startup error
    cannot show), or None if it is valid."""
    try:
        parse(expression)
    except ValueError as e:
        return str(e).splitlines()[0]
    return None


def match(flt: str | Callable[[Flow], bool], flow: Flow) -> bool:
    """Whether ``flow`` matches ``flt``: a filter expression (compiled through the cache)
    or a compiled filter. Raises FilterError for an invalid expression."""
    if isinstance(flt, str):
        flt = parse(flt)
    return bool(flt(flow))

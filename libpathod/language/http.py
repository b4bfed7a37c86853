"""HTTP/1 request specs (``method:path[:features]``) and response specs (``code[:features]``).

Canonical text: a method is a quoted literal (``'GET':/``, the form pathoc's log shows), a
path is bare when it can be (``/p/``) and quoted otherwise (``'http://google.com'``), a code
is an integer, features follow in the order written, each in its canonical form.

What resolving adds (unless already set; header names compared without case):
- requests: ``Host`` from ``Settings.request_host``, first; ``Content-Length`` when there
  is a body and no ``r``; for ``ws:`` the handshake headers with a concrete key
  (``Settings.websocket_key``, or a fresh one); the embedded ``s`` response resolved.
- responses: ``Content-Length`` (0 without a body) unless ``r`` or a 1xx code, so that
  ``200`` is a complete response and ``200:r`` hangs as the docs say; for ``ws`` the 101
  handshake headers answering ``Settings.websocket_key`` (RenderError without it).

The embedded response goes on the wire after the path, percent-encoded where a request
line could not carry it (space, ``%``, ``#``, ``?``, ``"``, non-ASCII, control bytes): pathod
percent-decodes the path before parsing the spec in it.
"""
from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Callable

import pyparsing as pp

from netlib.http.status_codes import RESPONSES
from netlib.websockets import client_handshake_headers, create_client_nonce, server_handshake_headers

from libpathod.language import actions, base, generators, grammar
from libpathod.language.base import Header, Token
from libpathod.language.exceptions import RenderError
from libpathod.language.message import Message, check_unique, features_expr
from libpathod.language.settings import Settings
from libpathod.language.values import LiteralValue, Value, quote

__all__ = [
    "Request", "Response", "NestedResponse", "STANDARD_METHODS", "request_expr",
    "response_expr", "HTTP_VERSION", "make_error_response", "PATHOD_ERROR_CODE", "host_bytes",
]

HTTP_VERSION = b"HTTP/1.1"
CRLF = b"\r\n"
STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH")
DEFAULT_METHOD = b"GET"
WEBSOCKET_KEYWORD = "ws"
UNKNOWN_REASON = "Unknown"
# 1xx responses end at their headers and must not carry a Content-Length (RFC 7230 3.3.2).
INFORMATIONAL = range(100, 200)

# A path without quotes: no whitespace, no separators, not starting like a file value.
_NAKED_PATH = r"[^\s:,@'\"<][^\s:,@'\"]*"
_NAKED_PATH_RE = re.compile(_NAKED_PATH)
_METHOD_WORD = r"[A-Za-z][A-Za-z0-9_-]*"
# What may stay unencoded when an embedded response spec is put into a request path.
_EMBED_SAFE = "!$&'()*+,/:;=@[]~\\<>^`{|}"

REQUEST_FEATURES = "h (header), c (content type), u (user agent), b (body), s (embedded " \
                   "response), x (times), r (raw), d (disconnect), i (inject), p (pause)"
RESPONSE_FEATURES = "h (header), c (content type), l (location), b (body), m (reason), " \
                    "r (raw), d (disconnect), i (inject), p (pause)"


def host_bytes(host: str) -> bytes:
    """A host (with an optional port) for a Host header: ASCII as is, else IDNA-encoded."""
    try:
        return host.encode("ascii")
    except UnicodeEncodeError:
        return host.encode("idna")


def _literal_header(name: bytes, value: bytes | str) -> Header:
    if isinstance(value, str):
        value = value.encode("latin-1")
    return Header(LiteralValue(name), LiteralValue(value))


def _header_lines(msg: Message, settings: Settings) -> list[generators.Source]:
    lines: list[generators.Source] = []
    for header in msg.headers:
        key, value = header.header_pair()
        lines += [key.get_generator(settings), b": ", value.get_generator(settings), CRLF]
    return lines


def _body_length(msg: Message, settings: Settings) -> int:
    return len(msg.body.value.get_generator(settings)) if msg.body else 0


def _path_spec(path: Value) -> str:
    if isinstance(path, LiteralValue):
        try:
            text = path.data.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        if text.isprintable() and _NAKED_PATH_RE.fullmatch(text):
            return text
    return path.spec()


@dataclasses.dataclass(frozen=True, eq=False)
class Response(Message):
    code: int | None = 200
    tokens: tuple[Token, ...] = ()
    ws: bool = False

    logattrs = ("reason", "body")

    def extra_log(self) -> dict:
        # A bare ``ws`` response has no code of its own; the log shows the 101 it sends.
        return {"code": self.status_code}

    @property
    def status_code(self) -> int:
        return self.code if self.code is not None else 101

    @property
    def reason(self) -> Value:
        token = self.tok(base.Reason)
        if token:
            return token.value
        return LiteralValue(RESPONSES.get(self.status_code, UNKNOWN_REASON).encode("ascii"))

    def spec(self) -> str:
        if self.ws:
            head = WEBSOCKET_KEYWORD if self.code is None else f"{WEBSOCKET_KEYWORD}:{self.code}"
        else:
            head = str(self.code)
        return head + self.features_spec()

    def values(self, settings: Settings) -> list[generators.Source]:
        status = [HTTP_VERSION, b" ", str(self.status_code).encode("ascii"), b" ",
                  self.reason.get_generator(settings), CRLF]
        body = [self.body.value.get_generator(settings)] if self.body else []
        return status + _header_lines(self, settings) + [CRLF] + body

    def automatic_headers(self, settings: Settings) -> list[Header]:
        extra = []
        if self.ws:
            if not settings.websocket_key:
                raise RenderError("a ws response needs the client's websocket key: "
                                  "no websocket handshake request has been seen")
            key = settings.websocket_key
            if isinstance(key, bytes):
                key = key.decode("ascii")
            for name, value in server_handshake_headers(key).fields:
                if not self.get_header(name):
                    extra.append(_literal_header(name, value))
        if not self.raw and self.status_code not in INFORMATIONAL and not self.get_header(b"Content-Length"):
            extra.append(_literal_header(b"Content-Length", str(_body_length(self, settings))))
        return extra

    def resolve(self, settings: Settings, msg: Message | None = None) -> "Response":
        return self.resolve_tokens(settings, lambda toks: dataclasses.replace(self, tokens=toks),
                                   extra=self.automatic_headers(settings))


@dataclasses.dataclass(frozen=True)
class NestedResponse(Token):
    """``s'SPEC'``: a response spec carried in the request path, for pathod to serve."""

    unique_name = "s (embedded response)"
    response: Response

    def spec(self) -> str:
        return "s" + quote(self.response.spec().encode("utf-8"))

    def resolve(self, settings: Settings, msg: object) -> "NestedResponse":
        # The response will be served by pathod, not by us: resolve it as a server would.
        server = dataclasses.replace(settings, is_client=False, request_host=None)
        return NestedResponse(self.response.resolve(server))

    def wire_bytes(self) -> bytes:
        return urllib.parse.quote(self.response.spec(), safe=_EMBED_SAFE).encode("ascii")


@dataclasses.dataclass(frozen=True, eq=False)
class Request(Message):
    method: Value = LiteralValue(DEFAULT_METHOD)
    path: Value = LiteralValue(b"/")
    tokens: tuple[Token, ...] = ()
    ws: bool = False

    logattrs = ("method", "path", "body")

    @property
    def nested_response(self) -> NestedResponse | None:
        return self.tok(NestedResponse)

    def spec(self) -> str:
        if self.ws:
            head = WEBSOCKET_KEYWORD
            if self.method != LiteralValue(DEFAULT_METHOD):
                head += ":" + self.method.data.decode("ascii").lower()
        else:
            head = self.method.spec()
        return f"{head}:{_path_spec(self.path)}{self.features_spec()}"

    def request_line(self, settings: Settings) -> list[generators.Source]:
        path = [self.path.get_generator(settings)]
        if self.nested_response:
            path.append(self.nested_response.wire_bytes())
        return [self.method.get_generator(settings), b" ", *path, b" ", HTTP_VERSION, CRLF]

    def values(self, settings: Settings) -> list[generators.Source]:
        body = [self.body.value.get_generator(settings)] if self.body else []
        return self.request_line(settings) + _header_lines(self, settings) + [CRLF] + body

    def host_header(self, settings: Settings) -> list[Header]:
        if settings.request_host and not self.get_header(b"Host"):
            return [_literal_header(b"Host", host_bytes(settings.request_host))]
        return []

    def automatic_headers(self, settings: Settings) -> list[Header]:
        extra = []
        if self.ws:
            key = settings.websocket_key or create_client_nonce()
            if isinstance(key, bytes):
                key = key.decode("ascii")
            for name, value in client_handshake_headers("", key=key).fields:
                if name != b"Host" and not self.get_header(name):
                    extra.append(_literal_header(name, value))
        if self.body and not self.raw and not self.get_header(b"Content-Length"):
            extra.append(_literal_header(b"Content-Length", str(_body_length(self, settings))))
        return extra

    def resolve(self, settings: Settings, msg: Message | None = None) -> "Request":
        method = self.method.resolve(settings)
        path = self.path.resolve(settings)
        return self.resolve_tokens(
            settings, lambda toks: dataclasses.replace(self, method=method, path=path, tokens=toks),
            front=self.host_header(settings), extra=self.automatic_headers(settings))


PATHOD_ERROR_CODE = 800


def make_error_response(reason: str, body: str | None = None) -> Response:
    """pathod's answer to a spec it cannot serve: the non-standard code 800 (so that it is
    never mistaken for a crafted response), the reason, and a plain-text explanation."""
    text = f"pathod error: {body or reason}"
    return Response(code=PATHOD_ERROR_CODE, tokens=(
        _literal_header(b"Content-Type", b"text/plain"),
        base.Reason(LiteralValue(reason.encode("utf-8"))),
        base.Body(LiteralValue(text.encode("utf-8"))),
    ))


# --- grammar ---------------------------------------------------------------------------

def _insert_colon_hint(s: str, loc: int) -> str:
    """For ``get:/b@100`` (the docs' dropped colon): suggest ``get:/:b@100``."""
    if loc >= 2 and s[loc - 1].isalpha() and s[loc - 2] not in "'\"":
        return f"; did you mean {s[:loc - 1] + ':' + s[loc - 1:]!r}?"
    return ""


def _code_hint(s: str, loc: int) -> str:
    return f"; did you mean {s[:loc] + ':' + s[loc:]!r}?" if s[loc].isalpha() else ""


def _method_word(s: str, loc: int, toks: pp.ParseResults) -> LiteralValue:
    word = toks[0]
    if word.upper() not in STANDARD_METHODS:
        raise grammar.SpecError(
            s, loc, f"unknown method {word!r}: standard methods ({', '.join(STANDARD_METHODS)}) "
                    f"are bare words, others must be quoted, as in '{word.upper()}':/")
    return LiteralValue(word.upper().encode("ascii"))


def nested_response_expr(response_body: Callable[[], pp.ParserElement]) -> pp.ParserElement:
    """``s'RESPONSE SPEC'``; the embedded spec is parsed now, so its errors show at once."""
    built: list[pp.ParserElement] = []

    def embedded_grammar() -> pp.ParserElement:
        # Built on first use (the grammars refer to each other) and then kept: building
        # costs milliseconds. The caller's parse lock covers this inner parse too.
        if not built:
            built.append((response_body() + pp.StringEnd()).leave_whitespace(recursive=True))
        return built[0]

    def action(s: str, loc: int, toks: pp.ParseResults) -> NestedResponse:
        text = toks[0].data.decode("utf-8", "surrogateescape")
        try:
            parsed = embedded_grammar().parse_string(text)
        except pp.ParseBaseException as e:
            raise grammar.SpecError(s, loc + 2 + e.loc, f"in the embedded response: {e.msg}") from None
        return NestedResponse(parsed[0])
    body = grammar.literal() | grammar.fatal("expected a quoted response spec after 's', as in s'200'")
    expr = grammar.keyword("s").suppress() + body + grammar.end_of("the embedded response")
    return expr.copy().set_parse_action(action)


def _common_features() -> list[pp.ParserElement]:
    return [
        base.header_expr(),
        base.value_feature(base.ShortcutContentType, "the content type"),
        base.value_feature(base.Body, "the body"),
        base.raw_expr(),
    ]


def action_features() -> list[pp.ParserElement]:
    return [actions.disconnect_expr(), actions.inject_expr(), actions.pause_expr()]


def request_features(response_body: Callable[[], pp.ParserElement], http1: bool) -> list[pp.ParserElement]:
    features = _common_features() + [
        base.user_agent_expr(), nested_response_expr(response_body), base.times_expr()]
    return features + action_features() if http1 else features


def response_features(http1: bool) -> list[pp.ParserElement]:
    features = _common_features() + [base.value_feature(base.ShortcutLocation, "the location")]
    if http1:
        features += [base.value_feature(base.Reason, "the reason")] + action_features()
    return features


def _split_ws(toks: pp.ParseResults) -> tuple[bool, list]:
    """Whether a parsed head starts with ``ws``, and the tokens after it."""
    items = list(toks)
    if items[0] == WEBSOCKET_KEYWORD:
        return True, items[1:]
    return False, items


def request_expr(cls: type[Request], features: list[pp.ParserElement],
                 rejected: dict[str, str] | None = None, allow_ws: bool = True) -> pp.ParserElement:
    """``method:path[:features]`` and ``ws[:method]:path[:features]`` building ``cls``."""
    sep = grammar.keyword(":").suppress()
    word = grammar.naked(_METHOD_WORD).set_parse_action(_method_word)
    ws_method = grammar.naked(_METHOD_WORD) + pp.FollowedBy(grammar.keyword(":"))
    ws_method = ws_method.set_parse_action(_method_word) + sep
    ws_head = grammar.keyword(WEBSOCKET_KEYWORD) + pp.FollowedBy(grammar.keyword(":")) + sep + pp.Optional(ws_method)
    if not allow_ws:
        ws_head = pp.FollowedBy(grammar.keyword(WEBSOCKET_KEYWORD + ":")) + grammar.fatal(
            "websocket requests (ws) are HTTP/1 only")
    method = (grammar.value() | word | grammar.fatal(
        "expected a method: a standard one as a bare word (get) or a quoted VALUE ('FOO')")) + (
        sep | grammar.fatal("expected ':' between the method and the path"))
    path = (grammar.value() | grammar.naked(_NAKED_PATH).set_parse_action(
        lambda toks: LiteralValue(toks[0].encode("ascii"))) | grammar.fatal(
        "expected a path (a bare word such as /p/, or a quoted VALUE) after the method"))
    path = path + grammar.end_of("the path", _insert_colon_hint)
    features = features_expr(features, "a request", rejected, REQUEST_FEATURES)

    def build(s: str, loc: int, toks: pp.ParseResults) -> Request:
        ws, items = _split_ws(toks)
        method = items[0] if len(items) == 3 else LiteralValue(DEFAULT_METHOD)
        return cls(method=method, path=items[-2], tokens=check_unique(s, items[-1]), ws=ws)
    return ((ws_head | method) + path + features).set_parse_action(build)


def response_expr(cls: type[Response], features: list[pp.ParserElement],
                  rejected: dict[str, str] | None = None, allow_ws: bool = True) -> pp.ParserElement:
    """``code[:features]`` and ``ws[:code][:features]`` building ``cls``."""
    number = grammar.naked(r"\d+").set_parse_action(lambda toks: int(toks[0]))
    code = number + grammar.end_of("the status code", _code_hint)
    ws_code = pp.Optional(grammar.keyword(":").suppress() + number + grammar.end_of("the status code"))
    ws_head = grammar.keyword(WEBSOCKET_KEYWORD) + grammar.end_of("ws") + ws_code
    if not allow_ws:
        ws_head = pp.FollowedBy(grammar.keyword(WEBSOCKET_KEYWORD)) + grammar.fatal(
            "websocket responses (ws) are HTTP/1 only")
    head = ws_head | code | grammar.fatal("expected a status code (an integer such as 200) or ws")
    features = features_expr(features, "a response", rejected, RESPONSE_FEATURES)

    def build(s: str, loc: int, toks: pp.ParseResults) -> Response:
        ws, items = _split_ws(toks)
        code = items[0] if len(items) == 2 else None
        return cls(code=code, tokens=check_unique(s, items[-1]), ws=ws)
    return (head + features).set_parse_action(build)


def http1_response_expr() -> pp.ParserElement:
    return response_expr(Response, response_features(http1=True))


def http1_request_expr() -> pp.ParserElement:
    return request_expr(Request, request_features(http1_response_expr, http1=True))


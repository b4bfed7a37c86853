"""WebSocket frame specs: ``wf[:features]``.

Defaults, where the docs are silent: the opcode is text and the fin bit is set (a frame is a
complete message unless ``-fin`` says otherwise); a client's frames (``Settings.is_client``)
get the mask bit, and any masked frame without ``k``/``knone`` gets a random 4-byte key when
resolved, so the resolved spec names the key it was sent with. ``b`` payloads are masked with
the key on the wire; ``r`` payloads are sent as given. ``l`` writes that length into the
header whatever the payload is.
"""
from __future__ import annotations

import dataclasses
import os

import pyparsing as pp

from netlib.websockets import OPCODE, FrameHeader, Masker

from libpathod.language import actions, base, generators, grammar
from libpathod.language.base import Token, ValueToken
from libpathod.language.exceptions import RenderError
from libpathod.language.message import Message, check_unique, features_expr
from libpathod.language.settings import Settings
from libpathod.language.values import LiteralValue

__all__ = ["WebsocketFrame", "websocket_frame_expr", "OPCODE_NAMES"]

KEYWORD = "wf"
MASKING_KEY_LENGTH = 4
MAX_OPCODE = 15
OPCODE_NAMES = {op.name.lower(): int(op) for op in OPCODE}
FRAME_FEATURES = ("b (payload), r (raw payload), c (opcode), k (key), knone, l (length), "
                  "[-]fin, [-]mask, [-]rsv1, [-]rsv2, [-]rsv3, x (times), d (disconnect), "
                  "i (inject), p (pause)")


class RawBody(ValueToken):
    prefix = "r"
    unique_name = "b/r (payload)"


class Payload(base.Body):
    unique_name = "b/r (payload)"


class Key(ValueToken):
    prefix = "k"
    unique_name = "k (key)"


@dataclasses.dataclass(frozen=True)
class KeyNone(Token):
    unique_name = "k (key)"

    def spec(self) -> str:
        return "knone"


@dataclasses.dataclass(frozen=True)
class Opcode(Token):
    unique_name = "c (opcode)"
    code: int

    def spec(self) -> str:
        for name, number in OPCODE_NAMES.items():
            if number == self.code:
                return f"c{name}"
        return f"c{self.code}"


@dataclasses.dataclass(frozen=True)
class Length(Token):
    unique_name = "l (length)"
    length: int

    def spec(self) -> str:
        return f"l{self.length}"


@dataclasses.dataclass(frozen=True)
class Bit(Token):
    """``fin``/``-fin``, ``mask``/``-mask``, ``rsv1``..``rsv3`` and their negations."""

    name: str
    on: bool

    @property
    def unique_name(self) -> str:  # type: ignore[override]
        return f"[-]{self.name}"

    def spec(self) -> str:
        return self.name if self.on else f"-{self.name}"


BITS = ("fin", "mask", "rsv1", "rsv2", "rsv3")


@dataclasses.dataclass(frozen=True, eq=False)
class WebsocketFrame(Message):
    tokens: tuple[Token, ...] = ()

    logattrs = ("body",)

    def spec(self) -> str:
        return KEYWORD + self.features_spec()

    def bit(self, name: str, default: bool) -> bool:
        for token in self.toks(Bit):
            if token.name == name:
                return token.on
        return default

    def _payload(self, settings: Settings) -> tuple[generators.Source, bool]:
        """The payload source, and whether it is masked with the key on the wire."""
        payload = self.tok(Payload) or self.tok(RawBody)
        if payload:
            return payload.value.get_generator(settings), isinstance(payload, Payload)
        return b"", False

    def frame_header(self, settings: Settings, payload_length: int) -> FrameHeader:
        key_token = self.tok(Key)
        key = generators.source_bytes(key_token.value.get_generator(settings)) if key_token else None
        if self.tok(KeyNone):
            key = b""
        elif key is not None and len(key) != MASKING_KEY_LENGTH:
            raise RenderError(f"a masking key is {MASKING_KEY_LENGTH} bytes, got {len(key)}: {key!r}")
        length = self.tok(Length)
        opcode = self.tok(Opcode)
        try:
            return FrameHeader(
                opcode=opcode.code if opcode else OPCODE.TEXT,
                payload_length=length.length if length else payload_length,
                fin=self.bit("fin", True), rsv1=self.bit("rsv1", False),
                rsv2=self.bit("rsv2", False), rsv3=self.bit("rsv3", False),
                mask=self.bit("mask", bool(key)), masking_key=key if key is not None else b"")
        except ValueError as e:
            raise RenderError(f"cannot render {self.spec()}: {e}") from None

    def values(self, settings: Settings) -> list[generators.Source]:
        payload, maskable = self._payload(settings)
        header = self.frame_header(settings, len(payload))
        if maskable and header.masking_key:
            payload = generators.MaskedSource(payload, _masker(header.masking_key))
        return [header.to_bytes(), payload]

    def resolve(self, settings: Settings, msg: Message | None = None) -> "WebsocketFrame":
        extra: list[Token] = []
        mask = self.bit("mask", settings.is_client)
        if mask and not self.bit("mask", False):
            extra.append(Bit("mask", True))
        if mask and not self.tok(Key) and not self.tok(KeyNone):
            extra.append(Key(LiteralValue(os.urandom(MASKING_KEY_LENGTH))))
        return self.resolve_tokens(settings, lambda toks: dataclasses.replace(self, tokens=toks), extra)


def _masker(key: bytes):
    def transform(data: bytes, offset: int) -> bytes:
        masker = Masker(key)
        masker.offset = offset
        return masker.mask(data)
    return transform


# --- grammar ---------------------------------------------------------------------------

def _opcode_expr() -> pp.ParserElement:
    def convert(s: str, loc: int, toks: pp.ParseResults) -> Opcode:
        text = toks[0]
        if text.isdigit():
            if int(text) > MAX_OPCODE:
                raise grammar.SpecError(s, loc, f"an opcode is 0-{MAX_OPCODE}, got {text}")
            return Opcode(int(text))
        if text.lower() not in OPCODE_NAMES:
            raise grammar.SpecError(s, loc, f"unknown opcode {text!r}; expected 0-{MAX_OPCODE} "
                                            f"or one of {', '.join(OPCODE_NAMES)}")
        return Opcode(OPCODE_NAMES[text.lower()])
    code = grammar.naked(r"\d+|[A-Za-z]+").set_parse_action(convert) | grammar.fatal(
        f"expected an opcode after 'c': 0-{MAX_OPCODE} or one of {', '.join(OPCODE_NAMES)}")
    return grammar.keyword("c").suppress() + code + grammar.end_of("the opcode")


def _bit_exprs() -> list[pp.ParserElement]:
    exprs = []
    for name in BITS:
        exprs.append(grammar.flag(f"-{name}", lambda name=name: Bit(name, False), f"'-{name}'"))
        exprs.append(grammar.flag(name, lambda name=name: Bit(name, True), f"'{name}'"))
    return exprs


def websocket_frame_expr() -> pp.ParserElement:
    length = grammar.keyword("l").suppress() + grammar.integer("'l'") + grammar.end_of("the length")
    features = _bit_exprs() + [
        grammar.flag("knone", KeyNone, "'knone'"),
        base.value_feature(Payload, "the payload"),
        base.value_feature(RawBody, "the raw payload"),
        base.value_feature(Key, "the key"),
        _opcode_expr(),
        length.set_parse_action(lambda toks: Length(toks[0])),
        base.times_expr(),
        actions.disconnect_expr(), actions.inject_expr(), actions.pause_expr(),
    ]
    head = grammar.keyword(KEYWORD).suppress() + grammar.end_of("wf")
    expr = head + features_expr(features, "a websocket frame", letters=FRAME_FEATURES)
    return expr.set_parse_action(lambda s, loc, toks: WebsocketFrame(tokens=check_unique(s, toks[0])))

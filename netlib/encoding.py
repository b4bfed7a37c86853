"""Content-Encoding codecs: gzip, deflate, br and identity.

A Content-Encoding header may list several codings in the order they were applied
(``gzip, br``); ``decode`` undoes them last to first and ``encode`` applies them in order.
Every failure, whether an unknown coding or a corrupt body, is a ValueError that names the
coding, so message code has one exception to catch.
"""
from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import brotli

__all__ = ["decode", "encode", "SUPPORTED"]

# zlib's own default level: rewriting a body in flight should be fast more than tiny.
COMPRESSION_LEVEL = 6


def _decode_deflate(data: bytes) -> bytes:
    """HTTP's "deflate" is meant to be zlib-wrapped, but many servers send raw deflate."""
    try:
        return zlib.decompress(data)
    except zlib.error:
        return zlib.decompress(data, -zlib.MAX_WBITS)


def _identity(data: bytes) -> bytes:
    return data


def _encode_gzip(data: bytes) -> bytes:
    # mtime=0: the same body always encodes to the same bytes.
    return gzip.compress(data, COMPRESSION_LEVEL, mtime=0)


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "identity": _identity,
    "gzip": gzip.decompress,
    "x-gzip": gzip.decompress,
    "deflate": _decode_deflate,
    "br": brotli.decompress,
}

_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "identity": _identity,
    "gzip": _encode_gzip,
    "x-gzip": _encode_gzip,
    "deflate": lambda data: zlib.compress(data, COMPRESSION_LEVEL),
    "br": brotli.compress,
}

SUPPORTED = frozenset(_DECODERS)

# What the codec libraries raise on corrupt input.
_CODEC_ERRORS = (zlib.error, OSError, EOFError, brotli.error)


def _codings(encoding: str | None) -> list[str]:
    if not encoding:
        return []
    return [coding.strip().lower() for coding in encoding.split(",") if coding.strip()]


def _apply(table: dict[str, Callable[[bytes], bytes]], codings: list[str], data: bytes,
           verb: str) -> bytes:
    for coding in codings:
        try:
            codec = table[coding]
        except KeyError:
            raise ValueError(f"unknown content encoding {coding!r}") from None
        try:
            data = codec(data)
        except _CODEC_ERRORS as e:
            raise ValueError(f"cannot {verb} {coding!r} content: {e}") from e
    return data


def decode(data: bytes, encoding: str | None) -> bytes:
    """Undo a Content-Encoding (None or "" mean identity)."""
    return _apply(_DECODERS, _codings(encoding)[::-1], data, "decode")


def encode(data: bytes, encoding: str | None) -> bytes:
    """Apply a Content-Encoding (None or "" mean identity)."""
    return _apply(_ENCODERS, _codings(encoding), data, "encode")

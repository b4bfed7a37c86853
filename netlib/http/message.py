"""What requests and responses share: headers, a body with its encodings, timestamps, state.

A message keeps its data in one small ``__slots__`` object (``self.data``) holding exactly what
came off the wire: bytes, ints and floats. The properties convert to str for the user at the
moment of access. So building a message costs only that object, which matters because the
HTTP/1 reader builds one for every request and response that passes the proxy.

Body vocabulary: ``raw_content`` is the body as on the wire; ``content`` is the body with its
Content-Encoding undone; ``text`` is ``content`` decoded with the charset of Content-Type.
"""
from __future__ import annotations

import copy
import functools
from typing import Any

from netlib import encoding
from netlib.http.headers import (
    Headers, assemble_content_type, bytes_pattern, parse_content_type, to_bytes, to_str,
)
from netlib.multidict import fields_of

__all__ = ["Message", "MessageData"]

# The charset of a text body that does not declare one. If the body is not valid UTF-8
# either, it is read as Latin-1, which maps every byte to a character and so never fails.
DEFAULT_CHARSET = "utf-8"
FALLBACK_CHARSET = "latin-1"


class MessageData:
    """The fields of one message; subclasses list them in ``__slots__``.

    The slot names are also the keys of the message's state (the 0.18 flow-file layout),
    except ``trailers``: the trailer fields that followed the body (an HTTP/1 chunked
    trailer section, an HTTP/2 HEADERS frame after the DATA; gRPC's ``grpc-status`` lives
    there), None when there were none. 0.18 had no trailers, so the state has that key only
    when there are some: a message without trailers is saved exactly as 0.18 saved it, and
    0.18's files, which never have the key, load as messages without trailers. Today's
    mitmproxy opens a file with the key (its step to format 8 resets trailers to None, so
    it loses them); mitmproxy 0.18 itself would refuse such a flow. That is the price of
    keeping gRPC's status in a saved flow, which server replay needs.
    """

    __slots__ = ()
    headers: Headers
    trailers: Headers | None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__
        )

    __hash__ = None  # mutable

    def copy(self) -> MessageData:
        new = type(self).__new__(type(self))
        for name in self.__slots__:
            setattr(new, name, getattr(self, name))
        new.headers = self.headers.copy()
        if self.trailers is not None:
            new.trailers = self.trailers.copy()
        return new

    # Slots saved last, and only when not None (trailers, see above). Read by get_state
    # and by the flow encoder (libmproxy/flow/encode.py).
    _omitted_when_none = ("trailers",)

    def get_state(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self.__slots__}
        state["headers"] = self.headers.get_state()
        for name in self._omitted_when_none:
            value = state.pop(name)
            if value is not None:
                state[name] = value.get_state()
        return state


@functools.cache
def _state_keys(data_class: type[MessageData]) -> tuple[frozenset[str], frozenset[str]]:
    """The keys a state of ``data_class`` must have, and may have (plus trailers); worked
    out once per class, since every message of a flow file is checked against them."""
    allowed = frozenset(data_class.__slots__)
    return allowed - {"trailers"}, allowed


def as_headers(value: Any) -> Headers:
    """Headers from a Headers object, a mapping, or an iterable of (name, value) pairs of
    str or bytes. A Headers object is taken as is: the reader's hot path."""
    if isinstance(value, Headers):
        return value
    return Headers([(to_bytes(name), to_bytes(item)) for name, item in fields_of(value)])


class Message:
    """Base class of ``Request`` and ``Response``."""

    data: MessageData
    _data_class: type[MessageData] = MessageData  # set by each subclass

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return self.data == other.data
        return NotImplemented

    __hash__ = None  # mutable

    # --- state ------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """A dict of bytes, ints, floats and lists: the flow-file form of this message."""
        return self.data.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.data = type(self).from_state(state).data

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Message:
        """Rebuild a message from ``get_state()`` output.

        Raises ValueError naming the missing or unexpected keys, so a damaged flow file is
        reported as such rather than as a TypeError deep inside.
        """
        required, allowed = _state_keys(cls._data_class)
        keys = state.keys()
        if keys != required and keys != allowed:
            missing = sorted(required - keys)
            unexpected = sorted(keys - allowed)
            raise ValueError(
                f"invalid {cls.__name__} state: missing {missing}, unexpected {unexpected}"
            )
        state = dict(state, headers=Headers.from_state(state["headers"]))
        trailers = state.pop("trailers", None)
        message = cls(**state)
        if trailers is not None:
            message.data.trailers = Headers.from_state(trailers)
        return message

    def copy(self) -> Message:
        """A copy whose headers and fields can be changed without touching this one."""
        new = copy.copy(self)
        new.data = self.data.copy()
        return new

    # --- head ---------------------------------------------------------------------------

    @property
    def http_version(self) -> str:
        """Version string, e.g. "HTTP/1.1"."""
        return to_str(self.data.http_version)

    @http_version.setter
    def http_version(self, value: str | bytes) -> None:
        self.data.http_version = to_bytes(value)

    @property
    def headers(self) -> Headers:
        return self.data.headers

    @headers.setter
    def headers(self, value: Any) -> None:
        self.data.headers = as_headers(value)

    @property
    def timestamp_start(self) -> float | None:
        """When the first byte of this message was read."""
        return self.data.timestamp_start

    @timestamp_start.setter
    def timestamp_start(self, value: float | None) -> None:
        self.data.timestamp_start = value

    @property
    def timestamp_end(self) -> float | None:
        """When the last byte of this message was read."""
        return self.data.timestamp_end

    @timestamp_end.setter
    def timestamp_end(self, value: float | None) -> None:
        self.data.timestamp_end = value

    @property
    def trailers(self) -> Headers | None:
        """The trailer fields that came after the body (HTTP/1 chunked trailers, HTTP/2
        trailers), or None. Set them to send trailers: they go out after the body where
        the protocol allows it (HTTP/2; HTTP/1 only with a chunked body)."""
        return self.data.trailers

    @trailers.setter
    def trailers(self, value: Any) -> None:
        self.data.trailers = None if value is None else as_headers(value)

    # --- body -------------------------------------------------------------------------

    @property
    def raw_content(self) -> bytes | None:
        """The body as on the wire (still content-encoded); None if it was not read."""
        return self.data.content

    @raw_content.setter
    def raw_content(self, value: bytes | None) -> None:
        if value is not None and not isinstance(value, bytes):
            raise TypeError(f"raw_content must be bytes or None, not {type(value).__name__}")
        self.data.content = value

    @property
    def content(self) -> bytes | None:
        """The body with its Content-Encoding undone. Raises ValueError if that fails.

        Setting it encodes the new body with the message's Content-Encoding and updates
        Content-Length (unless the body is sent chunked).
        """
        return self.get_content()

    @content.setter
    def content(self, value: bytes | None) -> None:
        self.set_content(value)

    def get_content(self, strict: bool = True) -> bytes | None:
        """Like ``content``; with ``strict=False`` an undecodable body is returned raw."""
        raw = self.data.content
        if raw is None:
            return None
        content_encoding = self.data.headers.get("content-encoding")
        if not content_encoding:
            return raw
        try:
            return encoding.decode(raw, content_encoding)
        except ValueError:
            if strict:
                raise
            return raw

    def set_content(self, value: bytes | None) -> None:
        if value is None:
            self.data.content = None
            return
        if not isinstance(value, bytes):
            raise TypeError(
                f"content must be bytes (use .text for str), not {type(value).__name__}"
            )
        try:
            raw = encoding.encode(value, self.data.headers.get("content-encoding"))
        except ValueError:
            # A coding we cannot produce: send the body unencoded rather than mislabelled.
            del self.data.headers["content-encoding"]
            raw = value
        self._set_raw_content_and_length(raw)

    def _set_body(self, body: str | bytes) -> None:
        """Set the body from bytes or from str, for the ``make`` constructors."""
        if isinstance(body, str):
            self.set_text(body)
        else:
            self.set_content(body)

    def _set_raw_content_and_length(self, raw: bytes) -> None:
        self.data.content = raw
        if "chunked" not in self.data.headers.get("transfer-encoding", "").lower():
            self.data.headers["content-length"] = str(len(raw))

    def _charset(self) -> str | None:
        parsed = parse_content_type(self.data.headers.get("content-type", ""))
        return parsed[2].get("charset") if parsed else None

    @property
    def text(self) -> str | None:
        """The body as text: ``content`` decoded with the charset of Content-Type.

        Without a declared charset the body is read as UTF-8, or as Latin-1 if it is not
        valid UTF-8. Raises ValueError when the content-encoding or the declared charset
        cannot decode it. Setting it encodes with the declared charset (UTF-8 if none).
        """
        return self.get_text()

    @text.setter
    def text(self, value: str | None) -> None:
        self.set_text(value)

    def get_text(self, strict: bool = True) -> str | None:
        """Like ``text``; with ``strict=False`` never raises (falling back to Latin-1)."""
        content = self.get_content(strict)
        if content is None:
            return None
        charset = self._charset()
        if charset:
            try:
                return content.decode(charset)
            except (UnicodeDecodeError, LookupError) as e:
                if strict:
                    raise ValueError(f"cannot decode the body as {charset!r}: {e}") from e
        else:
            try:
                return content.decode(DEFAULT_CHARSET)
            except UnicodeDecodeError:
                pass
        return content.decode(FALLBACK_CHARSET)

    def set_text(self, value: str | None) -> None:
        """Set ``text``. If the declared charset cannot represent the text, the body is
        written as UTF-8 and Content-Type says so, rather than losing characters."""
        if value is None:
            self.set_content(None)
            return
        charset = self._charset()
        if charset:
            try:
                self.set_content(value.encode(charset))
                return
            except (UnicodeEncodeError, LookupError):
                main, sub, params = parse_content_type(self.data.headers["content-type"])
                params["charset"] = DEFAULT_CHARSET
                self.data.headers["content-type"] = assemble_content_type(main, sub, params)
        self.set_content(value.encode(DEFAULT_CHARSET, "surrogateescape"))

    def decode(self, strict: bool = True) -> None:
        """Remove the Content-Encoding: store the body decoded and drop the header.

        With ``strict=False`` an undecodable body is kept as it is, now declared unencoded.
        """
        decoded = self.get_content(strict)
        if decoded is None:
            return
        self.data.headers.pop("content-encoding", None)
        self._set_raw_content_and_length(decoded)

    def encode(self, coding: str) -> None:
        """Encode the body with ``coding`` (e.g. "gzip"), replacing any previous encoding.

        Raises ValueError for a coding we cannot produce, leaving the message unchanged.
        """
        content = self.get_content()
        if content is None:
            return  # the body was not read (streamed): there is nothing to encode
        raw = encoding.encode(content, coding)
        self.data.headers["content-encoding"] = coding
        self._set_raw_content_and_length(raw)

    def replace(self, pattern: str | bytes, repl: str | bytes, flags: int = 0) -> int:
        """Replace a regex in the header lines and in the (decoded) body; return the count.

        The body is re-encoded afterwards. A body that cannot be decoded is left alone:
        replacing inside compressed bytes would only corrupt it.
        """
        count = self.data.headers.replace(pattern, repl, flags)
        try:
            content = self.get_content()
        except ValueError:
            return count
        if content:
            content, n = bytes_pattern(pattern, flags).subn(to_bytes(repl), content)
            if n:
                self.set_content(content)
                count += n
        return count

"""WebSocket frames (RFC 6455 section 5): reading, writing and masking.

The classes can also *build* frames that break the rules, because pathod crafts pathological
frames on purpose: ``length_code`` may be set to a non-minimal form, ``payload_length`` may
disagree with the payload, and the mask bit may be set without a key. Reading is strict about
what can never be a frame, whatever the extensions: a 64-bit length with its top bit set, a
length not in its shortest form, and a control frame that is fragmented or longer than 125
bytes. Everything else (reserved bits, reserved opcodes) is data for the layer above to judge.
"""
from __future__ import annotations

import enum
import os

from netlib.exceptions import WebSocketException
from netlib.tcp.buffered import Reader

__all__ = ["OPCODE", "FrameHeader", "Frame", "Masker", "MAX_CONTROL_PAYLOAD"]


class OPCODE(enum.IntEnum):
    CONTINUE = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


# Opcodes from 0x8 up are control frames (section 5.5): short and never fragmented.
CONTROL_OPCODE_MIN = 0x8
MAX_CONTROL_PAYLOAD = 125

# The 7-bit length field holds lengths up to 125; 126 and 127 say an extended length follows.
MAX_7BIT_LENGTH = 125
LENGTH_CODE_16BIT = 126
LENGTH_CODE_64BIT = 127
MAX_16BIT_LENGTH = 0xFFFF
MAX_64BIT_LENGTH = 0x7FFF_FFFF_FFFF_FFFF  # the top bit must be 0 (section 5.2)

MASKING_KEY_LENGTH = 4

_FIN = 0x80
_RSV1 = 0x40
_RSV2 = 0x20
_RSV3 = 0x10
_OPCODE_BITS = 0x0F
_MASK = 0x80
_LENGTH_BITS = 0x7F


def length_code_for(payload_length: int) -> int:
    """The 7-bit length field that encodes ``payload_length`` in its shortest form."""
    if payload_length <= MAX_7BIT_LENGTH:
        return payload_length
    if payload_length <= MAX_16BIT_LENGTH:
        return LENGTH_CODE_16BIT
    return LENGTH_CODE_64BIT


class Masker:
    """XORs data with a 4-byte masking key, continuing where the previous call stopped, so a
    payload can be (un)masked in pieces as it streams through.

    The XOR is one big-integer operation over the whole piece: linear C code instead of a
    Python loop per byte (a 64 KiB payload takes microseconds, not milliseconds).
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != MASKING_KEY_LENGTH:
            raise ValueError(f"a masking key is {MASKING_KEY_LENGTH} bytes, got {len(key)}: {key!r}")
        self.key = bytes(key)
        self.offset = 0

    def mask(self, data: bytes) -> bytes:
        n = len(data)
        if not n:
            return b""
        start = self.offset % MASKING_KEY_LENGTH
        rotated = self.key[start:] + self.key[:start]
        keystream = (rotated * (n // MASKING_KEY_LENGTH + 1))[:n]
        self.offset += n
        masked = int.from_bytes(data, "big") ^ int.from_bytes(keystream, "big")
        return masked.to_bytes(n, "big")

    __call__ = mask


class FrameHeader:
    """The fields of a frame header, as read or as to be written.

    ``mask`` defaults to whether a ``masking_key`` is given; ``mask=True`` without a key
    makes a random one (what a client must send), and ``masking_key=b""`` with ``mask=True``
    sets the bit with no key at all (pathological, for pathod). ``length_code`` defaults to
    the shortest form for ``payload_length``.
    """

    __slots__ = ("opcode", "payload_length", "fin", "rsv1", "rsv2", "rsv3", "mask",
                 "masking_key", "length_code")

    def __init__(
        self,
        opcode: int = OPCODE.TEXT,
        payload_length: int = 0,
        fin: bool = False,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
        mask: bool | None = None,
        masking_key: bytes | None = None,
        length_code: int | None = None,
    ) -> None:
        if not 0 <= opcode <= _OPCODE_BITS:
            raise ValueError(f"opcode must be 0-15, got {opcode}")
        if not 0 <= payload_length <= MAX_64BIT_LENGTH:
            raise ValueError(f"payload length must be 0-{MAX_64BIT_LENGTH}, got {payload_length}")
        if length_code is None:
            length_code = length_code_for(payload_length)
        elif not 0 <= length_code <= _LENGTH_BITS:
            raise ValueError(f"length code must be 0-127, got {length_code}")
        if mask is None:
            mask = bool(masking_key)
        if mask and masking_key is None:
            masking_key = os.urandom(MASKING_KEY_LENGTH)
        masking_key = masking_key or b""
        if masking_key and len(masking_key) != MASKING_KEY_LENGTH:
            raise ValueError(f"a masking key is {MASKING_KEY_LENGTH} bytes, got {len(masking_key)}")
        self.opcode = opcode
        self.payload_length = payload_length
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.mask = mask
        self.masking_key = masking_key
        self.length_code = length_code

    @property
    def is_control(self) -> bool:
        return self.opcode >= CONTROL_OPCODE_MIN

    def to_bytes(self) -> bytes:
        """The header on the wire. The extended length follows ``length_code``, so a crafted
        non-minimal length is written as asked."""
        first = self.opcode | (_FIN if self.fin else 0) | (_RSV1 if self.rsv1 else 0) \
            | (_RSV2 if self.rsv2 else 0) | (_RSV3 if self.rsv3 else 0)
        second = self.length_code | (_MASK if self.mask else 0)
        out = bytes([first, second])
        if self.length_code == LENGTH_CODE_16BIT:
            if self.payload_length > MAX_16BIT_LENGTH:
                raise ValueError(f"payload length {self.payload_length} does not fit the 16-bit form")
            out += self.payload_length.to_bytes(2, "big")
        elif self.length_code == LENGTH_CODE_64BIT:
            out += self.payload_length.to_bytes(8, "big")
        return out + self.masking_key

    __bytes__ = to_bytes

    @classmethod
    def from_file(cls, rfile) -> "FrameHeader":
        """Read a header; WebSocketException for one that can never be valid."""
        first, second = rfile.safe_read(2)
        opcode = first & _OPCODE_BITS
        fin = bool(first & _FIN)
        length_code = second & _LENGTH_BITS
        if length_code == LENGTH_CODE_16BIT:
            payload_length = int.from_bytes(rfile.safe_read(2), "big")
        elif length_code == LENGTH_CODE_64BIT:
            payload_length = int.from_bytes(rfile.safe_read(8), "big")
            if payload_length > MAX_64BIT_LENGTH:
                raise WebSocketException(
                    f"invalid frame: 64-bit payload length {payload_length:#x} has its top bit set")
        else:
            payload_length = length_code
        if length_code_for(payload_length) != length_code:
            raise WebSocketException(
                f"invalid frame: payload length {payload_length} not in its shortest form "
                f"(length code {length_code})")
        if opcode >= CONTROL_OPCODE_MIN:
            if payload_length > MAX_CONTROL_PAYLOAD:
                raise WebSocketException(
                    f"invalid frame: control frame ({_opcode_name(opcode)}) payload of "
                    f"{payload_length} bytes, at most {MAX_CONTROL_PAYLOAD} allowed")
            if not fin:
                raise WebSocketException(
                    f"invalid frame: control frame ({_opcode_name(opcode)}) is fragmented")
        mask = bool(second & _MASK)
        masking_key = rfile.safe_read(MASKING_KEY_LENGTH) if mask else b""
        return cls(
            opcode=opcode, payload_length=payload_length, fin=fin, rsv1=bool(first & _RSV1),
            rsv2=bool(first & _RSV2), rsv3=bool(first & _RSV3), mask=mask,
            masking_key=masking_key, length_code=length_code)

    def human_readable(self) -> str:
        parts = ["ws frame:", _opcode_name(self.opcode)]
        parts += [flag for flag in ("fin", "rsv1", "rsv2", "rsv3", "mask") if getattr(self, flag)]
        if self.masking_key:
            parts.append(f"key={self.masking_key.hex()}")
        parts.append(f"payload_len={self.payload_length}")
        return " ".join(parts)

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrameHeader):
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"FrameHeader({args})"


def _opcode_name(opcode: int) -> str:
    try:
        return OPCODE(opcode).name.lower()
    except ValueError:
        return f"{opcode:#x}"


class Frame:
    """A frame: its header and its *unmasked* payload (masking happens on the wire only).

    ``Frame(payload, **header_fields)``; ``payload_length`` defaults to the payload's length.
    """

    def __init__(self, payload: bytes = b"", **header_fields) -> None:
        header_fields.setdefault("payload_length", len(payload))
        self.header = FrameHeader(**header_fields)
        self.payload = payload

    @classmethod
    def from_header(cls, header: FrameHeader, payload: bytes) -> "Frame":
        frame = cls.__new__(cls)
        frame.header = header
        frame.payload = payload
        return frame

    @classmethod
    def from_file(cls, rfile, max_payload: int | None = None) -> "Frame":
        """Read one frame and unmask its payload. ``max_payload`` bounds the memory a peer
        can make us spend on one frame (the body size limit); above it, WebSocketException
        is raised before the payload is read."""
        header = FrameHeader.from_file(rfile)
        if max_payload is not None and header.payload_length > max_payload:
            raise WebSocketException(
                f"frame payload of {header.payload_length} bytes exceeds the limit of {max_payload}")
        payload = rfile.safe_read(header.payload_length)
        if header.mask and header.masking_key:
            payload = Masker(header.masking_key).mask(payload)
        return cls.from_header(header, payload)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Frame":
        """Parse one frame from ``data``; bytes after it are ignored."""
        return cls.from_file(Reader.from_bytes(data))

    def to_bytes(self) -> bytes:
        payload = self.payload
        if self.header.masking_key:
            payload = Masker(self.header.masking_key).mask(payload)
        return self.header.to_bytes() + payload

    __bytes__ = to_bytes

    def human_readable(self) -> str:
        text = self.header.human_readable()
        if self.payload:
            text += "\nPayload:\n" + repr(self.payload)[2:-1]
        return text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return self.header == other.header and self.payload == other.payload

    def __repr__(self) -> str:
        return f"Frame({self.payload!r}, header={self.header!r})"

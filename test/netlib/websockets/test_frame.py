import os
import time

import pytest

from netlib.exceptions import TcpReadIncomplete, WebSocketException
from netlib.tcp.buffered import Reader
from netlib.websockets import MAX_CONTROL_PAYLOAD, OPCODE, Frame, FrameHeader, Masker

RFC_KEY = bytes.fromhex("37fa213d")


# --- RFC 6455 section 5.7 examples, byte for byte ---

def test_rfc_unmasked_hello():
    data = bytes.fromhex("810548656c6c6f")
    assert Frame(b"Hello", fin=True, opcode=OPCODE.TEXT).to_bytes() == data
    frame = Frame.from_bytes(data)
    assert frame.payload == b"Hello"
    assert (frame.header.fin, frame.header.opcode, frame.header.mask) == (True, OPCODE.TEXT, False)


def test_rfc_masked_hello():
    data = bytes.fromhex("818537fa213d7f9f4d5158")
    assert bytes(Frame(b"Hello", fin=True, opcode=OPCODE.TEXT, masking_key=RFC_KEY)) == data
    frame = Frame.from_bytes(data)
    assert frame.payload == b"Hello"
    assert (frame.header.mask, frame.header.masking_key) == (True, RFC_KEY)


def test_rfc_fragmented_text():
    first = Frame.from_bytes(bytes.fromhex("010348656c"))
    second = Frame.from_bytes(bytes.fromhex("80026c6f"))
    assert (first.header.fin, first.header.opcode, first.payload) == (False, OPCODE.TEXT, b"Hel")
    assert (second.header.fin, second.header.opcode, second.payload) == (True, OPCODE.CONTINUE, b"lo")


def test_rfc_ping_and_masked_pong():
    ping = Frame.from_bytes(bytes.fromhex("890548656c6c6f"))
    assert (ping.header.opcode, ping.payload) == (OPCODE.PING, b"Hello")
    pong = Frame.from_bytes(bytes.fromhex("8a8537fa213d7f9f4d5158"))
    assert (pong.header.opcode, pong.payload) == (OPCODE.PONG, b"Hello")


@pytest.mark.parametrize("size, header, length_code", [
    (256, "827e0100", 126),  # the 16-bit length form
    (65536, "827f0000000000010000", 127),  # the 64-bit length form
])
def test_rfc_large_binary_frames(size, header, length_code):
    payload = os.urandom(size)
    data = bytes.fromhex(header) + payload
    frame = Frame(payload, fin=True, opcode=OPCODE.BINARY)
    assert frame.header.length_code == length_code
    assert frame.to_bytes() == data
    assert Frame.from_bytes(data).payload == payload


@pytest.mark.parametrize("length, code, header_size", [
    (0, 0, 2), (125, 125, 2), (126, 126, 4), (65535, 126, 4), (65536, 127, 10),
])
def test_length_forms_at_their_boundaries(length, code, header_size):
    frame = Frame(b"a" * length, fin=True, opcode=OPCODE.BINARY)
    data = frame.to_bytes()
    assert (frame.header.length_code, len(data)) == (code, header_size + length)
    assert Frame.from_bytes(data) == frame


def test_masked_round_trip_in_small_pieces():
    """Frames arrive split across reads; the reader must not care."""
    frame = Frame(b"x" * 300, fin=True, opcode=OPCODE.BINARY, mask=True)
    assert len(frame.header.masking_key) == 4
    data = frame.to_bytes()
    assert data[-300:] != b"x" * 300
    assert Frame.from_file(Reader.from_bytes(data, chunk=3)) == frame


def test_consecutive_frames_from_one_stream():
    frames = [Frame(b"a", fin=True), Frame(b"", opcode=OPCODE.CLOSE, fin=True),
              Frame(b"b" * 200, opcode=OPCODE.BINARY, masking_key=b"abcd")]
    rfile = Reader.from_bytes(b"".join(f.to_bytes() for f in frames))
    assert [Frame.from_file(rfile) for _ in frames] == frames


def test_reserved_bits_and_opcodes_are_read_as_data():
    frame = Frame(b"z", opcode=0x3, fin=True, rsv1=True, rsv2=True, rsv3=True)
    data = frame.to_bytes()
    assert data[0] == 0xF3
    read = Frame.from_bytes(data)
    assert (read.header.opcode, read.header.rsv1, read.header.rsv2, read.header.rsv3) == (3, True, True, True)


# --- malformed input ---

@pytest.mark.parametrize("data", [
    b"\x81",  # in the first two bytes
    b"\x82\x7e\x01",  # in the 16-bit length
    b"\x82\x7f\x00\x00\x00",  # in the 64-bit length
    b"\x81\x85\x37\xfa",  # in the masking key
    b"\x81\x05Hel",  # in the payload
])
def test_truncated_frame(data):
    with pytest.raises(TcpReadIncomplete):
        Frame.from_bytes(data)


def test_64_bit_length_with_top_bit_set():
    with pytest.raises(WebSocketException, match="top bit set"):
        Frame.from_bytes(b"\x82\x7f\x80" + b"\x00" * 7)


@pytest.mark.parametrize("data, length", [
    (b"\x82\x7e\x00\x05hello", 5),
    (b"\x82\x7f" + (300).to_bytes(8, "big"), 300),
])
def test_non_minimal_length_is_refused(data, length):
    with pytest.raises(WebSocketException, match=f"payload length {length} not in its shortest form"):
        Frame.from_bytes(data)


def test_long_control_frame_is_refused():
    with pytest.raises(WebSocketException, match="control frame \\(ping\\) payload of 126 bytes"):
        Frame.from_bytes(b"\x89\x7e\x00\x7e" + b"p" * 126)


def test_fragmented_control_frame_is_refused():
    with pytest.raises(WebSocketException, match="control frame \\(close\\) is fragmented"):
        Frame.from_bytes(b"\x08\x00")


def test_payload_limit():
    data = Frame(b"q" * 1000, fin=True).to_bytes()
    with pytest.raises(WebSocketException, match="1000 bytes exceeds the limit of 999"):
        Frame.from_file(Reader.from_bytes(data), max_payload=999)
    assert Frame.from_file(Reader.from_bytes(data), max_payload=1000).payload == b"q" * 1000


# --- crafting (pathod) ---

def test_explicit_non_minimal_length_code_is_written_as_asked():
    header = FrameHeader(opcode=OPCODE.TEXT, payload_length=5, length_code=126, fin=True)
    assert header.to_bytes() == b"\x81\x7e\x00\x05"
    header = FrameHeader(payload_length=5, length_code=127)
    assert header.to_bytes() == b"\x01\x7f" + (5).to_bytes(8, "big")


def test_payload_length_may_disagree_with_payload():
    frame = Frame(b"abc", payload_length=10, fin=True)
    assert frame.to_bytes() == b"\x81\x0aabc"


def test_mask_bit_without_a_key():
    frame = Frame(b"abc", mask=True, masking_key=b"", fin=True)
    assert frame.to_bytes() == b"\x81\x83abc"


def test_16_bit_length_code_cannot_carry_a_large_length():
    with pytest.raises(ValueError, match="does not fit the 16-bit form"):
        FrameHeader(payload_length=70000, length_code=126).to_bytes()


@pytest.mark.parametrize("kwargs, message", [
    ({"opcode": 16}, "opcode must be 0-15"),
    ({"opcode": -1}, "opcode must be 0-15"),
    ({"payload_length": 2 ** 63}, "payload length must be"),
    ({"payload_length": -1}, "payload length must be"),
    ({"length_code": 128}, "length code must be 0-127"),
    ({"masking_key": b"abc"}, "masking key is 4 bytes, got 3"),
])
def test_invalid_header_fields(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrameHeader(**kwargs)


# --- masking ---

def test_masker_matches_the_rfc():
    assert Masker(RFC_KEY).mask(b"Hello") == bytes.fromhex("7f9f4d5158")


def test_masker_continues_across_pieces():
    payload = os.urandom(1001)
    whole = Masker(b"\x01\x02\x03\x04").mask(payload)
    masker = Masker(b"\x01\x02\x03\x04")
    pieces = [masker(payload[:3]), masker(payload[3:3]), masker(payload[3:500]), masker(payload[500:])]
    assert b"".join(pieces) == whole
    assert Masker(b"\x01\x02\x03\x04").mask(whole) == payload


def test_masker_preserves_leading_zero_bytes():
    assert Masker(b"\x00\x00\x00\x00").mask(b"\x00\x00a") == b"\x00\x00a"


def test_masker_refuses_a_wrong_key():
    with pytest.raises(ValueError, match="got 5"):
        Masker(b"12345")


def test_masking_a_megabyte_is_fast():
    payload = os.urandom(1024 * 1024)
    start = time.perf_counter()
    Masker(b"abcd").mask(payload)
    assert time.perf_counter() - start < 0.5


# --- presentation ---

def test_human_readable():
    frame = Frame(b"Hi\x00'", fin=True, opcode=OPCODE.TEXT, masking_key=RFC_KEY)
    assert frame.human_readable() == (
        "ws frame: text fin mask key=37fa213d payload_len=4\nPayload:\nHi\\x00'")
    assert Frame(opcode=0xB, rsv2=True).human_readable() == "ws frame: 0xb rsv2 payload_len=0"


def test_equality_and_repr():
    a = Frame(b"x", fin=True, masking_key=b"abcd")
    assert a == Frame(b"x", fin=True, masking_key=b"abcd")
    assert a != Frame(b"y", fin=True, masking_key=b"abcd")
    assert a.header != FrameHeader(fin=False)
    assert a != "x" and a.header != "x"
    assert "payload_length=1" in repr(a) and repr(a).startswith("Frame(b'x'")


def test_control_frame_limit_constant():
    assert FrameHeader(opcode=OPCODE.CLOSE).is_control and not FrameHeader(opcode=OPCODE.TEXT).is_control
    assert MAX_CONTROL_PAYLOAD == 125

"""Websocket frame specs: defaults, masking, crafted header fields, round trips."""
import pytest

from netlib.websockets import OPCODE, Frame, FrameHeader

from libpathod.language import ParseException, RenderError, Settings, parse_pathoc, parse_pathod
from libpathod.language import parse_websocket_frame

from .helpers import render, served

SERVER = Settings()
CLIENT = Settings(is_client=True)

FRAME_EXAMPLES = [
    "wf", "wf:b'foo'", "wf:b@100", "wf:r'raw'", "wf:cbinary", "wf:c5", "wf:-fin", "wf:fin",
    "wf:mask", "wf:-mask", "wf:k'abcd'", "wf:knone", "wf:l200", "wf:rsv1:rsv2:rsv3",
    "wf:-rsv1:-rsv2:-rsv3", "wf:x3", "wf:b@10:d5", "wf:b@10:ir,'x'", "wf:b@10:pa,f",
    "wf:cping:b'hi':mask:knone",
]


def frame(text):
    return next(parse_websocket_frame(text))


def wire_frame(msg, settings):
    return Frame.from_bytes(render(msg.resolve(settings), settings))


@pytest.mark.parametrize("text", FRAME_EXAMPLES)
def test_frame_specs_round_trip(text):
    msg = frame(text)
    assert frame(msg.spec()) == msg
    for settings in (SERVER, CLIENT):
        resolved = msg.resolve(settings)
        assert frame(resolved.spec()) == resolved
        assert resolved.resolve(settings) == resolved


def test_server_frame_defaults_to_final_unmasked_text():
    received = wire_frame(frame("wf:b'foo'"), SERVER)
    assert received.payload == b"foo"
    assert received.header == FrameHeader(opcode=OPCODE.TEXT, payload_length=3, fin=True)
    assert render(frame("wf:b'foo'"), SERVER) == b"\x81\x03foo"


def test_client_frames_are_masked_with_a_key_named_in_the_resolved_spec():
    resolved = frame("wf:b'hello'").resolve(CLIENT)
    assert ":mask:k'" in resolved.spec()
    data = render(resolved, CLIENT)
    assert data[1] & 0x80 and b"hello" not in data
    assert Frame.from_bytes(data).payload == b"hello"
    assert served(resolved, CLIENT)[0] == data


def test_explicit_key_masks_payload():
    data = render(frame("wf:b'hello':k'abcd'"), SERVER)
    assert data == b"\x81\x85abcd" + bytes(a ^ b for a, b in zip(b"hello", b"abcda"))


def test_key_must_be_four_bytes():
    with pytest.raises(RenderError, match="4 bytes"):
        render(frame("wf:k'abc'"), SERVER)


def test_knone_sets_mask_bit_without_key():
    data = render(frame("wf:b'hi':mask:knone").resolve(CLIENT), CLIENT)
    assert data == b"\x81\x82hi"


def test_raw_payload_is_not_masked():
    assert render(frame("wf:r'hello':k'abcd'"), SERVER) == b"\x81\x85abcdhello"


def test_unmask_client_setting_with_minus_mask():
    assert render(frame("wf:b'x':-mask").resolve(CLIENT), CLIENT) == b"\x81\x01x"


@pytest.mark.parametrize("text,opcode", [
    ("wf:ctext", 1), ("wf:cbinary", 2), ("wf:ccontinue", 0), ("wf:cclose", 8), ("wf:cping", 9),
    ("wf:cpong", 10), ("wf:c15", 15), ("wf:c3", 3),
])
def test_opcodes_by_name_or_number(text, opcode):
    assert render(frame(text), SERVER)[0] & 0x0F == opcode


def test_opcode_canonical_form_prefers_names():
    assert frame("wf:c2").spec() == "wf:cbinary"
    assert frame("wf:c3").spec() == "wf:c3"


def test_bits_and_length_are_written_as_asked():
    header = render(frame("wf:-fin:rsv1:rsv3:l300:b'x'"), SERVER)
    assert header[0] == 0x50 | 0x01
    assert header[1] == 126 and header[2:4] == (300).to_bytes(2, "big")
    assert header.endswith(b"x")


def test_large_payload_uses_extended_length_and_is_lazy():
    resolved = frame("wf:b@100k").resolve(SERVER)
    values = resolved.values(SERVER)
    assert values[0][:2] == b"\x81\x7f"
    assert len(values[1]) == 100 * 1024


def test_frames_parse_in_pathod_and_pathoc_and_expand_times():
    assert [m.spec() for m in parse_pathod("wf:b'a':x2")] == ["wf:b'a'"] * 2
    assert [m.spec() for m in parse_pathoc("ws:/ wf:b'a'")] == ["ws:/", "wf:b'a'"]


def test_duplicate_payload_is_an_error():
    with pytest.raises(ParseException, match="more than one b/r"):
        frame("wf:b'a':r'b'")


def test_frame_log_records_body():
    log = served(frame("wf:b'foo'"))[1]
    assert log["body"] == "foo" and log["spec"] == "wf:b'foo'"


def test_impossible_length_is_a_render_error():
    with pytest.raises(RenderError, match="cannot render"):
        render(frame("wf:l99999999999999999999"), SERVER)

import h2.config
import h2.connection
import h2.events
import pytest
from hyperframe.frame import (
    ContinuationFrame, DataFrame, ExtensionFrame, HeadersFrame, PingFrame, SettingsFrame,
)

from netlib.exceptions import Http2Exception, TcpReadIncomplete
from netlib.http import http2
from netlib.tcp.buffered import Reader

REQUEST_HEADERS = [
    (":method", "GET"), (":path", "/index.html"), (":scheme", "https"),
    (":authority", "example.com"), ("user-agent", "test"),
]


def h2_client() -> h2.connection.H2Connection:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    return conn


def h2_server() -> h2.connection.H2Connection:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    conn.data_to_send()
    return conn


def frames_after_preface(data: bytes, max_frame_size: int = http2.DEFAULT_MAX_FRAME_SIZE):
    assert data.startswith(http2.CLIENT_CONNECTION_PREFACE)
    rfile = Reader.from_bytes(data[len(http2.CLIENT_CONNECTION_PREFACE):], chunk=7)
    frames = []
    while rfile.peek(1):
        frames.append(http2.read_frame(rfile, max_frame_size))
    return frames


# --- reading what h2 writes ---

def test_reads_a_request_written_by_h2():
    client = h2_client()
    client.send_headers(1, REQUEST_HEADERS)
    client.send_data(1, b"hello body", end_stream=True)
    settings, headers, data = frames_after_preface(client.data_to_send())

    assert isinstance(settings, SettingsFrame) and settings.stream_id == 0
    assert isinstance(headers, HeadersFrame) and headers.stream_id == 1
    assert "END_HEADERS" in headers.flags and "END_STREAM" not in headers.flags
    assert http2.HeaderCodec().decode_headers(headers.data) == [
        (k.encode(), v.encode()) for k, v in REQUEST_HEADERS]
    assert isinstance(data, DataFrame)
    assert (data.data, "END_STREAM" in data.flags) == (b"hello body", True)


def test_reads_a_header_block_split_into_continuation_frames():
    client = h2_client()
    big = [("x-big-%d" % i, "v" * 1000) for i in range(30)]
    client.send_headers(1, REQUEST_HEADERS + big, end_stream=True)
    frames = frames_after_preface(client.data_to_send())[1:]
    assert isinstance(frames[0], HeadersFrame) and "END_HEADERS" not in frames[0].flags
    assert all(isinstance(f, ContinuationFrame) for f in frames[1:])
    assert "END_HEADERS" in frames[-1].flags
    block = b"".join(f.data for f in frames)
    decoded = http2.HeaderCodec().decode_headers(block)
    assert decoded[-1] == (b"x-big-29", b"v" * 1000)
    assert len(decoded) == len(REQUEST_HEADERS) + 30


def test_one_decoder_follows_the_dynamic_table_across_requests():
    """The second request reuses table entries; only the connection's own decoder knows them."""
    client = h2_client()
    client.send_headers(1, REQUEST_HEADERS, end_stream=True)
    client.send_headers(3, REQUEST_HEADERS, end_stream=True)
    _, first, second = frames_after_preface(client.data_to_send())
    codec = http2.HeaderCodec()
    assert codec.decode_headers(first.data) == codec.decode_headers(second.data)
    assert len(second.data) < len(first.data)
    with pytest.raises(Http2Exception, match="invalid HPACK header block"):
        http2.HeaderCodec().decode_headers(second.data)


# --- writing what h2 accepts ---

def test_h2_client_accepts_our_response_frames():
    client = h2_client()
    client.send_headers(1, REQUEST_HEADERS, end_stream=True)
    client.data_to_send()

    codec = http2.HeaderCodec()
    headers = HeadersFrame(1, codec.encode_headers([(":status", "200"), (b"content-type", b"text/plain")]),
                           flags=["END_HEADERS"])
    data = DataFrame(1, b"response body", flags=["END_STREAM"])
    wire = b"".join(http2.frame_to_bytes(f) for f in (SettingsFrame(0), headers, data))

    events = client.receive_data(wire)
    response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
    assert response.headers == [(b":status", b"200"), (b"content-type", b"text/plain")]
    body = next(e for e in events if isinstance(e, h2.events.DataReceived))
    assert body.data == b"response body"
    assert any(isinstance(e, h2.events.StreamEnded) for e in events)


def test_h2_server_accepts_our_request():
    server = h2_server()
    codec = http2.HeaderCodec()
    headers = HeadersFrame(1, codec.encode_headers(REQUEST_HEADERS), flags=["END_HEADERS", "END_STREAM"])
    wire = b"".join([http2.CLIENT_CONNECTION_PREFACE, http2.frame_to_bytes(SettingsFrame(0)),
                     http2.frame_to_bytes(headers)])
    events = server.receive_data(wire)
    request = next(e for e in events if isinstance(e, h2.events.RequestReceived))
    assert request.headers == [(k.encode(), v.encode()) for k, v in REQUEST_HEADERS]


def test_apply_settings_stops_dynamic_indexing_and_h2_follows():
    """After the peer sets a header table size of 0, repeated headers are no longer indexed,
    and h2 decodes the table size update we then send."""
    fields = [(":status", "200"), ("x-custom", "value")]
    indexing = http2.HeaderCodec()
    indexing.encode_headers(fields)
    assert len(indexing.encode_headers(fields)) == 2  # both fields now come from the table

    codec = http2.HeaderCodec()
    codec.apply_settings(0)
    first = codec.encode_headers(fields)
    second = codec.encode_headers(fields)
    assert first == b"\x20" + second  # a size update to 0, then the same literals again

    client = h2_client()
    client.send_headers(1, REQUEST_HEADERS, end_stream=True)
    client.data_to_send()
    headers = HeadersFrame(1, first, flags=["END_HEADERS", "END_STREAM"])
    events = client.receive_data(http2.frame_to_bytes(SettingsFrame(0)) + http2.frame_to_bytes(headers))
    response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
    assert (b"x-custom", b"value") in response.headers


# --- limits and malformed input ---

def test_frame_larger_than_max_frame_size_is_refused_before_reading_it():
    raw = http2.frame_to_bytes(DataFrame(1, b"d" * 20000), max_frame_size=20000)
    with pytest.raises(Http2Exception, match=r"20000 bytes exceeds SETTINGS_MAX_FRAME_SIZE \(16384 bytes\)"):
        http2.read_raw_frame(Reader.from_bytes(raw[:http2.FRAME_HEADER_LENGTH]))
    assert http2.read_raw_frame(Reader.from_bytes(raw), max_frame_size=20000) == raw


def test_writing_a_frame_larger_than_the_peer_accepts_is_refused():
    with pytest.raises(Http2Exception, match="DataFrame frame payload of 16385 bytes exceeds"):
        http2.frame_to_bytes(DataFrame(1, b"d" * 16385))


def test_http1_where_a_frame_was_expected_is_named():
    rfile = Reader.from_bytes(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(Http2Exception, match="looks like HTTP/1.*400 Bad Request"):
        http2.read_frame(rfile)


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x08\x06", b"\x00\x00\x08\x06\x00\x00\x00\x00\x00abc"])
def test_truncated_frame(data):
    with pytest.raises(TcpReadIncomplete):
        http2.read_raw_frame(Reader.from_bytes(data))


def test_parse_frame_returns_frame_and_length():
    raw = http2.frame_to_bytes(PingFrame(0, b"12345678"))
    frame, length = http2.parse_frame(raw)
    assert isinstance(frame, PingFrame) and frame.opaque_data == b"12345678"
    assert length == 8


@pytest.mark.parametrize("raw, message", [
    (b"\x00\x00", "shorter than its 9-byte header"),
    (b"\x00\x00\x08\x06\x00\x00\x00\x00\x00abc", "header says 8 payload bytes, got 3"),
    (b"\x00\x00\x03\x06\x00\x00\x00\x00\x00abc", "invalid HTTP/2 frame 000003060000000000"),
    (b"\x00\x00\x05\x04\x00\x00\x00\x00\x00abcde", "invalid HTTP/2 frame"),
    (b"\x00\x00\x02\x00\x08\x00\x00\x00\x01\x05a", "invalid HTTP/2 frame"),
])
def test_malformed_frames(raw, message):
    with pytest.raises(Http2Exception, match=message):
        http2.parse_frame(raw)


def test_unknown_frame_types_are_returned_not_refused():
    """RFC 7540 4.1: unknown types must be ignored, so reading them is no error."""
    frame = http2.read_frame(Reader.from_bytes(b"\x00\x00\x02\xee\x00\x00\x00\x00\x00hi"))
    assert isinstance(frame, ExtensionFrame)
    assert (frame.type, frame.body) == (0xEE, b"hi")


def test_header_list_size_limit():
    codec = http2.HeaderCodec(max_header_list_size=100)
    block = http2.HeaderCodec().encode_headers([("x-long", "v" * 200)])
    with pytest.raises(Http2Exception, match="invalid HPACK header block"):
        codec.decode_headers(block)


def test_garbage_header_block():
    with pytest.raises(Http2Exception, match="invalid HPACK header block"):
        http2.HeaderCodec().decode_headers(b"\xff\xff\xff\xff\xff\xff")

"""HTTP/2 specs: HEADERS and DATA frames with pseudo-headers, refused HTTP/1-only features."""
import hpack
import hyperframe.frame
import pytest

from libpathod.language import ParseException, RenderError, Settings, parse_pathoc, parse_pathod
from libpathod.language.http2 import DataFrames, Http2Framing

from .helpers import render, served


def frames(data):
    out, pos = [], 0
    while pos < len(data):
        frame, length = hyperframe.frame.Frame.parse_frame_header(memoryview(data[pos:pos + 9]))
        frame.parse_body(memoryview(data[pos + 9:pos + 9 + length]))
        out.append(frame)
        pos += 9 + length
    return out


def headers_of(frame):
    return hpack.Decoder().decode(frame.data)


def request(text):
    return next(parse_pathoc(text, use_http2=True))


def response(text):
    return next(parse_pathod(text, use_http2=True))


def test_request_has_pseudo_headers_then_lowercase_headers():
    settings = Settings(request_host="example.com", protocol=Http2Framing())
    resolved = request("get:/foo:h'X-Thing'='1'").resolve(settings)
    (headers,) = frames(render(resolved, settings))
    assert headers.stream_id == 1
    assert headers.flags == {"END_HEADERS", "END_STREAM"}
    assert headers_of(headers) == [
        (":method", "GET"), (":scheme", "https"), (":authority", "example.com"), (":path", "/foo"),
        ("x-thing", "1")]


def test_client_stream_ids_are_odd_and_increasing():
    settings = Settings(protocol=Http2Framing())
    ids = [request("get:/").resolve(settings).stream_id for _ in range(3)]
    assert ids == [1, 3, 5]


def test_host_header_becomes_authority():
    settings = Settings(request_host="ignored", protocol=Http2Framing())
    (headers,) = frames(render(request("get:/:h'Host'='given'").resolve(settings), settings))
    assert (":authority", "given") in headers_of(headers)
    assert "host" not in dict(headers_of(headers))


def test_spec_header_overrides_pseudo_header():
    settings = Settings(protocol=Http2Framing())
    (headers,) = frames(render(request("get:/:h':method'='FOO'").resolve(settings), settings))
    assert headers_of(headers)[0] == (":scheme", "https")
    assert (":method", "FOO") in headers_of(headers)
    assert (":method", "GET") not in headers_of(headers)


def test_response_on_given_stream_with_body_in_data_frames():
    msg = response("200:b@40000:c'text/plain'").with_stream_id(7)
    resolved = msg.resolve(Settings(protocol=Http2Framing(max_frame_size=16384)))
    data = render(resolved, Settings(protocol=Http2Framing(max_frame_size=16384)))
    headers, *data_frames = frames(data)
    assert headers.flags == {"END_HEADERS"}
    assert headers_of(headers) == [(":status", "200"), ("content-type", "text/plain"),
                                   ("content-length", "40000")]
    assert [len(f.data) for f in data_frames] == [16384, 16384, 40000 - 2 * 16384]
    assert [f.flags for f in data_frames] == [set(), set(), {"END_STREAM"}]
    assert {f.stream_id for f in data_frames} == {7}


def test_served_h2_response_is_reproducible():
    msg = response("404:b@100").with_stream_id(3).resolve(Settings())
    assert served(msg)[0] == served(msg)[0]


def test_large_header_block_continues_in_continuation_frames():
    settings = Settings(protocol=Http2Framing(max_frame_size=16384))
    resolved = response("200:h'x'=@40k,ascii_letters").with_stream_id(1).resolve(settings)
    parts = frames(render(resolved, settings))
    assert [type(f).__name__ for f in parts] == ["HeadersFrame", "ContinuationFrame", "ContinuationFrame"]
    assert parts[-1].flags == {"END_HEADERS"}
    block = b"".join(f.data for f in parts)
    assert dict(hpack.Decoder().decode(block))["x"].isalpha()


def test_data_frames_slice_anywhere():
    body = bytes(range(256)) * 100
    source = DataFrames(body, 5, 1000)
    whole = source[0:len(source)]
    assert len(whole) == len(body) + 26 * 9
    for start, stop in [(0, 5), (3, 1500), (1005, 1012), (len(whole) - 20, len(whole))]:
        assert source[start:stop] == whole[start:stop]
    assert b"".join(f.data for f in frames(whole)) == body


def test_stream_id_is_required():
    with pytest.raises(RenderError, match="stream id"):
        response("200").resolve(Settings())
    with pytest.raises(RenderError, match="resolve"):
        response("200").values(Settings())


@pytest.mark.parametrize("text,feature", [
    ("200:m'OK'", "m (reason)"), ("200:da", "d (disconnect)"), ("200:i1,'x'", "i (inject)"),
    ("200:p1,1", "p (pause)"),
])
def test_http1_only_response_features_are_refused(text, feature):
    with pytest.raises(ParseException, match="HTTP/1 only") as e:
        response(text)
    assert feature in e.value.msg and e.value.col == 4


def test_http1_only_request_features_are_refused():
    with pytest.raises(ParseException, match="HTTP/1 only"):
        request("get:/:dr")
    with pytest.raises(ParseException, match="ws"):
        request("ws:/")
    with pytest.raises(ParseException, match="ws"):
        response("ws")


def test_h2_embedded_response_and_times():
    settings = Settings(protocol=Http2Framing())
    specs = list(parse_pathoc("get:/p/:s'200:b@10':x2", use_http2=True))
    assert len(specs) == 2
    resolved = specs[0].resolve(settings)
    path = dict(headers_of(frames(render(resolved, settings))[0]))[":path"]
    assert path.startswith("/p/200:b'")
    assert request(resolved.spec()) == resolved

"""serve(): actions at their offsets, pauses in order and interruptible, lazy streaming."""
import io
import threading
import tracemalloc

import pytest

from libpathod.language import Settings, parse_pathod, serve, writer
from libpathod.language.actions import DisconnectAt, InjectAt, PauseAt
from libpathod.language.generators import RandomGenerator
from libpathod.language.values import LiteralValue

from .helpers import render, served

MB = 1024 * 1024


def response(text):
    return next(parse_pathod(text))


class Recorder:
    """A file that records writes, flushes and (through the patched sleep) pauses, in order."""

    def __init__(self):
        self.events = []

    def write(self, data):
        self.events.append(("write", bytes(data)))

    def flush(self):
        self.events.append(("flush",))

    def written(self):
        return b"".join(e[1] for e in self.events if e[0] == "write")


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(writer.time, "sleep", lambda seconds: rec.events.append(("sleep", seconds)))
    return rec


def base_bytes(text):
    """The resolved message of ``text`` without its actions, and that resolved message."""
    msg = response(text).resolve(Settings())
    return render(msg), msg


def test_inject_inserts_bytes_at_offset():
    plain, msg = base_bytes("200:b'abcdef':i5,'XY'")
    data, log = served(msg)
    assert data == plain[:5] + b"XY" + plain[5:]
    assert log["actions"] == [{"type": "inject", "offset": 5, "value": "'XY'"}]
    assert log["disconnect"] is False


def test_inject_at_start_and_at_end():
    plain, msg = base_bytes("200:b'abc':i0,'<':ia,'>'")
    assert served(msg)[0] == b"<" + plain + b">"


def test_inject_offset_past_the_end_acts_at_the_end():
    plain, msg = base_bytes("200:b'abc':i9999,'!'")
    assert served(msg)[0] == plain + b"!"


def test_disconnect_stops_writing_at_offset_and_is_signalled():
    plain, msg = base_bytes("200:b'abcdef':d10")
    data, log = served(msg)
    assert data == plain[:10]
    assert log["disconnect"] is True and log["bytes_written"] == 10


def test_disconnect_after_all_content():
    plain, msg = base_bytes("200:b'abcdef':da")
    data, log = served(msg)
    assert data == plain and log["disconnect"] is True


def test_random_offsets_are_inside_the_message():
    for _ in range(20):
        plain, msg = base_bytes("200:b@100:dr")
        offset = msg.actions[0].offset
        assert 0 <= offset < len(plain)
        assert served(msg)[0] == plain[:offset]


def test_random_injection_is_fixed_by_resolve():
    msg = response("200:b@100,ascii:ir,@1").resolve(Settings())
    assert served(msg)[0] == served(msg)[0]
    inject = msg.actions[0]
    assert isinstance(inject.value, LiteralValue) and len(inject.value.data) == 1


def test_actions_at_same_offset_keep_spec_order():
    plain, msg = base_bytes("200:b'abc':i3,'1':i3,'2':d3")
    data, log = served(msg)
    assert data == plain[:3] + b"12"
    assert [a["type"] for a in log["actions"]] == ["inject", "inject", "disconnect"]


def test_pause_flushes_then_sleeps_then_continues(recorder):
    plain, msg = base_bytes("200:b@1k:p50,120")
    log = serve(msg, recorder, Settings())
    sleep_at = recorder.events.index(("sleep", 120))
    before = b"".join(e[1] for e in recorder.events[:sleep_at] if e[0] == "write")
    assert before == plain[:50]
    assert recorder.events[sleep_at - 1] == ("flush",)
    assert recorder.written() == plain
    assert log["actions"] == [{"type": "pause", "offset": 50, "seconds": 120}]
    assert log["disconnect"] is False


def test_several_pauses_happen_in_offset_order(recorder):
    plain, msg = base_bytes("200:b'abcdefgh':p60,2:p40,1")
    serve(msg, recorder, Settings())
    sleeps = [e for e in recorder.events if e[0] == "sleep"]
    assert sleeps == [("sleep", 1), ("sleep", 2)]


def test_pause_with_stop_event_unset_waits_and_continues():
    plain, msg = base_bytes("200:b'abc':p5,0.001")
    data, log = served(msg, Settings(stop_event=threading.Event()))
    assert data == plain and not log["interrupted"]


def test_pause_forever_is_cut_short_by_stop_event():
    stop = threading.Event()
    stop.set()
    plain, msg = base_bytes("200:b@1k:p20,f")
    data, log = served(msg, Settings(stop_event=stop))
    assert data == plain[:20]
    assert log["interrupted"] is True and log["disconnect"] is True


def test_pause_forever_returns_when_event_is_set_later():
    stop = threading.Event()
    msg = response("200:b@1k:pr,f")
    out = io.BytesIO()
    results = []
    thread = threading.Thread(target=lambda: results.append(serve(msg, out, Settings(stop_event=stop))))
    thread.start()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert results[0]["interrupted"]


def test_values_are_streamed_across_blocks_with_actions():
    values = [b"abc", RandomGenerator(1000, "ascii", 1), b"xyz"]
    actions = [InjectAt(500, LiteralValue(b"!")), PauseAt(3, 0), DisconnectAt(1003)]
    out = io.BytesIO()
    result = writer.write_values(out, values, actions, Settings(), blocksize=7)
    whole = b"abc" + RandomGenerator(1000, "ascii", 1)[0:1000]
    assert out.getvalue() == whole[:500] + b"!" + whole[500:1003]
    assert result.disconnect


def test_peer_going_away_is_reported_as_disconnect():
    class Broken:
        def write(self, data):
            raise ConnectionResetError("reset by peer")

        def flush(self):
            pass
    log = serve(response("200:b'x'"), Broken(), Settings())
    assert log["disconnect"] is True and "reset" in log["error"]


def test_log_has_resolved_spec_and_timing():
    log = served(response("200:b@100"))[1]
    assert log["spec"].startswith("200:b@100,bytes,") and log["spec"].endswith("'100'")
    assert log["code"] == 200 and log["duration"] >= 0 and log["started"] > 0


def test_gigabyte_body_is_served_lazily():
    """The values are generators, and a 1g body streams with small memory: the first few MB
    go into a counting sink that then hangs up."""
    limit = 4 * MB

    class CountingSink:
        count = 0
        largest = 0

        def write(self, data):
            self.count += len(data)
            self.largest = max(self.largest, len(data))
            if self.count >= limit:
                raise ConnectionResetError("enough")

        def flush(self):
            pass

    msg = response("200:b@1g")
    resolved = msg.resolve(Settings())
    assert isinstance(resolved.values(Settings())[-1], RandomGenerator)
    assert resolved.length(Settings()) > 1024 ** 3
    sink = CountingSink()
    tracemalloc.start()
    try:
        log = serve(msg, sink, Settings())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert log["disconnect"] and sink.count >= limit
    assert sink.largest <= 2 * writer.generators.BLOCKSIZE
    assert peak < 2 * MB

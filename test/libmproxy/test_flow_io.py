"""Flow files: what FlowWriter writes, FlowReader reads back, whole or damaged.

The 0.18 file is the real one in the shared data directory, read in place.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from netlib import tnetstring

from libmproxy import flow
from libmproxy.exceptions import FlowReadException
from libmproxy.flow import io as flow_io
from libmproxy.flow import FlowReader, FlowWriter, read_flows_from_paths
from libmproxy.models import (
    ClientConnection, Error, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection, TCPFlow,
    TCPMessage,
)

# The flow files recorded by real mitmproxy releases, in shared/ beside the repository.
SHARED_FLOWS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flows"
DUMPFILE_018 = str(SHARED_FLOWS / "dumpfile-018.mitm")
DUMPFILE_019 = str(SHARED_FLOWS / "dumpfile-019.mitm")


def make_flow(path: str = "/", status: int | None = 200, error: str | None = None) -> HTTPFlow:
    f = HTTPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 80)))
    f.request = HTTPRequest("relative", "GET", "http", "example.com", 80, path, "HTTP/1.1",
                            [("Host", "example.com")], b"")
    if status is not None:
        f.response = HTTPResponse("HTTP/1.1", status, "OK", [("Content-Type", "text/plain")],
                                  b"hello " + path.encode())
    if error is not None:
        f.error = Error(error)
    return f


def write(*flows) -> bytes:
    buf = io.BytesIO()
    writer = FlowWriter(buf)
    for f in flows:
        writer.add(f)
    return buf.getvalue()


def read(data: bytes) -> list:
    return list(FlowReader(io.BytesIO(data)).stream())


class OnlyRead:
    """A pipe-like file: read() only, no tell() or seek()."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        return self._buf.read(n)


# --- round trips --------------------------------------------------------------------------

def test_http_flows_round_trip_in_order():
    flows = [make_flow("/a"), make_flow("/b", status=None, error="connection refused"),
             make_flow("/c", status=404)]
    back = read(write(*flows))
    assert [f.get_state() for f in back] == [f.get_state() for f in flows]
    assert [type(f) for f in back] == [HTTPFlow] * 3
    assert back[0].response.content == b"hello /a"
    assert back[1].response is None and back[1].error.msg == "connection refused"
    assert back[2].response.status_code == 404


def test_flows_sharing_a_connection_are_each_written_whole():
    """Flows sharing a connection each carry their own copy of it, as it was when each
    flow was written."""
    client, server = ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 80))
    buf = io.BytesIO()
    writer = FlowWriter(buf)
    for i in range(3):
        f = make_flow(f"/{i}")
        f.client_conn, f.server_conn = client, server
        if i == 2:
            server.timestamp_end = 1234.5  # the connection changed after the second flow
        writer.add(f)
    back = read(buf.getvalue())
    assert [f.request.path for f in back] == ["/0", "/1", "/2"]
    assert [f.server_conn.timestamp_end for f in back] == [None, None, 1234.5]
    assert all(f.client_conn.address == client.address for f in back)
    # Byte for byte what encoding each flow alone gives.
    assert buf.getvalue() == b"".join(tnetstring.dumps(f.get_state()) for f in back)


def test_tcp_flow_round_trips():
    f = TCPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 22)))
    f.messages = [TCPMessage(True, b"hello", 1.0), TCPMessage(False, b"\x00\xff", 2.0)]
    (back,) = read(write(f))
    assert isinstance(back, TCPFlow)
    assert back.messages == f.messages


def test_empty_file_has_no_flows():
    assert read(b"") == []


def test_reader_needs_only_read():
    data = write(make_flow("/a"), make_flow("/b"))
    flows = list(FlowReader(OnlyRead(data)).stream())
    assert [f.request.path for f in flows] == ["/a", "/b"]


def test_writer_flushes_each_flow_to_disk(tmp_path):
    """A second handle sees the flow at once: nothing waits in a buffer for close()."""
    path = tmp_path / "flows"
    with open(path, "wb") as fo:
        writer = FlowWriter(fo)
        writer.add(make_flow("/a"))
        with open(path, "rb") as other:
            assert [f.request.path for f in FlowReader(other).stream()] == ["/a"]
        writer.add(make_flow("/b"))
        with open(path, "rb") as other:
            assert [f.request.path for f in FlowReader(other).stream()] == ["/a", "/b"]


def test_writer_leaves_file_untouched_when_a_flow_cannot_be_encoded():
    buf = io.BytesIO()
    bad = make_flow()
    bad.get_state = lambda: {"unencodable": object()}  # type: ignore[method-assign]
    with pytest.raises(TypeError):
        FlowWriter(buf).add(bad)
    assert buf.getvalue() == b""


# --- the 0.18 file ------------------------------------------------------------------------

def test_reads_the_real_018_file():
    with open(DUMPFILE_018, "rb") as fo:
        (f,) = list(FlowReader(fo).stream())
    assert isinstance(f, HTTPFlow)
    assert f.request.method == "GET"
    assert f.request.url == "https://www.example.com/"
    assert f.request.headers["User-Agent"] == "curl/7.35.0"
    assert f.response.status_code == 200
    assert len(f.response.content) == 1270
    assert b"Example Domain" in f.response.content
    assert f.client_conn.address.host == "127.0.0.1"
    assert f.server_conn.sni == "www.example.com"
    assert f.server_conn.cert.cn == "www.example.org"


def test_018_flow_written_again_reads_back_equal():
    (original,) = read_flows_from_paths([DUMPFILE_018])
    (again,) = read(write(original))
    assert again.get_state() == original.get_state()


# --- damage -------------------------------------------------------------------------------

def test_truncated_tail_yields_complete_flows_first():
    first = write(make_flow("/a"), make_flow("/b"))
    data = first + write(make_flow("/c"))[:-10]
    got = []
    with pytest.raises(FlowReadException) as excinfo:
        for f in FlowReader(io.BytesIO(data)).stream():
            got.append(f.request.path)
    assert got == ["/a", "/b"]
    assert f"byte {len(first)}" in str(excinfo.value)
    assert "truncated" in str(excinfo.value)


def test_garbage_after_flows_is_reported_at_its_offset():
    good = write(make_flow("/a"))
    got = []
    with pytest.raises(FlowReadException, match=f"byte {len(good)}"):
        for f in FlowReader(io.BytesIO(good + b"this is not a flow")).stream():
            got.append(f)
    assert len(got) == 1


def test_not_a_flow_file():
    with pytest.raises(FlowReadException, match="byte 0"):
        read(b"GET / HTTP/1.1\r\n")


def test_a_value_that_is_not_a_dict():
    with pytest.raises(FlowReadException, match="dictionary, not list"):
        read(tnetstring.dumps([1, 2]))


def test_unknown_flow_type():
    state = make_flow().get_state()
    state["type"] = "carrier-pigeon"
    with pytest.raises(FlowReadException, match="unknown flow type 'carrier-pigeon'"):
        read(tnetstring.dumps(state))


def test_invalid_flow_state_names_the_problem():
    state = make_flow().get_state()
    del state["request"]
    with pytest.raises(FlowReadException, match="request"):
        read(tnetstring.dumps(state))


def test_state_of_wrong_shape_is_refused():
    state = make_flow().get_state()
    state["request"] = 42
    with pytest.raises(FlowReadException, match="byte 0"):
        read(tnetstring.dumps(state))


# --- versions -----------------------------------------------------------------------------

@pytest.mark.parametrize("version, shown", [
    (22, "version 22 "), ([0, 17], "version 0.17 "), ([1, 1, 0], "version 1.1 "),
])
def test_unknown_versions_are_refused_by_name(version, shown):
    state = make_flow().get_state()
    state["version"] = version
    with pytest.raises(FlowReadException, match=shown.replace(".", r"\.")):
        read(tnetstring.dumps(state))


def test_newer_mitmproxy_file_is_migrated():
    # Format 7 (mitmproxy 5.x) is converted through libmproxy/flow/compat.py.
    [f] = read_flows_from_paths([DUMPFILE_019])
    assert f.request.host == "webrv.rtb-seller.com"


@pytest.mark.parametrize("version", [True, "0.18", [0], [0, "18"], None])
def test_malformed_versions(version):
    state = make_flow().get_state()
    state["version"] = version
    with pytest.raises(FlowReadException, match="unknown flow format version"):
        read(tnetstring.dumps(state))


def test_missing_version():
    state = make_flow().get_state()
    del state["version"]
    with pytest.raises(FlowReadException, match="no format version"):
        read(tnetstring.dumps(state))


@pytest.mark.parametrize("version", [[0, 18], [0, 18, 0], [0, 18, 1], [0, 18, 2]])
def test_every_018_release_is_ours(version):
    state = make_flow().get_state()
    state["version"] = version
    (f,) = read(tnetstring.dumps(state))
    assert f.request.path == "/"


def test_migration_chain_converts_step_by_step(monkeypatch):
    """Two steps (99 -> 98 -> ours), each changing one thing, as real converters will."""
    def from_99(state):
        state = dict(state, version=98)
        state["request"] = dict(state["request"], path=state["request"].pop("the_path"))
        return state

    def from_98(state):
        return dict(state, version=[0, 18, 2], marked=bool(state["marked"]))

    monkeypatch.setitem(flow_io.MIGRATIONS, 99, from_99)
    monkeypatch.setitem(flow_io.MIGRATIONS, 98, from_98)
    state = make_flow("/new").get_state()
    state["version"] = 99
    state["request"]["the_path"] = state["request"].pop("path")
    state["marked"] = 0
    (f,) = read(tnetstring.dumps(state))
    assert f.request.path == "/new"
    assert f.marked is False


def test_a_cycle_in_the_migrations_is_reported(monkeypatch):
    monkeypatch.setitem(flow_io.MIGRATIONS, 50, lambda s: dict(s, version=50))
    state = make_flow().get_state()
    state["version"] = 50
    with pytest.raises(FlowReadException, match="no end to the conversion"):
        read(tnetstring.dumps(state))


def test_version_key():
    assert flow_io.version_key([0, 18, 2]) == (0, 18)
    assert flow_io.version_key((1, 0)) == (1, 0)
    assert flow_io.version_key(21) == 21
    assert flow_io.CURRENT_VERSION == (0, 18)


# --- paths --------------------------------------------------------------------------------

def test_read_flows_from_several_paths(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(write(make_flow("/1"), make_flow("/2")))
    b.write_bytes(write(make_flow("/3")))
    flows = read_flows_from_paths([a, str(b), DUMPFILE_018])
    assert [f.request.path for f in flows] == ["/1", "/2", "/3", "/"]


def test_read_flows_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "flows").write_bytes(write(make_flow("/home")))
    (f,) = read_flows_from_paths(["~/flows"])
    assert f.request.path == "/home"


def test_read_flows_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FlowReadException, match=f"{missing}: cannot read flows"):
        read_flows_from_paths([missing])


def test_read_flows_damaged_file_names_it(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(write(make_flow())[:-1])
    with pytest.raises(FlowReadException, match=f"^{bad}: damaged flow at byte 0"):
        read_flows_from_paths([bad])


def test_package_exports():
    assert flow.FlowWriter is FlowWriter and flow.FlowReader is FlowReader
    assert os.path.exists(DUMPFILE_018)


def test_reading_whole_files_pauses_the_collector_and_restores_it(tmp_path, monkeypatch):
    """read_flows_from_paths keeps every flow, so the cycle collector is paused while it
    reads (see libmproxy.collector) and is on again afterwards, errors included; the
    flows are then out of its sight (frozen), so no full collection scans them again."""
    import gc
    gc.unfreeze()
    seen: list[bool] = []
    path = tmp_path / "flows"
    path.write_bytes(write(make_flow("/1"), make_flow("/2")))
    real_stream = FlowReader.stream

    def watching(self):
        for flow in real_stream(self):
            seen.append(gc.isenabled())
            yield flow

    monkeypatch.setattr(FlowReader, "stream", watching)
    assert gc.isenabled()
    assert [f.request.path for f in read_flows_from_paths([path])] == ["/1", "/2"]
    assert seen == [False, False]
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    with pytest.raises(FlowReadException):
        read_flows_from_paths([tmp_path / "missing"])
    assert gc.isenabled()

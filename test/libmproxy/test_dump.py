"""mitmdump: the DumpMaster fed events directly, then the real command end to end.

The end-to-end tests run ``python -m libmproxy.main`` as a subprocess (conftest's
``mitmdump`` and ``mitmdump_once``, with the session's CA directory), a loopback origin
server in a thread and curl or requests as the client. No test sleeps: readiness is read from
mitmdump's output, and every wait has a deadline that is only reached when a test fails.
"""
from __future__ import annotations

import contextlib
import http.server
import io
import os
import select
import signal
import socket
import ssl
import subprocess
import threading
import time
from typing import Iterator

import pytest
import requests

from libmproxy import controller, dump
from libmproxy.features import filewriter
from libmproxy.dump import DumpMaster, Options
from libmproxy.flow import FlowReader, FlowWriter
from libmproxy.models import (
    ClientConnection, Error, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection, TCPFlow,
    TCPMessage,
)

WAIT = 20.0  # seconds; reached only when something is broken


# === the master, fed by hand ================================================================

def make_flow(path: str = "/path", content: bytes = b"hello", status: int | None = 200,
              headers: list | None = None) -> HTTPFlow:
    f = HTTPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 80)))
    f.request = HTTPRequest("relative", "GET", "http", "example.com", 80, path, "HTTP/1.1",
                            [("Host", "example.com"), ("User-Agent", "test")], b"")
    if status is not None:
        f.response = HTTPResponse("HTTP/1.1", status, "OK",
                                  headers or [("Content-Type", "text/plain")], content)
    return f


class LogEntry:
    def __init__(self, msg: str, level: str) -> None:
        self.msg, self.level = msg, level


def master_with(**options) -> tuple[DumpMaster, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return DumpMaster(None, Options(**options), out, err), out, err


def test_default_prints_request_and_response_lines():
    m, out, _ = master_with()
    m.dispatch("response", make_flow(content=b"x" * 1500))
    assert out.getvalue() == "127.0.0.1 GET http://example.com/path\n << 200 OK 1.46k\n"


def test_detail_2_adds_headers():
    m, out, _ = master_with(flow_detail=2)
    m.dispatch("response", make_flow())
    assert out.getvalue() == (
        "127.0.0.1 GET http://example.com/path\n"
        "    Host: example.com\n    User-Agent: test\n\n"
        " << 200 OK 5b\n"
        "    Content-Type: text/plain\n\n"
    )


def test_detail_3_adds_bodies_cut_off():
    m, out, _ = master_with(flow_detail=3)
    body = "".join(f"line {i}\n" for i in range(100)).encode()
    m.dispatch("response", make_flow(content=body))
    text = out.getvalue()
    assert "    line 0\n" in text and f"    line {dump.BODY_LINES - 1}\n" in text
    assert f"line {dump.BODY_LINES}\n" not in text
    assert "    (cut off after 70 lines; 30 more; use -ddd for all)\n" in text


def test_detail_4_shows_whole_bodies():
    m, out, _ = master_with(flow_detail=4)
    body = "".join(f"line {i}\n" for i in range(100)).encode()
    m.dispatch("response", make_flow(content=body))
    assert "    line 99\n" in out.getvalue() and "cut off" not in out.getvalue()


def response_body_output(content: bytes, headers: list, **options) -> str:
    """What the master prints for a response's body (the lines after its headers)."""
    m, out, _ = master_with(flow_detail=options.pop("flow_detail", 3), **options)
    m.dispatch("response", make_flow(content=content, headers=headers))
    return out.getvalue().split(" << 200 OK ", 1)[1].split("\n\n", 1)[1]


def test_binary_bodies_are_hex_dumped():
    assert response_body_output(bytes(range(20)), [
        ("Content-Type", "application/octet-stream")]) == (
        "    Hex\n"
        "    0000000000 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  ................\n"
        "    0000000010 10 11 12 13                                      ....\n\n")


@pytest.mark.parametrize("content, content_type, shown", [
    ("caf\u00e9".encode("latin-1"), "text/plain; charset=latin-1", "    caf\u00e9\n"),
    (b"\xff\xfe", "text/plain", "    Hex\n    0000000000 ff fe"),
    # A charset Python does not know: read as UTF-8.
    (b"x", "text/plain; charset=bogus", "    x\n"),
])
def test_body_in_declared_charset(content, content_type, shown):
    assert response_body_output(content, [("Content-Type", content_type)]).startswith(shown)


def test_encoded_bodies_are_shown_decoded_and_pretty():
    import gzip
    assert response_body_output(gzip.compress(b"plain words"), [
        ("Content-Type", "text/plain"), ("Content-Encoding", "gzip")]) == \
        "    [decoded gzip] Raw\n    plain words\n\n"
    assert response_body_output(gzip.compress(b'{"a": [1, "two"]}'), [
        ("Content-Type", "application/json"), ("Content-Encoding", "gzip")]) == (
        '    [decoded gzip] JSON\n    {\n      "a": [\n        1,\n        "two"\n      ]\n'
        '    }\n\n')


def test_a_body_no_view_can_read_is_shown_raw_with_a_note():
    m, out, _ = master_with(flow_detail=3, verbosity=2)
    m.dispatch("response", make_flow(content=b"{not json", headers=[
        ("Content-Type", "application/json")]))
    assert "\n    Couldn't parse: falling back to Raw\n    {not json\n" in out.getvalue()
    assert "content view failed: invalid JSON: Expecting property name" in out.getvalue()
    assert response_body_output(b"not gzip", [("Content-Encoding", "gzip")]) == \
        "    Couldn't decode gzip: falling back to Raw\n    not gzip\n\n"


def test_hostile_bodies_cannot_move_the_cursor():
    text = response_body_output("a\x1b[2Jb\rc\x08d\n\u202ee".encode(), [
        ("Content-Type", "text/plain")])
    assert text == "    a\\x1b[2Jb\\rc\\x08d\n    \\u202ee\n\n"


def test_bodies_are_coloured_on_a_terminal_only():
    """On a terminal (a real pty) the views' styles become ANSI colours; the same output
    to a file or pipe has none."""
    body, headers = b'{"key": "value"}', [("Content-Type", "application/json")]
    assert "\x1b" not in response_body_output(body, headers)
    controller_fd, terminal_fd = os.openpty()
    try:
        with open(terminal_fd, "w", encoding="utf-8", closefd=False) as terminal:
            m = DumpMaster(None, Options(flow_detail=3), terminal, io.StringIO())
            m.dispatch("response", make_flow(content=body, headers=headers))
        # Everything was written before the read; a pty may still hand it over in parts.
        shown = b""
        while b'"value"\x1b[0m' not in shown:
            ready, _, _ = select.select([controller_fd], [], [], 10)
            if not ready:
                break
            shown += os.read(controller_fd, 65536)
        shown = shown.decode()
    finally:
        os.close(terminal_fd)
        os.close(controller_fd)
    assert "\x1b[1;32mJSON\x1b[0m" in shown
    assert '\x1b[34m"key"\x1b[0m: \x1b[32m"value"\x1b[0m' in shown


def test_large_json_bodies_are_cut_off_at_dd_and_shown_whole_at_ddd():
    import json
    body = json.dumps([{"id": i, "tags": ["a", "b"]} for i in range(5_000)]).encode()
    headers = [("Content-Type", "application/json")]
    total = json.dumps(json.loads(body), indent=2).count("\n") + 1
    text = response_body_output(body, headers)
    # The description, 70 lines, the marker, the blank line after the body.
    assert text.count("\n") == 1 + dump.BODY_LINES + 1 + 1
    assert f"    (cut off after 70 lines; {total - 70} more; use -ddd for all)\n" in text
    text = response_body_output(body, headers, flow_detail=4)
    assert text.count("\n") == 1 + total + 1 and "cut off" not in text


def test_missing_content_and_empty_bodies():
    m, out, _ = master_with(flow_detail=3)
    f = make_flow(content=b"")
    m.dispatch("response", f)
    assert "content missing" not in out.getvalue()
    f.response.content = None
    m.dispatch("response", f)
    assert " << 200 OK (content missing)\n" in out.getvalue()
    assert "    (content missing)\n" in out.getvalue()


def test_error_line():
    m, out, _ = master_with()
    f = make_flow(status=None)
    f.error = Error("Connection refused")
    m.dispatch("error", f)
    assert out.getvalue() == \
        "127.0.0.1 GET http://example.com/path\n << error: Connection refused\n"


def test_quiet_master_prints_nothing():
    m, out, err = master_with(flow_detail=0, verbosity=0)
    m.dispatch("response", make_flow())
    m.dispatch("log", LogEntry("clientconnect", "info"))
    m.dispatch("tcp_message", tcp_flow())
    assert out.getvalue() == "" and err.getvalue() == ""


def test_control_characters_are_escaped():
    m, out, _ = master_with(flow_detail=2)
    f = make_flow(path="/a\x1b[2Jb")
    f.request.headers["X-Evil"] = "one\rtwo"
    m.dispatch("response", f)
    text = out.getvalue()
    assert "\x1b" not in text and "\r" not in text
    assert "/a\\x1b[2Jb" in text and "X-Evil: one\\rtwo" in text


def test_showhost_uses_the_host_header():
    f = make_flow()
    f.request.headers["Host"] = "shown.example"
    m, out, _ = master_with()
    m.dispatch("response", f)
    assert "http://example.com/path" in out.getvalue()
    m, out, _ = master_with(showhost=True)
    m.dispatch("response", f)
    assert "http://shown.example/path" in out.getvalue()


def test_unusual_http_versions_replay_and_sticky_cookies_are_marked():
    f = make_flow()
    f.request.http_version = "HTTP/2.0"
    f.request.stickycookie = True
    f.response.is_replay = True
    f.client_conn = None
    m, out, _ = master_with()
    m.dispatch("response", f)
    assert out.getvalue() == ("[stickycookie] [replay] GET http://example.com/path HTTP/2.0\n"
                              "[replay] << 200 OK 5b\n")


@pytest.mark.parametrize("verbosity, shown", [
    (0, ["error"]), (1, ["error", "warn", "info", "other"]),
    (2, ["error", "warn", "info", "other", "debug"]),
])
def test_log_entries_by_verbosity(verbosity, shown):
    m, out, err = master_with(verbosity=verbosity)
    for level in ("error", "warn", "info", "debug", "other"):
        m.dispatch("log", LogEntry(f"a {level} entry", level))
    printed = [line.split()[1] for line in (out.getvalue() + err.getvalue()).splitlines()]
    assert sorted(printed) == sorted(shown)
    assert err.getvalue() == ("a error entry\n" if shown else "")


def test_handler_errors_are_reported_not_raised():
    m, _, err = master_with()
    f = make_flow()
    f.request = None
    f.response = "not a response"  # type: ignore[assignment]
    m.dispatch("response", f)
    assert "error in the 'response' handler" in err.getvalue()


def tcp_flow() -> TCPFlow:
    f = TCPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 22)))
    f.messages = [TCPMessage(True, b"SSH-2.0\r\n")]
    return f


def test_tcp_messages():
    m, out, _ = master_with(flow_detail=3)
    f = tcp_flow()
    m.dispatch("tcp_message", f)
    f.messages.append(TCPMessage(False, b"reply"))
    m.dispatch("tcp_message", f)
    assert out.getvalue() == (
        "127.0.0.1:5000 -> tcp -> example.com:22\n\n    SSH-2.0\n"
        "127.0.0.1:5000 <- tcp <- example.com:22\n\n    reply\n")
    m.dispatch("tcp_message", TCPFlow(None, None))  # no message yet: nothing to show
    assert out.getvalue().count(" tcp ") == 2


# --- writing ------------------------------------------------------------------------------

def read_flows(path) -> list:
    with open(path, "rb") as fo:
        return list(FlowReader(fo).stream())


def test_writes_completed_flows(tmp_path):
    path = tmp_path / "flows"
    m, _, _ = master_with(outfile=(str(path), "wb"), flow_detail=0)
    m.dispatch("response", make_flow("/1"))
    failed = make_flow("/2", status=None)
    failed.error = Error("refused")
    m.dispatch("error", failed)
    # Written as they complete (by the writer's thread), before close.
    deadline = time.monotonic() + 10
    while len(read_flows(path)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [f.request.path for f in read_flows(path)] == ["/1", "/2"]
    m.close()
    m.close()
    back = read_flows(path)
    assert back[1].error.msg == "refused"


def test_error_after_response_is_not_written_twice(tmp_path):
    path = tmp_path / "flows"
    m, out, _ = master_with(outfile=(str(path), "wb"))
    f = make_flow()
    m.dispatch("response", f)
    f.error = Error("client went away")
    m.dispatch("error", f)
    m.close()
    assert len(read_flows(path)) == 1
    assert out.getvalue().endswith(" << error: client went away\n")


def test_written_ids_memory_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(filewriter, "RECENT_IDS", 3)
    m, _, _ = master_with(outfile=(str(tmp_path / "f"), "wb"), flow_detail=0)
    for i in range(10):
        m.dispatch("response", make_flow(f"/{i}"))
    assert len(m.get_feature(filewriter.FileWriter)._written) == 3
    m.close()


def test_a_stalled_disk_holds_the_hook_and_loses_nothing(tmp_path, monkeypatch):
    """At most MAX_WAITING flows wait for the writer; then the hook (the connection)
    waits for room, so memory stays bounded; once the disk moves, every flow is written."""
    monkeypatch.setattr(filewriter, "MAX_WAITING", 4)
    path = tmp_path / "flows"
    m, _, _ = master_with(outfile=(str(path), "wb"), flow_detail=0)
    disk = threading.Event()
    encode = filewriter.encode_flow
    monkeypatch.setattr(filewriter, "encode_flow", lambda flow: (disk.wait(), encode(flow))[1])
    hooks = threading.Thread(
        target=lambda: [m.dispatch("response", make_flow(f"/{i}")) for i in range(10)])
    hooks.start()
    deadline = time.monotonic() + 10
    waiting = m.get_feature(filewriter.FileWriter)._waiting
    while waiting.qsize() < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert hooks.is_alive()  # held: the writer is stuck on its first flow
    assert 3 <= waiting.qsize() <= 4
    disk.set()
    hooks.join(10)
    assert not hooks.is_alive()
    m.close()
    assert [f.request.path for f in read_flows(path)] == [f"/{i}" for i in range(10)]


def logged_errors(m: DumpMaster) -> list[str]:
    """The errors other threads queued for the master (its loop does not run here)."""
    return [e.obj.msg for e in list(m.event_queue.queue)
            if e.mtype == "log" and e.obj.level == "error"]


@pytest.mark.parametrize("spoil", ["value", "cycle"])
def test_a_flow_that_cannot_be_encoded_is_left_out_and_named(tmp_path, spoil):
    """A script put something in a flow that flow files cannot carry: that flow is left
    out with an error naming it, the flows around it are written."""
    path = tmp_path / "flows"
    m, _, _ = master_with(outfile=(str(path), "wb"), flow_detail=0)
    m.dispatch("response", make_flow("/before"))
    bad = make_flow("/bad")
    if spoil == "value":
        bad.marked = object()
    else:
        cycle: list = []
        cycle.append(cycle)
        bad.marked = cycle
    m.dispatch("response", bad)
    m.dispatch("response", make_flow("/after"))
    m.close()
    assert [f.request.path for f in read_flows(path)] == ["/before", "/after"]
    errors = logged_errors(m)
    assert len(errors) == 1 and f"flow {bad.id} not written" in errors[0]


def test_a_failed_write_ends_recording_once_and_the_proxy_goes_on(tmp_path, monkeypatch):
    m, _, _ = master_with(outfile=(str(tmp_path / "flows"), "wb"), flow_detail=0)
    feature = m.get_feature(filewriter.FileWriter)

    def disk_full(data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(feature.file, "write", disk_full)
    for i in range(5):
        m.dispatch("response", make_flow(f"/{i}"))
    m.close()
    errors = logged_errors(m)
    assert len(errors) == 1
    assert "No space left on device" in errors[0] and "without recording" in errors[0]


def test_append_mode(tmp_path):
    path = tmp_path / "flows"
    with open(path, "wb") as fo:
        FlowWriter(fo).add(make_flow("/old"))
    m, _, _ = master_with(outfile=(str(path), "ab"), flow_detail=0)
    m.dispatch("response", make_flow("/new"))
    m.close()
    assert [f.request.path for f in read_flows(path)] == ["/old", "/new"]


def test_unopenable_flow_file(tmp_path):
    with pytest.raises(dump.DumpError, match="cannot open flow file"):
        master_with(outfile=(str(tmp_path / "no" / "such" / "dir"), "wb"))


# --- the event policy -----------------------------------------------------------------------

def test_observed_events_are_told_the_rest_skipped():
    m, _, _ = master_with()
    channel = m.make_channel()
    assert {e: channel.policy.action(e) for e in (
        "response", "error", "log", "tcp_message", "request", "responseheaders",
        "clientconnect", "serverdisconnect", "anything")} == {
        "response": "tell", "error": "tell", "log": "tell", "tcp_message": "tell",
        "request": "skip", "responseheaders": "skip", "clientconnect": "skip",
        "serverdisconnect": "skip", "anything": "skip"}


def test_quiet_without_file_skips_flows(tmp_path):
    m, _, _ = master_with(flow_detail=0, verbosity=0)
    policy = m.event_policy
    assert [policy.action(e) for e in ("response", "error", "log", "tcp_message", "request")] \
        == ["skip", "skip", "tell", "skip", "skip"]
    m, _, _ = master_with(flow_detail=0, outfile=(str(tmp_path / "f"), "wb"))
    assert m.event_policy.action("response") == "tell"
    assert m.event_policy.action("request") == "skip"
    m.close()


def test_log_entries_it_would_not_print_are_not_queued():
    """-q shows only errors: a connection thread does not wake the master for the rest,
    and the filter follows the verbosity as it is now, not as it was at startup."""
    m, _, _ = master_with(verbosity=0)
    policy = m.make_channel().policy
    assert policy.wants_log("error")
    assert not policy.wants_log("debug") and not policy.wants_log("info")
    m.options.verbosity = 2
    assert policy.wants_log("debug") and policy.wants_log("unknown-level")
    m.set_event_policy({"log": "skip"})
    assert not policy.wants_log("error")


def test_told_events_go_through_the_channel_without_waiting(tmp_path):
    """A connection thread hooks a response: it goes on at once, the master prints it."""
    m, out, _ = master_with()
    channel = m.make_channel()
    f = make_flow()
    assert channel.hook("request", f) is f  # skipped: never queued
    assert channel.hook("response", f) is f  # told: queued, not waited for
    assert m.event_queue.qsize() == 1
    m.shutdown()
    m.run()  # drains what was told before the shutdown
    assert " << 200 OK" in out.getvalue()


def test_drain_handles_only_told_events():
    m, out, _ = master_with()
    m.event_queue.put(controller.Event("response", make_flow("/asked"), controller.Reply(None)))
    m.event_queue.put(controller.Event("response", make_flow("/told"),
                                       controller.DummyReply()))
    m.shutdown()
    m.run()
    assert "/told" in out.getvalue() and "/asked" not in out.getvalue()


class ClosedPipe(io.StringIO):
    def write(self, s: str) -> int:
        raise BrokenPipeError


def test_a_closed_output_pipe_stops_mitmdump():
    m = DumpMaster(None, Options(), ClosedPipe(), io.StringIO())
    m.dispatch("response", make_flow())
    assert m.should_exit.is_set()
    m.dispatch("response", make_flow())  # nothing more is printed, nothing raised


def test_options_from_dict_ignores_other_tools_options():
    options = Options.from_dict({"flow_detail": 3, "verbosity": 2, "app": True,
                                 "no_server": False})
    assert options == Options(flow_detail=3, verbosity=2)


# === the real command =======================================================================

class Origin(http.server.BaseHTTPRequestHandler):
    """The origin server: answers "origin: <path>" (and echoes a POST body)."""

    def do_GET(self) -> None:
        body = f"origin: {self.path}".encode()
        if self.path.startswith("/lines"):
            body = "".join(f"line {i}\n" for i in range(100)).encode()
        self._send(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self._send(b"posted: " + self.rfile.read(length))

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serving(context: ssl.SSLContext | None, name: str) -> Iterator[int]:
    """An ``Origin`` on 127.0.0.1 (over TLS with ``context``) on a thread: yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


@pytest.fixture(scope="module")
def origin() -> Iterator[int]:
    with serving(None, "test origin") as port:
        yield port


def test_prints_each_flow(mitmdump, origin):
    m = mitmdump().started()
    assert m.get(f"http://127.0.0.1:{origin}/hello").text == "origin: /hello"
    assert m.wait_for("GET") == f"127.0.0.1 GET http://127.0.0.1:{origin}/hello\n"
    assert m.wait_for("<<") == " << 200 OK 14b\n"
    rc, _ = m.stop()
    assert rc == 0 and m.err == ""


@pytest.mark.parametrize("flag, shown, not_shown", [
    ("-d", ["    Content-Type: text/plain\n"], ["    line 0\n"]),
    ("-dd", ["    Content-Type: text/plain\n", "    line 69\n",
             "    (cut off after 70 lines; 30 more; use -ddd for all)\n"],
     ["    line 70\n", "\x1b"]),
    ("-ddd", ["    line 99\n"], ["cut off", "\x1b"]),
])
def test_detail_levels(mitmdump, origin, flag, shown, not_shown):
    m = mitmdump(flag).started()
    m.get(f"http://127.0.0.1:{origin}/lines")
    m.wait_for("<< 200 OK")
    rc, out = m.stop()
    assert rc == 0
    for text in shown:
        assert text in out
    for text in not_shown:
        assert text not in out


def test_bodies_through_content_views(mitmdump, origin, tmp_path):
    """-dd shows a gzip-encoded JSON request body (sent by curl) decoded and
    pretty-printed under its description, and piped output has no colour codes."""
    import gzip
    body = tmp_path / "body.json.gz"
    body.write_bytes(gzip.compress(b'{"user": "alice", "roles": ["admin"]}'))
    m = mitmdump("-dd").started()
    m.fetch("-s", "-H", "Content-Type: application/json", "-H", "Content-Encoding: gzip",
            "--data-binary", f"@{body}", f"http://127.0.0.1:{origin}/api")
    m.wait_for("<< 200 OK")
    rc, out = m.stop()
    assert rc == 0
    assert ('    [decoded gzip] JSON\n    {\n      "user": "alice",\n      "roles": [\n'
            '        "admin"\n      ]\n    }\n') in out
    assert "\x1b" not in out


def test_verbose_shows_debug_log_entries(mitmdump, origin):
    m = mitmdump("-v").started()
    m.get(f"http://127.0.0.1:{origin}/")
    m.wait_for("serverconnect")
    m.wait_for("<< 200 OK")
    m.stop()


def test_quiet_mitmdump_prints_nothing_but_records(mitmdump, origin, tmp_path, free_port):
    m = mitmdump("-q", "-w", str(tmp_path / "flows"), port=free_port).wait_ready_silently()
    assert m.get(f"http://127.0.0.1:{origin}/quiet").text == "origin: /quiet"
    rc, out = m.stop()
    assert (rc, out, m.err) == (0, "", "")
    assert [f.request.path for f in read_flows(tmp_path / "flows")] == ["/quiet"]


def test_error_line_for_an_unreachable_server(mitmdump, free_port):
    m = mitmdump().started()
    assert m.get(f"http://127.0.0.1:{free_port}/").status_code == 502
    assert m.wait_for("<< error:").startswith(" << error: ")
    m.stop()


def test_written_flows_read_back(mitmdump, origin, tmp_path):
    path = tmp_path / "flows"
    m = mitmdump("-w", str(path)).started()
    m.get(f"http://127.0.0.1:{origin}/one")
    m.post(f"http://127.0.0.1:{origin}/two", b"payload")
    m.wait_for("POST")
    m.wait_for("<<")
    rc, _ = m.stop()
    assert rc == 0
    one, two = read_flows(path)
    assert (one.request.method, one.request.url) == ("GET", f"http://127.0.0.1:{origin}/one")
    assert (one.response.status_code, one.response.content) == (200, b"origin: /one")
    assert (two.request.method, two.request.content) == ("POST", b"payload")
    assert two.response.content == b"posted: payload"
    assert two.client_conn.address.host == "127.0.0.1"


def test_w_replaces_and_a_appends(mitmdump, origin, tmp_path):
    path = tmp_path / "flows"
    with open(path, "wb") as fo:
        FlowWriter(fo).add(make_flow("/old"))
    m = mitmdump("-a", str(path)).started()
    m.get(f"http://127.0.0.1:{origin}/appended")
    m.wait_for("<<")
    m.stop()
    assert [f.request.path for f in read_flows(path)] == ["/old", "/appended"]
    m = mitmdump("-w", str(path)).started()
    m.get(f"http://127.0.0.1:{origin}/new")
    m.wait_for("<<")
    m.stop()
    assert [f.request.path for f in read_flows(path)] == ["/new"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_signals_end_cleanly_with_every_answered_flow_written(mitmdump, origin, tmp_path,
                                                             signum):
    """The signal comes right after the clients got their answers, without waiting for
    mitmdump to print them: every answered flow is still in the file."""
    path = tmp_path / "flows"
    m = mitmdump("-w", str(path)).started()
    for i in range(5):
        m.get(f"http://127.0.0.1:{origin}/{i}")
    rc, out = m.stop(signum)
    assert rc == 0
    assert m.err == ""
    assert [f.request.path for f in read_flows(path)] == [f"/{i}" for i in range(5)]
    assert out.count(" << 200 OK") == 5


def test_no_server_writes_nothing_and_waits_for_a_signal(mitmdump, tmp_path):
    path = tmp_path / "flows"
    m = mitmdump("-n", "-w", str(path)).wait_ready_silently()
    rc, out = m.stop()
    assert (rc, out, m.err) == (0, "", "")
    assert path.read_bytes() == b""


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("mitmdump: error: ")
    return result.stderr


def test_bad_flag_is_one_line_and_exit_2(mitmdump_once):
    result = mitmdump_once("-p", "eighty", port=None)
    assert result.returncode == 2
    assert "argument -p/--port: invalid port 'eighty'" in one_line_error(result)


def test_unknown_flag(mitmdump_once):
    result = mitmdump_once("--no-such-flag")
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in one_line_error(result)


def test_unreadable_cert_is_one_line(mitmdump_once, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate")
    result = mitmdump_once("--cert", f"example.com={cert}")
    assert result.returncode == 2
    assert "argument --cert: " in one_line_error(result)


def test_port_in_use_is_one_line_and_exit_1(mitmdump_once):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = mitmdump_once(port=taken.getsockname()[1])
    assert result.returncode == 1
    assert "Error starting proxy server" in one_line_error(result)


def test_unwritable_flow_file_is_one_line_and_exit_1(mitmdump_once, tmp_path):
    result = mitmdump_once("-w", str(tmp_path / "no" / "dir" / "f"))
    assert result.returncode == 1
    assert "cannot open flow file" in one_line_error(result)


def test_help_and_version(mitmdump_once):
    result = mitmdump_once("--help", port=None)
    assert result.returncode == 0
    for flag in ("-w", "-a", "-q", "-d", "-R", "-U", "--cadir", "--ca-dir", "--insecure",
                 "--noapp", "--app-host", "--app-port", "--no-http2", "--body-size-limit"):
        assert flag in result.stdout
    result = mitmdump_once("--version", port=None)
    assert (result.returncode, result.stdout.split()[0]) == (0, "mitmdump")


def test_mitmdump_function_with_argv(capsys, mitmdump_cadir):
    from libmproxy import main
    with pytest.raises(SystemExit) as excinfo:
        main.mitmdump(["--cadir", mitmdump_cadir, "--app-port", "x"])
    assert excinfo.value.code == 2
    assert "argument --app-port" in capsys.readouterr().err


# --- the onboarding app through the proxy -----------------------------------------------------

def test_onboarding_through_the_proxy(mitmdump, mitmdump_cadir):
    m = mitmdump().started()
    with open(os.path.join(mitmdump_cadir, "mitmproxy-ca-cert.pem"), "rb") as f:
        assert m.fetch("http://mitm.it/cert/pem") == f.read()
    with open(os.path.join(mitmdump_cadir, "mitmproxy-ca-cert.p12"), "rb") as f:
        assert m.fetch("http://mitm.it/cert/p12") == f.read()
    response = m.get("http://mitm.it/")
    assert response.status_code == 200 and "Windows" in response.text
    assert m.get("http://mitm.it/nothing").status_code == 404
    m.wait_for("GET http://mitm.it/nothing")
    m.stop()


def test_onboarding_over_https(mitmdump, mitmdump_cadir):
    """Browsers upgrade a typed mitm.it to https: the intercepted connection gets the app."""
    m = mitmdump().started()
    ca = os.path.join(mitmdump_cadir, "mitmproxy-ca-cert.pem")
    result = m.curl("--cacert", ca, "https://mitm.it/cert/pem")
    with open(ca, "rb") as f:
        assert result.stdout == f.read(), result.stderr
    m.stop()


def test_app_host_and_port_move_the_app(mitmdump, origin, mitmdump_cadir):
    """The app answers at the address given, before any connection to it is made."""
    m = mitmdump("--app-host", "127.0.0.1", "--app-port", str(origin)).started()
    response = m.get(f"http://127.0.0.1:{origin}/cert/pem")
    assert response.headers["content-type"] == "application/x-x509-ca-cert"
    with open(os.path.join(mitmdump_cadir, "mitmproxy-ca-cert.pem"), "rb") as f:
        assert response.content == f.read()
    m.stop()


def test_noapp_sends_the_app_address_upstream(mitmdump, origin):
    m = mitmdump("--noapp", "--app-host", "127.0.0.1", "--app-port", str(origin)).started()
    assert m.get(f"http://127.0.0.1:{origin}/cert/pem").text == "origin: /cert/pem"
    m.stop()


# --- modes ------------------------------------------------------------------------------------

def test_reverse_mode(mitmdump, origin):
    m = mitmdump("-R", f"http://127.0.0.1:{origin}").started()
    with requests.Session() as session:
        session.trust_env = False
        response = session.get(f"http://127.0.0.1:{m.port}/reversed", timeout=WAIT)
    assert response.text == "origin: /reversed"
    assert f"GET http://127.0.0.1:{origin}/reversed" in m.wait_for("GET")
    m.stop()


def test_upstream_mode_chains_two_mitmdumps(mitmdump, origin):
    upstream = mitmdump().started()
    front = mitmdump("-U", f"http://127.0.0.1:{upstream.port}").started()
    assert front.get(f"http://127.0.0.1:{origin}/chained").text == "origin: /chained"
    front.wait_for("/chained")
    upstream.wait_for("/chained")
    front.stop()
    upstream.stop()


# --- TLS -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_origin(pki) -> Iterator[tuple[int, str]]:
    """An HTTPS origin on 127.0.0.1 with a certificate of the session's origin CA (which
    mitmdump does not trust by default): yields (port, path of that CA's certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.origin_cert_file)
    with serving(context, "test TLS origin") as port:
        yield port, pki.origin_ca_cert


def test_https_is_intercepted_with_the_cadir_ca(mitmdump, mitmdump_cadir, tls_origin):
    """The client trusts the proxy's CA; --insecure lets the proxy accept the origin's."""
    port, _origin_ca = tls_origin
    m = mitmdump("--insecure").started()
    result = m.curl("--cacert", os.path.join(mitmdump_cadir, "mitmproxy-ca-cert.pem"),
                    f"https://127.0.0.1:{port}/secret")
    assert result.stdout == b"origin: /secret", result.stderr
    assert m.wait_for("GET") == f"127.0.0.1 GET https://127.0.0.1:{port}/secret\n"
    m.stop()


def test_upstream_certificates_are_verified_unless_trusted(mitmdump, mitmdump_cadir, tls_origin):
    port, origin_ca = tls_origin
    proxy_ca = os.path.join(mitmdump_cadir, "mitmproxy-ca-cert.pem")
    m = mitmdump().started()
    result = m.curl("--cacert", proxy_ca, f"https://127.0.0.1:{port}/")
    assert b"origin:" not in result.stdout
    m.stop()
    m = mitmdump("--upstream-trusted-ca", origin_ca).started()
    assert m.fetch("--cacert", proxy_ca, f"https://127.0.0.1:{port}/trusted") == \
        b"origin: /trusted"
    m.stop()


# --- main.mitmdump in this process (the subprocess runs are not measured for coverage) ---------

def signal_when_ready(action=None) -> threading.Thread:
    """A thread that waits until mitmdump's stop handler is installed, runs ``action``,
    then sends this process SIGTERM, as a user pressing ^C would."""
    from libmproxy import main

    def run() -> None:
        # Like every thread but the main one, this one must not take the signal itself.
        signal.pthread_sigmask(signal.SIG_BLOCK, main.STOP_SIGNALS)
        for _ in range(int(WAIT / 0.01)):
            handler = signal.getsignal(signal.SIGTERM)
            if getattr(handler, "__self__", None).__class__ is main._SignalStopper:
                break
            threading.Event().wait(0.01)  # polling for readiness, not for correctness
        try:
            if action is not None:
                action()
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=run, name="test signaller")
    thread.start()
    return thread


def test_in_process_run_serves_writes_and_stops_on_sigterm(capsys, mitmdump_cadir, origin,
                                                           tmp_path, free_port):
    from libmproxy import main
    port = free_port
    answers = []

    def fetch() -> None:
        with requests.Session() as session:
            session.trust_env = False
            answers.append(session.get(f"http://127.0.0.1:{origin}/inproc", timeout=WAIT,
                                       proxies={"http": f"http://127.0.0.1:{port}"}).text)

    previous = signal.getsignal(signal.SIGTERM)
    thread = signal_when_ready(fetch)
    rc = main.mitmdump(["--cadir", mitmdump_cadir, "-b", "127.0.0.1", "-p", str(port),
                        "-w", str(tmp_path / "flows")])
    thread.join(WAIT)
    assert rc == 0 and answers == ["origin: /inproc"]
    assert signal.getsignal(signal.SIGTERM) is previous
    out = capsys.readouterr().out
    assert f"Proxy server listening at http://127.0.0.1:{port}/" in out
    assert " << 200 OK" in out
    assert [f.request.path for f in read_flows(tmp_path / "flows")] == ["/inproc"]


def test_in_process_no_server(capsys, mitmdump_cadir, tmp_path):
    from libmproxy import main
    thread = signal_when_ready()
    assert main.mitmdump(["--cadir", mitmdump_cadir, "-n", "-a", str(tmp_path / "f")]) == 0
    thread.join(WAIT)
    assert capsys.readouterr().out == ""


def test_in_process_startup_errors(capsys, mitmdump_cadir, tmp_path):
    from libmproxy import main
    assert main.mitmdump(["--cadir", mitmdump_cadir, "-w", str(tmp_path / "no" / "f")]) == 1
    assert "cannot open flow file" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main.mitmdump(["--cadir", mitmdump_cadir, "-b", "127.0.0.1", "-p",
                              str(taken.getsockname()[1])]) == 1
    assert "Error starting proxy server" in capsys.readouterr().err


def test_listening_line_shapes():
    from libmproxy import main

    class Server:
        address = ("::1", 8080)

    assert main._listening_line(Server()) == "Proxy server listening at http://[::1]:8080/"
    Server.address = ("", 8080)
    assert main._listening_line(Server()) == "Proxy server listening at http://*:8080/"
    assert main._listening_line(object()) == "Proxy server listening"


def test_make_apps_keys_the_host_lowercase(tmp_path):
    from libmproxy import main
    apps = main.make_apps({"app": True, "app_host": "MITM.it", "app_port": 80}, str(tmp_path))
    assert sorted(apps) == [("mitm.it", 80), ("mitm.it", 443)]
    assert main.make_apps({"app": False, "app_host": "x", "app_port": 1}, str(tmp_path)) == {}

"""Inline scripts (``-s "script.py args"``): the Script feature in a FlowMaster fed by hand,
then the real mitmdump with curl through it.

Every script a test uses is written into the test's tmp_path. No test sleeps: waits are on
mitmdump's output or on events, each with a deadline that is only reached when a test fails.
"""
from __future__ import annotations

import queue
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import mitmproxy
from libmproxy import ctx
from libmproxy.controller import DummyReply
from libmproxy.dump import DumpError, DumpMaster, Options
from libmproxy.exceptions import ScriptException
from libmproxy.flow import FlowWriter
from libmproxy.flow.master import FlowMaster
from libmproxy.models import (
    ClientConnection, Error, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection,
)
from libmproxy.script import Script, ScriptContext, concurrent, parse_command

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

WAIT = 20.0  # seconds; reached only when something is broken


def write(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source))
    return path


def make_flow(path: str = "/", response: bool = True, error: bool = False) -> HTTPFlow:
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 5000)),
                    ServerConnection(("example.com", 80)))
    flow.request = HTTPRequest("relative", "GET", "http", "example.com", 80, path,
                               "HTTP/1.1", [("Host", "example.com")], b"")
    if response:
        flow.response = HTTPResponse("HTTP/1.1", 200, "OK", [("Content-Type", "text/plain")],
                                     b"hello bananas")
    if error:
        flow.error = Error("connection reset")
    return flow


class Master(FlowMaster):
    """Keeps what would be printed as (level, text)."""

    def __init__(self) -> None:
        self.logged: list[tuple[str, str]] = []
        super().__init__()

    def add_event(self, e: str, level: str = "info") -> None:
        self.logged.append((level, e))

    def texts(self, level: str | None = None) -> list[str]:
        return [e for lv, e in self.logged if level is None or lv == level]


def with_script(command: str | Path) -> tuple[Master, Script]:
    master = Master()
    script = master.add_feature(Script(str(command)))
    return master, script


# === the -s argument ==========================================================================

def test_command_splits_path_and_arguments_like_a_shell(tmp_path):
    script = write(tmp_path, "s.py", "")
    assert parse_command(f"{script} --foo 42") == [str(script), "--foo", "42"]
    assert parse_command(f"{script} 'two words'") == [str(script), "two words"]


def test_a_path_with_spaces_is_quoted_or_escaped_inside_the_argument(tmp_path):
    (tmp_path / "foo bar").mkdir()
    script = write(tmp_path / "foo bar", "baz.py", "")
    assert parse_command(f"'{script}' 42") == [str(script), "42"]
    escaped = str(script).replace(" ", "\\ ")
    assert parse_command(f"{escaped} 42") == [str(script), "42"]


def test_tilde_is_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path, "s.py", "")
    assert parse_command("~/s.py x") == [str(tmp_path / "s.py"), "x"]


@pytest.mark.parametrize("command, message", [
    ("", "empty script command"),
    ("   ", "empty script command"),
    ("'unbalanced.py", "cannot parse script command"),
    ("/no/such/script.py --foo", "script file not found: /no/such/script.py (if the path "
                                 "contains spaces, quote it"),
])
def test_bad_commands_are_refused_with_one_line(command, message):
    with pytest.raises(ScriptException) as excinfo:
        parse_command(command)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_a_directory_is_not_a_script(tmp_path):
    with pytest.raises(ScriptException, match="script is not a file"):
        Script(str(tmp_path))


# === events ===================================================================================

def test_only_the_events_the_script_defines_are_asked(tmp_path):
    master, script = with_script(write(tmp_path, "s.py", """
        def response(flow):
            pass
    """))
    assert callable(script.response)
    assert not hasattr(script, "request")
    assert master.event_policy.action("response") == "ask"
    assert master.event_policy.action("request") == "skip"
    assert master.event_policy.action("clientconnect") == "skip"


def test_both_signatures_work_chosen_per_function(tmp_path):
    master, _ = with_script(write(tmp_path, "s.py", """
        def request(flow):
            flow.request.headers["new-style"] = "1"

        def response(context, flow):
            assert context.master is not None
            flow.response.headers["old-style"] = "1"
    """))
    flow = make_flow()
    master.load_flow(flow)
    assert flow.request.headers["new-style"] == "1"
    assert flow.response.headers["old-style"] == "1"
    assert master.texts("error") == []


def test_context_state_lasts_from_start_to_the_events(tmp_path):
    """The 0.17 modify_response_body: start(context, argv) keeps its arguments on context."""
    path = write(tmp_path, "s.py", """
        def start(context, argv):
            if len(argv) != 3:
                raise ValueError('Usage: -s "modify_response_body.py old new"')
            context.old, context.new = argv[1].encode(), argv[2].encode()

        def response(context, flow):
            flow.response.content = flow.response.content.replace(context.old, context.new)
    """)
    master, _ = with_script(f"{path} bananas apples")
    flow = make_flow()
    master.load_flow(flow)
    assert flow.response.content == b"hello apples"


@pytest.mark.parametrize("signature, call", [
    ("start()", "seen.append(None)"),
    ("start(context)", "seen.append(type(context).__name__)"),
    ("start(context, argv)", "seen.append(argv)"),
])
def test_start_gets_sys_argv_in_each_signature(tmp_path, signature, call):
    script_path = write(tmp_path, "s.py", f"""
        import sys
        seen = []
        at_load = list(sys.argv)

        def {signature}:
            seen.append(list(sys.argv))
            {call}
    """)
    argv_before = list(sys.argv)
    _, script = with_script(f"{script_path} --foo 42")
    expected = [str(script_path), "--foo", "42"]
    assert script.module.at_load == expected
    assert script.module.seen[0] == expected
    assert script.module.seen[1] in (None, "ScriptContext", expected)
    assert sys.argv == argv_before


def test_the_documented_modify_response_body_script(tmp_path):
    source = """
        import sys

        state = {}

        def start():
            if len(sys.argv) != 3:
                raise ValueError('Usage: -s "modify_response_body.py old new"')
            state["old"], state["new"] = sys.argv[1].encode(), sys.argv[2].encode()

        def response(flow):
            flow.response.content = flow.response.content.replace(state["old"], state["new"])
    """
    path = write(tmp_path, "modify_response_body.py", source)
    master, _ = with_script(f"{path} bananas cherries")
    flow = make_flow()
    master.load_flow(flow)
    assert flow.response.content == b"hello cherries"
    with pytest.raises(ScriptException) as excinfo:
        with_script(f"{path} only-one")
    assert str(excinfo.value) == (
        f"script {path}, line 8, in start: ValueError: "
        "Usage: -s \"modify_response_body.py old new\"")


def test_ctx_log_and_master_from_handlers(tmp_path):
    master, _ = with_script(write(tmp_path, "s.py", """
        import mitmproxy

        def start():
            mitmproxy.ctx.log("started")

        def request(flow):
            mitmproxy.ctx.log("request %s" % flow.request.path)
            mitmproxy.ctx.log.warn("careful")
            mitmproxy.ctx.log("detail", "debug")
            assert mitmproxy.ctx.master is not None
            flow.request.headers["master"] = type(mitmproxy.ctx.master).__name__

        def response(context, flow):
            context.log("from context", level="error")
    """))
    flow = make_flow("/p")
    master.load_flow(flow)
    assert master.logged == [("info", "started"), ("info", "request /p"),
                             ("warn", "careful"), ("debug", "detail"),
                             ("error", "from context")]
    assert flow.request.headers["master"] == "Master"
    assert mitmproxy.ctx is ctx


def test_kill_flow_from_the_context_stops_the_chain(tmp_path):
    master, _ = with_script(write(tmp_path, "s.py", """
        def request(context, flow):
            context.kill_flow(flow)

        def response(flow):
            raise AssertionError("a killed flow has no further events")
    """))
    flow = make_flow()
    master.load_flow(flow)
    assert flow.error.msg == Error.KILLED_MESSAGE
    assert master.texts("error") == []


def test_duplicate_flow_is_a_copy():
    flow = make_flow("/orig")
    copy = ScriptContext(None).duplicate_flow(flow)
    assert copy.id != flow.id and copy.request.path == "/orig"


def test_replay_request_is_the_masters(tmp_path):
    """Without a proxy (mitmdump -n) there is nothing to replay through: the script gets
    the master's reason."""
    from libmproxy.exceptions import ReplayException
    master, script = with_script(write(tmp_path, "s.py", ""))
    with pytest.raises(ReplayException, match="without a proxy configuration"):
        script.context.replay_request(make_flow())


def test_an_import_next_to_the_script_works_and_sys_path_is_restored(tmp_path):
    write(tmp_path, "helper_for_test_script.py", "VALUE = 'from helper'\n")
    path_before = list(sys.path)
    master, _ = with_script(write(tmp_path, "s.py", """
        import helper_for_test_script

        def response(flow):
            flow.response.headers["helper"] = helper_for_test_script.VALUE
    """))
    sys.modules.pop("helper_for_test_script", None)
    assert sys.path == path_before
    flow = make_flow()
    master.load_flow(flow)
    assert flow.response.headers["helper"] == "from helper"


def test_a_script_is_a_module_of_its_own(tmp_path):
    """Dataclasses (which look their module up in sys.modules) work; two loads of one file
    share nothing."""
    source = """
        from __future__ import annotations
        import dataclasses

        @dataclasses.dataclass
        class Count:
            n: int = 0

        count = Count()

        def request(flow):
            count.n += 1
            flow.request.headers["n"] = str(count.n)
    """
    path = write(tmp_path, "s.py", source)
    master = Master()
    first = master.add_feature(Script(str(path)))
    second = master.add_feature(Script(str(path)))
    flow = make_flow()
    master.load_flow(flow)
    assert flow.request.headers.get_all("n") == ["1"]  # the second set the same value again
    assert first.module is not second.module
    assert first.module.count.n == second.module.count.n == 1
    assert first.module.__name__ in sys.modules
    master.done()
    assert first.module.__name__ not in sys.modules


def test_scripts_run_in_the_order_given_and_over_saved_flows_in_event_order(tmp_path):
    source = """
        import mitmproxy

        def start():
            mitmproxy.ctx.log("{n} start")

        def request(flow):
            mitmproxy.ctx.log("{n} request")

        def responseheaders(flow):
            mitmproxy.ctx.log("{n} responseheaders")

        def response(flow):
            mitmproxy.ctx.log("{n} response")

        def error(flow):
            mitmproxy.ctx.log("{n} error")

        def done():
            mitmproxy.ctx.log("{n} done")
    """
    master = Master()
    for n in (1, 2):
        master.add_feature(Script(str(write(tmp_path, f"s{n}.py", source.format(n=n)))))
    master.load_flows([make_flow(error=True), make_flow(response=False)])
    master.done()
    events = ["request", "responseheaders", "response", "error"]
    assert master.texts() == (
        ["1 start", "2 start"]
        + [f"{n} {e}" for e in events for n in (1, 2)]
        + [f"{n} {e}" for e in ("request",) for n in (1, 2)]
        + ["1 done", "2 done"])


# === errors ===================================================================================

def test_an_error_in_an_event_is_logged_with_the_scripts_traceback(tmp_path):
    path = write(tmp_path, "s.py", """
        def response(flow):
            if flow.request.path == "/boom":
                helper()
            flow.response.headers["ok"] = "1"

        def helper():
            raise RuntimeError("boom")
    """)
    master, _ = with_script(path)
    master.load_flow(make_flow("/boom"))
    (text,) = master.texts("error")
    assert text.startswith(f"Script error in {path} (response):\nTraceback")
    assert f'File "{path}", line 4, in response' in text
    assert f'File "{path}", line 8, in helper' in text
    assert text.endswith("RuntimeError: boom")
    assert "_script.py" not in text
    flow = make_flow("/fine")
    master.load_flow(flow)
    assert flow.response.headers["ok"] == "1"


@pytest.mark.parametrize("source, message", [
    ("def response(flow)\n    pass\n", "{path}, line 1: SyntaxError: expected ':'"),
    ("x = 1\nundefined_name\n", "{path}, line 2, in loading: NameError: name "
                                "'undefined_name' is not defined"),
    ("def start():\n    raise ValueError()\n", "{path}, line 2, in start: ValueError"),
    ("def response():\n    pass\n", "{path}: response() must take (flow) or (context, flow)"),
    ("def start(a, b, c):\n    pass\n",
     "{path}: start() must take (), (context) or (context, argv)"),
    ("from mitmproxy.script import concurrent\n@concurrent\ndef start():\n    pass\n",
     "{path}, line 2, in loading: ScriptException: the concurrent decorator is not "
     "supported for 'start'"),
])
def test_a_script_that_cannot_start_is_refused_with_one_line(tmp_path, source, message):
    path = tmp_path / "s.py"
    path.write_text(source)
    modules_before = set(sys.modules)
    with pytest.raises(DumpError) as excinfo:
        DumpMaster(None, Options(scripts=[str(path)]))
    assert str(excinfo.value) == "script " + message.format(path=path)
    assert not [m for m in set(sys.modules) - modules_before if "mitmproxy_script" in m]


def test_a_missing_script_fails_the_dump_master(tmp_path):
    with pytest.raises(DumpError, match="script file not found"):
        DumpMaster(None, Options(scripts=[str(tmp_path / "missing.py")]))


def test_an_error_in_done_is_logged(tmp_path):
    master, _ = with_script(write(tmp_path, "s.py", """
        def done(context):
            raise RuntimeError("at the end")
    """))
    master.done()
    (text,) = master.texts("error")
    assert "(done):" in text and text.endswith("RuntimeError: at the end")


# === reloading ================================================================================

V1 = """
    import mitmproxy

    def start():
        mitmproxy.ctx.log("start {v}")

    def request(flow):
        flow.request.headers["version"] = "{v}"

    def done():
        mitmproxy.ctx.log("done {v}")
"""


def test_reload_swaps_the_module_and_its_handlers(tmp_path):
    path = write(tmp_path, "s.py", V1.format(v=1))
    master, script = with_script(path)
    path.write_text(textwrap.dedent("""
        def response(flow):
            flow.response.headers["version"] = "2"
    """))
    script.reload()
    assert master.texts() == ["start 1", f"Reloading script: {path}", "done 1"]
    assert master.event_policy.action("request") == "skip"
    assert master.event_policy.action("response") == "ask"
    flow = make_flow()
    master.load_flow(flow)
    assert "version" not in flow.request.headers
    assert flow.response.headers["version"] == "2"


def test_a_reload_that_does_not_load_keeps_the_old_version(tmp_path):
    path = write(tmp_path, "s.py", V1.format(v=1))
    master, script = with_script(path)
    path.write_text("def request(flow)\n")
    script.reload()
    assert master.texts("error") == [
        f"script {path}, line 1: SyntaxError: expected ':' (the previous version stays)"]
    assert "done 1" not in master.texts()
    flow = make_flow()
    master.load_flow(flow)
    assert flow.request.headers["version"] == "1"


@pytest.fixture
def running_master() -> Iterator[Callable[[Any], Master]]:
    """run(master): the master's loop on a thread; shut down and joined after the test."""
    started: list[tuple[Master, threading.Thread]] = []

    def run(master: Master) -> Master:
        thread = threading.Thread(target=master.run, name="test master")
        started.append((master, thread))
        thread.start()
        return master

    yield run
    for master, thread in started:
        master.shutdown()
        thread.join(WAIT)
        assert not thread.is_alive()


class Waiting(Master):
    """A Master whose log can be waited on."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        super().__init__()

    def add_event(self, e: str, level: str = "info") -> None:
        with self.changed:
            super().add_event(e, level)
            self.changed.notify_all()

    def wait_for(self, text: str) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: text in self.texts(), WAIT), self.logged



class LogCollector:
    """The feature that puts told "log" events (from other threads) into the master's
    log, as mitmdump's printer does. ``started`` is set when the master's loop has run the
    ``running`` of every feature added before this one."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self.started = threading.Event()

    def running(self) -> None:
        self.started.set()

    def log(self, entry: Any) -> None:
        self.master.add_event(entry.msg, entry.level)


def test_a_changed_file_is_reloaded_by_the_watcher_and_it_stops_at_done(tmp_path,
                                                                      running_master):
    path = write(tmp_path, "s.py", V1.format(v=1))
    master = Waiting()
    master.add_feature(Script(str(path)))
    collector = master.add_feature(LogCollector(master))
    running_master(master)
    assert collector.started.wait(WAIT)  # the script's running() has started the watcher
    assert any(t.name == "script reloader s.py" for t in threading.enumerate())
    path.write_text(textwrap.dedent(V1.format(v=2)) + "\n# longer\n")
    master.wait_for("start 2")
    assert master.texts() == ["start 1", f"Reloading script: {path}", "done 1", "start 2"]
    master.shutdown()
    master.wait_for("done 2")


# === @concurrent ==============================================================================

def test_concurrent_marks_the_handler_the_master_sees(tmp_path):
    _, script = with_script(write(tmp_path, "s.py", """
        from mitmproxy.script import concurrent

        @concurrent
        def request(flow):
            pass

        def response(flow):
            pass
    """))
    assert script.request.concurrent is True
    assert script.response.concurrent is False
    assert concurrent(lambda f: None).concurrent is True


def test_concurrent_handlers_overlap_and_log_through_the_master(tmp_path, running_master):
    """Two requests each wait inside the handler until both are in it: serialized
    handlers would break the barrier. Their ctx.log lines reach the master's log."""
    master = Waiting()
    master.add_feature(Script(str(write(tmp_path, "s.py", """
        import threading
        import mitmproxy
        from mitmproxy.script import concurrent

        both_in = threading.Barrier(2, timeout=20)

        @concurrent
        def request(flow):
            both_in.wait()
            mitmproxy.ctx.log("handled %s on %s" % (flow.request.path,
                                                    threading.current_thread().name))
            flow.request.headers["handled"] = "yes"
    """))))
    master.add_feature(LogCollector(master))
    running_master(master)
    channel = master.make_channel()
    results: queue.Queue = queue.Queue()
    askers = [threading.Thread(target=lambda p=p: results.put(channel.ask("request",
                                                                          make_flow(p))),
                               name="test asker") for p in ("/a", "/b")]
    for t in askers:
        t.start()
    for t in askers:
        t.join(WAIT)
    flows = [results.get_nowait() for _ in askers]
    assert [f.request.headers["handled"] for f in flows] == ["yes", "yes"]
    master.wait_for("handled /a on concurrent hook request")
    master.wait_for("handled /b on concurrent hook request")
    assert master.texts("error") == []


def test_ctx_log_from_another_thread_is_told_to_the_master():
    master = Master()
    ctx.enter(master)
    worker = threading.Thread(target=ctx.log, args=("from a thread",), name="test logger")
    worker.start()
    worker.join(WAIT)
    assert master.logged == []
    event = master.event_queue.get_nowait()
    assert (event.mtype, event.obj.msg, event.obj.level) == ("log", "from a thread", "info")
    assert isinstance(event.reply, DummyReply)


# === the real mitmdump ========================================================================

def curl_i(m: Any, url: str) -> str:
    """``curl -i url`` through mitmdump ``m``: the response's head, then its body."""
    return m.fetch("-i", url).decode()


def header(response: str, name: str) -> str | None:
    head = response.split("\r\n\r\n", 1)[0]
    for line in head.splitlines()[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def test_add_header_script_changes_what_curl_sees(mitmdump, origin, tmp_path):
    script = write(tmp_path, "add_header.py", """
        def response(flow):
            flow.response.headers["newheader"] = "foo"
    """)
    m = mitmdump("-s", str(script)).started()
    assert header(curl_i(m, f"{origin.url}/x"), "newheader") == "foo"
    m.stop()


def test_both_signatures_arguments_and_ctx_log_end_to_end(mitmdump, origin, tmp_path):
    (tmp_path / "my dir").mkdir()
    script = write(tmp_path / "my dir", "my script.py", """
        import sys
        import mitmproxy

        def start(context, argv):
            mitmproxy.ctx.log("start argv=%r sys.argv=%r" % (argv[1:], sys.argv[1:]))

        def request(context, flow):
            flow.request.headers["x-from-script"] = sys_argv_seen[0]
            context.log("request %s" % flow.request.path)

        def response(flow):
            flow.response.headers["x-response"] = "new style"
            mitmproxy.ctx.log("response %s" % flow.response.status_code)

        sys_argv_seen = list(sys.argv[1:])
    """)
    m = mitmdump("-s", f"'{script}' --foo 42").started()
    assert m.out[0] == "start argv=['--foo', '42'] sys.argv=['--foo', '42']\n"
    result = curl_i(m, f"{origin.url}/path")
    assert header(result, "x-response") == "new style"
    assert ("x-from-script", "--foo") in [(k.lower(), v) for k, v in origin.last()["headers"]]
    m.wait_for("request /path")
    m.wait_for("response 200")
    m.wait_for(" << 200 OK")
    m.stop()


def test_concurrent_requests_overlap_end_to_end(mitmdump, origin, tmp_path):
    """The documented nonblocking.py shape: each request waits in the handler until the
    other one is in it too, which only happens if the handlers run at the same time."""
    script = write(tmp_path, "nonblocking.py", """
        import threading
        import mitmproxy
        from mitmproxy.script import concurrent

        both_in = threading.Barrier(2, timeout=20)

        @concurrent
        def request(flow):
            mitmproxy.ctx.log("handle request: %s" % flow.request.path)
            both_in.wait()
            mitmproxy.ctx.log("start request: %s" % flow.request.path)
    """)
    m = mitmdump("-s", str(script)).started()
    results: queue.Queue = queue.Queue()
    clients = [threading.Thread(target=lambda p=p: results.put(curl_i(m, f"{origin.url}{p}")),
                                name="test client") for p in ("/one", "/two")]
    for t in clients:
        t.start()
    for t in clients:
        t.join(WAIT * 2)
    assert [results.get_nowait().startswith("HTTP/1.1 200") for _ in clients] == [True, True]
    _, out = m.stop()
    handles = [out.index(f"handle request: /{p}") for p in ("one", "two")]
    starts = [out.index(f"start request: /{p}") for p in ("one", "two")]
    assert max(handles) < min(starts)  # both were in the handler before either went on
    assert "Error" not in m.err


def test_a_runtime_error_is_printed_and_the_proxy_goes_on(mitmdump, origin, tmp_path):
    script = write(tmp_path, "broken.py", """
        def response(flow):
            if flow.request.path == "/boom":
                raise ValueError("no bananas")
            flow.response.headers["fine"] = "yes"
    """)
    m = mitmdump("-s", str(script)).started()
    assert curl_i(m, f"{origin.url}/boom").startswith("HTTP/1.1 200")
    assert header(curl_i(m, f"{origin.url}/ok"), "fine") == "yes"
    m.wait_for("/ok")
    m.stop()
    assert m.err.startswith(f"Script error in {script} (response):\nTraceback")
    assert f'File "{script}", line 4, in response' in m.err
    assert "ValueError: no bananas" in m.err


@pytest.mark.parametrize("source, message", [
    ("def response(flow)\n", "script {path}, line 1: SyntaxError: expected ':'"),
    ("import sys\nif len(sys.argv) != 3:\n    raise ValueError('Usage: old new')\n",
     "script {path}, line 3, in loading: ValueError: Usage: old new"),
])
def test_a_bad_script_exits_1_with_one_line(mitmdump_once, tmp_path, source, message):
    path = tmp_path / "bad.py"
    path.write_text(source)
    result = mitmdump_once("-s", str(path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"mitmdump: error: {message.format(path=path)}\n"


def test_a_missing_script_exits_1_with_one_line(mitmdump_once, tmp_path):
    result = mitmdump_once("-s", f"{tmp_path}/my script.py --foo")
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"mitmdump: error: script file not found: {tmp_path}/my (if the path contains "
        "spaces, quote it")
    assert result.stderr.count("\n") == 1


def test_a_changed_script_is_reloaded_end_to_end(mitmdump, origin, tmp_path):
    script = write(tmp_path, "versioned.py", """
        def response(flow):
            flow.response.headers["version"] = "1"
    """)
    m = mitmdump("-s", str(script)).started()
    assert header(curl_i(m, f"{origin.url}/"), "version") == "1"
    script.write_text(textwrap.dedent("""
        def response(flow):
            flow.response.headers["version"] = "two"
    """))
    m.wait_for(f"Reloading script: {script}")
    assert header(curl_i(m, f"{origin.url}/"), "version") == "two"
    m.stop()


def test_scripts_over_saved_flows_in_the_documented_order(mitmdump_once, tmp_path):
    flows = tmp_path / "flows.mitm"
    with open(flows, "wb") as fo:
        writer = FlowWriter(fo)
        writer.add(make_flow("/complete"))
        writer.add(make_flow("/failed", response=False, error=True))
    script = write(tmp_path, "order.py", """
        import mitmproxy

        def start():
            mitmproxy.ctx.log("start")

        def request(flow):
            mitmproxy.ctx.log("request " + flow.request.path)

        def responseheaders(flow):
            mitmproxy.ctx.log("responseheaders " + flow.request.path)

        def response(flow):
            mitmproxy.ctx.log("response " + flow.request.path)

        def error(flow):
            mitmproxy.ctx.log("error " + flow.request.path)

        def done():
            mitmproxy.ctx.log("done")
    """)
    result = mitmdump_once("-n", "-r", str(flows), "-s", str(script))
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if "<<" not in line
            and "GET" not in line] == [
        "start", "request /complete", "responseheaders /complete", "response /complete",
        "request /failed", "error /failed", "done"]

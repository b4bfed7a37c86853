"""The console's master without a screen: events in, the store and the replies out;
options changed at run time; saving and loading; the queue's wake-up pipe."""
from __future__ import annotations

import dataclasses
import os
import threading
import time

import pytest
import urwid

from libmproxy import exceptions
from libmproxy.console import liveoptions
from libmproxy.console.loop import WakingQueue, drain
from libmproxy.console.master import ConsoleError, ConsoleMaster, ConsoleOptions
from libmproxy.controller import ASK, DummyServer, TELL
from libmproxy.features import build_chain
from libmproxy.flow.io import FlowWriter
from libmproxy.proxy.config import ProxyConfig
from libmproxy.proxy.log import LogEntry

WAIT = 20.0  # seconds; reached only when something is broken


def names(master):
    return [type(f).__name__ for f in master.addons]


def test_flows_arrive_in_the_store(master, make_flow):
    flow = make_flow(status=None)
    master.dispatch("request", flow)
    assert master.state.flows == [flow]
    flow.response = make_flow().response
    master.dispatch("response", flow)
    assert master.state.flows == [flow]


def test_a_deleted_flow_stays_deleted(master, make_flow):
    flow = make_flow(status=None)
    master.dispatch("request", flow)
    master.state.delete_flow(flow)
    master.dispatch("response", flow)
    assert master.state.flows == []


def test_log_entries_go_to_the_event_log(master):
    master.dispatch("log", LogEntry("hello from the proxy", "info"))
    master.dispatch("log", LogEntry("too chatty", "debug"))
    assert list(master.events) == [("info", "hello from the proxy")]


def test_events_from_other_threads_go_through_the_queue(master):
    thread = threading.Thread(target=master.add_event, args=("from a thread",))
    thread.start()
    thread.join(WAIT)
    assert list(master.events) == []
    drain(master.event_queue, master._dispatch_event)
    assert list(master.events) == [("info", "from a thread")]


def test_every_hook_runs_on_the_loops_thread(master):
    """Asks are never handled on the asking connection's thread: hooks change widgets."""
    assert master.make_channel().inline is None


def test_requests_are_only_told_until_an_intercept_pattern_is_set(master):
    assert master.event_policy.action("request") == TELL
    master.set_intercept("~q")
    assert master.event_policy.action("request") == ASK
    assert master.event_policy.action("response") == ASK
    master.set_intercept(None)
    assert master.event_policy.action("request") == TELL
    with pytest.raises(ValueError):
        master.set_intercept("~nonsense")


def test_intercept_holds_matching_flows_until_accepted(master, make_flow):
    master.set_intercept("~u held")
    held, free = make_flow("/held", status=None), make_flow("/free", status=None)
    held_reply = master.dispatch("request", held)
    free_reply = master.dispatch("request", free)
    assert held.intercepted and not held_reply.done
    assert free_reply.done and not free.intercepted
    assert master.intercepted == [held]
    master.accept(held)
    assert held_reply.done and not held.intercepted and master.intercepted == []


def test_accept_all_and_kill(master, make_flow):
    master.set_intercept("~q")
    flows = [make_flow(f"/{i}", status=None) for i in range(3)]
    replies = [master.dispatch("request", f) for f in flows]
    master.kill_flow(flows[0])
    assert replies[0].killed and flows[0].error is not None
    master.accept_all()
    assert all(r.done for r in replies) and not replies[1].killed
    master.kill_flow(flows[1])  # complete: nothing to kill, and no exception


def test_shutdown_releases_a_waiting_client(master, make_flow):
    """A connection thread asks; the console holds the flow; shutdown answers Kill."""
    master.set_intercept("~q")
    outcome = []

    def client() -> None:
        try:
            master.make_channel().ask("request", make_flow(status=None))
            outcome.append("answered")
        except exceptions.Kill:
            outcome.append("killed")

    thread = threading.Thread(target=client)
    thread.start()
    while not master.state.flows:
        drain(master.event_queue, master._dispatch_event)
    assert master.state.flows[0].intercepted
    master.shutdown()
    thread.join(WAIT)
    assert outcome == ["killed"]


def test_set_options_rebuilds_only_what_changed(master):
    master.set_options(stickycookie="~q", anticache=True)
    assert names(master) == ["StickyCookie", "Anticache", "Recorder"]
    sticky = master.addons[0]
    master.set_options(anticomp=True, anticache=False)
    assert names(master) == ["StickyCookie", "Anticomp", "Recorder"]
    assert master.addons[0] is sticky  # its cookie jar survives
    assert master.options.anticomp and not master.options.anticache


def test_a_bad_option_changes_nothing(master, tmp_path):
    master.set_options(anticache=True)
    before = (list(master.addons), master.options)
    for changes in ({"stickycookie": "~nonsense"}, {"anticomp": True, "limit": "~x ("},
                    {"scripts": [str(tmp_path / "missing.py")]}, {"nonsense": 1},
                    {"ignore_hosts": ["("]}, {"palette": "neon"},
                    {"server_replay": [str(tmp_path / "missing.flows")]}):
        with pytest.raises(ValueError):
            master.set_options(**changes)
        assert (list(master.addons), master.options) == before


def test_scripts_are_kept_while_still_asked_for(master, tmp_path):
    log = tmp_path / "log"
    script = tmp_path / "script.py"
    script.write_text(f"def start(): open({str(log)!r}, 'a').write('start ')\n"
                      f"def done(): open({str(log)!r}, 'a').write('done ')\n")
    master.set_options(scripts=[str(script)])
    master.set_options(anticache=True)
    assert log.read_text() == "start "
    master.set_options(scripts=[])
    assert log.read_text() == "start done "


def test_proxy_settings_change_the_running_config(tmp_path, pki):
    config = ProxyConfig(port=0, cadir=pki.proxy_cadir)
    m = ConsoleMaster(DummyServer(config), ConsoleOptions())
    m.set_options(ignore_hosts=["example\\.com"], no_upstream_cert=True)
    assert config.ignore_hosts(("example.com", 443)) and config.no_upstream_cert
    assert m.options.ignore_hosts == ["example\\.com"]


def test_the_feature_order_is_build_chains(tmp_path, make_flow):
    """liveoptions places features in build_chain's order: the table must agree."""
    saved = tmp_path / "saved.flows"
    with open(saved, "wb") as f:
        FlowWriter(f).add(make_flow())
    script = tmp_path / "script.py"
    script.write_text("")
    options = ConsoleOptions(
        replacements=[("~q", "a", "b")], setheaders=[("~q", "h", "v")],
        scripts=[str(script)], stickycookie="~q", stickyauth="~q", anticache=True,
        anticomp=True, stream_large_bodies=1000, server_replay=[str(saved)],
        client_replay=[str(saved)], outfile=(str(tmp_path / "out"), "wb"))
    chain = build_chain(options)
    assert [type(f).__name__ for f in chain] == [n for n, _ in liveoptions.FEATURE_OPTIONS]
    for f in chain:
        f.done()
    every = {f.name for f in dataclasses.fields(options)}
    assert {o for _, opts in liveoptions.FEATURE_OPTIONS for o in opts} <= every


def settle(master):
    """Handle what the master queued for itself (the steps of a file being loaded), as the
    running loop would."""
    while not master.event_queue.empty():
        drain(master.event_queue, master._dispatch_event)


def test_save_and_load(master, make_flow, tmp_path):
    path = tmp_path / "flows"
    flows = [make_flow("/one"), make_flow("/two")]
    assert master.save_flows(str(path), flows) == 2
    master.load_flows_file(str(path))
    settle(master)
    assert [f.request.path for f in master.state.flows] == ["/one", "/two"]
    assert master.events[-1][1] == "Loaded 2 flows."
    master.load_flows_file(str(tmp_path / "missing"))
    assert "cannot read" in master.events[-1][1]
    assert master.save_flows(str(tmp_path / "no" / "dir"), flows) == 0


def test_a_long_file_loads_in_steps_between_other_events(master, make_flow, tmp_path,
                                                         monkeypatch):
    """``L`` on a big file must not hold the loop's thread (and the proxy's hooks) until
    the whole file is in: each step adds what fits in LOAD_STEP_SECONDS, then the events
    queued meanwhile are handled before the next step."""
    from libmproxy.console import master as console_master

    path = tmp_path / "flows"
    master.save_flows(str(path), [make_flow(f"/{i}") for i in range(50)])
    monkeypatch.setattr(console_master, "LOAD_STEP_SECONDS", 0.0)  # a flow a step
    master.load_flows_file(str(path))
    assert len(master.state.flows) == 1
    proxied = make_flow("/proxied", status=None)
    master.call_soon(lambda: master.state.add_flow(proxied))
    settle(master)
    paths = [f.request.path for f in master.state.flows]
    assert paths.index("/proxied") < 50  # handled between two steps, not after the file
    assert sorted(paths) == sorted(["/proxied", *(f"/{i}" for i in range(50))])
    assert master.events[-1][1] == "Loaded 50 flows."


def test_loaded_flows_are_not_intercepted(master, make_flow, tmp_path):
    path = tmp_path / "flows"
    master.save_flows(str(path), [make_flow()])
    master.set_intercept("~q")
    master.load_flows_file(str(path))
    settle(master)
    assert not master.state.flows[0].intercepted


def test_a_damaged_file_yields_its_complete_flows(master, make_flow, tmp_path):
    path = tmp_path / "flows"
    master.save_flows(str(path), [make_flow("/one"), make_flow("/two")])
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(ConsoleError, match="1 flows loaded"):
        master.read_flows(str(path))
    assert [f.request.path for f in master.state.flows] == ["/one"]
    master.load_flows_file(str(path))
    settle(master)
    assert [f.request.path for f in master.state.flows] == ["/one", "/one"]
    assert master.events[-1][1].endswith("(1 flow loaded)")


def test_a_new_request(master):
    """``n``: a request made by hand, with the Host header a server needs."""
    master.set_intercept("~q")  # nobody waits for it: never held
    flow = master.create_request("POST", "https://example.com:8443/path?q=1")
    assert master.state.flows == [flow] and not flow.intercepted
    request = flow.request
    assert (request.method, request.url) == ("POST", "https://example.com:8443/path?q=1")
    assert request.headers["Host"] == "example.com:8443"
    with pytest.raises(ValueError, match="no-scheme"):
        master.create_request("GET", "no-scheme")


def test_revert(master, make_flow):
    flow = make_flow("/original")
    master.state.add_flow(flow)
    master.revert(flow)  # not modified: a message, nothing else
    flow.backup()
    flow.request.path = "/edited"
    master.revert(flow)
    assert flow.request.path == "/original"


def test_replay_problems_are_messages(master, make_flow):
    flow = make_flow()
    master.state.add_flow(flow)
    assert master.replay(flow) is False  # no proxy configuration here
    assert "configuration" in master.events[-1][1]


def test_startup_errors(tmp_path):
    with pytest.raises(ConsoleError):
        ConsoleMaster(None, ConsoleOptions(scripts=[str(tmp_path / "missing.py")]))
    with pytest.raises(ConsoleError):
        ConsoleMaster(None, ConsoleOptions(intercept="~nonsense"))


def test_the_waking_queue_writes_one_byte_per_pass():
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    try:
        q = WakingQueue()
        q.wake_fd = write_fd
        q.put(1)
        q.put(2)
        assert os.read(read_fd, 100) == b"\0"
        seen = []
        drain(q, seen.append)
        assert seen == [1, 2]
        q.put(3)
        assert os.read(read_fd, 100) == b"\0"
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_script_run_once_on_a_flow(master, make_flow, tmp_path):
    script = tmp_path / "once.py"
    script.write_text("def start(): print('start')\n"
                      "def request(flow): flow.request.path = '/changed'\n"
                      "def response(flow): flow.response.status_code = 418\n")
    flow = make_flow("/original")
    master.state.add_flow(flow)
    master.run_script_once(str(script), flow)
    assert flow.request.path == "/changed" and flow.response.status_code == 418
    master.run_script_once(str(tmp_path / "missing.py"), flow)
    assert "missing.py" in master.events[-1][1]
    master.run_script_once("", flow)  # nothing to run: a message


def test_the_command_line_becomes_console_options():
    from libmproxy import cmdline
    args = cmdline.mitmproxy().parse_args(
        ["-i", "~q", "-l", "~s", "--palette", "light", "--palette-transparent",
         "--no-mouse", "-e", "-f", "--anticache", "-I", "example", "--no-upstream-cert"])
    options = ConsoleOptions.from_dict(cmdline.get_console_options(args))
    assert (options.intercept, options.limit, options.palette) == ("~q", "~s", "light")
    assert options.palette_transparent and options.no_mouse and options.eventlog
    assert options.follow and options.anticache and options.keepserving
    assert options.ignore_hosts == ["example"] and options.no_upstream_cert


def test_redraws_after_proxy_events_are_coalesced(monkeypatch):
    """Events may make the loop go idle many times a second; it draws at most every
    REDRAW_SECONDS then, but at once after a key."""
    import urwid

    from libmproxy.console import loop as console_loop

    class Screen(urwid.display.common.BaseScreen):
        def __init__(self) -> None:
            super().__init__()
            self._started = True
            self.draws = 0

        def get_cols_rows(self):
            return (20, 5)

        def draw_screen(self, size, canvas):
            self.draws += 1

    now = [100.0]
    monkeypatch.setattr(console_loop.time, "monotonic", lambda: now[0])
    screen = Screen()
    loop = console_loop.ConsoleLoop(urwid.SolidFill("x"), screen=screen)
    loop.entering_idle()
    assert screen.draws == 1
    for _ in range(50):  # a burst of events within one interval
        now[0] += console_loop.REDRAW_SECONDS / 100
        loop.entering_idle()
    assert screen.draws == 1
    now[0] += console_loop.REDRAW_SECONDS
    loop.entering_idle()
    assert screen.draws == 2
    loop.process_input(["x"])
    loop.entering_idle()
    assert screen.draws == 3


class RecordingScreen(urwid.display.common.BaseScreen):
    """A screen for running the real loop without a terminal: it records each draw
    (start, end) and can be slow to draw, as a big terminal over a slow link is."""

    def __init__(self, draw_seconds: float = 0.0) -> None:
        super().__init__()
        self.draw_seconds = draw_seconds
        self.draws: list[tuple[float, float]] = []

    def get_cols_rows(self):
        return (80, 24)

    def hook_event_loop(self, event_loop, callback):
        pass  # no keyboard

    def unhook_event_loop(self, event_loop):
        pass

    def draw_screen(self, size, canvas):
        start = time.monotonic()
        time.sleep(self.draw_seconds)  # the terminal taking its time
        self.draws.append((start, time.monotonic()))


def _run_under_load(master, screen, events: int, hook_seconds: float) -> tuple[float, float]:
    """Queue ``events`` events whose hook takes ``hook_seconds`` each, all at once (the
    queue stays full, as under steady load), run the real loop until they are handled;
    (when the first was handled, when the last was)."""
    from libmproxy.console.window import Window

    Window(master)
    handled: list[float] = []

    def hook() -> None:
        time.sleep(hook_seconds)  # a script's hook at work
        handled.append(time.monotonic())
        if len(handled) == events:
            threading.Thread(target=master.shutdown).start()

    for _ in range(events):
        master.call_soon(hook)
    master.run(screen=screen)
    assert len(handled) == events
    return handled[0], handled[-1]


def test_the_screen_is_drawn_while_events_keep_coming():
    """Under steady load urwid never goes idle (where it draws): the console draws after
    its passes over the queue instead, every REDRAW_SECONDS or so."""
    from libmproxy.console import loop as console_loop

    master = ConsoleMaster(DummyServer(), ConsoleOptions())
    screen = RecordingScreen()
    first, last = _run_under_load(master, screen, events=300, hook_seconds=0.004)
    during = [start for start, _ in screen.draws if first < start < last]
    assert len(during) >= (last - first) / console_loop.REDRAW_SECONDS / 3


def test_a_slow_screen_does_not_starve_the_events():
    """Draws that take long are spaced out, so that the events get most of the thread
    (drawing after every pass would take three quarters of it here)."""
    master = ConsoleMaster(DummyServer(), ConsoleOptions())
    screen = RecordingScreen(draw_seconds=0.15)
    first, last = _run_under_load(master, screen, events=200, hook_seconds=0.005)
    drawing = sum(min(end, last) - max(start, first) for start, end in screen.draws
                  if end > first and start < last)
    assert drawing <= (last - first) / 2

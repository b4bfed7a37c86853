"""FlowMaster: the chain of features, the event policy it gives the proxy, @concurrent
handlers, saved flows, and a real proxy whose hooks run through the chain."""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator

import pytest

from libmproxy import controller, exceptions
from libmproxy.controller import Channel
from libmproxy.flow.master import Feature, FlowMaster
from libmproxy.models import (
    ClientConnection, Error, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection,
)

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

WAIT = 10.0  # seconds; only reached if a test fails


def make_flow(path: str = "/", response: bool = False, error: bool = False) -> HTTPFlow:
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 5000)),
                    ServerConnection(("example.com", 80)))
    flow.request = HTTPRequest("relative", "GET", "http", "example.com", 80, path,
                               "HTTP/1.1", [("Host", "example.com")], b"")
    if response:
        flow.response = HTTPResponse("HTTP/1.1", 200, "OK", [], b"body")
    if error:
        flow.error = Error("connection reset")
    return flow


class Recorder(Feature):
    """Appends (name, event) to a shared list for every event it is given."""

    def __init__(self, name: str, log: list, events: tuple[str, ...] = ("request",),
                 observes: tuple[str, ...] = ()) -> None:
        self.name, self.log = name, log
        self.observes = frozenset(observes)
        for event in events:
            setattr(self, event, self._make(event))

    def _make(self, event: str) -> Any:
        def handle(obj: Any) -> None:
            self.log.append((self.name, event))
        return handle


class Master(FlowMaster):
    def __init__(self, server: Any = None) -> None:
        self.logged: list[tuple[str, str]] = []
        super().__init__(server)

    def add_event(self, e: str, level: str = "info") -> None:
        self.logged.append((level, e))


@pytest.fixture
def running() -> Iterator[tuple[Master, Channel]]:
    """A master whose loop runs in a thread, and a channel onto it."""
    master = Master()
    thread = threading.Thread(target=master.run, name="test master")
    thread.start()
    yield master, master.make_channel()
    master.shutdown()
    thread.join(WAIT)
    assert not thread.is_alive()


# --- the chain and the policy ------------------------------------------------------------

def test_features_run_in_chain_order():
    log: list = []
    m = Master()
    m.add_feature(Recorder("a", log))
    m.add_feature(Recorder("b", log))
    m.add_feature(Recorder("first", log), index=0)
    m.dispatch("request", make_flow())
    assert log == [("first", "request"), ("a", "request"), ("b", "request")]


def test_the_policy_asks_tells_or_skips_by_what_the_chain_handles():
    log: list = []
    m = Master()
    assert m.event_policy.action("request") == "skip"
    printer = m.add_feature(Recorder("printer", log, ("response", "error"),
                                     observes=("response", "error")))
    assert m.event_policy.action("response") == "tell"
    assert m.event_policy.action("request") == "skip"
    changer = m.add_feature(Recorder("changer", log, ("response",)))
    assert m.event_policy.action("response") == "ask"
    assert m.event_policy.action("error") == "tell"
    m.remove_feature(changer)
    assert m.event_policy.action("response") == "tell"
    m.remove_feature(printer)
    assert m.event_policy.action("response") == "skip"


def test_a_feature_killing_the_flow_ends_the_chain():
    log: list = []
    m = Master()

    class Killer(Feature):
        def request(self, flow: HTTPFlow) -> None:
            log.append(("killer", "request"))
            flow.reply.kill()

    m.add_feature(Killer())
    m.add_feature(Recorder("after", log))
    reply = m.dispatch("request", make_flow())
    assert log == [("killer", "request")]
    assert reply.killed


def test_an_exception_in_a_feature_is_logged_and_the_chain_goes_on():
    log: list = []
    m = Master()

    class Broken(Feature):
        def request(self, flow: HTTPFlow) -> None:
            raise RuntimeError("boom")

    m.add_feature(Broken())
    m.add_feature(Recorder("after", log))
    m.dispatch("request", make_flow())
    assert log == [("after", "request")]
    level, text = m.logged[0]
    assert level == "error"
    assert "error in the 'request' handler of Broken" in text and "RuntimeError: boom" in text


def test_get_feature_finds_by_class():
    m = Master()
    r = m.add_feature(Recorder("a", []))
    assert m.get_feature(Recorder) is r
    assert m.get_feature(Master) is None


# --- lifecycle ---------------------------------------------------------------------------

def test_configure_running_and_done_are_called_once():
    calls: list = []

    class Life(Feature):
        def configure(self, master: FlowMaster) -> None:
            calls.append(("configure", master))

        def running(self) -> None:
            calls.append("running")

        def done(self) -> None:
            calls.append("done")

    m = Master()
    m.add_feature(Life())
    assert calls == [("configure", m)]
    m.shutdown()
    m.run()  # returns at once after shutdown, having started and finished the features
    m.done()
    assert calls[1:] == ["running", "done"]


# --- @concurrent ---------------------------------------------------------------------------

def test_a_concurrent_handler_runs_on_its_own_thread_and_the_chain_resumes_after_it(running):
    master, channel = running
    log: list = []
    release = threading.Event()
    threads: dict[str, str] = {}

    class Slow(Feature):
        def request(self, flow: HTTPFlow) -> None:
            threads["slow"] = threading.current_thread().name
            assert release.wait(WAIT)
            flow.request.path = "/changed"
            log.append(("slow", "request"))
        request.concurrent = True  # type: ignore[attr-defined]

    class After(Feature):
        def request(self, flow: HTTPFlow) -> None:
            threads["after"] = threading.current_thread().name
            log.append(("after", flow.request.path))

    master.add_feature(Slow())
    master.add_feature(After())
    flows = [make_flow("/a"), make_flow("/b")]
    results: list = []

    def ask(flow: HTTPFlow) -> None:
        results.append(channel.ask("request", flow))

    askers = [threading.Thread(target=ask, args=(f,), name="test asker") for f in flows]
    for t in askers:
        t.start()
    # Both flows are held by the slow handler at once: it does not block the master.
    for _ in range(100):
        if len([t for t in threading.enumerate() if t.name.startswith("concurrent hook")]) == 2:
            break
        threading.Event().wait(0.05)
    assert len([t for t in threading.enumerate()
                if t.name.startswith("concurrent hook")]) == 2
    assert log == []
    release.set()
    for t in askers:
        t.join(WAIT)
    assert sorted(f.request.path for f in results) == ["/changed", "/changed"]
    assert log.count(("after", "/changed")) == 2
    assert threads["slow"].startswith("concurrent hook")
    assert threads["after"] == "test master"


def test_concurrent_handlers_over_saved_flows_keep_the_event_order():
    log: list = []

    class Slow(Feature):
        def request(self, flow: HTTPFlow) -> None:
            log.append(("slow", "request", threading.current_thread().name))
        request.concurrent = True  # type: ignore[attr-defined]

        def response(self, flow: HTTPFlow) -> None:
            log.append(("slow", "response", threading.current_thread().name))

    class After(Feature):
        def request(self, flow: HTTPFlow) -> None:
            log.append(("after", "request", threading.current_thread().name))

    m = Master()
    m.add_feature(Slow())
    m.add_feature(After())
    m.load_flow(make_flow(response=True))
    main = threading.current_thread().name
    assert [(a, b) for a, b, _ in log] == [
        ("slow", "request"), ("after", "request"), ("slow", "response")]
    assert log[0][2].startswith("concurrent hook") and log[1][2] == main


# --- saved flows ---------------------------------------------------------------------------

def test_saved_flows_go_through_the_chain_in_the_documented_order():
    log: list = []
    m = Master()
    m.add_feature(Recorder("r", log, ("request", "responseheaders", "response", "error")))
    assert m.load_flows([make_flow(response=True), make_flow(error=True)]) == 2
    assert log == [("r", "request"), ("r", "responseheaders"), ("r", "response"),
                   ("r", "request"), ("r", "error")]


def test_a_saved_flow_killed_at_its_request_gets_no_further_events():
    log: list = []

    class Killer(Feature):
        def request(self, flow: HTTPFlow) -> None:
            flow.reply.kill()

    m = Master()
    m.add_feature(Killer())
    m.add_feature(Recorder("r", log, ("request", "response")))
    m.load_flow(make_flow(response=True))
    assert log == []


# --- with a real proxy ---------------------------------------------------------------------

def test_a_feature_changes_what_the_origin_receives_through_a_real_proxy(pki, origin):
    from libmproxy.proxy import ProxyConfig, ProxyServer

    class AddHeader(Feature):
        def request(self, flow: HTTPFlow) -> None:
            flow.request.headers["X-Chain"] = "yes"

    config = ProxyConfig(host="127.0.0.1", port=0, cadir=pki.proxy_cadir, timeout=WAIT)
    master = Master(ProxyServer(config))
    master.add_feature(AddHeader())
    thread = threading.Thread(target=master.run, name="test master")
    thread.start()
    try:
        import requests
        port = master.servers[0].address.port
        proxies = {"http": f"http://127.0.0.1:{port}"}
        r = requests.get(origin.url + "/x", proxies=proxies, timeout=WAIT)
        assert r.status_code == 200
        assert ("X-Chain", "yes") in origin.last()["headers"]
    finally:
        master.shutdown()
        thread.join(WAIT)


def test_shutdown_while_a_concurrent_handler_runs_releases_the_asker(running):
    master, channel = running
    started, release = threading.Event(), threading.Event()

    class Slow(Feature):
        def request(self, flow: HTTPFlow) -> None:
            started.set()
            release.wait(WAIT)
        request.concurrent = True  # type: ignore[attr-defined]

    master.add_feature(Slow())
    outcome: list = []

    def ask() -> None:
        try:
            channel.ask("request", make_flow())
            outcome.append("answered")
        except exceptions.Kill:
            outcome.append("killed")

    asker = threading.Thread(target=ask, name="test asker")
    asker.start()
    assert started.wait(WAIT)
    master.shutdown()
    asker.join(WAIT)
    assert outcome == ["killed"]
    release.set()
    for t in threading.enumerate():
        if t.name.startswith("concurrent hook"):
            t.join(WAIT)


def test_flowmaster_is_a_controller_master():
    assert issubclass(FlowMaster, controller.Master)


def test_a_killed_flow_reaches_every_error_handler():
    log: list = []
    m = Master()
    m.add_feature(Recorder("a", log, ("error",)))
    m.add_feature(Recorder("b", log, ("error",)))
    flow = make_flow()
    flow.reply = controller.Reply(flow)
    flow.reply.take()  # held, as an intercepted flow is
    flow.kill(m)
    assert log == [("a", "error"), ("b", "error")]
    assert flow.error is not None


def test_a_flow_is_no_longer_live_once_its_connection_is_done_with_it(pki, origin):
    from libmproxy.proxy import ProxyConfig, ProxyServer
    seen: list = []

    class Watch(Feature):
        def response(self, flow: HTTPFlow) -> None:
            seen.append((flow, flow.live is not None))

    config = ProxyConfig(host="127.0.0.1", port=0, cadir=pki.proxy_cadir, timeout=WAIT)
    master = Master(ProxyServer(config))
    master.add_feature(Watch())
    thread = threading.Thread(target=master.run, name="test master")
    thread.start()
    try:
        import requests
        port = master.servers[0].address.port
        with requests.Session() as s:
            s.trust_env = False
            r = s.get(origin.url + "/x", proxies={"http": f"http://127.0.0.1:{port}"},
                      timeout=WAIT)
        assert r.status_code == 200
    finally:
        master.shutdown()
        thread.join(WAIT)
    (flow, live_at_response), = seen
    assert live_at_response
    assert flow.live is None


def test_the_asker_is_answered_before_the_observers_run(running):
    """On a master that handles every event on its own thread (the console), once only
    observers are left in the chain the connection thread goes on: the printer never
    holds a connection up."""
    master, channel = running
    master.INLINE_ASKS = False
    channel = master.make_channel()
    answered, release, observed = threading.Event(), threading.Event(), threading.Event()
    order: list = []

    class Changer(Feature):
        def response(self, flow: HTTPFlow) -> None:
            order.append("changer")

    class SlowObserver(Feature):
        observes = frozenset({"response"})

        def response(self, flow: HTTPFlow) -> None:
            assert release.wait(WAIT)
            order.append("observer")
            observed.set()

    master.add_feature(Changer())
    master.add_feature(SlowObserver())
    asker = threading.Thread(
        target=lambda: (channel.ask("response", make_flow(response=True)), answered.set()),
        name="test asker")
    asker.start()
    assert answered.wait(WAIT)  # while the observer still waits
    assert order == ["changer"]
    release.set()
    asker.join(WAIT)
    assert observed.wait(WAIT)
    assert order == ["changer", "observer"]


def test_an_ask_is_handled_on_the_asking_thread(running):
    """mitmdump's masters handle an ask on the connection's own thread, one hook at a
    time, saving two thread switches per event."""
    master, channel = running
    threads: list = []

    class Recorder(Feature):
        def request(self, flow: HTTPFlow) -> None:
            threads.append(threading.current_thread().name)

    master.add_feature(Recorder())
    asker = threading.Thread(target=channel.ask, args=("request", make_flow()),
                             name="test asker")
    asker.start()
    asker.join(WAIT)
    assert threads == ["test asker"]


def test_an_ask_waits_for_the_events_queued_before_it():
    """Events keep their order: an ask made while told events are still queued goes
    through the queue behind them (to the master's thread), so hooks see a connection's
    clientconnect before its request."""
    master = Master()
    channel = master.make_channel()
    order: list = []

    class Recorder(Feature):
        observes = frozenset({"clientconnect"})

        def clientconnect(self, conn: Any) -> None:
            order.append(conn)

        def request(self, flow: HTTPFlow) -> None:
            order.append(("request", threading.current_thread().name))

    master.add_feature(Recorder())
    master.inline_ready = True  # as while run() loops; the loop starts below
    channel.tell("clientconnect", "first")
    channel.tell("clientconnect", "second")
    asker = threading.Thread(target=channel.ask, args=("request", make_flow()),
                             name="test asker")
    asker.start()
    deadline = time.monotonic() + WAIT
    while master.event_queue.qsize() < 3 and time.monotonic() < deadline:
        time.sleep(0.001)  # until the ask is queued behind the told events
    loop = threading.Thread(target=master.run, name="test master")
    loop.start()
    asker.join(WAIT)
    master.shutdown()
    loop.join(WAIT)
    assert order == ["first", "second", ("request", "test master")]


def test_done_waits_for_a_hook_running_on_a_connection_thread():
    """Shutdown during an inline-handled hook: the features' done runs after the hook
    returns, never beside it (hooks need no locks, done included)."""
    master = Master()
    channel = master.make_channel()
    order: list = []
    entered, release = threading.Event(), threading.Event()

    class Slow(Feature):
        def request(self, flow: HTTPFlow) -> None:
            entered.set()
            assert release.wait(WAIT)
            order.append("hook returns")

        def done(self) -> None:
            order.append("done")

    master.add_feature(Slow())
    loop = threading.Thread(target=master.run, name="test master")
    loop.start()
    deadline = time.monotonic() + WAIT
    while not master.inline_ready and time.monotonic() < deadline:
        time.sleep(0.001)
    def ask() -> None:
        with contextlib.suppress(exceptions.Kill):  # shutdown may answer it with Kill
            channel.ask("request", make_flow())

    asker = threading.Thread(target=ask, name="test asker")
    asker.start()
    assert entered.wait(WAIT)
    master.shutdown()
    release.set()
    loop.join(WAIT)
    asker.join(WAIT)
    assert order == ["hook returns", "done"]

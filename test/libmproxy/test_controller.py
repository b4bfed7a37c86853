"""The controller: Channel.ask/tell against a real Master loop on real threads.

No test sleeps: every wait is on an event that the behaviour under test sets, and each
negative check ("still blocked") reads the reply's state, which is what unblocks the asker.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Iterator

import pytest

from libmproxy import controller, exceptions
from libmproxy.controller import Channel, DummyReply, DummyServer, Reply, ReplyState
from libmproxy.models import (
    ClientConnection, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection,
)

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

WAIT = 10.0  # seconds; only reached if a test fails



def make_flow(path: str = "/") -> HTTPFlow:
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 5000)),
                    ServerConnection(("example.com", 80)))
    flow.request = HTTPRequest("relative", "GET", "http", "example.com", 80, path,
                               "HTTP/1.1", [("Host", "example.com")], b"")
    return flow


class Asker(threading.Thread):
    """A stand-in connection thread: asks once and keeps the outcome."""

    def __init__(self, channel: Channel, mtype: str, obj: Any) -> None:
        super().__init__(name=f"test asker: {mtype}")
        self.channel, self.mtype, self.obj = channel, mtype, obj
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.channel.ask(self.mtype, self.obj)
        except BaseException as e:  # noqa: BLE001 - recorded for the test to assert on
            self.error = e

    def outcome(self) -> Any:
        self.join(WAIT)
        assert not self.is_alive(), "the asking thread is still blocked"
        return self.result


class RecordingMaster(controller.Master):
    """Records events, log lines, and runs a per-test action inside the handlers."""

    def __init__(self, server: Any = None) -> None:
        super().__init__(server)
        self.seen: list[tuple[str, Any]] = []
        self.events: list[tuple[str, str]] = []
        self.on_request = lambda flow: None
        self.handling = threading.Event()

    def add_event(self, e: str, level: str = "info") -> None:
        self.events.append((level, e))

    @controller.handler
    def request(self, flow: HTTPFlow) -> None:
        self.seen.append(("request", flow))
        self.handling.set()
        self.on_request(flow)

    @controller.handler
    def error(self, flow: HTTPFlow) -> None:
        self.seen.append(("error", flow))

    @controller.handler
    def log(self, entry: str) -> None:
        self.seen.append(("log", entry))


class MasterThread(threading.Thread):
    def __init__(self, master: controller.Master) -> None:
        super().__init__(name="test master")
        self.master = master

    def run(self) -> None:
        self.master.run()

    def stop(self) -> None:
        self.master.shutdown()
        self.join(WAIT)
        assert not self.is_alive()


@pytest.fixture
def running() -> Iterator[RecordingMaster]:
    master = RecordingMaster()
    thread = MasterThread(master)
    thread.start()
    yield master
    thread.stop()


# --- ask / tell -------------------------------------------------------------------------------

def test_ask_returns_after_the_handler_with_the_changed_flow(running):
    """ask() blocks until the handler is done, and returns the flow it changed."""
    running.on_request = lambda flow: flow.request.headers.__setitem__("X-Seen", "1")
    flow = make_flow()
    assert running.make_channel().ask("request", flow) is flow
    assert flow.request.headers["X-Seen"] == "1"
    assert running.seen == [("request", flow)]
    assert flow.reply.done


def test_ack_with_a_value_is_what_ask_returns(running):
    running.on_request = lambda flow: flow.reply.ack("next layer")
    assert running.make_channel().ask("request", make_flow()) == "next layer"


def test_answer_chosen_in_a_handler_is_delivered_only_when_the_handler_returns(running):
    """The master owns the flow until the whole handler is done, even after ack()."""
    states = []

    def ack_then_look(flow):
        flow.reply.ack()
        states.append(flow.reply.state)
        flow.request.path = "/changed-after-ack"

    running.on_request = ack_then_look
    flow = make_flow()
    running.make_channel().ask("request", flow)
    assert states == [ReplyState.PENDING]
    assert flow.request.path == "/changed-after-ack"


def test_tell_returns_at_once_and_gives_handlers_a_dummy_reply():
    master = RecordingMaster()
    channel = master.make_channel()
    flow = make_flow()
    channel.tell("request", flow)  # no master loop runs: an ask would block here
    event = master.event_queue.get_nowait()
    assert event.mtype == "request" and event.obj is flow
    assert isinstance(event.reply, DummyReply)
    master.on_request = lambda f: (f.reply.take(), f.reply.ack(), f.reply.kill())
    master.dispatch(*event)
    assert master.seen == [("request", flow)]
    assert isinstance(flow.reply, DummyReply)


def test_told_plain_values_are_handled_without_a_reply_attribute():
    master = RecordingMaster()
    master.make_channel().tell("log", "hello")
    master.dispatch(*master.event_queue.get_nowait())
    assert master.seen == [("log", "hello")]


def test_unknown_events_are_acked_without_calling_anything(running):
    flow = make_flow()
    assert running.make_channel().ask("no_such_event", flow) is flow
    assert running.seen == []


def test_unmarked_methods_are_never_called_for_events():
    """An event named like an ordinary method ("shutdown") must not call it."""
    master = RecordingMaster()
    reply = master.dispatch("shutdown", make_flow())
    assert reply.done
    assert not master.should_exit.is_set()
    assert "not marked with @controller.handler" in master.events[0][1]


def test_a_handler_exception_is_reported_and_the_flow_goes_on(running):
    def boom(flow):
        raise RuntimeError("bad hook")

    running.on_request = boom
    flow = make_flow()
    assert running.make_channel().ask("request", flow) is flow
    level, text = running.events[0]
    assert level == "error"
    assert "'request' handler" in text and "RuntimeError: bad hook" in text


# --- take / kill / interception ---------------------------------------------------------------

def ask_and_intercept(master: RecordingMaster) -> tuple[HTTPFlow, Asker]:
    """A connection thread asks about a flow, which the master's handler intercepts."""
    master.on_request = lambda flow: flow.intercept(master)
    flow = make_flow()
    asker = Asker(master.make_channel(), "request", flow)
    asker.start()
    master.handling.wait(WAIT)
    return flow, asker


def run_in_thread(function: Any, *args: Any) -> None:
    """Call ``function`` from another thread (as the console or a worker would)."""
    thread = threading.Thread(target=function, args=args, name="test caller")
    thread.start()
    thread.join(WAIT)


def test_a_taken_reply_holds_the_asker_until_resumed_from_another_thread(running):
    flow, asker = ask_and_intercept(running)
    # The asker can only return once its reply is delivered; it is not.
    assert not flow.reply.done and flow.reply.taken and flow.intercepted
    assert asker.is_alive()

    run_in_thread(flow.resume, running)
    assert asker.outcome() is flow
    assert not flow.intercepted and asker.error is None


def test_a_killed_reply_makes_ask_raise_kill(running):
    running.on_request = lambda flow: flow.reply.kill()
    with pytest.raises(exceptions.Kill):
        running.make_channel().ask("request", make_flow())


def test_killing_an_intercepted_flow_releases_it_with_kill_and_records_the_error(running):
    flow, asker = ask_and_intercept(running)
    assert flow.killable
    run_in_thread(flow.kill, running)
    asker.outcome()
    assert isinstance(asker.error, exceptions.Kill)
    assert flow.error.msg == flow.error.KILLED_MESSAGE
    assert ("error", flow) in running.seen
    assert not flow.killable


def test_a_flow_killed_inside_its_handler_is_killed_when_the_handler_returns(running):
    running.on_request = lambda flow: flow.kill(running)
    flow = make_flow()
    with pytest.raises(exceptions.Kill):
        running.make_channel().ask("request", flow)
    assert flow.error.msg == "Connection killed"


def test_intercept_and_resume_twice_are_harmless():
    master = RecordingMaster()

    def intercept_twice(flow):
        flow.intercept(master)
        flow.intercept(master)

    master.on_request = intercept_twice
    flow = make_flow()
    reply = master.dispatch("request", flow)
    assert reply.taken
    flow.resume(master)
    flow.accept_intercept(master)  # the 0.18 name; already resumed: nothing happens
    assert reply.done and reply.wait() is flow


def test_flows_that_are_not_waiting_cannot_be_killed():
    flow = make_flow()
    assert not flow.killable
    with pytest.raises(exceptions.ControlException, match="not waiting"):
        flow.kill(RecordingMaster())


# --- the reply object -------------------------------------------------------------------------

def test_answering_twice_raises_control_exception():
    reply = Reply("obj")
    reply.ack()
    with pytest.raises(exceptions.ControlException, match="already answered"):
        reply.ack()
    with pytest.raises(exceptions.ControlException, match="acked"):
        reply.kill()
    with pytest.raises(exceptions.ControlException, match="cannot take"):
        reply.take()
    reply.commit()
    with pytest.raises(exceptions.ControlException, match="already committed"):
        reply.commit()
    assert reply.wait() == "obj"


def test_a_killed_reply_names_the_first_answer_when_answered_again():
    reply = Reply("obj")
    reply.kill()
    with pytest.raises(exceptions.ControlException, match="killed"):
        reply.ack()
    assert reply.acked and not reply.done
    assert "pending" in repr(reply)


def test_taking_twice_raises_and_ack_on_a_taken_reply_delivers_at_once():
    reply = Reply("obj")
    reply.take()
    with pytest.raises(exceptions.ControlException, match="taken"):
        reply.take()
    reply.settle()  # the dispatcher leaves a taken reply alone
    assert not reply.done
    reply.ack("value")
    assert reply.done and reply.wait() == "value"


def test_abort_delivers_kill_once_and_never_raises():
    reply = Reply("obj")
    reply.abort()
    reply.abort()
    with pytest.raises(exceptions.Kill):
        reply.wait()
    done = Reply("obj")
    done.commit()
    done.abort()
    assert done.wait() == "obj"


def test_dummy_reply_does_nothing():
    reply = DummyReply()
    for method in (reply.take, reply.ack, reply.kill, reply.commit, reply.settle, reply.abort):
        method()
    assert reply.done and not reply.taken and not reply.acked
    assert repr(reply) == "<DummyReply>"


def test_dispatch_without_a_queue_makes_a_fresh_reply_and_commits_it():
    master = RecordingMaster()
    flow = make_flow()
    reply = master.dispatch("request", flow)
    assert flow.reply is reply and reply.done and reply.wait() is flow


# --- shutdown ---------------------------------------------------------------------------------

def test_shutdown_releases_a_thread_blocked_in_ask_and_run_returns():
    master = RecordingMaster()
    master.on_request = lambda flow: flow.reply.take()  # and never answered
    master_thread = MasterThread(master)
    master_thread.start()
    asker = Asker(master.make_channel(), "request", make_flow())
    asker.start()
    master.handling.wait(WAIT)
    master_thread.stop()  # shutdown(), then run() must return
    asker.outcome()
    assert isinstance(asker.error, exceptions.Kill)


def test_shutdown_releases_asks_still_in_the_queue():
    master = RecordingMaster()
    asker = Asker(master.make_channel(), "request", make_flow())
    asker.start()
    queued = master.event_queue.get(timeout=WAIT)  # the asker is now waiting for it
    master.shutdown()
    asker.outcome()
    assert isinstance(asker.error, exceptions.Kill)
    assert queued.reply.done and len(master.pending) == 0


def test_ask_after_shutdown_raises_kill_at_once():
    master = RecordingMaster()
    master.shutdown()
    master.shutdown()  # twice is fine
    with pytest.raises(exceptions.Kill):
        master.make_channel().ask("request", make_flow())


def test_a_channel_of_its_own_refuses_to_ask_once_should_exit_is_set():
    should_exit = threading.Event()
    channel = Channel(queue.Queue(), should_exit)
    should_exit.set()
    with pytest.raises(exceptions.Kill):
        channel.ask("request", make_flow())
    assert channel.q.empty()


def test_run_after_shutdown_returns_at_once():
    master = RecordingMaster()
    master.shutdown()
    master.run()


# --- servers ----------------------------------------------------------------------------------

class BlockingServer:
    """A server whose accept loop runs until shutdown, as ProxyServer's does."""

    def __init__(self) -> None:
        self.channel: Channel | None = None
        self.stopped = threading.Event()
        self.serving = threading.Event()
        self.thread_name = ""

    def set_channel(self, channel: Channel) -> None:
        self.channel = channel

    def serve_forever(self) -> None:
        self.thread_name = threading.current_thread().name
        self.serving.set()
        self.stopped.wait(WAIT)

    def shutdown(self) -> None:
        self.stopped.set()


def test_run_serves_in_a_thread_named_proxyserver_and_shutdown_stops_it():
    servers = [BlockingServer(), BlockingServer()]
    master = RecordingMaster(servers[0])
    master.add_server(servers[1])
    master_thread = MasterThread(master)
    master_thread.start()
    for server in servers:
        server.serving.wait(WAIT)
        assert server.channel is not None
    assert [s.thread_name for s in servers] == ["ProxyServer", "ProxyServer-2"]
    # The server's channel reaches the master's loop.
    flow = make_flow()
    assert servers[0].channel.ask("request", flow) is flow
    master_thread.stop()
    assert all(s.stopped.is_set() for s in servers)


def test_dummy_server_does_nothing_but_hold_its_channel():
    server = DummyServer(config="config")
    master = RecordingMaster(server)
    assert server.channel is not None and server.config == "config"
    master.start()
    master.shutdown()


def test_the_default_event_log_is_the_libmproxy_logger(caplog):
    master = controller.Master()
    with caplog.at_level(logging.DEBUG, logger="libmproxy"):
        master.add_event("a warning", "warn")
        master.add_event("an odd level", "odd")
    assert [(r.levelno, r.message) for r in caplog.records] == [
        (logging.WARNING, "a warning"), (logging.INFO, "an odd level"),
    ]


def test_default_interception_hooks_and_kill_without_error_handler():
    master = controller.Master()
    flow = make_flow()
    master.handle_intercept(flow)
    master.handle_accept_intercept(flow)
    master.handle_kill(flow)  # no error handler: nothing to call


# --- the documented FlowMaster example ------------------------------------------------------

class StickyMaster(controller.Master):
    """The shape of the spec's examples/stickycookies, fed by a fake event source."""

    def __init__(self, server: Any) -> None:
        controller.Master.__init__(self, server)
        self.stickyhosts: dict[tuple[str, int], list[str]] = {}

    def run(self) -> None:
        try:
            return controller.Master.run(self)
        except KeyboardInterrupt:  # pragma: no cover - as in the example
            self.shutdown()

    @controller.handler
    def request(self, flow: HTTPFlow) -> None:
        hid = (flow.request.host, flow.request.port)
        if "cookie" in flow.request.headers:
            self.stickyhosts[hid] = flow.request.headers.get_all("cookie")
        elif hid in self.stickyhosts:
            flow.request.headers.set_all("cookie", self.stickyhosts[hid])

    @controller.handler
    def response(self, flow: HTTPFlow) -> None:
        hid = (flow.request.host, flow.request.port)
        if "set-cookie" in flow.response.headers:
            self.stickyhosts[hid] = flow.response.headers.get_all("set-cookie")


class FakeEventSource(threading.Thread):
    """Plays two request/response exchanges through the server's channel, then stops the
    master, as a proxy server's connection thread and Ctrl-C would."""

    def __init__(self, master: controller.Master, server: DummyServer) -> None:
        super().__init__(name="test event source")
        self.master, self.server = master, server
        self.flows: list[HTTPFlow] = []

    def run(self) -> None:
        try:
            first = make_flow("/login")
            self.server.channel.ask("request", first)
            first.response = HTTPResponse("HTTP/1.1", 200, "OK",
                                          [("Set-Cookie", "session=42")], b"")
            self.server.channel.ask("response", first)
            second = make_flow("/account")
            self.server.channel.ask("request", second)
            self.flows = [first, second]
        finally:
            self.master.shutdown()


def test_the_sticky_cookie_master_example_runs_against_a_fake_event_source():
    server = DummyServer()
    master = StickyMaster(server)
    source = FakeEventSource(master, server)
    source.start()
    master.run()  # on this (main) thread, until the source shuts it down
    source.join(WAIT)
    first, second = source.flows
    assert "cookie" not in first.request.headers
    assert second.request.headers.get_all("cookie") == ["session=42"]


def test_pending_replies_refuse_new_ones_once_closed():
    pending = controller.PendingReplies()
    waiting = Reply("obj")
    assert pending.add(waiting) and len(pending) == 1
    pending.close()
    assert waiting.done and len(pending) == 0
    assert not pending.add(Reply("late"))


def test_tell_waits_when_the_master_is_too_far_behind():
    """Told events are bounded: a proxy faster than its master waits for it instead of
    queueing flows (and memory) without limit."""
    master = RecordingMaster()
    master.backlog = threading.Semaphore(2)
    channel = master.make_channel()
    channel.tell("log", "one")
    channel.tell("log", "two")
    third = threading.Thread(target=channel.tell, args=("log", "three"), name="test teller")
    third.start()
    third.join(0.2)
    assert third.is_alive()  # no place left until the master handles an event
    master._dispatch_queued(master.event_queue.get())
    third.join(WAIT)
    assert not third.is_alive()
    assert master.event_queue.qsize() == 2

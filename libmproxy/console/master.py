"""The console's master: mitmdump's FlowMaster chain, then the console's own feature
(console/recorder.py), a flow store (console/state.py) and the window.

Rules of this file:

- One thread: urwid's loop runs on the master thread and the master's queue wakes it
  (console/loop.py), so hooks, the store and the widgets are only ever touched by it. Any
  other thread that has something to say goes through the queue (``add_event`` does this
  for them).
- Shutdown (``q`` then ``y``, ``Q``, SIGTERM) is ``Master.shutdown``: it answers every
  reply a connection waits for with Kill, intercepted flows included, so no client hangs;
  the loop then ends and urwid gives the terminal back.
- What the views ask of the master (accept, replay, save, ...) reports its problems as
  status messages, never as exceptions into the UI; ``set_options`` and
  ``set_intercept`` raise ValueError, which the prompt that asked shows.
- Nothing a key starts may hold the thread for long, since connections wait for their
  hooks on it: loading a flow file (``L``) goes in steps queued behind the proxy's events.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import IO, Any, Iterable

from libmproxy import collector, controller, dump
from libmproxy.console import eventlog, liveoptions, palettes
from libmproxy.console.loop import WakingQueue, drain
from libmproxy.console.recorder import Recorder
from libmproxy.console.state import State
from libmproxy.exceptions import FlowReadException, ProxyException, ReplayException
from libmproxy.features import build_chain
from libmproxy.flow.io import FlowReader, FlowWriter
from libmproxy.flow.master import FlowMaster
from libmproxy.models import ClientConnection, HTTPFlow, HTTPRequest, ServerConnection
from netlib.http import url as urls

__all__ = ["ConsoleError", "ConsoleMaster", "ConsoleOptions", "LOAD_STEP_SECONDS"]

# How long one step of loading a flow file (``L``) may take before the proxy's events and
# the keyboard get their turn: unnoticed by a user, and about 100 flows a step.
LOAD_STEP_SECONDS = 0.02


class ConsoleError(Exception):
    """A startup problem (a script that cannot load, an unreadable flow file): one
    message for the user, before the screen opens."""


@dataclasses.dataclass
class ConsoleOptions(dump.Options):
    """mitmdump's options plus the console's own. The console always keeps serving
    (client replay or ``-r`` do not end it)."""

    keepserving: bool = True
    intercept: str | None = None  # -i: the interception pattern
    limit: str | None = None  # -l: the limit pattern of the flow list
    palette: str = palettes.DEFAULT
    palette_transparent: bool = False
    no_mouse: bool = False
    eventlog: bool = False  # -e: show the event log pane at start
    follow: bool = False  # -f: focus follows the newest flow
    max_flows: int | None = None  # the store's cap (None: keep every flow)
    default_view: str = "auto"  # the content view bodies are shown in (M in options)
    # The proxy's settings that can change at run time (see liveoptions.PROXY_OPTIONS).
    ignore_hosts: list[str] = dataclasses.field(default_factory=list)
    tcp_hosts: list[str] = dataclasses.field(default_factory=list)
    no_upstream_cert: bool = False


class ConsoleMaster(FlowMaster):
    """The console's master. ``ui`` is the Window once made (``Window(master)``)."""

    # Every hook runs on the loop's thread: they change what the screen shows.
    INLINE_ASKS = False

    def __init__(self, server: controller.Server | None, options: ConsoleOptions) -> None:
        self.options = options
        self.state = State(options.max_flows)
        self.state.follow = options.follow
        self.state.on_remove = self._release
        self.events = eventlog.new_events()
        self.ui: Any = None
        self.recorder = Recorder(self)
        self._thread = threading.current_thread()
        self._intercepted: dict[int, Any] = {}
        self._running = False
        super().__init__(None)
        self.event_queue = WakingQueue()
        if server is not None:
            self.add_server(server)
        self.event_policy.log_filter = self._shows_level
        try:
            for feature in build_chain(options):
                self.add_feature(feature)
            self.add_feature(self.recorder)
            self.set_intercept(options.intercept)
            self.state.set_limit(options.limit)
        except (ProxyException, ValueError) as e:
            raise ConsoleError(str(e)) from e

    # --- the event log ---------------------------------------------------------------------

    def _shows_level(self, level: str) -> bool:
        return self.options.verbosity >= dump.LOG_LEVELS.get(level, dump.LOG_LEVELS["info"])

    def add_event(self, e: str, level: str = "info") -> None:
        """Add an entry to the event log (from any thread)."""
        if not self._shows_level(level):
            return
        if threading.current_thread() is not self._thread:
            self.call_soon(lambda: self.add_event(e, level))
            return
        self.events.append((level, e))
        if self.ui is not None:
            self.ui.eventlog.add(level, e)

    def status(self, message: str, error: bool = False) -> None:
        """Tell the user (the status bar; the event log too for errors)."""
        if self.ui is None:
            self.add_event(message, "warn" if error else "info")
        elif error:
            self.ui.error(message)
        else:
            self.ui.status(message)

    # --- options ---------------------------------------------------------------------------

    def set_options(self, **changes: Any) -> None:
        """Change options now (see console/liveoptions.py); ValueError if one is bad,
        and then nothing changed."""
        liveoptions.apply(self, changes)

    def install_chain(self, chain: list[Any], started: Iterable[Any],
                      stopped: Iterable[Any]) -> None:
        """Replace the features before the recorder with ``chain``; ``started`` are new
        (and set up), ``stopped`` leave (their ``done`` runs)."""
        self.addons[:] = [*chain, self.recorder]
        self.update_policy()
        for feature in stopped:
            self._safe(getattr(feature, "done", lambda: None))
        if self._running:
            for feature in started:
                self._safe(getattr(feature, "running", lambda: None))

    def options_changed(self, old: ConsoleOptions, new: ConsoleOptions) -> None:
        """Apply the console's own options after ``set_options`` changed them."""
        if old.intercept != new.intercept:
            self.set_intercept(new.intercept)
        if old.limit != new.limit:
            self.state.set_limit(new.limit)
        if old.follow != new.follow:
            self.state.set_follow(new.follow)
        if self.ui is not None:
            if (old.palette, old.palette_transparent) != (new.palette, new.palette_transparent):
                self.ui.set_palette(self.palette_entries())
            self.state.refresh()  # every entry anew (showhost, ...)

    def palette_entries(self) -> list[Any]:
        return palettes.get(self.options.palette).entries(self.options.palette_transparent)

    def set_intercept(self, filtstr: str | None) -> None:
        """Hold the flows matching the filter expression ``filtstr`` (None or "": none).
        ValueError, with the parser's message, for a bad expression."""
        intercept_filter = None
        if filtstr:
            from libmproxy import filt
            intercept_filter = filt.parse(filtstr)
        self.options.intercept = filtstr or None
        self.recorder.set_intercept(intercept_filter)
        self.update_policy()

    # --- interception ----------------------------------------------------------------------

    def handle_intercept(self, flow: Any) -> None:
        self._intercepted[id(flow)] = flow
        self.state.update_flow(flow)

    def handle_accept_intercept(self, flow: Any) -> None:
        self._intercepted.pop(id(flow), None)
        self.state.update_flow(flow)

    def handle_kill(self, flow: Any) -> None:
        self._intercepted.pop(id(flow), None)
        super().handle_kill(flow)
        self.state.update_flow(flow)

    @property
    def intercepted(self) -> list[Any]:
        """The flows held now, in the order they were held."""
        return list(self._intercepted.values())

    def accept(self, flow: Any) -> None:
        """Let an intercepted flow go on."""
        if flow.intercepted:
            flow.resume(self)

    def accept_all(self) -> None:
        for flow in self.intercepted:
            flow.resume(self)

    def kill_flow(self, flow: Any) -> None:
        """Drop the connection of a flow a client waits for (intercepted or in flight)."""
        if flow.killable:
            flow.kill(self)
        else:
            self.status("This flow is complete: nothing to kill.")

    def _release(self, flow: Any) -> None:
        """A flow leaves the store: a client waiting for it gets its connection closed."""
        if flow.killable:
            flow.kill(self)
        self._intercepted.pop(id(flow), None)

    # --- flows -----------------------------------------------------------------------------

    def replay(self, flow: Any) -> bool:
        """Send the flow's request again (client-side replay of one flow)."""
        try:
            self.replay_request(flow)
        except ReplayException as e:
            self.status(str(e), error=True)
            return False
        self.state.update_flow(flow)
        return True

    def revert(self, flow: Any) -> None:
        """Undo the user's changes to ``flow``."""
        if not flow.modified():
            self.status("Flow not modified: nothing to revert.")
            return
        flow.revert()
        self.state.update_flow(flow)
        self.status("Reverted.")

    def save_flows(self, path: str, flows: Iterable[Any]) -> int:
        """Write ``flows`` to the flow file ``path`` (replacing it); how many."""
        path = os.path.expanduser(path.strip())
        flows = list(flows)
        try:
            with open(path, "wb") as f:
                writer = FlowWriter(f)
                for flow in flows:
                    writer.add(flow)
        except OSError as e:
            self.status(f"Cannot save to {path}: {e.strerror}", error=True)
            return 0
        self.status(f"Saved {len(flows)} flow{'s' if len(flows) != 1 else ''} to {path}.")
        return len(flows)

    def _add_saved(self, flow: Any) -> None:
        """Add a flow that no connection waits for (from a file, or made by ``n``): HTTP
        flows through the chain (scripts and features see it as the spec says), never
        held by the interception pattern."""
        self.recorder.loading = True
        try:
            if getattr(flow, "request", None) is not None:
                self.load_flow(flow)
            else:
                self.state.add_flow(flow)
        finally:
            self.recorder.loading = False

    def read_flows(self, path: str) -> int:
        """Add the flows of the flow file ``path`` now, in order (``-r``, before the proxy
        starts); how many. Raises ConsoleError after the complete flows before a damaged
        part were added."""
        path = os.path.expanduser(path.strip())
        count = 0
        try:
            # The collector paused: every flow read is kept (see libmproxy.collector).
            with open(path, "rb") as f, self.state.batch(), collector.paused(kept=True):
                for flow in FlowReader(f).stream():
                    self._add_saved(flow)
                    count += 1
        except FlowReadException as e:
            raise ConsoleError(f"{path}: {e} ({count} flows loaded)") from e
        except OSError as e:
            raise ConsoleError(f"{path}: cannot read flow file: {e.strerror}") from e
        return count

    def load_flows_file(self, path: str) -> None:
        """``L``: add the flows of the flow file ``path`` while the console runs, a step at
        a time (see ``_FileLoad``); the outcome is a status message."""
        path = os.path.expanduser(path.strip())
        try:
            f = open(path, "rb")
        except OSError as e:
            self.status(f"{path}: cannot read flow file: {e.strerror}", error=True)
            return
        _FileLoad(self, path, f).step()

    def create_request(self, method: str, url: str) -> Any:
        """``n``: a new flow with a request for ``url`` (and its Host header), added like a
        loaded flow, ready to be edited and replayed. ValueError, naming the URL, for a
        URL that is not absolute."""
        scheme, host, port, path = urls.parse(url.strip())
        flow = HTTPFlow(ClientConnection.make_dummy(("", 0)),
                        ServerConnection.make_dummy((host.decode("ascii"), port)))
        flow.request = HTTPRequest("absolute", method, scheme, host, port, path, "HTTP/1.1",
                                   [("Host", urls.hostport(scheme, host, port))], b"",
                                   timestamp_start=time.time())
        self._add_saved(flow)
        return flow

    def run_script_once(self, command: str, flow: Any) -> None:
        """``|``: run the script ``command`` (path and arguments) on ``flow`` alone, as the
        spec's "Running scripts on saved flows" says: start, request, responseheaders and
        response if there is one, error if there is one, done."""
        from libmproxy.script import Script
        try:
            script = Script(command)
            script.configure(self)
        except (ProxyException, ValueError) as e:
            self.status(str(e), error=True)
            return
        try:
            request, response = getattr(flow, "request", None), getattr(flow, "response", None)
            parts = (("request", request), ("responseheaders", response),
                     ("response", response), ("error", flow.error))
            for event, part in parts:
                handler = getattr(script, event, None)
                if part is not None and handler is not None:
                    handler(flow)
        finally:
            script.done()
        self.state.update_flow(flow)
        self.status(f"Ran {command} on the flow.")

    # --- running ---------------------------------------------------------------------------

    def _dispatch_event(self, event: Any) -> None:
        if isinstance(event, controller.Event):
            self._dispatch_queued(event)
        else:  # the shutdown sentinel: the loop ends after this pass
            self.event_queue.task_done()

    def _wake(self, data: bytes) -> None:
        """The queue has events: handle them, and draw if a draw is due (under steady load
        the loop never goes idle, where urwid draws); end the loop once shut down."""
        import urwid
        drain(self.event_queue, self._dispatch_event)
        if self.should_exit.is_set():
            raise urwid.ExitMainLoop()
        self.ui.loop.draw_if_due()

    def run(self, screen: Any = None) -> None:
        """Open the screen (the terminal's, unless tests give another urwid screen), serve
        and handle events until shutdown; then close the screen and run the features'
        ``done``."""
        import urwid
        from libmproxy.console.loop import ConsoleLoop
        from libmproxy.console.window import Window

        window = self.ui if self.ui is not None else Window(self)
        if screen is None:
            screen = urwid.raw_display.Screen()
            term = os.environ.get("TERM", "") + os.environ.get("COLORTERM", "")
            if "256" in term or "truecolor" in term:
                screen.set_terminal_properties(256)
        loop = ConsoleLoop(window, self.palette_entries(), screen=screen,
                           handle_mouse=not self.options.no_mouse)
        window.loop = loop
        wake_fd = loop.watch_pipe(self._wake)
        os.set_blocking(wake_fd, False)
        self.event_queue.wake_fd = wake_fd
        self.event_queue.poke()  # events queued before the pipe existed
        try:
            self.start()
            for feature in list(self.addons):
                self._safe(getattr(feature, "running", lambda: None))
            self._running = True
            if not self.should_exit.is_set():
                loop.run()
        finally:
            self._running = False
            self.event_queue.wake_fd = None
            loop.remove_watch_pipe(wake_fd)
            os.close(wake_fd)
            self.shutdown()
            self._drain()
            self.done()


class _FileLoad:
    """One ``L`` in progress. Reading and adding 50,000 flows takes many seconds; done in
    one go it would hold the loop's thread, and with it every connection waiting for a
    hook and every key. Each step adds flows for at most LOAD_STEP_SECONDS, then queues
    the next step behind the events that arrived meanwhile."""

    def __init__(self, master: ConsoleMaster, path: str, file: IO[bytes]) -> None:
        self.master = master
        self.path = path
        self.file = file
        self.flows = FlowReader(file).stream()
        self.count = 0

    def step(self) -> None:
        master = self.master
        if master.should_exit.is_set():
            self.file.close()
            return
        deadline = time.monotonic() + LOAD_STEP_SECONDS
        try:
            with master.state.batch(), collector.paused(kept=True):
                for flow in self.flows:
                    master._add_saved(flow)
                    self.count += 1
                    if time.monotonic() > deadline:
                        break
                else:
                    self._finish(None)
                    return
        except FlowReadException as e:
            self._finish(f"{self.path}: {e}")
            return
        except OSError as e:
            self._finish(f"{self.path}: cannot read flow file: {e.strerror}")
            return
        master.status(f"Loading {self.path}: {self.count} flows so far")
        master.call_soon(self.step)

    def _finish(self, error: str | None) -> None:
        self.file.close()
        loaded = f"{self.count} flow{'s' if self.count != 1 else ''}"
        if error is None:
            self.master.status(f"Loaded {loaded}.")
        else:
            self.master.status(f"{error} ({loaded} loaded)", error=True)

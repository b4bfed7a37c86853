"""``-c FILE``: client-side replay (spec: Client-side replay).

The requests of the saved flows (all files, in order) are sent again, one after another:
the next one only when the previous one is finished, response or error, as the spec says
("mitmproxy serializes the requests"). Each goes through ``FlowMaster.replay_request``,
so the whole chain (scripts, server replay, the printer, ``-w``) sees it like a proxied
flow. When all are done mitmdump exits, unless ``--keepserving``.

The requests are sent from a "client replay" thread that waits for each replay in turn;
it never touches the chain itself (the events reach the master through its channel), so
the hooks stay on the master thread.
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

from libmproxy.exceptions import FlowReadException, OptionsException, ReplayException
from libmproxy.flow.io import read_flows_from_paths
from libmproxy.flow.master import Feature
from libmproxy.models import HTTPFlow
from libmproxy.proxy.log import LogEntry

__all__ = ["ClientPlayback", "DRIVER_THREAD_NAME", "STOP_WAIT"]

DRIVER_THREAD_NAME = "client replay"

# How long shutdown waits for the replay in progress to give up (its socket is shut down
# first, so this is only reached if something misbehaves; the thread is a daemon).
STOP_WAIT = 5.0


def replayable(flow: Any) -> bool:
    """HTTP flows with a request other than CONNECT (a tunnel is not a request to send)."""
    return (isinstance(flow, HTTPFlow) and flow.request is not None
            and flow.request.first_line_format != "authority")


class ClientPlayback(Feature):
    """Replays the flows of ``paths``; then ``master.shutdown()`` unless ``keepserving``.

    Raises OptionsException, naming the file, when a file cannot be read or is damaged:
    replaying part of what the user asked for would be a surprise.
    """

    def __init__(self, paths: Sequence[str], keepserving: bool = False) -> None:
        try:
            flows = read_flows_from_paths(paths)
        except FlowReadException as e:
            raise OptionsException(f"client replay: {e}") from e
        self.flows: list[HTTPFlow] = [f for f in flows if replayable(f)]
        self.keepserving = keepserving
        self.master: Any = None
        self._thread: threading.Thread | None = None
        self._current: Any = None  # the RequestReplayThread in progress

    def configure(self, master: Any) -> None:
        self.master = master

    def running(self) -> None:
        self._thread = threading.Thread(target=self._replay_all, name=DRIVER_THREAD_NAME,
                                        daemon=True)
        self._thread.start()

    def _replay_all(self) -> None:
        master = self.master
        channel = master.make_channel()
        flows, self.flows = self.flows, []
        try:
            for saved in flows:
                if master.should_exit.is_set():
                    return
                flow = saved.copy()
                try:
                    self._current = master.replay_request(flow)
                except ReplayException as e:
                    channel.tell("log", LogEntry(f"client replay: {flow.request.url}: {e}",
                                                 "warn"))
                    continue
                self._current.join()
                self._current = None
        finally:
            # Also after an unexpected error (reported by the thread's excepthook): a
            # mitmdump that waits for a replay that will never end would hang for good.
            if not self.keepserving:
                master.shutdown()

    def done(self) -> None:
        """At shutdown: make the replay in progress give up, and wait for the thread."""
        current = self._current
        if current is not None:
            current.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(STOP_WAIT)

"""Sending one saved request again, for real: client replay (``-c``) and the console's "r".

A ``RequestReplayThread`` plays the part of a client connection for one flow: it delivers
the flow's events to the master through a Channel, as the proxy's HTTP layer does, so that
scripts, server replay, the printer and the flow file see a replayed flow exactly like a
proxied one:

1. hook "request": a hook may answer it (server replay, a script) or kill it;
2. otherwise connect to the request's server (TLS with SNI for https, verified as the proxy
   verifies; in upstream mode through the upstream proxy, as 0.18 did), send the request,
   read the response head, hook "responseheaders", read the body;
3. hook "response"; or, if talking to the server failed, set ``flow.error`` and hook
   "error".

Events go through ``Channel.hook``: asked when a handler may change the flow, told when
every handler only observes it, skipped when nobody handles it (DESIGN.md, hot path). The
thread owns the flow between events; nothing else may touch it until the thread ends.
"""
from __future__ import annotations

import socket
import threading
import time
import traceback
from typing import Any

from netlib import exceptions as netlib_exceptions
from netlib.http import Request, http1
from netlib.tcp import TCPClient

from libmproxy import exceptions
from libmproxy.controller import Channel
from libmproxy.models import Error, HTTPFlow, HTTPResponse, ServerConnection
from libmproxy.protocol import server_io
from libmproxy.protocol.http1 import HOP_BY_HOP_TO_ORIGIN, target_address
from libmproxy.proxy.log import LogEntry

__all__ = ["RequestReplayThread", "REPLAY_THREAD_NAME", "wire_request"]

# Replay threads are named this, followed by the request's method and URL.
REPLAY_THREAD_NAME = "request replay"

# The status code after which the connection stops being HTTP; its response is final.
SWITCHING_PROTOCOLS = 101


def wire_request(request: Request, form: str, extra_headers: dict[str, str]) -> Request:
    """The copy of ``request`` that goes on the wire: the target in ``form``, HTTP/1.1 for
    a request recorded over HTTP/2 (its pseudo-headers dropped; the assembler adds Host),
    the proxy's own headers dropped when talking to the origin, ``extra_headers`` added
    (Proxy-Authorization for the upstream proxy). The flow's request stays as it was."""
    wire = request.copy()
    data = wire.data
    data.first_line_format = form
    if data.http_version.upper().startswith(b"HTTP/2"):
        data.http_version = b"HTTP/1.1"
    drop = set(HOP_BY_HOP_TO_ORIGIN) if form == "relative" else set()
    for name in set(data.headers.keys()):
        if name.startswith(":") or name.lower() in drop:
            del data.headers[name]
    for name, value in extra_headers.items():
        data.headers[name] = value
    return wire


class RequestReplayThread(threading.Thread):
    """Replays ``flow.request`` with the proxy's ``config``, talking to the master through
    ``channel``. The caller prepares the flow (``FlowMaster.replay_request``)."""

    def __init__(self, config: Any, flow: HTTPFlow, channel: Channel) -> None:
        request = flow.request
        super().__init__(name=f"{REPLAY_THREAD_NAME} {request.method} {request.url}",
                         daemon=True)
        self.config = config
        self.flow = flow
        self.channel = channel
        self._io: TCPClient | None = None

    def cancel(self) -> None:
        """Make a replay that waits for its server give up at once (shutdown): the
        socket is shut down, so the pending read fails and the thread ends."""
        io = self._io
        sock = io.connection if io is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def run(self) -> None:
        flow = self.flow
        try:
            flow = self.channel.hook("request", flow)
            if flow.response is None:
                self._fetch(flow)
            self.channel.hook("response", flow)
        except exceptions.Kill:
            self._log(f"{flow.request.method} {flow.request.url}: replay killed", "info")
        except (exceptions.ProtocolException, netlib_exceptions.NetlibException) as e:
            flow.error = Error(str(e) or type(e).__name__)
            try:
                self.channel.hook("error", flow)
            except exceptions.Kill:
                pass  # shutting down: nobody is left to tell
        except Exception:
            self._log(f"error replaying {flow.request.url}:\n"
                      + traceback.format_exc().rstrip(), "error")
        finally:
            io, self._io = self._io, None
            if io is not None:
                io.finish()

    def _log(self, msg: str, level: str) -> None:
        if not self.channel.should_exit.is_set():
            self.channel.tell("log", LogEntry(msg, level))

    # --- talking to the server ----------------------------------------------------------

    def _fetch(self, flow: HTTPFlow) -> None:
        """Connect, send the request, read the response into ``flow``."""
        config, request = self.config, flow.request
        address = target_address(request)
        tls = request.scheme == "https"
        extra: dict[str, str] = {}
        form = "relative"
        via = None
        if config.mode == "upstream":
            via = config.upstream_server.address
            if not tls:  # plain HTTP goes to the upstream proxy itself, in absolute form
                form = "absolute"
                if config.upstream_auth:
                    extra["Proxy-Authorization"] = config.upstream_auth.decode("latin-1")
        if form == "absolute":
            self._io = server_io.open_connection(config, via)
        else:
            self._io = server_io.open_connection(config, address, via=via, tls=tls,
                                                 sni=request.host if tls else None)
        model = ServerConnection(address)
        if via is not None:
            model.via = ServerConnection(via)
        server_io.record(model, self._io)
        flow.server_conn = model

        wfile, rfile = self._io.wfile, self._io.rfile
        for part in http1.assemble_request_parts(wire_request(request, form, extra)):
            wfile.write(part)
        wfile.flush()
        while True:  # interim (1xx) responses are skipped, as the proxy does
            head = http1.read_response_head(rfile)
            if not 100 <= head.status_code < 200 or head.status_code == SWITCHING_PROTOCOLS:
                break
        flow.response = HTTPResponse.wrap(head)
        flow = self.channel.hook("responseheaders", flow)
        response = flow.response
        size = http1.expected_http_body_size(request, response)
        body = (http1.read_body(rfile, size, config.body_size_limit, message=response)
                if size != 0 else ())
        response.data.content = http1.join_body(body)
        response.timestamp_end = time.time()

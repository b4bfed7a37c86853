"""Shared fixtures for netlib.tcp: a CA in a session temp dir, servers on 127.0.0.1:0.

Every server runs its accept loop in a named thread and is shut down at teardown; the
autouse ``no_thread_leaks`` fixture then fails any test that left a thread behind.
Tests wait on queues and events, never on sleeps.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator

import pytest

from netlib import certutils, exceptions
from netlib.tcp import keylog
from netlib.tcp.server import BaseHandler, TCPServer

# How long a test waits for something that should happen at once. Generous, because the
# machine is shared; a failure means the thing never happened, not that it was slow.
WAIT = 10.0


class HandlerServer(TCPServer):
    """A TCPServer that runs ``handler_class(sock, addr, self, **kwargs).handle()``.

    Each handler, once finished, is put on ``done`` so a test can inspect what the server
    side saw (SNI, client certificate, ALPN, the error it hit).
    """

    def __init__(self, handler_class: type[BaseHandler], handler_kwargs: dict | None = None,
                 **kwargs: Any) -> None:
        super().__init__(("127.0.0.1", 0), **kwargs)
        self.handler_class = handler_class
        self.handler_kwargs = handler_kwargs or {}
        self.done: queue.Queue[BaseHandler] = queue.Queue()
        self.logged_errors: queue.Queue[Any] = queue.Queue()

    def handle_client_connection(self, connection, client_address) -> None:
        handler = self.handler_class(connection, client_address, self, **self.handler_kwargs)
        handler.error = None
        try:
            handler.handle()
        except exceptions.NetlibException as e:
            handler.error = e
        finally:
            handler.finish()
            self.done.put(handler)

    def handle_error(self, connection, client_address) -> None:
        super().handle_error(connection, client_address)
        self.logged_errors.put(client_address)

    def next_done(self) -> BaseHandler:
        return self.done.get(timeout=WAIT)


class EchoHandler(BaseHandler):
    """Sends back whatever arrives, until the client closes."""

    def handle(self) -> None:
        while True:
            data = self.rfile.readsome()
            if not data:
                return
            self.wfile.write(data)
            self.wfile.flush()


@pytest.fixture(scope="session")
def certstore(tmp_path_factory) -> certutils.CertStore:
    return certutils.CertStore.from_store(tmp_path_factory.mktemp("ca"), "mitmproxy")


@pytest.fixture(scope="session")
def other_certstore(tmp_path_factory) -> certutils.CertStore:
    """A second, unrelated CA: its certificates must fail verification against the first."""
    return certutils.CertStore.from_store(tmp_path_factory.mktemp("other-ca"), "mitmproxy")


@pytest.fixture
def serve() -> Iterator[Callable[..., HandlerServer]]:
    """Start a HandlerServer in a thread: ``serve(HandlerClass, **handler_kwargs)``."""
    running: list[tuple[HandlerServer, threading.Thread]] = []

    def start(handler_class: type[BaseHandler], server_kwargs: dict | None = None,
              **handler_kwargs: Any) -> HandlerServer:
        server = HandlerServer(handler_class, handler_kwargs, **(server_kwargs or {}))
        thread = threading.Thread(target=server.serve_forever,
                                  name=f"test accept loop {server.address}")
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        server.shutdown()
        thread.join(WAIT)


@pytest.fixture
def echo_server(serve) -> HandlerServer:
    return serve(EchoHandler)


@pytest.fixture(autouse=True)
def _no_thread_leaks(no_thread_leaks):
    """Every test here is checked for leftover threads (test/conftest.py)."""


@pytest.fixture
def keylog_file(tmp_path, monkeypatch) -> Iterator[Any]:
    """Point MITMPROXY_SSLKEYLOGFILE at a fresh file for this test only."""
    path = tmp_path / "keys.log"
    monkeypatch.setenv("MITMPROXY_SSLKEYLOGFILE", str(path))
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    yield path
    keylog.close_all()

"""TCPServer (the accept loop, one thread per connection) and BaseHandler (one accepted client).

Thread rules (DESIGN.md, thread hygiene):

- ``serve_forever`` runs the accept loop in the caller's thread. It blocks in ``select`` on
  the listening socket and on one end of a socket pair; ``shutdown`` writes to the other end.
  No polling tick, so an idle server uses no CPU, and shutdown is immediate.
- Each accepted connection is served by one connection thread, named after the client it
  serves while it does; the socket is closed when ``handle_client_connection`` returns,
  whatever happened. A thread that is done waits (named idle) up to ``IDLE_THREAD_TIMEOUT``
  for the next connection before it ends, so that a stream of short connections reuses
  threads instead of starting one per connection (see ``_serve_forever_in_thread``).
  When no thread is idle the accept loop starts a new one without waiting for it to
  start: a bare helper (``_thread``) calls ``start()`` and ends as soon as the connection
  thread runs (see ``_accept``).
- The number of connections is bounded: above ``max_connections`` a new connection
  is closed at once and logged, instead of the process failing to start a thread.
- The accept loop goes first: while it takes queued connections, connection threads that
  reach the end of a request wait for it (``yield_to_accept``), see below.
- An exception in a handler is logged with its traceback and ends that connection only.
- ``shutdown`` also wakes the connection threads (a read on a shut-down socket returns EOF)
  and waits for them, so nothing outlives the server.

Why the accept loop goes first. Every ``accept()`` releases the GIL and must take it back,
and a thread that wants the GIL waits behind every other thread that wants it. When 500
clients connect at once (wrk -c500), the first hundred threads are soon busy proxying, and
each further accept waited ~10 ms for the GIL: measured (timestamps at accept and at each
response, 500 connections), the loop took 3.6-8.3 s to accept all 500, 64 at a time, each
batch slower than the last (60 ms, 180 ms, then 650-850 ms), and the clients accepted last
waited past wrk's 5 s timeout for their first answer (51-134 timeouts per 10 s run). Once
threads run, service was fair: no connection waited more than 1.6 s between two of its
responses, so a fairness scheme among the connection threads (a FIFO turn per request)
would not have helped; the uneven requests per connection (p10 12-20, p90 71-90) came from
the late starts, and evened out with this change (p10 49, p90 60). So while the loop drains
a queue of more than one connection (every connection waiting, up to ``ACCEPT_BATCH``,
before it selects again), a connection thread that comes to the end of a request waits on
an Event, blocked in the kernel and not asking for the GIL, until the loop is done (at most
``ACCEPT_YIELD_TIMEOUT``). A lone new connection makes nobody wait (see ``serve_forever``).
Within one request each the loop competes with almost nobody: 500 connections are accepted
in 0.23-0.40 s.
Measured over 10 s, wrk -c500 through ``mitmdump -q`` (same machine, alternating runs):
before, 2,036-2,705 req/s, p99 3.25-3.89 s, 51-134 timeouts; after, 2,128-2,756 req/s,
p99 0.82-0.89 s, 0 timeouts. With 10 connections nothing is accepted during the run, and
the check costs one attribute read per request (3,165-4,035 req/s after, 2,627 before). A proxy that accepts now and then pauses
its connections for one accept's worth of time (microseconds).
"""
from __future__ import annotations

import logging
import queue
import _thread
import selectors
import socket
import threading
import time
from typing import Any, Callable, NamedTuple

from OpenSSL import SSL

from netlib import certutils, exceptions
from netlib.tcp import tls
from netlib.tcp.address import Address
from netlib.tcp.connection import DEFAULT_TIMEOUT, Connection, configure_socket

__all__ = ["TCPServer", "BaseHandler", "CertKey", "DEFAULT_MAX_CONNECTIONS"]

log = logging.getLogger(__name__)

# Connection threads allowed at once. Each thread costs a stack (8 MiB of address space,
# little of it resident) and two sockets; a few hundred concurrent clients is far beyond
# what an interactive proxy sees, and the bound keeps a flood from exhausting the process.
# Not exactly 500: a client that opens 500 connections right after others closed (the
# benchmark's wrk -c500 after its probe) found a few of their threads still counted and
# was refused (wrk: read errors), now that the accept loop takes all 500 at once.
DEFAULT_MAX_CONNECTIONS = 1024

# The listen backlog: connections the kernel queues while the accept loop is busy. 128 made
# the kernel drop SYNs when 500 clients connected at once (wrk -c500): the dropped ones
# waited for a SYN retransmit (1 s, then 3 s) before they got in. The kernel caps the value
# at net.core.somaxconn, so asking for more than it allows is harmless.
LISTEN_BACKLOG = max(socket.SOMAXCONN, 4096)

# Connections accepted per wake-up of the accept loop, at most: enough for any burst the
# connection bound allows, so that connection threads yield once per burst, not once per
# batch (64 per batch took 1.2-1.8 s for 500 connections; the whole queue, 0.23-0.40 s),
# yet a bound, so a flood of connections cannot keep shutdown waiting.
ACCEPT_BATCH = 1024

# The longest a connection thread waits for the accept loop in ``yield_to_accept``: a
# safety net (a loop stuck in accept for longer must not stall every connection).
ACCEPT_YIELD_TIMEOUT = 0.5

# How long shutdown waits for connection threads to notice their socket was shut down.
SHUTDOWN_JOIN_TIMEOUT = 5.0

# How long a connection thread that has served its connection waits for another before it
# ends. Starting a thread per connection cost the proxy two threads (the connection's and
# the helper that starts it), each a clone, a stack mmap/munmap, signal-mask calls and a
# start handshake of GIL handoffs; an idle thread takes the next connection with one
# wake-up. Long enough to carry a steady stream of connections, short enough that a burst
# of hundreds of threads does not linger.
IDLE_THREAD_TIMEOUT = 10.0


class CertKey(NamedTuple):
    """What an SNI callback returns to switch certificates (a CertStoreEntry fits)."""
    cert: Any
    privatekey: Any
    chain_file: str | None = None


SniCallback = Callable[[str | None], "CertKey | tuple | None"]


def _decode_server_name(name: bytes | None) -> str | None:
    if name is None:
        return None
    try:
        return name.decode("idna")
    except UnicodeError:
        return name.decode("ascii", "backslashreplace")


class BaseHandler(Connection):
    """An accepted client connection. Subclasses implement ``handle``."""

    def __init__(self, connection: socket.socket, address: Address | tuple,
                 server: "TCPServer | None", timeout: float | None = DEFAULT_TIMEOUT) -> None:
        super().__init__(connection, Address.wrap(address), timeout)
        self.server = server
        self.clientcert: certutils.SSLCert | None = None
        self.sni: str | None = None
        self.timestamp_ssl_setup: float | None = None

    def convert_to_ssl(
        self,
        cert: Any,
        key: Any,
        chain_file: str | None = None,
        handle_sni: SniCallback | None = None,
        alpn_select: tls.AlpnSelect | None = None,
        request_client_cert: bool = False,
        cipher_list: str | None = None,
        *,
        method: int = SSL.TLS_SERVER_METHOD,
        options: int = tls.DEFAULT_SERVER_OPTIONS,
        min_version: int | None = None,
        max_version: int | None = None,
    ) -> None:
        """Serve TLS with ``cert``/``key``, reading any bytes already peeked from rfile first.

        ``handle_sni(name)`` is called with the server name the client sent (also kept in
        ``self.sni``) and may return ``(cert, key, chain_file)`` to serve a different
        certificate; the other settings stay as given here. ``alpn_select(offers)`` picks
        the protocol. With ``request_client_cert`` the client's certificate, if any, ends
        up in ``self.clientcert``.
        """
        def make_context(cert: Any, key: Any, chain_file: str | None) -> SSL.Context:
            return tls.create_server_context(
                cert, key, chain_file=chain_file, method=method, options=options,
                min_version=min_version, max_version=max_version, cipher_list=cipher_list,
                alpn_select=alpn_select, request_client_cert=request_client_cert,
                sni_callback=on_sni,
            )

        sni_errors: list[Exception] = []

        def on_sni(ssl_connection: SSL.Connection) -> None:
            # pyOpenSSL prints and swallows exceptions from this callback, so keep them
            # and report them below as the reason the handshake failed.
            try:
                self.sni = _decode_server_name(ssl_connection.get_servername())
                if handle_sni is not None:
                    replacement = handle_sni(self.sni)
                    if replacement is not None:
                        ssl_connection.set_context(make_context(*CertKey(*replacement)))
            except Exception as e:
                sni_errors.append(e)
                raise

        callbacks = tls.ConnectionCallbacks(alpn_select=alpn_select)
        if handle_sni is None:
            # The common case (the proxy knows the certificate before the handshake): a
            # shared context holding the key, and the certificate set on this connection.
            # Saves building a context per connection (~200 us with the GIL held).
            ssl_connection = SSL.Connection(tls.server_context(
                key, chain_file=chain_file, method=method, options=options,
                min_version=min_version, max_version=max_version, cipher_list=cipher_list,
                alpn=alpn_select is not None, request_client_cert=request_client_cert,
            ), None)
            certificate = tls.as_certificate(cert)
            if not tls.certificate_matches(certificate, key):
                raise exceptions.TlsException(
                    "cannot use certificate: the private key does not match it")
            ssl_connection.use_certificate(certificate)
        else:
            ssl_connection = SSL.Connection(make_context(cert, key, chain_file), None)
        ssl_connection.set_app_data(callbacks)
        ssl_connection.set_accept_state()
        try:
            self._start_tls(ssl_connection)
        except exceptions.TlsException:
            if sni_errors:
                raise exceptions.TlsException(
                    f"TLS handshake: SNI callback failed for {self.sni!r}: {sni_errors[0]}"
                ) from sni_errors[0]
            raise
        finally:
            if handle_sni is None:  # no SNI callback ran to record it
                self.sni = _decode_server_name(ssl_connection.get_servername())
        if callbacks.errors:
            raise exceptions.TlsException(
                f"TLS handshake: ALPN selection failed: {callbacks.errors[0]}"
            ) from callbacks.errors[0]
        peer = ssl_connection.get_peer_certificate(as_cryptography=True)
        self.clientcert = certutils.SSLCert(peer) if peer is not None else None
        self.ssl_established = True
        self.timestamp_ssl_setup = time.time()

    def handle(self) -> None:  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.address}{' (TLS)' if self.ssl_established else ''}>"


class TCPServer:
    """Listens on ``address`` (port 0: any free port; ``self.address`` tells which)."""

    def __init__(self, address: Address | tuple, *,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 timeout: float | None = DEFAULT_TIMEOUT) -> None:
        address = Address.wrap(address)
        self.max_connections = max_connections
        self.timeout = timeout
        family = socket.AF_INET6 if address.use_ipv6 else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address.address)
            self.socket.listen(LISTEN_BACKLOG)
        except OSError as e:
            self.socket.close()
            raise exceptions.TcpException(f"cannot listen on {address}: {e.strerror or e}") from e
        # Non-blocking: accept only after select said so, and a client that connected and
        # reset in between must not block the loop.
        self.socket.setblocking(False)
        self.address = Address.wrap(self.socket.getsockname())
        self._wakeup_recv, self._wakeup_send = socket.socketpair()
        self._wakeup_recv.setblocking(False)
        self._wakeup_send.setblocking(False)
        self._lock = threading.Lock()
        # The sockets being served (shutdown wakes them), the connection threads alive
        # (shutdown joins them), the idle ones not yet promised a connection, and the
        # connections handed to idle threads: each one waiting in ``_handoff`` is either
        # counted in ``_idle_threads`` or has a connection (or a None: stop) queued for it.
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._idle_threads = 0
        self._handoff: queue.SimpleQueue[tuple[socket.socket, Any] | None] = queue.SimpleQueue()
        self._shutdown_requested = False
        self._loop_done = threading.Event()
        self._loop_done.set()
        self._accept_idle = threading.Event()
        self._accept_idle.set()
        self._closed = False

    # --- the accept loop ---------------------------------------------------------------

    def serve_forever(self) -> None:
        """Accept connections until ``shutdown``; returns then (at once if it already ran)."""
        # Checked and marked under the lock, so a concurrent shutdown either sees the loop
        # running (and waits for it) or makes it return here, never closes sockets under it.
        with self._lock:
            if self._shutdown_requested:
                return
            self._loop_done.clear()
        selector = selectors.DefaultSelector()
        try:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wakeup_recv, selectors.EVENT_READ)
            while not self._shutdown_requested:
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self._shutdown_requested:
                        # Take every connection already queued (up to a bound), not one
                        # per select(): a select that blocks costs the loop a GIL handoff.
                        # When more than one was queued (a burst), connection threads wait
                        # between requests meanwhile (module doc). Not for a lone one:
                        # with a steady stream of new connections (each HTTPS client opens
                        # its own) nearly every wake-up takes one, and connection threads
                        # waited on the Event for each, about two thread switches apiece.
                        if self._accept() and self._accept():
                            self._accept_idle.clear()
                            try:
                                for _ in range(ACCEPT_BATCH - 2):
                                    if not self._accept():
                                        break
                            finally:
                                self._accept_idle.set()
        finally:
            selector.close()
            self._loop_done.set()

    def _accept(self) -> bool:
        """Accept one connection and start its thread; False if none was waiting."""
        try:
            sock, client_address = self.socket.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return False
        except OSError as e:
            log.warning("%s: accept failed: %s", self.address, e)
            return False
        configure_socket(sock, self.timeout)
        with self._lock:
            if len(self._connections) >= self.max_connections:
                refused = True
            else:
                refused = False
                self._connections.add(sock)
                reuse = self._idle_threads > 0
                if reuse:
                    self._idle_threads -= 1
        if refused:
            log.warning("%s: refusing connection from %s: %d connections already open",
                        self.address, Address.wrap(client_address), self.max_connections)
            sock.close()
            return True
        if reuse:
            self._handoff.put((sock, client_address))
            return True
        thread = threading.Thread(target=self._serve_forever_in_thread,
                                  args=(sock, client_address), name=self._idle_name,
                                  daemon=True)
        with self._lock:
            self._threads.add(thread)
        # Thread.start() waits until the new thread runs. Under load that wait is two GIL
        # handoffs, each behind the busy connection threads, and the accept loop serialised
        # every connection behind them: with 500 clients connecting at once to a loaded
        # proxy it started ~20-40 threads/s and only 166-486 of the 500 had their first
        # answer within 6 s (4 runs; wrk -c500 counted the rest as timeouts). A helper
        # thread from ``_thread`` (which does not wait) makes the start instead, so the
        # waits overlap: 500 of 500 answered within 6 s in 4 runs out of 4. The helper is
        # counted with its connection (registered above) and ends once the thread runs.
        try:
            _thread.start_new_thread(self._start_thread, (thread, sock, client_address))
        except RuntimeError as e:  # the OS would not give us a thread
            self._not_started(thread, sock, client_address, e)
        return True

    @property
    def _idle_name(self) -> str:
        return f"{type(self).__name__} {self.address}: idle connection thread"

    def _start_thread(self, thread: threading.Thread, sock: socket.socket,
                      client_address: Any) -> None:
        """The helper's whole life: start the connection thread."""
        try:
            thread.start()
        except RuntimeError as e:
            self._not_started(thread, sock, client_address, e)

    def _not_started(self, thread: threading.Thread, sock: socket.socket, client_address: Any,
                     error: Exception) -> None:
        log.error("%s: cannot serve %s: %s", self.address, Address.wrap(client_address), error)
        with self._lock:
            self._threads.discard(thread)
            self._connections.discard(sock)
        sock.close()

    def _serve_forever_in_thread(self, sock: socket.socket, client_address: Any) -> None:
        """A connection thread: serve this connection, then those handed over while idle,
        until none comes for ``IDLE_THREAD_TIMEOUT`` or the server shuts down."""
        thread = threading.current_thread()
        try:
            while True:
                thread.name = (f"{type(self).__name__} {self.address}: "
                               f"connection from {Address.wrap(client_address)}")
                self._serve_connection(sock, client_address)
                thread.name = self._idle_name
                job = self._next_connection()
                if job is None:
                    return
                sock, client_address = job
        finally:
            with self._lock:
                self._threads.discard(thread)

    def _next_connection(self) -> tuple[socket.socket, Any] | None:
        """Wait, idle, for the accept loop to hand over a connection; None: end the thread."""
        with self._lock:
            if self._shutdown_requested:
                return None
            self._idle_threads += 1
        while True:
            try:
                return self._handoff.get(timeout=IDLE_THREAD_TIMEOUT)
            except queue.Empty:
                with self._lock:
                    # Retire only if this thread is not promised a connection: when every
                    # idle thread is, one of the queued connections is this thread's.
                    if self._idle_threads > 0:
                        self._idle_threads -= 1
                        return None

    def _serve_connection(self, sock: socket.socket, client_address: Any) -> None:
        try:
            self.handle_client_connection(sock, client_address)
        except Exception:
            self.handle_error(sock, client_address)
        finally:
            try:
                sock.close()
            except OSError:  # pragma: no cover - close does not fail on a valid socket
                pass
            with self._lock:
                self._connections.discard(sock)

    def yield_to_accept(self) -> None:
        """Called by a connection thread between requests: while the accept loop is
        taking queued connections, wait for it (blocked in the kernel, off the GIL), so
        that a burst of new clients is let in before the busy ones go on (module doc)."""
        if not self._accept_idle.is_set():
            self._accept_idle.wait(ACCEPT_YIELD_TIMEOUT)

    # --- for subclasses ----------------------------------------------------------------

    def handle_client_connection(self, connection: socket.socket, client_address: Any) -> None:
        """Serve one client; runs in the connection's own thread."""
        raise NotImplementedError

    def handle_error(self, connection: socket.socket, client_address: Any) -> None:
        """Called inside ``except`` when a handler raised: log it, keep serving."""
        log.exception("%s: error serving %s", self.address, Address.wrap(client_address))

    # --- stopping ----------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def shutdown(self, join_timeout: float = SHUTDOWN_JOIN_TIMEOUT) -> None:
        """Stop accepting, wake every connection thread, and wait for all of them.

        Safe to call from any thread, more than once, and before ``serve_forever``.
        """
        with self._lock:
            self._shutdown_requested = True
        try:
            self._wakeup_send.send(b"\0")
        except OSError:
            pass  # already closed, or the wake-up byte is already pending
        self._loop_done.wait()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its thread
        for _ in threads:  # one stop for every thread that may be idle, or become so
            self._handoff.put(None)
        deadline = time.monotonic() + join_timeout
        for thread in threads:
            _join(thread, deadline)
        if not self._closed:
            self._closed = True
            for sock in (self.socket, self._wakeup_recv, self._wakeup_send):
                sock.close()


def _join(thread: threading.Thread, deadline: float) -> None:
    """Join ``thread`` until ``deadline`` (monotonic), also when its helper has not
    started it yet (join() refuses a thread that is not started: wait for the start)."""
    while True:
        try:
            thread.join(max(0.0, deadline - time.monotonic()))
            return
        except RuntimeError:  # not started yet
            if time.monotonic() >= deadline:
                return
            time.sleep(0.001)

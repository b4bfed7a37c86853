"""A pathod in a background thread, for testing HTTP clients.

    with test.Daemon() as d:
        r = requests.put(d.p("200:b@100"))
        assert len(r.content) == 100
        assert d.last_log()["request"]["method"] == "PUT"

``Daemon`` takes care of the mechanics: it listens on a free port of 127.0.0.1, returns
only once the server is accepting connections (an Event, not a sleep), and ``shutdown``
stops the server and waits for its thread and every connection thread, so a test leaves
nothing running behind it. The log it reads is the server's in-memory log
(``Pathod.log``); ``text_log`` is what the daemon would have printed to the console.

TLS: ``Daemon(ssl=True)`` serves HTTPS. Unless an ``ssloptions`` is given, the
certificates come from a CA made in a private temporary directory (``d.confdir``; the CA
certificate a client can trust is ``d.ca_cert``), never from ``~/.mitmproxy``: a test
must not depend on, or write to, the user's home. The directory is shared by the
daemons of one process (making a CA costs a key generation) and removed at exit.
"""
from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
import threading
import urllib.parse
from typing import Any

from libpathod import pathod

__all__ = ["Daemon", "DEFAULT_LOG_TIMEOUT", "STARTUP_TIMEOUT"]

# How long expect_log waits by default, and how long the constructor waits for the server
# thread to start listening: generous, since a loaded CI machine can be slow.
DEFAULT_LOG_TIMEOUT = 5.0
STARTUP_TIMEOUT = 10.0

_confdir_lock = threading.Lock()
_confdir: str | None = None


def _shared_confdir() -> str:
    """The process's private certificate directory, made on first use."""
    global _confdir
    with _confdir_lock:
        if _confdir is None:
            _confdir = tempfile.mkdtemp(prefix="pathod-test-certs-")
            atexit.register(shutil.rmtree, _confdir, True)
        return _confdir


class Daemon:
    """Starts a ``pathod.Pathod`` on 127.0.0.1 in a thread. ``daemonargs`` are Pathod's
    keyword arguments (``anchors``, ``staticdir``, ``sizelimit``, ``ssloptions``, ...)."""

    IFACE = "127.0.0.1"

    def __init__(self, ssl: bool | None = None, **daemonargs: Any) -> None:
        self.ssl = bool(ssl)
        self.logfp = io.StringIO()
        daemonargs.setdefault("logfp", self.logfp)
        if "ssloptions" not in daemonargs or daemonargs["ssloptions"] is None:
            daemonargs["ssloptions"] = pathod.SSLOptions(confdir=_shared_confdir())
        self.server = pathod.Pathod((self.IFACE, 0), ssl=self.ssl, **daemonargs)
        self.port = self.server.address.port
        self.urlbase = f"{'https' if self.ssl else 'http'}://{self.IFACE}:{self.port}"
        self._closed = False
        self._listening = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"pathod test daemon on port {self.port}", daemon=True)
        self.thread.start()
        if not self._listening.wait(STARTUP_TIMEOUT):  # pragma: no cover - a stuck machine
            self.shutdown()
            raise RuntimeError("the pathod test daemon did not start")

    def _run(self) -> None:
        # The socket already listens (the constructor bound it); connections queue in the
        # backlog until serve_forever accepts them, so "started" is safe to signal here.
        self._listening.set()
        self.server.serve_forever()

    # --- context manager ---

    def __enter__(self) -> "Daemon":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()

    # --- URLs ---

    def p(self, spec: str) -> str:
        """The URL that makes the daemon serve ``spec`` (percent-encoded as needed)."""
        return f"{self.urlbase}{self.server.craftanchor}{urllib.parse.quote(spec, safe='')}"

    @property
    def confdir(self) -> str:
        return self.server.ssloptions.confdir

    @property
    def ca_cert(self) -> str:
        """The PEM file of the CA that signs the daemon's certificates (made if need be)."""
        self.server.ssloptions.certstore
        return os.path.join(os.path.expanduser(self.confdir),
                            f"{pathod.CERTSTORE_BASENAME}-ca-cert.pem")

    # --- the log ---

    def text_log(self) -> str:
        """What the daemon printed (its console log)."""
        return self.logfp.getvalue() if self.server.logfp is self.logfp else ""

    def log(self) -> list[dict]:
        """Every entry of the request log, oldest first."""
        return self.server.get_log()

    def last_log(self) -> dict | None:
        """The newest log entry, or None if there is none."""
        return self.server.log.last()

    def expect_log(self, n: int, timeout: float = DEFAULT_LOG_TIMEOUT) -> list[dict] | None:
        """Wait until the log holds at least ``n`` entries; the entries, or None on timeout.

        A client may have its answer before the server has written the log entry (the
        response goes out first), so a test that counts entries waits with this.
        """
        if self.server.log.wait_for(n, timeout):
            return self.log()
        return None

    def clear_log(self) -> None:
        self.server.clear_log()

    # --- stopping ---

    def shutdown(self) -> None:
        """Stop the server and wait for every thread it started. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.server.shutdown()
        self.thread.join()

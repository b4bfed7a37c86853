"""TLS key logging in the NSS key log format, so Wireshark can decrypt captured traffic.

The file is named by ``MITMPROXY_SSLKEYLOGFILE`` or else ``SSLKEYLOGFILE`` (the docs'
"SSL Master Secrets"; the first exists because browsers read the second too). The variables
are read when a context is created, falling back to their value at import, so a proxy
started with the variable set logs even if a script later changes the environment.

OpenSSL hands each secret line to ``Context.set_keylog_callback``; connection threads call
it concurrently, so one ``KeyLogFile`` per path appends under a lock and flushes every line
(a capture tool reads the file while the proxy runs). A file that cannot be written is
reported once and then ignored: a broken key log must never break a handshake.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import BinaryIO

from OpenSSL import SSL

__all__ = ["ENV_VARS", "KeyLogFile", "keylog_path", "active_path", "install", "close_all"]

log = logging.getLogger(__name__)

# Checked in this order: the mitmproxy-specific name wins over the one browsers also honour.
ENV_VARS = ("MITMPROXY_SSLKEYLOGFILE", "SSLKEYLOGFILE")


def keylog_path(environ: Mapping[str, str] | None = None) -> str | None:
    """The key log file the environment asks for, or None."""
    environ = os.environ if environ is None else environ
    for name in ENV_VARS:
        value = environ.get(name)
        if value:
            return os.path.expanduser(value)
    return None


_IMPORT_TIME_PATH = keylog_path()


class KeyLogFile:
    """Appends key log lines to one file; callable as a pyOpenSSL keylog callback."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._broken = False

    def __call__(self, connection: SSL.Connection, line: bytes) -> None:
        with self._lock:
            if self._broken:
                return
            try:
                if self._file is None:
                    self._file = open(self.path, "ab")
                self._file.write(line + b"\n")
                self._file.flush()
            except OSError as e:
                self._broken = True
                log.warning("cannot write the TLS key log %s: %s", self.path, e)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


_files: dict[str, KeyLogFile] = {}
_files_lock = threading.Lock()


def _keylog_file(path: str) -> KeyLogFile:
    with _files_lock:
        keylog = _files.get(path)
        if keylog is None:
            keylog = _files[path] = KeyLogFile(path)
        return keylog


def active_path() -> str | None:
    """The key log file a context created now would log to (shared contexts are cached
    by it, so setting the variable later still takes effect for new connections)."""
    return keylog_path() or _IMPORT_TIME_PATH


def install(context: SSL.Context) -> str | None:
    """Make ``context`` log its keys if the environment asks for it; returns the path."""
    path = active_path()
    if path:
        context.set_keylog_callback(_keylog_file(path))
    return path


def close_all() -> None:
    """Close every key log file (at exit, and between tests that change the variable)."""
    with _files_lock:
        files = list(_files.values())
        _files.clear()
    for keylog in files:
        keylog.close()

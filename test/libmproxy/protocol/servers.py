"""Test servers' common part: a listening socket on 127.0.0.1, a thread accepting on it
and a thread per connection running the subclass's ``_serve(sock)``; ``close`` ends them
all (the package's conftest fails a test that leaves a thread behind)."""
from __future__ import annotations

import socket
import threading

WAIT = 10.0


class ThreadedServer:
    """Subclasses set up what ``_serve`` needs, then call ``__init__``, which starts
    accepting. ``name`` names the threads (seen in thread-leak reports)."""

    def __init__(self, name: str) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.name = name
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._accepter = threading.Thread(target=self._accept, name=f"{name} {self.port}")
        self._accepter.start()

    def _serve(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self._closing:
                sock.close()
                return
            self._socks.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,),
                                      name=f"{self.name} {self.port} connection")
            self._threads.append(thread)
            thread.start()

    def close(self) -> None:
        self._closing = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (Linux)
        except OSError:
            pass
        self.listener.close()
        self._accepter.join(WAIT)
        for sock in self._socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(WAIT)

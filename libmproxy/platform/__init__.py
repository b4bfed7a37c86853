"""Where was a redirected connection going? (spec: Transparent Proxying, "a host module
that allows us to query the redirector for the original destination").

A firewall rule (iptables REDIRECT on Linux, a pf ``rdr`` rule on OSX) sends a client's
connection to the proxy's port; the proxy then asks the system, through the module for its
platform, for the address the client had dialled:

- linux  the kernel's connection tracking, through getsockopt(SO_ORIGINAL_DST)
- osx    pf's state table, through ``sudo -n pfctl -s state`` (also FreeBSD and OpenBSD)

``resolver()`` picks the module (None where transparent mode is not supported).
"""
from __future__ import annotations

import socket
import sys
from typing import Protocol

__all__ = ["Resolver", "TransparentModeError", "resolver"]


class TransparentModeError(Exception):
    """The original destination cannot be found; the message says why and what to check."""


class Resolver(Protocol):
    def original_addr(self, csock: socket.socket) -> tuple[str, int]:
        """The (host, port) the client behind ``csock`` connected to before the redirect.
        Raises TransparentModeError."""


def resolver(platform: str = sys.platform) -> Resolver | None:
    """The resolver for ``platform`` (a ``sys.platform`` value), or None."""
    if platform.startswith("linux"):
        from libmproxy.platform import linux
        return linux.Resolver()
    if platform == "darwin" or platform.startswith(("freebsd", "openbsd")):
        from libmproxy.platform import osx
        return osx.Resolver()
    return None

"""OSX (and FreeBSD, OpenBSD): the original destination from pf's state table.

pf has no socket option for it: ``pfctl -s state`` lists every state, one a line, and the
state of our connection (found by the client's address and port) also names the address
the client dialled before the ``rdr`` rule rewrote it. pfctl prints two layouts:

    ALL tcp 127.0.0.1:8080 <- 10.0.0.5:80 <- 192.168.1.111:40001     ESTABLISHED:ESTABLISHED
        OSX: where pf sent it, the original destination, the client
    all tcp 127.0.0.1:8080 (10.0.0.5:80) <- 192.168.1.111:40001     ESTABLISHED:ESTABLISHED
        FreeBSD, OpenBSD: the original destination in parentheses

An IPv6 address carries its port in brackets (``2001:db8::1[443]``), not always in its
shortest form; addresses are therefore compared as addresses, not as text. With ``-v``
pfctl adds indented detail lines under each state; they are skipped. Only states in
ESTABLISHED:ESTABLISHED count, as in 0.18: a closing state left over from an earlier
connection from the same client port would name a stale destination.

pfctl needs root. 0.18 ran ``sudo -n /sbin/pfctl -s state``, which the sudoers line the
spec gives (``ALL ALL=NOPASSWD: /sbin/pfctl -s state``) allows without a password.
"""
from __future__ import annotations

import ipaddress
import socket
import subprocess

from libmproxy.platform import TransparentModeError

__all__ = ["Resolver", "lookup", "parse_host", "STATE_COMMAND"]

STATE_COMMAND = ("sudo", "-n", "/sbin/pfctl", "-s", "state")

# Seconds pfctl may take to list the states; a wedged sudo must not hang the connection.
STATE_COMMAND_TIMEOUT = 10.0

ESTABLISHED = "ESTABLISHED:ESTABLISHED"
INBOUND = "<-"

SUDOERS_HINT = ("allow it without a password: add the line 'ALL ALL=NOPASSWD: /sbin/pfctl "
                "-s state' to /etc/sudoers (see docs/transparent.md)")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_host(token: str) -> tuple[IPAddress, int] | None:
    """``10.0.0.5:80`` or ``2001:db8::1[80]`` -> (address, port); None for anything else."""
    if token.endswith("]") and "[" in token:
        host, _, port = token[:-1].rpartition("[")
    else:
        host, _, port = token.rpartition(":")
    try:
        return _ip(host), int(port)
    except ValueError:
        return None


def _ip(host: str) -> IPAddress:
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # an IPv4 client seen through an IPv6 socket
    return address


def _original_destination(chain: list[str]) -> tuple[IPAddress, int] | None:
    """The original destination in a state's host chain without its client, i.e.
    ``A <- B`` (OSX) or ``A (B)`` (BSD), or None if the state was not redirected."""
    if len(chain) == 3 and chain[1] == INBOUND:
        return parse_host(chain[2])
    if len(chain) == 2 and chain[1].startswith("(") and chain[1].endswith(")"):
        return parse_host(chain[1][1:-1])
    return None


def lookup(address: str, port: int, states: str) -> tuple[str, int]:
    """The original destination of the redirected connection from ``address:port``, read
    from ``states`` (the output of ``pfctl -s state``)."""
    client = (_ip(address), port)
    for line in states.splitlines():
        if not line or line[0].isspace():
            continue  # a detail line of the state above (pfctl -v)
        tokens = line.split()
        if len(tokens) < 6 or tokens[-1] != ESTABLISHED:
            continue
        chain = tokens[2:-1]
        if chain[-2] != INBOUND or parse_host(chain[-1]) != client:
            continue
        original = _original_destination(chain[:-2])
        if original is not None:
            return str(original[0]), original[1]
    raise TransparentModeError(
        f"no redirected pf state for the connection from {address}:{port} (does a pf rdr "
        f"rule send this traffic to the proxy?)")


class Resolver:
    """Reads pf's state table once per connection."""

    def original_addr(self, csock: socket.socket) -> tuple[str, int]:
        host, port = csock.getpeername()[:2]
        return lookup(host, port, self.states())

    def states(self) -> str:
        command = " ".join(STATE_COMMAND)
        try:
            result = subprocess.run(STATE_COMMAND, capture_output=True, text=True,
                                    timeout=STATE_COMMAND_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise TransparentModeError(f"cannot run {command}: {e}") from e
        if result.returncode != 0:
            reason = result.stderr.strip() or f"exit status {result.returncode}"
            if "password is required" in reason:
                raise TransparentModeError(
                    f"insufficient privileges to read pf's state table ({command}): "
                    f"{SUDOERS_HINT}")
            raise TransparentModeError(f"{command} failed: {reason}")
        return result.stdout

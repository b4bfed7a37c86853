"""Linux: the original destination of a connection redirected by iptables (REDIRECT or
DNAT), from the kernel's connection tracking.

getsockopt(SOL_IP, SO_ORIGINAL_DST) answers with a ``struct sockaddr_in`` for IPv4 and
getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST) with a ``struct sockaddr_in6`` for IPv6 (both
options are 80, from <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>).
Which one applies is the family of the connection, not of the socket: an IPv6 socket
serves IPv4 clients too, with addresses like ``::ffff:10.0.0.1``, and those are IPv4
connections to the kernel (the IPv6 option fails on them with ENOENT).
"""
from __future__ import annotations

import ipaddress
import socket
import struct

from libmproxy.platform import TransparentModeError

__all__ = ["Resolver", "original_addr", "SO_ORIGINAL_DST", "IP6T_SO_ORIGINAL_DST"]

SO_ORIGINAL_DST = 80
IP6T_SO_ORIGINAL_DST = 80
SOL_IPV6 = socket.IPPROTO_IPV6

# sizeof(struct sockaddr_in), sizeof(struct sockaddr_in6)
SOCKADDR_IN_SIZE = 16
SOCKADDR_IN6_SIZE = 28

# The fields we need of each: family (skipped), port, [flowinfo (skipped)], address.
_SOCKADDR_IN = struct.Struct("!2xH4s")
_SOCKADDR_IN6 = struct.Struct("!2xH4x16s")


def original_addr(csock: socket.socket) -> tuple[str, int]:
    """The (host, port) the client behind the accepted socket ``csock`` dialled."""
    try:
        if _is_ipv4(csock.getsockname()[0]):
            raw = csock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, SOCKADDR_IN_SIZE)
            port, packed = _SOCKADDR_IN.unpack_from(raw)
            return socket.inet_ntop(socket.AF_INET, packed), port
        raw = csock.getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST, SOCKADDR_IN6_SIZE)
        port, packed = _SOCKADDR_IN6.unpack_from(raw)
        return socket.inet_ntop(socket.AF_INET6, packed), port
    except OSError as e:
        raise TransparentModeError(
            f"cannot find the original destination of the connection (is it redirected "
            f"with iptables -j REDIRECT? connection tracking says: {e.strerror or e})"
        ) from e


def _is_ipv4(host: str) -> bool:
    """10.0.0.1, or ::ffff:10.0.0.1 on an IPv6 socket."""
    ip = ipaddress.ip_address(host.partition("%")[0])
    return isinstance(ip, ipaddress.IPv4Address) or ip.ipv4_mapped is not None


class Resolver:
    """The Linux resolver: a plain getsockopt, nothing to set up."""

    def original_addr(self, csock: socket.socket) -> tuple[str, int]:
        return original_addr(csock)

"""SOCKS5 mode (``--socks``): clients ask us for a connection, then speak through it.

RFC 1928 as far as a proxy that only relays byte streams needs it: the "no
authentication" method, the CONNECT command, IPv4, IPv6 and domain name addresses. Once
the client has its reply, the target is the server and the next-layer rules decide what
the client speaks inside, as in transparent mode (TLS, HTTP or raw TCP).

Everything else gets the reply the RFC has for it, then the connection closes:

- no acceptable method offered (only username/password, GSSAPI, ...): ``05 FF``;
- a command other than CONNECT: ``05 07`` (command not supported), an unknown address
  type: ``05 08``; a malformed request: ``05 01`` (general failure). A reply carries an
  address; an unused one (0.0.0.0:0) is sent;
- a SOCKS4 client: the SOCKS4 "request rejected" reply (``00 5B``), so that it can say
  why; any other version has no reply format, so the connection just closes.

Like 0.18, the reply to CONNECT is "succeeded" before the server is connected: the server
connection is opened as late as possible (a server-replayed or script-answered request
needs none), and a server that cannot be reached is reported the way it is in the other
modes (a 502 naming the reason, the flow's error).
"""
from __future__ import annotations

import io

from netlib import socks
from netlib import exceptions as netlib_exceptions
from netlib.exceptions import SocksException
from netlib.tcp import Address

from libmproxy import exceptions
from libmproxy.proxy.modes.mode_layer import ModeLayer

__all__ = ["Socks5Proxy", "SOCKS4_REJECTED", "UNUSED_ADDRESS"]

# The SOCKS4 reply "request rejected or failed": version 0, code 0x5B, port and address.
SOCKS4_REJECTED = bytes([0x00, 0x5B]) + bytes(6)

# What a reply carries when it has no address to tell.
UNUSED_ADDRESS = socks.Address("0.0.0.0", 0)


class Socks5Proxy(ModeLayer):
    def __call__(self) -> None:
        try:
            target = self._negotiate()
        except SocksException as e:
            raise exceptions.Socks5ProtocolException(f"SOCKS5 mode failure: {e}") from e
        except netlib_exceptions.NetlibException as e:
            raise exceptions.Socks5ProtocolException(
                f"SOCKS5 mode failure: the client went away during the handshake ({e})"
            ) from e
        self.set_server(Address(target.host, target.port))
        super().__call__()

    def _negotiate(self) -> socks.Address:
        """Greeting, method choice, CONNECT request, reply: the target address."""
        rfile, wfile = self.client_io.rfile, self.client_io.wfile
        if rfile.peek(1) == bytes([socks.VERSION.SOCKS4]):
            self._send(SOCKS4_REJECTED)
        greeting = socks.ClientGreeting.from_file(rfile, fail_early=True)  # SOCKS5 only
        if socks.METHOD.NO_AUTHENTICATION_REQUIRED not in greeting.methods:
            self._send(bytes([socks.VERSION.SOCKS5, socks.METHOD.NO_ACCEPTABLE_METHODS]))
            offered = ", ".join(_method_name(m) for m in greeting.methods) or "none"
            raise SocksException(
                socks.REP.GENERAL_SOCKS_SERVER_FAILURE,
                f"the client offers no method we accept (offered: {offered}; mitmproxy "
                f"supports SOCKS5 without authentication only)")
        socks.ServerGreeting(socks.VERSION.SOCKS5,
                             socks.METHOD.NO_AUTHENTICATION_REQUIRED).to_file(wfile)
        wfile.flush()
        try:
            request = socks.Message.from_file(rfile)
            request.assert_socks5()
            request.assert_connect()
        except SocksException as e:
            self._send(_reply(e.code))
            raise
        wfile.write(_reply(socks.REP.SUCCEEDED))
        wfile.flush()
        return request.addr

    def _send(self, data: bytes) -> None:
        try:
            self.client_io.wfile.write(data)
            self.client_io.wfile.flush()
        except netlib_exceptions.NetlibException:
            pass  # the client is gone; the error that brought us here is what matters


def _reply(code: int) -> bytes:
    """The reply to a request: ``code`` and the unused address."""
    wfile = io.BytesIO()
    socks.Message(socks.VERSION.SOCKS5, code, socks.ATYP.IPV4_ADDRESS,
                  UNUSED_ADDRESS).to_file(wfile)
    return wfile.getvalue()


def _method_name(method: int) -> str:
    try:
        return socks.METHOD(method).name
    except ValueError:
        return f"0x{method:02x}"

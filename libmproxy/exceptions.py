"""Every exception mitmproxy raises is a subclass of ProxyException (spec: Exceptions).

The names and bases are the documented API; ProtocolException is the only thing a layer's
``__call__`` may raise.
"""
from __future__ import annotations

import sys
import traceback


class ProxyException(Exception):
    """Base class for all exceptions thrown by mitmproxy."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)


class Kill(ProxyException):
    """Terminate the connection (a script or the user killed the flow, or shutdown)."""


class ProtocolException(ProxyException):
    pass


class TlsProtocolException(ProtocolException):
    pass


class ClientHandshakeException(TlsProtocolException):
    """The client refused our TLS handshake; ``server`` names the host we impersonated."""

    def __init__(self, message: str, server: str) -> None:
        super().__init__(message)
        self.server = server


class Socks5ProtocolException(ProtocolException):
    pass


class HttpProtocolException(ProtocolException):
    pass


class Http2ProtocolException(ProtocolException):
    pass


class ServerException(ProxyException):
    pass


class ContentViewException(ProxyException):
    pass


class ReplayException(ProxyException):
    pass


class ScriptException(ProxyException):
    @classmethod
    def from_exception_context(cls, cut_tb: int = 1) -> "ScriptException":
        """Build from the exception being handled, dropping ``cut_tb`` frames of our own
        calling code so the user sees the traceback of their script.

        Must be called while the current stack handles an exception.
        """
        etype, value, tb = sys.exc_info()
        for _ in range(cut_tb):
            if tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
        text = "".join(traceback.format_exception(etype, value, tb))
        return cls(text.rstrip())


class FlowReadException(ProxyException):
    pass


class ControlException(ProxyException):
    pass


class FlowWriteException(ProxyException):
    """A flow file cannot be opened or written (``-w``, ``-a``, the console's save)."""


class OptionsException(ProxyException):
    """An option is unusable at startup (a replay file that cannot be read, a script that
    does not load): one message naming the option and the problem."""

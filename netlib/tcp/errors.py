"""Translating socket and OpenSSL errors into netlib exceptions, in one place.

Every raw I/O call in netlib.tcp (``recv``, ``sendall``, the TLS engine) catches the library's
error and re-raises what these functions return, so callers above the edge only ever see
the netlib hierarchy: ``TcpTimeout`` when the peer was too slow, ``TcpDisconnect`` when it
went away, ``TlsException`` (with OpenSSL's reason) when TLS failed.
"""
from __future__ import annotations

from OpenSSL import SSL

from netlib import exceptions

__all__ = ["socket_error", "tls_error", "tls_reason"]


def socket_error(error: OSError, action: str) -> exceptions.TcpException:
    """The netlib exception for an OSError raised while doing ``action`` on a socket."""
    # BlockingIOError (EAGAIN): the kernel's SO_RCVTIMEO/SO_SNDTIMEO ran out (see
    # connection.configure_socket), or a non-blocking socket had nothing to do.
    if isinstance(error, (TimeoutError, BlockingIOError)):
        return exceptions.TcpTimeout(f"{action}: timed out")
    reason = error.strerror or str(error) or type(error).__name__
    return exceptions.TcpDisconnect(f"{action}: {reason}")


def tls_reason(error: SSL.Error) -> str:
    """OpenSSL's own words for what went wrong, e.g. "certificate verify failed".

    pyOpenSSL carries them as a list of (library, function, reason) tuples; a SysCallError
    carries (errno, message) instead. An error with neither still gets its class name, so
    a log line never ends in an empty reason.
    """
    if isinstance(error, SSL.SysCallError):
        if len(error.args) == 2:
            return str(error.args[1])
    elif error.args and isinstance(error.args[0], list):
        reasons = [str(entry[-1]) for entry in error.args[0] if entry and entry[-1]]
        if reasons:
            return "; ".join(reasons)
    return f"{type(error).__name__} without a reason from OpenSSL"


def tls_error(error: SSL.Error, action: str) -> exceptions.TlsException:
    """The netlib exception for a pyOpenSSL error raised while doing ``action``."""
    return exceptions.TlsException(f"{action}: {tls_reason(error)}")

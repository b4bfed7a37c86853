"""The flow view's Detail tab: what is known about the flow's connections and timing.

``details(flow)`` returns plain data, sections of (label, value) pairs, so what the tab says
can be read and tested without a screen; the flow view lays it out as key/value tables.
Only what exists is shown: a flow loaded from a file has no TLS version or cipher (they are
not saved), a flow that never reached a server has no server connection, and the timing
lists only the moments that happened.

Decisions where 0.18 is silent: certificates show a SHA-256 fingerprint (0.18 showed SHA-1,
which no one compares against any more); the timing lists each moment with its time of day
and its offset from the first one, then the durations people ask about (server connect,
server TLS handshake, request upload, server wait, response download, total). The client's
TLS handshake gets no duration: in regular mode a CONNECT comes between the connection and
the handshake, so their distance is not the handshake's.
"""
from __future__ import annotations

from typing import Any

from netlib import human
from netlib.certutils import SSLCert

from libmproxy.models import HTTPFlow

__all__ = ["details", "Section"]

Section = tuple[str, list[tuple[str, str]]]

# The moments of a flow: (label, connection or message attribute path).
_MOMENTS = (
    ("Client conn. established", "client_conn", "timestamp_start"),
    ("Client conn. TLS handshake", "client_conn", "timestamp_ssl_setup"),
    ("First request byte", "request", "timestamp_start"),
    ("Request complete", "request", "timestamp_end"),
    ("Server conn. initiated", "server_conn", "timestamp_start"),
    ("Server conn. TCP handshake", "server_conn", "timestamp_tcp_setup"),
    ("Server conn. TLS handshake", "server_conn", "timestamp_ssl_setup"),
    ("First response byte", "response", "timestamp_start"),
    ("Response complete", "response", "timestamp_end"),
    ("Server conn. closed", "server_conn", "timestamp_end"),
    ("Client conn. closed", "client_conn", "timestamp_end"),
)

# The durations: (label, (part, attribute) it starts at, (part, attribute) it ends at).
_DURATIONS = (
    ("Server connect", ("server_conn", "timestamp_start"), ("server_conn", "timestamp_tcp_setup")),
    ("Server TLS handshake", ("server_conn", "timestamp_tcp_setup"),
     ("server_conn", "timestamp_ssl_setup")),
    ("Request", ("request", "timestamp_start"), ("request", "timestamp_end")),
    ("Waiting for the server", ("request", "timestamp_end"), ("response", "timestamp_start")),
    ("Response", ("response", "timestamp_start"), ("response", "timestamp_end")),
    ("Total", ("request", "timestamp_start"), ("response", "timestamp_end")),
)


def _timestamp(flow: HTTPFlow, part: str, attribute: str) -> float | None:
    obj = getattr(flow, part, None)
    return None if obj is None else getattr(obj, attribute, None)


def _alpn(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("ascii", "backslashreplace")
    return value


def _tls(conn: Any) -> list[tuple[str, str | None]]:
    if not conn.ssl_established:
        return []
    return [
        ("TLS version", conn.tls_version or "established"),
        ("Cipher", conn.cipher_name),
        ("ALPN", _alpn(conn.alpn_proto_negotiated)),
    ]


def _present(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(label, str(value)) for label, value in pairs if value not in (None, "")]


def _certificate(cert: SSLCert) -> list[tuple[str, str]]:
    key_type, bits = cert.keyinfo
    return _present([
        ("Subject", ", ".join(f"{name}={value}" for name, value in cert.subject)),
        ("Issuer", ", ".join(f"{name}={value}" for name, value in cert.issuer)),
        ("Alt names", ", ".join(cert.altnames)),
        ("Valid from", cert.notbefore.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Valid to", cert.notafter.strftime("%Y-%m-%d %H:%M:%S UTC")
         + (" (expired)" if cert.has_expired else "")),
        ("Serial", cert.serial),
        ("Type", f"{key_type}, {bits} bits"),
        ("SHA256 digest", cert.digest("sha256")),
    ])


def _server(flow: HTTPFlow) -> list[Section]:
    conn = flow.server_conn
    if conn is None or conn.address is None:
        return []
    ip = conn.ip_address
    facts = [
        ("Address", conn.address),
        ("Resolved address", ip if ip is not None and ip != conn.address else None),
        ("Local address", conn.source_address),
        ("Via upstream proxy", conn.via.address if conn.via is not None else None),
        ("SNI", conn.sni),
        *_tls(conn),
    ]
    sections = [("Server Connection", _present(facts))]
    if conn.cert is not None:
        sections.append(("Server Certificate", _certificate(conn.cert)))
    return sections


def _client(flow: HTTPFlow) -> list[Section]:
    conn = flow.client_conn
    if conn is None or conn.address is None:
        return []
    facts = [("Address", conn.address), ("SNI", conn.sni), *_tls(conn)]
    sections = [("Client Connection", _present(facts))]
    if conn.clientcert is not None:
        sections.append(("Client Certificate", _certificate(conn.clientcert)))
    return sections


def _timing(flow: HTTPFlow) -> list[Section]:
    moments = sorted(
        (when, label) for label, part, attribute in _MOMENTS
        if (when := _timestamp(flow, part, attribute))
    )
    if not moments:
        return []
    first = moments[0][0]
    timing = [
        (label, f"{human.format_timestamp_with_milli(when)}  "
                f"(+{human.pretty_duration(when - first)})")
        for when, label in moments
    ]
    durations = []
    for label, start, end in _DURATIONS:
        began, ended = _timestamp(flow, *start), _timestamp(flow, *end)
        if began and ended and ended >= began:
            durations.append((label, human.pretty_duration(ended - began)))
    sections = [("Timing", timing)]
    if durations:
        sections.append(("Durations", durations))
    return sections


def details(flow: HTTPFlow) -> list[Section]:
    """The Detail tab's sections, in the order shown, empty ones left out."""
    sections = _client(flow) + _server(flow) + _timing(flow)
    error = flow.error
    if error is not None:
        sections.append(("Error", [("Message", error.msg),
                                   ("At", human.format_timestamp_with_milli(error.timestamp))]))
    return [(title, pairs) for title, pairs in sections if pairs]

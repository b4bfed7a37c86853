"""URLs, authorities and query strings.

``parse`` returns the pieces a Request stores (bytes, and an int port); the functions that
build text for people (``unparse``, ``hostport``) return str. Hosts are IDNA-encoded on the
way in, so a Request never holds a non-ASCII host, and IPv6 literals are stored without
their brackets, which ``hostport`` puts back.
"""
from __future__ import annotations

import ipaddress
import re
import urllib.parse

from netlib.http.headers import to_str

__all__ = [
    "parse", "unparse", "hostport", "default_port", "parse_authority", "encode_host",
    "decode_host",
    "encode", "decode",
]

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# A registered name after IDNA encoding. Underscores are not allowed by the RFCs but are
# common in real host names, so we accept them.
_HOSTNAME = re.compile(rb"[A-Za-z0-9_.-]+\Z")

_MAX_PORT = 65535


def default_port(scheme: str | bytes | None) -> int | None:
    """The port a scheme implies (80 for http), or None for a scheme we do not know."""
    if isinstance(scheme, bytes):
        scheme = scheme.decode("ascii", "replace")
    return DEFAULT_PORTS.get(scheme.lower()) if scheme else None


def encode_host(host: str | bytes) -> bytes:
    """A host as stored: IDNA for non-ASCII names, brackets removed from IPv6 literals.

    Raises ValueError naming the host when it is not a valid host name or IP address.
    """
    if isinstance(host, str):
        try:
            host = host.encode("idna") if not host.isascii() else host.encode("ascii")
        except UnicodeError:
            raise ValueError(f"invalid host name: {host!r}") from None
    if host.startswith(b"[") and host.endswith(b"]"):
        host = host[1:-1]
    if b":" in host:
        try:
            ipaddress.IPv6Address(host.decode("ascii"))
        except ValueError:
            raise ValueError(f"invalid IPv6 address: {host!r}") from None
    elif not _HOSTNAME.match(host):
        raise ValueError(f"invalid host name: {host!r}")
    return host


def decode_host(host: bytes) -> str:
    """A stored host for people: IDNA ("xn--") labels decoded, anything else kept as is."""
    if b"xn--" in host.lower():
        try:
            return host.decode("idna")
        except UnicodeError:
            pass  # not valid punycode after all: show the bytes as they are
    return to_str(host)


def _check_port(port: int, source: str | bytes) -> int:
    if not 0 < port <= _MAX_PORT:
        raise ValueError(f"port out of range in {source!r}")
    return port


def parse(url: str | bytes) -> tuple[bytes, bytes, int, bytes]:
    """Split an absolute URL into ``(scheme, host, port, path)``.

    The port defaults by scheme; the path always starts with "/" and keeps the query string
    but not the fragment, which is never sent to a server. Raises ValueError naming the URL
    when it has no scheme or host, an invalid host, or an invalid port.
    """
    text = url if isinstance(url, str) else to_str(url)
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as e:  # e.g. an invalid IPv6 literal in brackets
        raise ValueError(f"invalid URL: {url!r}: {e}") from None
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"invalid URL (no scheme or host): {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"invalid port in URL: {url!r}") from None
    if port is None:
        port = default_port(parts.scheme)
        if port is None:
            raise ValueError(f"no port given and none known for the scheme: {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        host = encode_host(parts.hostname)
    except ValueError as e:
        raise ValueError(f"invalid URL: {url!r}: {e}") from None
    return (
        parts.scheme.encode("ascii"), host, _check_port(port, url),
        path.encode("utf-8", "surrogateescape"),
    )


def parse_authority(authority: str | bytes) -> tuple[bytes, int | None]:
    """Split ``host[:port]`` (a Host header, a CONNECT target) into host and port or None.

    Raises ValueError naming the authority when the host or port is invalid.
    """
    text = authority.encode("utf-8", "surrogateescape") if isinstance(authority, str) else authority
    if text.startswith(b"["):
        host, bracket, rest = text[1:].partition(b"]")
        if not bracket or (rest and not rest.startswith(b":")):
            raise ValueError(f"invalid authority: {authority!r}")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text = text.rpartition(b":")
        if not colon:
            host, port_text = text, None
    port = None
    if port_text is not None:
        if not port_text.isdigit():
            raise ValueError(f"invalid port in authority: {authority!r}")
        port = _check_port(int(port_text), authority)
    try:
        return encode_host(host), port
    except ValueError as e:
        raise ValueError(f"invalid authority: {authority!r}: {e}") from None


def hostport(scheme: str | bytes | None, host: str | bytes, port: int | None) -> str:
    """``host:port`` as it appears in a URL or Host header; the port is left out when it
    is the scheme's default, and an IPv6 host is put in brackets. A stored (bytes) host
    stays in its IDNA form, which is what URLs and Host headers must carry."""
    if isinstance(host, bytes):
        host = to_str(host)
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == default_port(scheme):
        return host
    return f"{host}:{port}"


def unparse(scheme: str | bytes, host: str | bytes, port: int | None,
            path: str | bytes = "") -> str:
    """The inverse of ``parse``: ``scheme://host[:port]path``."""
    if isinstance(scheme, bytes):
        scheme = to_str(scheme)
    if isinstance(path, bytes):
        path = to_str(path)
    return f"{scheme}://{hostport(scheme, host, port)}{path}"


def decode(query: str) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of a urlencoded string, in order, duplicates kept."""
    return urllib.parse.parse_qsl(query, keep_blank_values=True, errors="surrogateescape")


def encode(fields: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str:
    """A urlencoded string of ``(name, value)`` pairs, in the given order."""
    return urllib.parse.urlencode(fields, errors="surrogateescape")

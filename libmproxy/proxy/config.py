"""ProxyConfig: every setting the proxy server and its layers read, checked once at startup.

A bad value (an unparseable ``-R`` spec, a regex that does not compile, a certificate file
that cannot be read) is a ValueError whose message names the value, raised here, so a
typo stops the program at startup instead of failing on the first connection.

Built from keyword arguments (``ProxyConfig(port=8080)``, as the spec shows) and/or an
options object (an argparse Namespace): attributes with a field's name, or one of the
spellings in ``OPTION_ALIASES``, are taken; other attributes of the options object are
ignored, because a command line carries options for other parts of the program too.
Keyword arguments win over the options object; an unknown keyword is a TypeError.
"""
from __future__ import annotations

import base64
import os
import re
import socket
import sys
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from OpenSSL import SSL

from netlib import certutils, exceptions as netlib_exceptions, human
from netlib.http import authentication, url
from netlib.tcp import DEFAULT_TIMEOUT, Address, version_range
from netlib.tcp.client import transparent_socket

from libmproxy import platform
from libmproxy.models import HTTPRequest, HTTPResponse

__all__ = [
    "ProxyConfig", "ServerSpec", "HostMatcher", "parse_server_spec", "parse_upstream_auth",
    "parse_cert_spec", "make_authenticator", "MODES", "PROXY_AUTH_MODES", "CONF_BASENAME",
    "DEFAULT_CADIR", "OPTION_ALIASES",
]

# Modes the proxy knows (spec: Modes of Operation; -R, -U, -T, --socks); proxy.modes has
# the layer of each. Transparent mode needs a platform resolver (libmproxy.platform).
MODES = ("regular", "reverse", "upstream", "transparent", "socks5")

# The modes in which clients talk to the proxy as a proxy and can be asked to authenticate
# (spec: "The proxy auth options are not compatible with the transparent, socks or
# reverse proxy mode").
PROXY_AUTH_MODES = ("regular", "upstream")

# The CA files are called mitmproxy-ca.pem etc. (spec: "CA and cert files").
CONF_BASENAME = "mitmproxy"
DEFAULT_CADIR = "~/.mitmproxy"

# What mitm.it is served as, unless told otherwise (spec: "About Certificates").
DEFAULT_APP_HOST = "mitm.it"
DEFAULT_APP_PORT = 80

# The names the command line (0.18's argparse destinations and the docs' flags) may use
# for a field.
OPTION_ALIASES = {
    "listen_host": "host",
    "listen_port": "port",
    "ca_dir": "cadir",
    "confdir": "cadir",
    "client_certs": "clientcerts",
    "ignore": "ignore_hosts",
    "tcp": "tcp_hosts",
    "insecure": "ssl_insecure",
    "ssl_verify_upstream_trusted_ca": "upstream_trusted_ca",
    "ssl_verify_upstream_trusted_cadir": "upstream_trusted_cadir",
}

# An app answers a request locally: (host, port) -> app(request) -> response.
App = Callable[[HTTPRequest], HTTPResponse]


class ServerSpec(NamedTuple):
    """Where ``-R``/``-U`` point: the scheme ("http" or "https") and the address."""
    scheme: str
    address: Address


def parse_server_spec(spec: str | ServerSpec | tuple, allowed: Sequence[str] = ("http", "https")
                      ) -> ServerSpec:
    """``http[s]://host[:port][/]`` -> ServerSpec. A trailing "/" is allowed (the docs write
    ``-R http://example.com/``); any other path is refused, since it would be ignored."""
    if isinstance(spec, tuple):
        scheme, address = spec
        return ServerSpec(scheme, Address.wrap(address))
    scheme, sep, rest = spec.partition("://")
    if not sep or scheme.lower() not in allowed:
        raise ValueError(
            f"invalid server specification {spec!r}: expected "
            f"{' or '.join(s + '://host[:port]' for s in allowed)}")
    authority, slash, path = rest.partition("/")
    if path or not authority:
        raise ValueError(
            f"invalid server specification {spec!r}: expected {scheme}://host[:port] "
            f"without a path")
    try:
        host, port = url.parse_authority(authority)
    except ValueError as e:
        raise ValueError(f"invalid server specification {spec!r}: {e}") from None
    if port is None:
        port = url.default_port(scheme)
    return ServerSpec(scheme.lower(), Address(host.decode("ascii"), port))


def parse_upstream_auth(auth: str) -> bytes:
    """``user:pass`` -> the Proxy-Authorization value (HTTP Basic, the only kind 0.18 did)."""
    if ":" not in auth:
        raise ValueError(f"invalid upstream auth {auth!r}: expected username:password")
    return b"Basic " + base64.b64encode(auth.encode("utf-8"))


# How the spec names the modes in which proxy authentication is refused.
_MODE_NAMES = {"reverse": "reverse proxy", "transparent": "transparent", "socks5": "socks"}


def make_authenticator(nonanonymous: bool = False, singleuser: str | None = None,
                       htpasswd: str | None = None, mode: str = "regular"
                       ) -> authentication.NullProxyAuth:
    """The proxy authenticator for ``--nonanonymous``, ``--singleuser USER:PASS`` or
    ``--htpasswd PATH`` (at most one): BasicProxyAuth over the matching password manager,
    or NullProxyAuth when none is given. A bad htpasswd file, or authentication in a mode
    where the client does not talk to us as a proxy, is a ValueError."""
    given = [flag for flag, value in (("--nonanonymous", nonanonymous),
                                      ("--singleuser", singleuser), ("--htpasswd", htpasswd))
             if value]
    if not given:
        return authentication.NullProxyAuth()
    if len(given) > 1:
        raise ValueError(f"proxy authentication: {' and '.join(given)} exclude each other; "
                         f"give one")
    if mode not in PROXY_AUTH_MODES:
        raise ValueError(f"proxy authentication ({given[0]}) is not compatible with "
                         f"{_MODE_NAMES.get(mode, mode)} mode")
    if singleuser:
        password_manager: authentication.PassMan = \
            authentication.PassManSingleUser.from_spec(singleuser)
    elif htpasswd:
        password_manager = authentication.PassManHtpasswd(os.path.expanduser(htpasswd))
    else:
        password_manager = authentication.PassManNonAnon()
    return authentication.BasicProxyAuth(password_manager, authentication.REALM)


def parse_cert_spec(spec: str) -> tuple[str, str]:
    """``[domain=]path`` -> (domain, path); the domain defaults to "*" (every host)."""
    domain, sep, path = spec.partition("=")
    if not sep:
        return "*", spec
    if not domain or not path:
        raise ValueError(f"invalid certificate specification {spec!r}: expected [domain=]path")
    return domain, path


class HostMatcher:
    """Regexes matched (searched, case-insensitively) against "host:port" strings, as
    ``--ignore`` and ``--tcp`` patterns are documented to be."""

    def __init__(self, patterns: Sequence[str] = (), what: str = "host pattern") -> None:
        self.patterns = list(patterns)
        self._regexes = []
        for pattern in self.patterns:
            try:
                self._regexes.append(re.compile(pattern, re.IGNORECASE))
            except re.error as e:
                raise ValueError(f"invalid {what} {pattern!r}: {e}") from None

    def __call__(self, address: Address | tuple | None, sni: str | None = None) -> bool:
        """Whether ``address`` (or the ClientHello's SNI with the same port) matches."""
        if address is None or not self._regexes:
            return False
        address = Address.wrap(address)
        candidates = [f"{address.host}:{address.port}"]
        if sni:
            candidates.append(f"{sni}:{address.port}")
        return any(r.search(c) for r in self._regexes for c in candidates)

    def __bool__(self) -> bool:
        return bool(self._regexes)


class ProxyConfig:
    """The proxy's settings. Fields (defaults in brackets):

    host [""], port [8080]: where to listen. cadir [~/.mitmproxy]: the CA's directory,
    created if missing. mode ["regular"] and upstream_server [None] (-R/-U, parsed to a
    ServerSpec), upstream_auth [None] ("user:pass"). certs [()]: "[domain=]path" custom
    certificates. clientcerts [None]: file or directory (HOST.pem). no_upstream_cert
    [False]. ssl_insecure [False]: do not verify upstream certificates (verified against
    certifi, or upstream_trusted_ca / upstream_trusted_cadir, otherwise). ciphers_client,
    ciphers_server [None]: OpenSSL cipher lists. ssl_version_client, ssl_version_server
    ["secure"]: a netlib.tcp.VERSIONS name. body_size_limit [None]: bytes, or "3m".
    ignore_hosts, tcp_hosts [()]: regexes on "host:port". http2 [True]. rawtcp [False]:
    relay non-HTTP traffic as TCP. websockets [True]: relay WebSocket connections message
    by message (False: raw). timeout: socket timeout in seconds. app_host, app_port
    ["mitm.it", 80] and apps [{}]: requests to (host, port) of an app are answered by it.
    max_connections: connection threads at once. auth_nonanonymous [False],
    auth_singleuser [None] ("user:pass"), auth_htpasswd [None] (a path): proxy
    authentication (at most one; regular and upstream mode only), built into
    ``authenticator`` (see ``make_authenticator``). spoof_source_address [False]: connect
    to servers from the client's address (fully transparent mode; Linux, CAP_NET_ADMIN).
    """

    def __init__(self, options: Any = None, **kwargs: Any) -> None:
        values = _collect(options, kwargs)
        self.host: str = values.get("host") or ""
        self.port: int = int(values.get("port", 8080))
        self.cadir: str = os.path.expanduser(values.get("cadir") or DEFAULT_CADIR)
        self.mode: str = values.get("mode") or "regular"
        if self.mode not in MODES:
            raise ValueError(f"invalid proxy mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if self.mode == "transparent" and platform.resolver() is None:
            raise ValueError(f"transparent mode is not supported on this platform "
                             f"({sys.platform}): it needs Linux (iptables) or OSX (pf)")
        self.spoof_source_address: bool = bool(values.get("spoof_source_address", False))
        if self.spoof_source_address:
            _check_spoofing()
        self.upstream_server: ServerSpec | None = None
        if values.get("upstream_server") is not None:
            allowed = ("http",) if self.mode == "upstream" else ("http", "https")
            self.upstream_server = parse_server_spec(values["upstream_server"], allowed)
        if self.mode in ("reverse", "upstream") and self.upstream_server is None:
            raise ValueError(f"{self.mode} mode needs a server (-R/-U http[s]://host[:port])")
        self.authenticator = make_authenticator(
            bool(values.get("auth_nonanonymous")), values.get("auth_singleuser"),
            values.get("auth_htpasswd"), self.mode)
        auth = values.get("upstream_auth")
        self.upstream_auth: bytes | None = parse_upstream_auth(auth) if auth else None
        self.no_upstream_cert: bool = bool(values.get("no_upstream_cert", False))
        self.ssl_insecure: bool = bool(values.get("ssl_insecure", False))
        self.upstream_trusted_ca: str | None = _existing(
            values.get("upstream_trusted_ca"), "upstream trusted CA file", os.path.isfile)
        self.upstream_trusted_cadir: str | None = _existing(
            values.get("upstream_trusted_cadir"), "upstream trusted CA directory",
            os.path.isdir)
        self.clientcerts: str | None = _existing(
            values.get("clientcerts"), "client certificate file or directory", os.path.exists)
        self.ciphers_client: str | None = _cipher_list(values.get("ciphers_client"))
        self.ciphers_server: str | None = _cipher_list(values.get("ciphers_server"))
        self.ssl_version_client = _tls_version(values.get("ssl_version_client", "secure"))
        self.ssl_version_server = _tls_version(values.get("ssl_version_server", "secure"))
        self.body_size_limit: int | None = _size(values.get("body_size_limit"))
        self.ignore_hosts = HostMatcher(values.get("ignore_hosts") or (), "ignore pattern")
        self.tcp_hosts = HostMatcher(values.get("tcp_hosts") or (), "TCP host pattern")
        self.http2: bool = bool(values.get("http2", True))
        self.rawtcp: bool = bool(values.get("rawtcp", False))
        self.websockets: bool = bool(values.get("websockets", True))
        self.timeout: float | None = values.get("timeout", DEFAULT_TIMEOUT)
        self.max_connections: int | None = values.get("max_connections")
        self.app_host: str = values.get("app_host") or DEFAULT_APP_HOST
        self.app_port: int = int(values.get("app_port") or DEFAULT_APP_PORT)
        self.apps: dict[tuple[str, int], App] = dict(values.get("apps") or {})
        self.certstore = _certstore(self.cadir, self.ciphers_client)
        self.certs: list[tuple[str, str]] = [parse_cert_spec(s) for s in values.get("certs") or ()]
        for domain, path in self.certs:
            try:
                self.certstore.add_cert_file(domain, path)
            except netlib_exceptions.CertificateException as e:
                raise ValueError(f"invalid certificate for {domain}: {e}") from None

    @property
    def ca_cert_path(self) -> str:
        """The CA certificate a client must trust (``mitmproxy-ca-cert.pem``)."""
        return self.certstore.ca_cert_path

    def find_app(self, host: str | None, port: int | None) -> App | None:
        """The app registered for ``host:port``, if any."""
        if not self.apps or host is None:
            return None
        return self.apps.get((host.lower(), port))

    def __repr__(self) -> str:
        return f"<ProxyConfig {self.mode} on {self.host or '*'}:{self.port}>"


# Fields a ProxyConfig accepts (the keyword arguments), for the typo check.
FIELDS = frozenset({
    "host", "port", "cadir", "mode", "upstream_server", "upstream_auth", "no_upstream_cert",
    "ssl_insecure", "upstream_trusted_ca", "upstream_trusted_cadir", "clientcerts",
    "certs", "ciphers_client", "ciphers_server", "ssl_version_client", "ssl_version_server",
    "body_size_limit", "ignore_hosts", "tcp_hosts", "http2", "rawtcp", "websockets",
    "timeout", "max_connections", "app_host", "app_port", "apps", "auth_nonanonymous",
    "auth_singleuser", "auth_htpasswd", "spoof_source_address",
})


def _collect(options: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(kwargs) - FIELDS - set(OPTION_ALIASES))
    if unknown:
        raise TypeError(f"ProxyConfig got unknown settings: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    if options is not None:
        source = options if isinstance(options, Mapping) else vars(options)
        for name, value in source.items():
            field = OPTION_ALIASES.get(name, name)
            if field in FIELDS and value is not None:
                values[field] = value
        if "no_http2" in source and source["no_http2"] is not None:
            values.setdefault("http2", not source["no_http2"])
    for name, value in kwargs.items():
        values[OPTION_ALIASES.get(name, name)] = value
    return {k: v for k, v in values.items() if v is not None}


def _existing(path: str | None, what: str, check: Callable[[str], bool]) -> str | None:
    if path is None:
        return None
    path = os.path.expanduser(path)
    if not check(path):
        raise ValueError(f"{what} not found: {path}")
    return path


def _check_spoofing() -> None:
    """Fail at startup, not per connection, when the kernel will not let us use the
    client's address (``--spoof-source-address`` needs CAP_NET_ADMIN or CAP_NET_RAW)."""
    try:
        transparent_socket(socket.AF_INET).close()
    except netlib_exceptions.TcpException as e:
        raise ValueError(
            f"--spoof-source-address: {e}; run as root, or through the capability-keeping "
            f"wrapper examples/mitmproxy_shim.c (docs/transparent.md)") from None


def _tls_version(name: str) -> str:
    try:
        version_range(name)
    except netlib_exceptions.TlsException as e:
        raise ValueError(str(e)) from None
    return name


def _cipher_list(value: str | None) -> str | None:
    """Check an OpenSSL cipher list now, not at the first handshake."""
    if value is None:
        return None
    try:
        SSL.Context(SSL.TLS_METHOD).set_cipher_list(value.encode("ascii", "replace"))
    except SSL.Error:
        raise ValueError(f"invalid cipher list {value!r}: OpenSSL accepts none of it") from None
    return value


def _size(value: int | str | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return human.parse_size(value)
    except ValueError as e:
        raise ValueError(f"invalid body size limit {value!r}: {e}") from None


def _certstore(cadir: str, ciphers_client: str | None) -> certutils.CertStore:
    """The CA in ``cadir``; interception certificates get an ECDSA P-256 leaf key.

    Why EC: every client handshake signs with the leaf key, and RSA-2048 costs ~280 us a
    signature against ~25 us for P-256 (``openssl speed`` on the benchmark machine); the
    CA's signature on each minted certificate stays RSA, since the CA is what users
    installed. curl, Python's ssl/requests and Chromium accept such leaves (as they do
    Let's Encrypt's ECDSA leaves under RSA intermediates). With ``--ciphers-client`` the
    user pins the suites offered to clients, possibly RSA-authenticated ones only
    (ECDHE-RSA-...), so the leaf stays RSA as in 0.18, which every cipher list accepts.
    """
    leaf_key_type = "rsa" if ciphers_client else "ec"
    try:
        return certutils.CertStore.from_store(cadir, CONF_BASENAME, leaf_key_type=leaf_key_type)
    except netlib_exceptions.CertificateException as e:
        raise ValueError(f"cannot use the certificate directory: {e}") from None

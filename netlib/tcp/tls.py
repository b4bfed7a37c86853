"""Building pyOpenSSL contexts for both sides of the proxy, from plain option values.

The options are the ones the proxy passes down from its command line: a version range
(``--ssl-version-client``/``--ssl-version-server`` name a ``VERSIONS`` entry), a cipher list,
ALPN, SNI, client certificates (``--client-certs``), and upstream verification against a CA
bundle (``--upstream-trusted-ca``/``--upstream-trusted-cadir``). Every context also gets key
logging when the environment asks for it (netlib.tcp.keylog).

Shared contexts. ``create_*_context`` build a fresh context; the connections themselves
(``TCPClient.convert_to_ssl``, ``BaseHandler.convert_to_ssl`` without an SNI handler) take
theirs from ``client_context`` / ``server_context``, which keep one ready context per
distinct set of options in a small LRU. Building a context costs ~60 us (client, no
verification), ~4 ms (client verifying against certifi: the bundle is parsed each time) and
~200 us (server: key and certificate conversion, ``check_privatekey``), all of it holding the
GIL, on every new connection. A shared context is safe: pyOpenSSL refuses changes to a
context once a connection used it, and OpenSSL handshakes on one context from many threads.
What differs per connection goes on the connection: the SNI (``set_tlsext_host_name``), the
leaf certificate (``Connection.use_certificate``; the context holds the key), and the
callbacks, which the context's callbacks find in the connection's app data
(``ConnectionCallbacks``). Those dispatchers never raise: pyOpenSSL keeps a callback's
exception on the *context*, where another connection's handshake could pick it up, so an
error is kept in ``ConnectionCallbacks.errors`` and reported by the connection it belongs to.
Measured per connection (thread CPU, new names each time): interception (mint + server
handshake) 2.9 -> 2.1 ms, upstream client handshake without verification 1.2 -> 0.95 ms.
Shared server contexts resume no sessions, as per-connection ones could not.
"""
from __future__ import annotations

import collections
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

import certifi
from cryptography import x509
from OpenSSL import SSL, crypto

from netlib import exceptions
from netlib.tcp import keylog
from netlib.tcp.errors import tls_reason

__all__ = [
    "VERSIONS", "DEFAULT_OPTIONS", "DEFAULT_SERVER_OPTIONS", "version_range",
    "create_client_context", "create_server_context", "AlpnSelect",
    "client_context", "server_context", "ConnectionCallbacks", "CONTEXT_CACHE_SIZE",
    "as_certificate", "certificate_matches", "clear_context_caches",
]

# Options for every context: SSLv2/SSLv3 are broken beyond repair (OpenSSL 3 has no SSLv2 at
# all; the flag is harmless) and TLS compression leaks secrets (CRIME).
DEFAULT_OPTIONS = SSL.OP_NO_SSLv2 | SSL.OP_NO_SSLv3 | SSL.OP_NO_COMPRESSION

# A server additionally picks the cipher by its own preference, so a client offering a weak
# cipher first does not get it.
DEFAULT_SERVER_OPTIONS = DEFAULT_OPTIONS | SSL.OP_CIPHER_SERVER_PREFERENCE

# Names for version ranges, as 0.18's --ssl-version-* options spelled them. (None, None)
# means whatever this OpenSSL allows; "secure" drops everything older than TLS 1.2.
VERSIONS: dict[str, tuple[int | None, int | None]] = {
    "all": (None, None),
    "secure": (SSL.TLS1_2_VERSION, None),
    "TLSv1": (SSL.TLS1_VERSION, SSL.TLS1_VERSION),
    "TLSv1_1": (SSL.TLS1_1_VERSION, SSL.TLS1_1_VERSION),
    "TLSv1_2": (SSL.TLS1_2_VERSION, SSL.TLS1_2_VERSION),
    "TLSv1_3": (SSL.TLS1_3_VERSION, SSL.TLS1_3_VERSION),
}

# The session id context a server needs once it asks for client certificates: without one,
# OpenSSL refuses to resume sessions ("session id context uninitialized").
SESSION_ID_CONTEXT = b"netlib"

# An ALPN select callback gets the client's offers and returns the choice, or None to go on
# without ALPN.
AlpnSelect = Callable[[list[bytes]], "bytes | None"]

# Shared contexts kept: one per distinct option set (and server key, chain file); a proxy
# uses a handful, so this only bounds odd uses such as many --client-certs files.
CONTEXT_CACHE_SIZE = 64


def version_range(name: str) -> tuple[int | None, int | None]:
    """The (minimum, maximum) TLS versions for a ``VERSIONS`` name."""
    try:
        return VERSIONS[name]
    except KeyError:
        raise exceptions.TlsException(
            f"unknown TLS version {name!r}; choose one of {', '.join(VERSIONS)}") from None


def as_certificate(cert: Any) -> x509.Certificate:
    """A cryptography certificate from an SSLCert, a pyOpenSSL X509 or itself."""
    if isinstance(cert, x509.Certificate):
        return cert
    if hasattr(cert, "to_cryptography"):
        return cert.to_cryptography()
    raise exceptions.TlsException(f"not a certificate: {type(cert).__name__}")


def _as_key(key: Any) -> Any:
    """A cryptography private key from a pyOpenSSL PKey or itself."""
    if isinstance(key, crypto.PKey):
        return key.to_cryptography_key()
    return key


def _new_context(method: int, options: int, min_version: int | None,
                 max_version: int | None, cipher_list: str | None) -> SSL.Context:
    context = SSL.Context(method)
    context.set_options(options)
    if min_version is not None:
        context.set_min_proto_version(min_version)
    if max_version is not None:
        context.set_max_proto_version(max_version)
    if cipher_list:
        try:
            context.set_cipher_list(cipher_list.encode() if isinstance(cipher_list, str)
                                    else cipher_list)
        except SSL.Error as e:
            raise exceptions.TlsException(
                f"invalid cipher list {cipher_list!r}: {tls_reason(e)}") from e
    keylog.install(context)
    return context


def _use_cert_file(context: SSL.Context, cert: str | os.PathLike, key: Any) -> None:
    """A PEM file with the certificate (plus chain) and, unless ``key`` is given, the key."""
    try:
        context.use_certificate_chain_file(os.fspath(cert))
        if key is None or isinstance(key, (str, os.PathLike)):
            context.use_privatekey_file(os.fspath(key if key is not None else cert))
        else:
            context.use_privatekey(_as_key(key))
    except SSL.Error as e:
        raise exceptions.TlsException(
            f"cannot use certificate file {os.fspath(cert)}: {tls_reason(e)}") from e


def _use_cert(context: SSL.Context, cert: Any, key: Any) -> None:
    try:
        context.use_certificate(as_certificate(cert))
        context.use_privatekey(_as_key(key))
        context.check_privatekey()
    except SSL.Error as e:
        raise exceptions.TlsException(f"cannot use certificate: {tls_reason(e)}") from e


def create_client_context(
    *,
    method: int = SSL.TLS_CLIENT_METHOD,
    options: int = DEFAULT_OPTIONS,
    min_version: int | None = None,
    max_version: int | None = None,
    cipher_list: str | None = None,
    alpn_protos: Sequence[bytes] | None = None,
    cert: Any = None,
    key: Any = None,
    verify: Callable[..., bool] | None = None,
    ca_path: str | os.PathLike | None = None,
    ca_pemfile: str | os.PathLike | None = None,
) -> SSL.Context:
    """A context for connecting to a server.

    ``cert`` is a client certificate: a PEM file path holding certificate and key (as
    ``--client-certs`` gives), or a certificate object with ``key``. ``verify`` is a verify
    callback (netlib.tcp.verify.ChainVerifier); when given, the peer's chain must lead to
    a CA in ``ca_pemfile``/``ca_path``, or to certifi's bundle when neither is set.
    """
    context = _new_context(method, options, min_version, max_version, cipher_list)
    if alpn_protos:
        context.set_alpn_protos(list(alpn_protos))
    if cert is not None:
        if isinstance(cert, (str, os.PathLike)):
            _use_cert_file(context, cert, key)
        else:
            _use_cert(context, cert, key)
    if verify is None:
        context.set_verify(SSL.VERIFY_NONE)
    else:
        context.set_verify(SSL.VERIFY_PEER, verify)
        if ca_path is None and ca_pemfile is None:
            # certifi's bundle, as 0.18 used: the same trust store on every platform.
            ca_pemfile = certifi.where()
        try:
            context.load_verify_locations(
                os.fspath(ca_pemfile) if ca_pemfile is not None else None,
                os.fspath(ca_path) if ca_path is not None else None)
        except SSL.Error as e:
            raise exceptions.TlsException(
                f"cannot load trusted CAs from {ca_pemfile or ca_path}: {tls_reason(e)}") from e
    return context



def create_server_context(
    cert: Any,
    key: Any,
    *,
    chain_file: str | os.PathLike | None = None,
    method: int = SSL.TLS_SERVER_METHOD,
    options: int = DEFAULT_SERVER_OPTIONS,
    min_version: int | None = None,
    max_version: int | None = None,
    cipher_list: str | None = None,
    alpn_select: AlpnSelect | None = None,
    request_client_cert: bool = False,
    sni_callback: Callable[[SSL.Connection], None] | None = None,
) -> SSL.Context:
    """A context for serving a client.

    ``chain_file`` is a PEM file with the certificate followed by its intermediates, which
    are sent along. With ``request_client_cert`` the client is asked for a certificate and
    any certificate is accepted, as a proxy must: it only passes it on, it does not judge.
    """
    context = _new_context(method, options, min_version, max_version, cipher_list)
    context.set_session_id(SESSION_ID_CONTEXT)
    if chain_file is not None:
        _use_cert_file(context, chain_file, key)
    _use_cert(context, cert, key)
    if request_client_cert:
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_CLIENT_ONCE, _accept_any_certificate)
    if sni_callback is not None:
        context.set_tlsext_servername_callback(sni_callback)
    if alpn_select is not None:
        context.set_alpn_select_callback(_alpn_adapter(alpn_select))
    return context


def _accept_any_certificate(conn: SSL.Connection, cert: crypto.X509, errno: int,
                            depth: int, ok: int) -> bool:
    return True


def _alpn_adapter(select: AlpnSelect) -> Callable[[SSL.Connection, list[bytes]], Any]:
    """pyOpenSSL wants a sentinel, not None, for "no protocol, but carry on"."""
    def callback(conn: SSL.Connection, offers: list[bytes]) -> Any:
        choice = select(offers)
        return choice if choice else SSL.NO_OVERLAPPING_PROTOCOLS
    return callback


# --- shared contexts --------------------------------------------------------------------

@dataclass
class ConnectionCallbacks:
    """What a shared context's callbacks do for one connection (its app data)."""
    alpn_select: AlpnSelect | None = None
    verify: Callable[..., bool] | None = None
    errors: list[Exception] = field(default_factory=list)


def _callbacks(conn: SSL.Connection) -> ConnectionCallbacks:
    return conn.get_app_data() or _NO_CALLBACKS


_NO_CALLBACKS = ConnectionCallbacks()


def _dispatch_alpn(conn: SSL.Connection, offers: list[bytes]) -> Any:
    callbacks = _callbacks(conn)
    if callbacks.alpn_select is None:
        return SSL.NO_OVERLAPPING_PROTOCOLS
    try:
        choice = callbacks.alpn_select(offers)
    except Exception as e:  # reported by the connection's own convert_to_ssl
        callbacks.errors.append(e)
        return SSL.NO_OVERLAPPING_PROTOCOLS
    return choice if choice else SSL.NO_OVERLAPPING_PROTOCOLS


def _dispatch_verify(conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int,
                     ok: int) -> bool:
    callbacks = _callbacks(conn)
    if callbacks.verify is None:
        return bool(ok)
    try:
        return bool(callbacks.verify(conn, cert, errno, depth, ok))
    except Exception as e:  # a failing check fails the handshake, and says why
        callbacks.errors.append(e)
        return False


class _ContextCache:
    """A bounded LRU of contexts. A key may hold ``id()`` of objects (a server key, a client
    certificate object): the entry pins those objects, so the ids stay theirs, and a hit
    checks identity."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[Hashable, tuple[tuple, SSL.Context]] = \
            collections.OrderedDict()

    def get(self, key: Hashable, pins: tuple, build: Callable[[], SSL.Context]) -> SSL.Context:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and all(a is b for a, b in zip(entry[0], pins)):
                self._entries.move_to_end(key)
                return entry[1]
        context = build()  # outside the lock: a slow build must not stall other handshakes
        with self._lock:
            self._entries[key] = (pins, context)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return context

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_client_contexts = _ContextCache(CONTEXT_CACHE_SIZE)
_server_contexts = _ContextCache(CONTEXT_CACHE_SIZE)


def _file_key(path: str | os.PathLike | None) -> tuple | None:
    """A file (or directory) as part of a cache key: path, size and mtime, so that a file
    changed on disk (a renewed client certificate) gets a new context."""
    if path is None:
        return None
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError:
        return (path, None)  # building will fail and say why; nothing is cached then
    return (path, st.st_size, st.st_mtime_ns)


def _is_path(value: Any) -> bool:
    return value is None or isinstance(value, (str, os.PathLike))


def _object_key(value: Any) -> tuple[str, Any]:
    """Paths by file, objects (certificates, keys) by identity (see ``_pin``)."""
    if _is_path(value):
        return ("file", _file_key(value))
    return ("object", id(value))


def _pin(value: Any) -> Any:
    """What a cache entry must hold on to for ``_object_key(value)`` to stay valid: the
    object itself when it is keyed by id(), nothing for a path (a new str each time)."""
    return None if _is_path(value) else value


def client_context(
    *,
    method: int = SSL.TLS_CLIENT_METHOD,
    options: int = DEFAULT_OPTIONS,
    min_version: int | None = None,
    max_version: int | None = None,
    cipher_list: str | None = None,
    alpn_protos: Sequence[bytes] | None = None,
    cert: Any = None,
    key: Any = None,
    verify: bool = False,
    ca_path: str | os.PathLike | None = None,
    ca_pemfile: str | os.PathLike | None = None,
) -> SSL.Context:
    """The shared client context for these options (see ``create_client_context``).

    With ``verify`` the context checks the chain and calls the connection's
    ``ConnectionCallbacks.verify`` (a ChainVerifier) for each certificate.
    """
    key_ = (method, options, min_version, max_version, cipher_list,
            tuple(alpn_protos or ()), _object_key(cert), _object_key(key), verify,
            _file_key(ca_path), _file_key(ca_pemfile), keylog.active_path())

    def build() -> SSL.Context:
        return create_client_context(
            method=method, options=options, min_version=min_version, max_version=max_version,
            cipher_list=cipher_list, alpn_protos=alpn_protos, cert=cert, key=key,
            verify=_dispatch_verify if verify else None, ca_path=ca_path,
            ca_pemfile=ca_pemfile)

    return _client_contexts.get(key_, (_pin(cert), _pin(key)), build)


def server_context(
    key: Any,
    *,
    chain_file: str | os.PathLike | None = None,
    method: int = SSL.TLS_SERVER_METHOD,
    options: int = DEFAULT_SERVER_OPTIONS,
    min_version: int | None = None,
    max_version: int | None = None,
    cipher_list: str | None = None,
    alpn: bool = False,
    request_client_cert: bool = False,
) -> SSL.Context:
    """The shared server context holding ``key`` (and ``chain_file``'s certificates).

    The leaf certificate is the connection's: ``Connection.use_certificate(cert)`` after
    checking that it belongs to ``key`` (``certificate_matches``). With ``alpn`` the
    connection's ``ConnectionCallbacks.alpn_select`` picks the protocol.
    """
    key_ = (_object_key(key), _file_key(chain_file), method, options, min_version, max_version,
            cipher_list, alpn, request_client_cert, keylog.active_path())

    def build() -> SSL.Context:
        # No session resumption, as when every connection had its own context (a session
        # could not outlive it): a shared context would otherwise let a client resume a
        # session made for another connection's certificate, and that is a behaviour
        # change to decide on its own, not a side effect of sharing.
        context = _new_context(method, options | SSL.OP_NO_TICKET, min_version, max_version,
                               cipher_list)
        context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        context.set_session_id(SESSION_ID_CONTEXT)
        if chain_file is not None:
            _use_cert_file(context, chain_file, key)
        else:
            try:
                context.use_privatekey(_as_key(key))
            except (SSL.Error, TypeError, ValueError) as e:
                raise exceptions.TlsException(f"cannot use private key: {e}") from e
        if request_client_cert:
            context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_CLIENT_ONCE, _accept_any_certificate)
        if alpn:
            context.set_alpn_select_callback(_dispatch_alpn)
        return context

    return _server_contexts.get(key_, (_pin(key),), build)


def certificate_matches(cert: x509.Certificate, key: Any) -> bool:
    """Whether ``key`` is the private key of ``cert`` (what ``check_privatekey`` tells a
    context; a connection has no such call, and OpenSSL would otherwise drop the key
    silently and fail the handshake with a puzzling reason)."""
    return cert.public_key() == _as_key(key).public_key()


def clear_context_caches() -> None:
    """Forget every shared context (tests; a changed environment)."""
    _client_contexts.clear()
    _server_contexts.clear()

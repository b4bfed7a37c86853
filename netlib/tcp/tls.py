"""Building pyOpenSSL contexts for both sides of the proxy, from plain option values.

The options are the ones the proxy passes down from its command line: a version range
(``--ssl-version-client``/``--ssl-version-server`` name a ``VERSIONS`` entry), a cipher list,
ALPN, SNI, client certificates (``--client-certs``), and upstream verification against a CA
bundle (``--upstream-trusted-ca``/``--upstream-trusted-cadir``). Every context also gets key
logging when the environment asks for it (netlib.tcp.keylog).

A context is cheap compared with the handshake it serves and holds per-connection callbacks
(the SNI and verify callbacks report into their connection), so each connection builds its
own; the expensive parts (key generation, minting) are cached in netlib.certutils.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import certifi
from cryptography import x509
from OpenSSL import SSL, crypto

from netlib import exceptions
from netlib.tcp import keylog
from netlib.tcp.errors import tls_reason

__all__ = [
    "VERSIONS", "DEFAULT_OPTIONS", "DEFAULT_SERVER_OPTIONS", "version_range",
    "create_client_context", "create_server_context", "AlpnSelect",
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


def version_range(name: str) -> tuple[int | None, int | None]:
    """The (minimum, maximum) TLS versions for a ``VERSIONS`` name."""
    try:
        return VERSIONS[name]
    except KeyError:
        raise exceptions.TlsException(
            f"unknown TLS version {name!r}; choose one of {', '.join(VERSIONS)}") from None


def _as_certificate(cert: Any) -> x509.Certificate:
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
        context.use_certificate(_as_certificate(cert))
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

"""Certificates: the proxy's own CA, the interception certificates it mints, custom certificates.

Rules of this module:

- Objects: certificates are ``SSLCert`` (a wrapper around a ``cryptography.x509.Certificate``);
  private keys are *cryptography* private keys. pyOpenSSL 24+ deprecates passing its own
  ``X509``/``PKey`` objects to ``SSL.Context``, so hand ``SSLCert.to_cryptography()`` and the
  key straight to ``Context.use_certificate`` / ``Context.use_privatekey``. ``SSLCert.x509``
  still gives the pyOpenSSL object for code (and 0.18 scripts) that wants it.
- Names: host names are ``str``; ``bytes`` are accepted wherever a name goes in and decoded.
- Speed: minting is on the TLS handshake's path. The leaf key is made once per ``CertStore``
  (key generation is the expensive part) and minted certificates are kept in a bounded LRU
  cache, so a host seen before costs a dictionary lookup, not a signature. The leaf key may
  be ECDSA P-256 (``leaf_key_type="ec"``, what the proxy uses): every handshake signs with
  the leaf key, and a P-256 signature costs ~25 us against ~280 us for RSA-2048 (openssl
  speed on the benchmark machine). The CA stays RSA, so CAs already installed keep working.
- Errors: an unreadable or invalid certificate or key file raises ``CertificateException``
  with a message that names the file.
"""
from __future__ import annotations

import collections
import concurrent.futures
import datetime
import hashlib
import ipaddress
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import crypto

from netlib.exceptions import CertificateException

__all__ = [
    "CA_ORGANIZATION", "CA_COMMON_NAME", "CA_VALIDITY", "LEAF_VALIDITY", "BACKDATE",
    "KEY_SIZE", "LEAF_KEY_TYPES", "CERT_CACHE_SIZE",
    "SSLCert", "CertStore", "CertStoreEntry",
    "create_ca", "dummy_cert", "read_cert_file", "client_cert_path",
]

PrivateKey = CertificateIssuerPrivateKeyTypes
Name = Union[str, bytes]

CA_ORGANIZATION = "mitmproxy"
CA_COMMON_NAME = "mitmproxy"
# The CA lives on users' devices; a few years spares them re-installing it often (0.18 used
# three years too) while still letting a forgotten CA die eventually.
CA_VALIDITY = datetime.timedelta(days=3 * 365)
# Browsers and Apple platforms reject leaf certificates valid for more than 398 days.
LEAF_VALIDITY = datetime.timedelta(days=365)
# Start validity in the past so that clients whose clocks run slow accept the certificate.
BACKDATE = datetime.timedelta(days=2)
KEY_SIZE = 2048
# Leaf key types a CertStore can issue to. "rsa" (KEY_SIZE bits) is the default because it
# works with any cipher list a user or test pins for TLS 1.2 (ECDHE-RSA-...); "ec" (P-256)
# makes every handshake's signature ~10x cheaper and is accepted by every current client.
LEAF_KEY_TYPES = ("rsa", "ec")
# Enough for every host a long browsing session touches; each entry is a few kilobytes.
CERT_CACHE_SIZE = 1000
# X.520 upper bound for a commonName; longer host names can only live in the SAN extension.
MAX_COMMON_NAME_LENGTH = 64
# Friendly name shown by the Windows certificate import wizard for the .p12 file.
P12_FRIENDLY_NAME = b"mitmproxy"

_HASH = hashes.SHA256
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)
_KEY_TYPE_NAMES = (
    (rsa.RSAPublicKey, "RSA"),
    (dsa.DSAPublicKey, "DSA"),
    (ec.EllipticCurvePublicKey, "EC"),
    (ed25519.Ed25519PublicKey, "Ed25519"),
    (ed448.Ed448PublicKey, "Ed448"),
)
# Ed25519/Ed448 keys have no key_size attribute; these are their sizes in bits.
_EDWARDS_KEY_BITS = {"Ed25519": 256, "Ed448": 456}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _to_str(name: Name) -> str:
    """Names arrive as bytes from the wire (SNI) and as str from users; we keep str."""
    if isinstance(name, bytes):
        return name.decode("utf-8", "replace")
    return name


class SSLCert:
    """A certificate, as the proxy, the flow files and user scripts see it.

    Text comes out as ``str``: ``cn``, ``altnames``, ``organization``, the pairs of
    ``subject``/``issuer``. Two SSLCerts are equal when their DER encodings are.
    """

    def __init__(self, cert: x509.Certificate | crypto.X509) -> None:
        if isinstance(cert, crypto.X509):
            cert = cert.to_cryptography()
        self._cert = cert

    # --- construction and serialisation ---------------------------------------------

    @classmethod
    def from_pem(cls, data: bytes) -> SSLCert:
        """The first certificate of a PEM blob. Raises ValueError if there is none."""
        return cls(x509.load_pem_x509_certificate(data))

    @classmethod
    def from_der(cls, data: bytes) -> SSLCert:
        return cls(x509.load_der_x509_certificate(data))

    def to_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def to_der(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.DER)

    def to_cryptography(self) -> x509.Certificate:
        """What ``OpenSSL.SSL.Context.use_certificate`` takes without a deprecation warning."""
        return self._cert

    @property
    def x509(self) -> crypto.X509:
        """The pyOpenSSL object, for 0.18-era code that calls pyOpenSSL directly."""
        return crypto.X509.from_cryptography(self._cert)

    def get_state(self) -> bytes:
        """Flow files store a certificate as its PEM bytes."""
        return self.to_pem()

    def set_state(self, state: bytes) -> None:
        self._cert = x509.load_pem_x509_certificate(state)

    @classmethod
    def from_state(cls, state: bytes) -> SSLCert:
        return cls.from_pem(state)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SSLCert):
            return NotImplemented
        return self.to_der() == other.to_der()

    def __hash__(self) -> int:
        return hash(self.to_der())

    def __repr__(self) -> str:
        return f"<SSLCert cn={self.cn!r} altnames={self.altnames!r}>"

    # --- what users look at ---------------------------------------------------------

    def digest(self, name: str) -> str:
        """Fingerprint as OpenSSL prints it: upper-case hex pairs joined by colons.

        ``name`` is any hashlib algorithm name ("sha256", "sha1", "md5").
        """
        return hashlib.new(name, self.to_der()).digest().hex(":").upper()

    @property
    def serial(self) -> int:
        return self._cert.serial_number

    @property
    def notbefore(self) -> datetime.datetime:
        """Start of validity, timezone-aware UTC."""
        return self._cert.not_valid_before_utc

    @property
    def notafter(self) -> datetime.datetime:
        """End of validity, timezone-aware UTC."""
        return self._cert.not_valid_after_utc

    @property
    def has_expired(self) -> bool:
        return _now() > self.notafter

    @property
    def subject(self) -> list[tuple[str, str]]:
        """(short name, value) pairs in certificate order, e.g. ``[("CN", "example.com")]``."""
        return _name_pairs(self._cert.subject)

    @property
    def issuer(self) -> list[tuple[str, str]]:
        return _name_pairs(self._cert.issuer)

    @property
    def cn(self) -> str | None:
        return _first_attribute(self._cert.subject, NameOID.COMMON_NAME)

    @property
    def organization(self) -> str | None:
        return _first_attribute(self._cert.subject, NameOID.ORGANIZATION_NAME)

    @property
    def altnames(self) -> list[str]:
        """DNS names and IP addresses (as text) of the subjectAltName extension.

        A missing or unparseable extension gives an empty list: upstream certificates are
        read to copy their names, and a strange one must not break the connection.
        """
        try:
            ext = self._cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except (x509.ExtensionNotFound, ValueError):
            return []
        dns = ext.value.get_values_for_type(x509.DNSName)
        ips = [str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)]
        return dns + ips

    @property
    def keyinfo(self) -> tuple[str, int]:
        """(key type, bits), e.g. ``("RSA", 2048)`` or ``("EC", 256)``."""
        key = self._cert.public_key()
        for cls, type_name in _KEY_TYPE_NAMES:
            if isinstance(key, cls):
                bits = getattr(key, "key_size", None) or _EDWARDS_KEY_BITS[type_name]
                return type_name, bits
        return "unknown", 0


def _name_pairs(name: x509.Name) -> list[tuple[str, str]]:
    return [(attr.rfc4514_attribute_name, _to_str(attr.value)) for attr in name]


def _first_attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    return _to_str(attrs[0].value) if attrs else None


# --- making certificates ----------------------------------------------------------------

def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _new_leaf_key(key_type: str) -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return _new_key()


def create_ca(
    organization: str = CA_ORGANIZATION,
    cn: str = CA_COMMON_NAME,
    exp: datetime.timedelta | float = CA_VALIDITY,
) -> tuple[rsa.RSAPrivateKey, SSLCert]:
    """A fresh self-signed CA: (private key, certificate).

    ``exp`` is the validity as a timedelta or, as in 0.18, a number of seconds. The
    extensions are the ones strict verifiers (cryptography's, Go's, browsers') insist on
    for a trust anchor that signs leaf certificates.
    """
    if not isinstance(exp, datetime.timedelta):
        exp = datetime.timedelta(seconds=exp)
    key = _new_key()
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ])
    not_before = _now() - BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + exp)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, _HASH())
    )
    return key, SSLCert(cert)


def _key_usage(key_cert_sign: bool, key_encipherment: bool = False) -> x509.KeyUsage:
    """A CA signs certificates (and CRLs); a server leaf signs handshakes and, if its key
    is RSA, may have keys enciphered to it (RSA key exchange of older clients)."""
    return x509.KeyUsage(
        digital_signature=not key_cert_sign,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _ascii_name(name: Name) -> str | None:
    """A host name as it goes into a certificate: lower case, internationalised names in
    their ASCII (IDNA) form as the CA/Browser rules require; None if it has no such form."""
    name = _to_str(name).lower()
    if name.isascii():
        return name or None
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _general_name(name: str) -> x509.GeneralName:
    """IP addresses become IPAddress entries (clients match IPs only there), others DNSName."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def dummy_cert(
    privkey: PrivateKey,
    cacert: SSLCert,
    commonname: Name | None,
    sans: Iterable[Name],
    *,
    leaf_key: PrivateKey,
) -> SSLCert:
    """An interception certificate for ``commonname`` and ``sans``, signed by the CA.

    ``privkey`` is the CA's key, ``leaf_key`` the key the certificate is issued to (0.18
    reused the CA key here; a separate leaf key keeps the CA key out of every handshake).
    The common name is also listed as a SAN, because modern clients look only at SANs.
    A common name longer than X.520 allows lives in the SANs only.
    """
    cn = _ascii_name(commonname) if commonname else None
    names = _unique([cn, *map(_ascii_name, sans)])
    if not names:
        raise ValueError("a certificate needs a common name or at least one SAN")
    subject = []
    if cn and len(cn) <= MAX_COMMON_NAME_LENGTH:
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    ca = cacert.to_cryptography()
    not_before = _now() - BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(False, key_encipherment=isinstance(leaf_key, rsa.RSAPrivateKey)),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_authority_key_id(ca), critical=False)
        # RFC 5280 4.2.1.6: with an empty subject the SAN extension must be critical.
        .add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=not subject
        )
        .sign(privkey, _HASH())
    )
    return SSLCert(cert)


def _authority_key_id(ca: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """Point at the CA's own subjectKeyIdentifier: a CA made elsewhere (``--ca-dir``) may
    have computed it differently from the hash of its public key, and a mismatch breaks
    path building in clients."""
    try:
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except (x509.ExtensionNotFound, ValueError):
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


# --- reading and writing files ----------------------------------------------------------

def _pem_blocks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(label, whole block) for each PEM block, in file order: a bundle mixes keys and
    certificates, and the order of the certificates is the chain's order."""
    return [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(data)]


def _public_der(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def read_cert_file(path: str | os.PathLike) -> tuple[SSLCert, PrivateKey, list[SSLCert]]:
    """(certificate, private key, chain) from a PEM file holding an unencrypted private key,
    the certificate and optionally the intermediate certificates below it.

    This is the format of ``--cert``, ``--client-certs`` and ``mitmproxy-ca.pem``. Anything
    wrong with the file is a CertificateException that names it.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CertificateException(f"{path}: cannot read certificate file: {e.strerror}") from e
    blocks = _pem_blocks(data)
    key_blocks = [b for label, b in blocks if label.endswith(b"PRIVATE KEY")]
    cert_blocks = [b for label, b in blocks if label == b"CERTIFICATE"]
    if not key_blocks:
        raise CertificateException(f"{path}: no private key found (expected PEM)")
    if not cert_blocks:
        raise CertificateException(f"{path}: no certificate found (expected PEM)")
    try:
        key = serialization.load_pem_private_key(key_blocks[0], password=None)
    except (ValueError, TypeError) as e:
        raise CertificateException(f"{path}: invalid or encrypted private key: {e}") from e
    try:
        certs = [SSLCert.from_pem(b) for b in cert_blocks]
    except ValueError as e:
        raise CertificateException(f"{path}: invalid certificate: {e}") from e
    if _public_der(key.public_key()) != _public_der(certs[0].to_cryptography().public_key()):
        raise CertificateException(f"{path}: the private key does not match the certificate")
    return certs[0], key, certs[1:]


def _write_file(path: str, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    mkstemp creates its file readable by the owner only, so a private key is never
    world-readable, not even for a moment; the rename means a crash leaves either no file
    or a complete one, never a truncated CA.
    """
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# --- the store --------------------------------------------------------------------------

class CertStoreEntry(NamedTuple):
    """What a TLS server context needs: certificate, its private key (a cryptography key)
    and, for custom certificates, the PEM file holding the certificate followed by its
    intermediates (for ``Context.use_certificate_chain_file``); None for minted ones."""
    cert: SSLCert
    privatekey: PrivateKey
    chain_file: str | None


class CertStore:
    """The CA plus every certificate served to clients: custom ones and minted ones.

    Thread-safe: connection threads call ``get_cert`` concurrently. A lock covers the
    lookups; minting happens outside it, so that threads minting for different hosts do
    not queue behind each other (the CA signature releases the GIL and can use another
    core), while two threads asking for the same new host still sign once: the second
    waits for the first one's result.
    """

    def __init__(
        self,
        default_privatekey: PrivateKey,
        default_ca: SSLCert,
        ca_cert_path: str | None = None,
        *,
        cache_size: int = CERT_CACHE_SIZE,
        leaf_key_type: str = "rsa",
    ) -> None:
        if leaf_key_type not in LEAF_KEY_TYPES:
            raise ValueError(
                f"leaf_key_type must be one of {LEAF_KEY_TYPES}, not {leaf_key_type!r}")
        self.leaf_key_type = leaf_key_type
        self.default_privatekey = default_privatekey
        self.default_ca = default_ca
        # The CA certificate alone (no key): what clients load to trust the proxy.
        self.ca_cert_path = ca_cert_path
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._leaf_key: PrivateKey | None = None
        self._minted: collections.OrderedDict[tuple, CertStoreEntry] = collections.OrderedDict()
        # Names being minted right now, and the future their entry will be set on.
        self._minting: dict[tuple, concurrent.futures.Future[CertStoreEntry]] = {}
        self._custom: dict[str, CertStoreEntry] = {}

    @classmethod
    def from_store(cls, path: str | os.PathLike, basename: str = "mitmproxy", *,
                   leaf_key_type: str = "rsa") -> CertStore:
        """The CA kept in directory ``path`` (``--ca-dir``), created there on first use.

        Creates ``{basename}-ca.pem`` (key and certificate, mode 0600),
        ``{basename}-ca-cert.pem``, ``{basename}-ca-cert.cer`` (the same, for Android) and
        ``{basename}-ca-cert.p12`` (for Windows). A companion file that was deleted is
        written again from the existing CA.
        """
        path = os.path.expanduser(os.fspath(path))
        ca_path = os.path.join(path, f"{basename}-ca.pem")
        cert_path = os.path.join(path, f"{basename}-ca-cert.pem")
        try:
            os.makedirs(path, exist_ok=True)
            if os.path.exists(ca_path):
                key, ca = _load_ca(ca_path)
            else:
                key, ca = create_ca()
                _write_file(ca_path, _key_pem(key) + ca.to_pem(), 0o600)
            _write_public_ca_files(ca, cert_path, os.path.join(path, basename))
        except OSError as e:
            raise CertificateException(f"{path}: cannot create the CA files: {e}") from e
        return cls(key, ca, cert_path, leaf_key_type=leaf_key_type)

    # --- custom certificates --------------------------------------------------------

    def add_cert_file(self, spec: str, path: str | os.PathLike) -> None:
        """Serve the certificate in ``path`` (key, certificate, intermediates) for ``spec``
        (a domain, ``*.domain`` or ``*``) and, as in 0.18, for its own CN and SANs."""
        cert, key, _chain = read_cert_file(path)
        self.add_cert(cert, key, spec, chain_file=os.fspath(path))

    def add_cert(
        self, cert: SSLCert, privkey: PrivateKey, *names: Name, chain_file: str | None = None
    ) -> None:
        """Serve ``cert`` for ``names`` and for its own CN and SANs; later additions win."""
        entry = CertStoreEntry(cert, privkey, chain_file)
        with self._lock:
            for name in [cert.cn, *cert.altnames, *names]:
                if name and (key := _ascii_name(name)):
                    self._custom[key] = entry

    def _find_custom(self, names: Sequence[str]) -> CertStoreEntry | None:
        """Exact names first, then ``*.parent`` patterns (one label), then ``*``."""
        for name in names:
            if name in self._custom:
                return self._custom[name]
        for name in names:
            parent = name.partition(".")[2]
            if parent and f"*.{parent}" in self._custom:
                return self._custom[f"*.{parent}"]
        return self._custom.get("*")

    # --- minting --------------------------------------------------------------------

    def get_cert(self, commonname: Name | None, sans: Iterable[Name]) -> CertStoreEntry:
        """The certificate to present for a server known by ``commonname`` and ``sans``.

        A matching custom certificate wins; otherwise one signed by the CA is minted, or
        taken from the cache when these names were asked for before. Returns
        ``(SSLCert, cryptography private key, chain file or None)``.
        """
        cn = _ascii_name(commonname) if commonname else None
        names = [n for n in map(_ascii_name, sans) if n]
        cache_key = (cn, frozenset(names))
        with self._lock:
            custom = self._find_custom([cn, *names] if cn else names)
            if custom is not None:
                return custom
            entry = self._minted.get(cache_key)
            if entry is not None:
                self._minted.move_to_end(cache_key)
                return entry
            minting = self._minting.get(cache_key)
            if minting is None:
                minting = self._minting[cache_key] = concurrent.futures.Future()
                mine = True
            else:
                mine = False
            if self._leaf_key is None:  # once per store: the other threads may wait for it
                self._leaf_key = _new_leaf_key(self.leaf_key_type)
            leaf_key = self._leaf_key
        if not mine:
            return minting.result()
        # Not under the lock: with a new host per connection (HTTPS probe, 8 clients), a
        # mint took ~1.5 ms (wall: the signature plus GIL waits), and while it held the
        # lock 13% of the other connections queued on it, 5.5 ms each on average.
        try:
            cert = dummy_cert(self.default_privatekey, self.default_ca, cn, names,
                              leaf_key=leaf_key)
        except BaseException as e:
            with self._lock:
                del self._minting[cache_key]
            minting.set_exception(e)
            raise
        entry = CertStoreEntry(cert, leaf_key, None)
        with self._lock:
            del self._minting[cache_key]
            self._minted[cache_key] = entry
            if len(self._minted) > self.cache_size:
                self._minted.popitem(last=False)
        minting.set_result(entry)
        return entry


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_ca(ca_path: str) -> tuple[PrivateKey, SSLCert]:
    """Read an existing CA, refusing one that cannot sign certificates clients accept."""
    ca, key, _chain = read_cert_file(ca_path)
    try:
        constraints = ca.to_cryptography().extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value
    except (x509.ExtensionNotFound, ValueError):
        constraints = None
    if constraints is None or not constraints.ca:
        raise CertificateException(f"{ca_path}: the certificate is not a CA certificate")
    if ca.has_expired:
        raise CertificateException(
            f"{ca_path}: the CA certificate expired on {ca.notafter:%Y-%m-%d}; "
            "delete the CA files to create a new CA"
        )
    return key, ca


def _write_public_ca_files(ca: SSLCert, cert_path: str, stem: str) -> None:
    """Write whichever of the distributable CA files (.pem, .cer, .p12) is missing."""
    p12 = pkcs12.serialize_key_and_certificates(
        P12_FRIENDLY_NAME, None, ca.to_cryptography(), None, serialization.NoEncryption()
    )
    files = {cert_path: ca.to_pem(), f"{stem}-ca-cert.cer": ca.to_pem(), f"{stem}-ca-cert.p12": p12}
    for file_path, data in files.items():
        if not os.path.exists(file_path):
            _write_file(file_path, data, 0o644)


# --- client certificates ----------------------------------------------------------------

def client_cert_path(option: str | os.PathLike | None, hostname: Name) -> str | None:
    """The PEM file to present as client certificate to ``hostname`` (``--client-certs``).

    A file is used for every host; a directory is searched for ``{hostname}.pem``. The host
    name comes from the client (SNI), so one that could leave the directory is refused.
    """
    if option is None:
        return None
    option = os.fspath(option)
    if os.path.isfile(option):
        return option
    if not os.path.isdir(option):
        raise CertificateException(f"{option}: client certificate file or directory not found")
    name = _to_str(hostname)
    if not name or name in (".", "..") or os.path.basename(name) != name or "\\" in name \
            or "\0" in name:
        return None
    candidate = os.path.join(option, f"{name}.pem")
    return candidate if os.path.isfile(candidate) else None

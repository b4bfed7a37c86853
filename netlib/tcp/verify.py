"""Checking the upstream server's certificate: chain errors recorded, host name matched.

OpenSSL verifies the chain against the CA bundle during the handshake; ``ChainVerifier`` is
its callback and remembers the first failure in words, so the caller can tell the user *why*
(an expired certificate reads differently from an unknown CA). pyOpenSSL has no public way
to make OpenSSL check the host name, so ``match_hostname`` does it after the handshake,
following RFC 6125: subjectAltName DNS names (a wildcard only as the whole left-most label)
and IP addresses; the Common Name only when the certificate has no subjectAltName at all.
"""
from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

from netlib import exceptions

__all__ = ["ChainVerifier", "match_hostname", "X509_ERRORS"]

# OpenSSL's X509_V_ERR_* codes that users meet in practice, in OpenSSL's words. Other codes
# are reported by number, which OpenSSL's documentation (openssl-verify(1)) explains.
X509_ERRORS = {
    2: "unable to get issuer certificate",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    23: "certificate revoked",
    24: "invalid CA certificate",
    26: "unsupported certificate purpose",
    62: "hostname mismatch",
}


class ChainVerifier:
    """The verify callback for a client context; ``error`` is the first failure or None."""

    def __init__(self) -> None:
        self.error: str | None = None

    def __call__(self, conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int,
                 ok: int) -> bool:
        if not ok and self.error is None:
            reason = X509_ERRORS.get(errno, f"X509 verification error {errno}")
            self.error = f"{reason} (depth {depth}{_describe(cert)})"
        return bool(ok)


def _describe(cert: crypto.X509 | None) -> str:
    """", subject CN=..." for an error message, or nothing if there is no CN."""
    if cert is None:
        return ""
    names = cert.to_cryptography().subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f", subject CN={names[0].value}" if names else ""


def _dns_match(pattern: str, hostname: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if pattern == hostname:
        return True
    if not pattern.startswith("*."):
        return False
    # "*.example.com" covers exactly one label: a.example.com, not example.com or a.b.example.com.
    suffix = pattern[1:]
    head, dot, rest = hostname.partition(".")
    return bool(head) and dot == "." and "." + rest == suffix and suffix.count(".") >= 2


def match_hostname(cert: x509.Certificate, hostname: str) -> None:
    """Raise InvalidCertificateException unless ``cert`` is valid for ``hostname``."""
    hostname = hostname.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        ip = None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        dns_names = san.get_values_for_type(x509.DNSName)
        ips = san.get_values_for_type(x509.IPAddress)
        if ip is None and any(_dns_match(name, hostname) for name in dns_names):
            return
        if ip is not None and ip in ips:
            return
        names = [*dns_names, *map(str, ips)]
    else:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if ip is None and any(_dns_match(name, hostname) for name in names):
            return
        if ip is not None and str(ip) in names:
            return
    raise exceptions.InvalidCertificateException(
        f"certificate is not valid for {hostname!r}: it names {', '.join(names) or 'no host'}"
    )

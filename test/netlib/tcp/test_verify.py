"""Host name matching (RFC 6125) and how chain errors read, without sockets."""
import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import crypto

from netlib import exceptions
from netlib.tcp.verify import ChainVerifier, match_hostname

KEY = ec.generate_private_key(ec.SECP256R1())


def make_cert(cn=None, dns=(), ips=(), san=True) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(KEY.public_key()).serial_number(1)
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)))
    if san:
        names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(KEY, hashes.SHA256())


@pytest.mark.parametrize("pattern, host, ok", [
    ("example.com", "example.com", True),
    ("Example.COM", "example.com.", True),
    ("example.com", "www.example.com", False),
    ("*.example.com", "www.example.com", True),
    ("*.example.com", "WWW.Example.com", True),
    ("*.example.com", "example.com", False),
    ("*.example.com", "a.b.example.com", False),
    ("*.com", "example.com", False),  # a wildcard needs two labels after it
    ("w*.example.com", "www.example.com", False),  # partial wildcards are not honoured
])
def test_dns_names(pattern, host, ok):
    cert = make_cert(dns=[pattern])
    if ok:
        match_hostname(cert, host)
    else:
        with pytest.raises(exceptions.InvalidCertificateException, match="not valid for"):
            match_hostname(cert, host)


def test_ip_addresses_match_ip_sans_only():
    cert = make_cert(dns=["127.0.0.1"], ips=["::1"])
    match_hostname(cert, "::1")
    match_hostname(cert, "[::1]")
    with pytest.raises(exceptions.InvalidCertificateException,
                       match="it names 127.0.0.1, ::1"):
        match_hostname(cert, "127.0.0.1")  # a DNS name that looks like an IP does not count


def test_common_name_only_without_san():
    match_hostname(make_cert(cn="legacy.test", san=False), "legacy.test")
    match_hostname(make_cert(cn="10.0.0.1", san=False), "10.0.0.1")
    with pytest.raises(exceptions.InvalidCertificateException):
        match_hostname(make_cert(cn="legacy.test", dns=["other.test"]), "legacy.test")
    with pytest.raises(exceptions.InvalidCertificateException, match="it names no host"):
        match_hostname(make_cert(san=False), "anything.test")


def test_chain_verifier_keeps_the_first_error_in_words():
    verifier = ChainVerifier()
    cert = crypto.X509.from_cryptography(make_cert(cn="leaf.test"))
    assert verifier(None, cert, 0, 0, 1) is True
    assert verifier.error is None
    assert verifier(None, cert, 10, 0, 0) is False
    assert verifier(None, None, 99, 1, 0) is False
    assert verifier.error == "certificate has expired (depth 0, subject CN=leaf.test)"
    other = ChainVerifier()
    other(None, crypto.X509.from_cryptography(make_cert()), 99, 1, 0)
    assert other.error == "X509 verification error 99 (depth 1)"
    third = ChainVerifier()
    third(None, None, 18, 0, 0)
    assert third.error == "self-signed certificate (depth 0)"

"""Tests for netlib.certutils: the CA files on disk, minted and custom certificates as a
TLS client would check them, SSLCert as scripts and flow files see it."""
from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import stat
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from OpenSSL import SSL, crypto

from netlib import certutils
from netlib.certutils import CertStore, SSLCert
from netlib.exceptions import CertificateException

CA_FILES = ("mitmproxy-ca.pem", "mitmproxy-ca-cert.pem", "mitmproxy-ca-cert.p12",
            "mitmproxy-ca-cert.cer")
INTERMEDIATE_KEY_ID = b"intermediate-key-id!"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> CertStore:
    return CertStore.from_store(tmp_path_factory.mktemp("ca"))


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def verify(root: SSLCert, leaf: SSLCert, name: x509.GeneralName,
           intermediates: list[SSLCert] = ()) -> None:
    """Verify as a strict modern client would (cryptography's RFC 5280 / CABF verifier)."""
    verifier = (PolicyBuilder().store(Store([root.to_cryptography()])).time(now())
                .build_server_verifier(name))
    verifier.verify(leaf.to_cryptography(), [c.to_cryptography() for c in intermediates])


def ext(cert: SSLCert, cls):
    return cert.to_cryptography().extensions.get_extension_for_class(cls)


def write_bundle(path, key, *certs: SSLCert) -> str:
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    path.write_bytes(key_pem + b"".join(c.to_pem() for c in certs))
    return str(path)


def make_intermediate(root_key, root: SSLCert):
    """A CA certificate signed by ``root``, to build a three-link chain."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Intermediate")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(root.to_cryptography().subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now() - datetime.timedelta(days=1))
        .not_valid_after(now() + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        # Not the SHA-1 of the key, as CAs made by other tools may do.
        .add_extension(x509.SubjectKeyIdentifier(INTERMEDIATE_KEY_ID), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            root.to_cryptography().public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    return key, SSLCert(cert)


def plain_cert(key, not_after: datetime.datetime) -> SSLCert:
    """A self-signed certificate with no extensions at all, like old hand-made ones."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old.example"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Old Org")])
    return SSLCert(
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(datetime.datetime(2010, 1, 1)).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """(root CA, intermediate, path of a --cert bundle for *.example.com with its chain)."""
    root_key, root = certutils.create_ca("Test Org", "Test Root")
    inter_key, inter = make_intermediate(root_key, root)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = certutils.dummy_cert(inter_key, inter, "*.example.com", [], leaf_key=leaf_key)
    path = write_bundle(tmp_path_factory.mktemp("custom") / "cert.pem", leaf_key, leaf, inter)
    return root, inter, leaf, path


# --- the CA on disk ---------------------------------------------------------------------

def test_from_store_creates_the_four_ca_files(tmp_path):
    ca_dir = tmp_path / "new" / ".mitmproxy"
    store = CertStore.from_store(ca_dir)

    assert sorted(os.listdir(ca_dir)) == sorted(CA_FILES)
    assert stat.S_IMODE(os.stat(ca_dir / "mitmproxy-ca.pem").st_mode) == 0o600
    for public in CA_FILES[1:]:
        assert stat.S_IMODE(os.stat(ca_dir / public).st_mode) == 0o644
    ca_pem = (ca_dir / "mitmproxy-ca.pem").read_bytes()
    assert b"PRIVATE KEY" in ca_pem and store.default_ca.to_pem() in ca_pem
    cert_pem = (ca_dir / "mitmproxy-ca-cert.pem").read_bytes()
    assert cert_pem == (ca_dir / "mitmproxy-ca-cert.cer").read_bytes()
    assert b"PRIVATE KEY" not in cert_pem
    assert SSLCert.from_pem(cert_pem) == store.default_ca
    assert store.ca_cert_path == str(ca_dir / "mitmproxy-ca-cert.pem")


def test_basename_names_the_files(tmp_path):
    CertStore.from_store(tmp_path, "pathod")
    assert sorted(os.listdir(tmp_path)) == sorted(f.replace("mitmproxy", "pathod")
                                                  for f in CA_FILES)


def test_p12_holds_the_ca_certificate_without_key(tmp_path):
    store = CertStore.from_store(tmp_path)
    p12 = pkcs12.load_pkcs12((tmp_path / "mitmproxy-ca-cert.p12").read_bytes(), None)
    # Without a key, PKCS12 carries the certificate as a plain bag (what `openssl pkcs12
    # -export -nokeys` writes and Windows' certutil -importpfx reads).
    assert p12.key is None and p12.cert is None
    [bag] = p12.additional_certs
    assert SSLCert(bag.certificate) == store.default_ca
    assert bag.friendly_name == b"mitmproxy"


def test_second_from_store_loads_the_same_ca(tmp_path):
    first = CertStore.from_store(tmp_path)
    os.remove(tmp_path / "mitmproxy-ca-cert.p12")
    second = CertStore.from_store(tmp_path)

    assert second.default_ca.serial == first.default_ca.serial
    assert second.default_ca.digest("sha256") == first.default_ca.digest("sha256")
    # A minted certificate of the second run verifies against the CA users installed.
    verify(first.default_ca, second.get_cert("example.com", []).cert,
           x509.DNSName("example.com"))
    # A deleted distributable file is written again.
    assert (tmp_path / "mitmproxy-ca-cert.p12").exists()


def test_ca_certificate_is_a_proper_trust_anchor(store):
    ca = store.default_ca
    assert ca.cn == "mitmproxy" and ca.organization == "mitmproxy"
    assert ca.subject == ca.issuer == [("CN", "mitmproxy"), ("O", "mitmproxy")]
    assert ca.keyinfo[0] == "RSA" and ca.keyinfo[1] >= 2048
    constraints = ext(ca, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = ext(ca, x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert ext(ca, x509.SubjectKeyIdentifier)
    age = now() - ca.notbefore
    assert datetime.timedelta(days=1) < age < datetime.timedelta(days=3)
    assert ca.notafter - ca.notbefore >= datetime.timedelta(days=2 * 365)
    assert not ca.has_expired


VALID_KEY = rsa.generate_private_key(65537, 1024).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@pytest.mark.parametrize("content, message", [
    (b"garbage", "no private key"),
    (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
     b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "invalid or encrypted"),
    (VALID_KEY + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
     "invalid certificate"),
], ids=["garbage", "undecodable-key", "undecodable-certificate"])
def test_damaged_ca_file_is_reported_by_name(tmp_path, content, message):
    (tmp_path / "mitmproxy-ca.pem").write_bytes(content)
    with pytest.raises(CertificateException, match=message) as info:
        CertStore.from_store(tmp_path)
    assert str(tmp_path / "mitmproxy-ca.pem") in str(info.value)


def test_truncated_ca_file_is_reported(tmp_path):
    CertStore.from_store(tmp_path)
    ca_file = tmp_path / "mitmproxy-ca.pem"
    ca_file.write_bytes(ca_file.read_bytes()[:-100])
    with pytest.raises(CertificateException, match="no certificate found"):
        CertStore.from_store(tmp_path)


def test_ca_file_with_a_leaf_certificate_is_refused(tmp_path, chain):
    _root, _inter, _leaf, bundle = chain
    (tmp_path / "mitmproxy-ca.pem").write_bytes(open(bundle, "rb").read())
    with pytest.raises(CertificateException, match="not a CA certificate"):
        CertStore.from_store(tmp_path)


def test_ca_file_with_a_certificate_without_extensions_is_refused(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    write_bundle(tmp_path / "mitmproxy-ca.pem", key,
                 plain_cert(key, now() + datetime.timedelta(days=1)))
    with pytest.raises(CertificateException, match="not a CA certificate"):
        CertStore.from_store(tmp_path)


def test_failed_write_leaves_no_partial_files(tmp_path, monkeypatch):
    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(CertificateException, match="No space left"):
        CertStore.from_store(tmp_path)
    assert os.listdir(tmp_path) == []


def test_expired_ca_is_refused_with_advice(tmp_path):
    key, ca = certutils.create_ca(exp=60)  # seconds, as in 0.18; backdated two days
    write_bundle(tmp_path / "mitmproxy-ca.pem", key, ca)
    with pytest.raises(CertificateException, match="expired on .*delete the CA files"):
        CertStore.from_store(tmp_path)


def test_unusable_directory_is_reported(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(CertificateException, match="cannot create the CA files"):
        CertStore.from_store(tmp_path / "file" / "ca")


# --- minted certificates ----------------------------------------------------------------

def test_minted_cert_verifies_for_its_dns_and_ip_names(store):
    cert, key, chain_file = store.get_cert("example.com", ["example.com", "127.0.0.1", "::1"])

    assert chain_file is None
    assert isinstance(key, rsa.RSAPrivateKey)
    verify(store.default_ca, cert, x509.DNSName("example.com"))
    verify(store.default_ca, cert, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    verify(store.default_ca, cert, x509.IPAddress(ipaddress.ip_address("::1")))
    with pytest.raises(VerificationError):
        verify(store.default_ca, cert, x509.DNSName("other.com"))
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"),
                                                       ipaddress.ip_address("::1")]
    assert san.get_values_for_type(x509.DNSName) == ["example.com"]


def test_minted_cert_is_what_modern_clients_require(store):
    cert = store.get_cert(b"www.example.org", [b"alt.example.org"]).cert

    # The CN is repeated as a SAN: clients ignore the CN.
    assert cert.cn == "www.example.org"
    assert cert.altnames == ["www.example.org", "alt.example.org"]
    assert cert.issuer == store.default_ca.subject
    assert ext(cert, x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH])
    assert (ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier
            == ext(store.default_ca, x509.SubjectKeyIdentifier).value.key_identifier)
    assert cert.notafter - cert.notbefore < datetime.timedelta(days=398)
    assert datetime.timedelta(days=1) < now() - cert.notbefore < datetime.timedelta(days=3)
    assert cert.serial != store.get_cert("other.example.org", []).cert.serial


def test_real_tls_client_accepts_minted_cert(store):
    """A stdlib TLS client that trusts only the CA cert file completes a handshake."""
    cert, key, _ = store.get_cert("localhost", ["localhost", "127.0.0.1"])
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.use_certificate(cert.to_cryptography())
    context.use_privatekey(key)
    server_sock, client_sock = socket.socketpair()
    server = SSL.Connection(context, server_sock)
    server.set_accept_state()
    handshake = threading.Thread(target=server.do_handshake)
    handshake.start()
    try:
        client_context = ssl.create_default_context(cafile=store.ca_cert_path)
        with client_context.wrap_socket(client_sock, server_hostname="localhost") as tls:
            assert tls.getpeercert()["subjectAltName"] == (("DNS", "localhost"),
                                                           ("IP Address", "127.0.0.1"))
    finally:
        handshake.join(timeout=10)
        server_sock.close()


@pytest.fixture
def signed(monkeypatch) -> list:
    """Records every call of dummy_cert, i.e. every signature the store makes."""
    calls = []
    real = certutils.dummy_cert
    monkeypatch.setattr(certutils, "dummy_cert",
                        lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs))
    return calls


def test_same_names_are_served_from_the_cache_without_signing(store, signed):

    first = store.get_cert("cache.example", ["a.cache.example", "b.cache.example"])
    again = store.get_cert(b"cache.example", ["b.cache.example", b"a.cache.example"])
    assert again is first
    assert len(signed) == 1
    other = store.get_cert("cache.example", ["a.cache.example"])
    assert other.cert != first.cert and len(signed) == 2
    # One leaf key for every minted certificate: key generation is the slow part.
    assert other.privatekey is first.privatekey


def test_cache_is_bounded_and_least_recently_used(signed):
    key, ca = certutils.create_ca()
    small = CertStore(key, ca, cache_size=2)
    a = small.get_cert("a.test", [])
    small.get_cert("b.test", [])
    assert small.get_cert("a.test", []) is a  # a is now the most recently used
    small.get_cert("c.test", [])  # evicts b
    assert small.get_cert("a.test", []) is a
    assert len(signed) == 3
    small.get_cert("b.test", [])
    assert len(signed) == 4


def test_concurrent_requests_for_one_host_sign_once(signed):
    key, ca = certutils.create_ca()
    fresh = CertStore(key, ca)
    results = []
    barrier = threading.Barrier(8)

    def ask():
        barrier.wait()
        results.append(fresh.get_cert("busy.example", ["busy.example"]))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert len(signed) == 1


def test_minting_for_one_host_does_not_hold_up_another(monkeypatch):
    key, ca = certutils.create_ca()
    fresh = CertStore(key, ca)
    fresh.get_cert("warm.example", [])  # the leaf key exists now
    b_done = threading.Event()
    real = certutils.dummy_cert

    def slow_for_a(*args, **kwargs):
        if args[2] == "a.example":
            assert b_done.wait(30), "minting b.example waited for a.example"
        return real(*args, **kwargs)

    monkeypatch.setattr(certutils, "dummy_cert", slow_for_a)
    results = []
    a = threading.Thread(target=lambda: results.append(fresh.get_cert("a.example", [])))
    a.start()
    b = fresh.get_cert("b.example", [])
    b_done.set()
    a.join(timeout=30)
    assert b.cert.cn == "b.example" and [r.cert.cn for r in results] == ["a.example"]


def test_a_failed_mint_is_reported_to_every_waiter_and_not_cached(monkeypatch):
    key, ca = certutils.create_ca()
    fresh = CertStore(key, ca)
    fresh.get_cert("warm.example", [])
    real = certutils.dummy_cert
    monkeypatch.setattr(certutils, "dummy_cert", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        fresh.get_cert("fails.example", [])
    monkeypatch.setattr(certutils, "dummy_cert", real)
    assert fresh.get_cert("fails.example", []).cert.cn == "fails.example"


def test_long_common_name_goes_into_the_sans_only(store):
    long_name = "a" * 60 + ".example.com"
    cert = store.get_cert(long_name, []).cert
    assert cert.cn is None and cert.subject == []
    assert cert.altnames == [long_name]
    assert ext(cert, x509.SubjectAlternativeName).critical  # RFC 5280 with empty subject
    verify(store.default_ca, cert, x509.DNSName(long_name))


def test_international_names_are_encoded_and_unencodable_ones_dropped(store):
    cert = store.get_cert("Bücher.example", ["ü..example", ""]).cert
    assert cert.altnames == ["xn--bcher-kva.example"]
    assert cert.cn == "xn--bcher-kva.example"
    verify(store.default_ca, cert, x509.DNSName("xn--bcher-kva.example"))


def test_ca_without_key_identifier_still_gets_an_authority_key_id():
    key = ec.generate_private_key(ec.SECP256R1())
    old_ca = plain_cert(key, now() + datetime.timedelta(days=1))
    leaf = certutils.dummy_cert(key, old_ca, "x.example", [], leaf_key=key)
    assert (ext(leaf, x509.AuthorityKeyIdentifier).value
            == x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()))
    assert not ext(leaf, x509.KeyUsage).value.key_encipherment  # EC keys encipher nothing


def test_a_certificate_needs_a_name(store):
    with pytest.raises(ValueError, match="common name or at least one SAN"):
        store.get_cert(None, [])
    assert store.get_cert(None, ["only-san.example"]).cert.altnames == ["only-san.example"]


# --- custom certificates ----------------------------------------------------------------

def test_custom_cert_with_chain_is_served_for_its_spec(chain):
    root, inter, leaf, bundle = chain
    key, ca = certutils.create_ca()
    custom = CertStore(key, ca)
    custom.add_cert_file("*.example.com", bundle)

    cert, privkey, chain_file = custom.get_cert("www.example.com", [])
    assert cert == leaf and chain_file == bundle
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == INTERMEDIATE_KEY_ID
    verify(root, cert, x509.DNSName("www.example.com"), [inter])
    # The chain file is what a TLS context loads to send the intermediate.
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.use_certificate_chain_file(chain_file)
    context.use_privatekey(privkey)
    context.check_privatekey()
    # One label only; other names are minted by our CA.
    assert custom.get_cert("a.b.example.com", []).cert.issuer == ca.subject
    assert custom.get_cert("example.com", []).cert.issuer == ca.subject
    # A SAN matching the pattern is enough.
    assert custom.get_cert("10.0.0.1", ["mail.example.com"]).cert == leaf


def test_exact_custom_name_beats_a_wildcard(chain, tmp_path):
    _root, _inter, leaf, bundle = chain
    key, ca = certutils.create_ca()
    custom = CertStore(key, ca)
    custom.add_cert_file("*.example.com", bundle)
    exact_key = rsa.generate_private_key(65537, 2048)
    exact = certutils.dummy_cert(key, ca, "www.example.com", [], leaf_key=exact_key)
    custom.add_cert_file("www.example.com", write_bundle(tmp_path / "exact.pem", exact_key, exact))

    assert custom.get_cert("www.example.com", []).cert == exact
    assert custom.get_cert("api.example.com", []).cert == leaf


def test_star_serves_every_host_and_own_names_are_registered(chain):
    _root, _inter, leaf, bundle = chain
    key, ca = certutils.create_ca()
    custom = CertStore(key, ca)
    custom.add_cert(leaf, key, "*")
    assert custom.get_cert("anything.test", ["10.1.2.3"]).cert == leaf
    assert custom.get_cert("anything.test", []).chain_file is None

    own = CertStore(key, ca)
    own.add_cert_file("unrelated.test", bundle)  # also served for its CN *.example.com
    assert own.get_cert("shop.example.com", []).chain_file == bundle
    assert own.get_cert("unrelated.test", []).cert == leaf


def test_bad_custom_cert_files_are_reported_by_name(tmp_path, chain):
    _root, inter, leaf, bundle = chain
    key, ca = certutils.create_ca()
    custom = CertStore(key, ca)
    with pytest.raises(CertificateException, match="cannot read") as info:
        custom.add_cert_file("*", tmp_path / "missing.pem")
    assert "missing.pem" in str(info.value)
    (tmp_path / "certonly.pem").write_bytes(leaf.to_pem())
    with pytest.raises(CertificateException, match="no private key"):
        custom.add_cert_file("*", tmp_path / "certonly.pem")
    other_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(CertificateException, match="does not match"):
        custom.add_cert_file("*", write_bundle(tmp_path / "mismatch.pem", other_key, leaf))
    encrypted = other_key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.BestAvailableEncryption(b"secret"))
    (tmp_path / "encrypted.pem").write_bytes(encrypted + leaf.to_pem())
    with pytest.raises(CertificateException, match="encrypted private key"):
        custom.add_cert_file("*", tmp_path / "encrypted.pem")


def test_read_cert_file_returns_the_chain_in_order(chain):
    _root, inter, leaf, bundle = chain
    cert, key, intermediates = certutils.read_cert_file(bundle)
    assert cert == leaf and intermediates == [inter]
    assert isinstance(key, ec.EllipticCurvePrivateKey)


# --- SSLCert ----------------------------------------------------------------------------

def test_sslcert_conversions_and_state(store):
    cert = store.get_cert("state.example", ["127.0.0.2"]).cert
    pem = cert.to_pem()
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert SSLCert.from_pem(pem) == cert
    assert SSLCert.from_der(cert.to_der()) == cert
    assert hash(SSLCert.from_der(cert.to_der())) == hash(cert)
    assert cert != store.default_ca and cert != "not a cert"
    assert isinstance(cert.x509, crypto.X509)
    assert SSLCert(cert.x509) == cert

    assert cert.get_state() == pem
    assert SSLCert.from_state(cert.get_state()) == cert
    other = SSLCert.from_pem(store.default_ca.to_pem())
    other.set_state(pem)
    assert other == cert and other.cn == "state.example"
    assert "state.example" in repr(cert)


def test_sslcert_properties(store):
    cert = store.get_cert("props.example", ["127.0.0.2"]).cert
    assert cert.altnames == ["props.example", "127.0.0.2"]
    assert cert.subject == [("CN", "props.example")]
    assert cert.issuer == [("CN", "mitmproxy"), ("O", "mitmproxy")]
    assert cert.organization is None
    assert cert.keyinfo == ("RSA", 2048)
    assert cert.serial == cert.to_cryptography().serial_number
    sha256 = cert.digest("sha256")
    assert sha256 == cert.to_cryptography().fingerprint(hashes.SHA256()).hex(":").upper()
    assert len(cert.digest("sha1").split(":")) == 20
    assert cert.notbefore.tzinfo is not None and cert.notbefore < now() < cert.notafter
    assert not cert.has_expired


def test_sslcert_of_an_expired_ec_cert_without_sans():
    key = ec.generate_private_key(ec.SECP384R1())
    old = plain_cert(key, datetime.datetime(2011, 1, 1))
    assert old.has_expired
    assert old.altnames == []
    assert old.keyinfo == ("EC", 384)
    assert old.organization == "Old Org"
    assert old.notafter == datetime.datetime(2011, 1, 1, tzinfo=datetime.timezone.utc)


# --- client certificates ----------------------------------------------------------------

def test_client_cert_path_for_a_directory_and_a_file(tmp_path):
    (tmp_path / "example.org.pem").write_text("pem")
    assert certutils.client_cert_path(tmp_path, "example.org") == str(
        tmp_path / "example.org.pem")
    assert certutils.client_cert_path(str(tmp_path), b"example.org") == str(
        tmp_path / "example.org.pem")
    assert certutils.client_cert_path(tmp_path, "other.org") is None
    single = str(tmp_path / "example.org.pem")
    assert certutils.client_cert_path(single, "any.host") == single
    assert certutils.client_cert_path(None, "example.org") is None


@pytest.mark.parametrize("hostname", ["../secret", "..", "", "a/b", "a\\b", "a\0b"])
def test_client_cert_host_names_cannot_leave_the_directory(tmp_path, hostname):
    """The host name comes from the client's SNI: it must not pick files elsewhere."""
    (tmp_path / "certs").mkdir()
    (tmp_path / "secret.pem").write_text("pem")
    (tmp_path / "certs" / "...pem").write_text("pem")
    assert certutils.client_cert_path(tmp_path / "certs", hostname) is None


def test_missing_client_cert_option_is_reported(tmp_path):
    with pytest.raises(CertificateException, match="not found"):
        certutils.client_cert_path(tmp_path / "nope", "example.org")


def test_ec_leaf_key_signed_by_the_rsa_ca(store):
    """The proxy's store issues P-256 leaf certificates (cheap handshake signatures); the CA
    that signs them stays RSA, and one leaf key serves every minted certificate."""
    ec_store = CertStore(store.default_privatekey, store.default_ca, leaf_key_type="ec")
    first = ec_store.get_cert("ec.example", [])
    second = ec_store.get_cert("other.example", [])
    assert first.cert.keyinfo == ("EC", 256)
    assert first.privatekey is second.privatekey
    assert isinstance(first.privatekey, ec.EllipticCurvePrivateKey)
    assert store.default_ca.keyinfo[0] == "RSA"
    first.cert.to_cryptography().verify_directly_issued_by(store.default_ca.to_cryptography())
    # An EC key cannot have keys enciphered to it: keyEncipherment is for RSA leaves only.
    usage = first.cert.to_cryptography().extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment
    with pytest.raises(ValueError, match="leaf_key_type"):
        CertStore(store.default_privatekey, store.default_ca, leaf_key_type="dsa")

"""TLS interception end to end: the certificate the client gets, what the server sees,
verification upstream, key logging, custom and client certificates, ignored hosts."""
from __future__ import annotations

import json
import os
import socket
import ssl

import pytest
import requests

from netlib.http import http1
from netlib.tcp import Reader

WAIT = 10.0


def connect_tunnel(proxy_port: int, target: str) -> socket.socket:
    """A socket on which the proxy has answered ``CONNECT target`` with 200."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=WAIT)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: nothing of the TLS stream may be swallowed
    assert head.startswith(b"HTTP/1.1 200 Connection established"), head
    return sock


def tls_get(sock: socket.socket, context: ssl.SSLContext, server_hostname: str | None,
            path: str = "/", alpn: list[str] | None = None) -> tuple[dict, ssl.SSLSocket]:
    if alpn:
        context.set_alpn_protocols(alpn)
    tls = context.wrap_socket(sock, server_hostname=server_hostname)
    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {server_hostname}\r\n\r\n".encode())
    rfile = Reader(tls.recv)
    response = http1.read_response_head(rfile)
    length = int(response.headers["content-length"])
    return json.loads(rfile.safe_read(length)), tls


def names(cert: dict) -> tuple[str, set[str]]:
    cn = dict(x[0] for x in cert["subject"])["commonName"] if cert["subject"] else None
    return cn, {value for _kind, value in cert["subjectAltName"]}


# --- the interception certificate ----------------------------------------------------------------

def test_connect_to_ip_gets_upstream_cn_and_sans(proxy, tls_origin, pki):
    sock = connect_tunnel(proxy.port, f"127.0.0.1:{tls_origin.port}")
    echo, tls = tls_get(sock, pki.client_context(), "127.0.0.1")
    with tls:
        cn, sans = names(tls.getpeercert())
    assert echo["path"] == "/"
    assert cn == "origin.test"
    assert {"origin.test", "alt.origin.test", "127.0.0.1"} <= sans
    assert tls_origin.snis == [None]  # no SNI for an IP


def test_sni_is_passed_upstream(proxy, tls_origin, pki):
    sock = connect_tunnel(proxy.port, f"127.0.0.1:{tls_origin.port}")
    _echo, tls = tls_get(sock, pki.client_context(), "alt.origin.test")
    tls.close()
    assert tls_origin.snis == ["alt.origin.test"]
    flow = proxy.master.wait_for("response")[0]
    assert flow.client_conn.sni == "alt.origin.test"
    assert flow.server_conn.sni == "alt.origin.test"
    assert flow.server_conn.cert.cn == "origin.test"


def test_no_upstream_cert_mints_from_sni(start_proxy, tls_origin, pki):
    proxy = start_proxy(no_upstream_cert=True)
    sock = connect_tunnel(proxy.port, f"127.0.0.1:{tls_origin.port}")
    echo, tls = tls_get(sock, pki.client_context(), "origin.test")
    with tls:
        cn, sans = names(tls.getpeercert())
    assert echo["path"] == "/"
    assert cn == "origin.test"
    assert "alt.origin.test" not in sans and "127.0.0.1" in sans


def test_alpn_http11_negotiated_on_both_sides(proxy, tls_origin, pki):
    sock = connect_tunnel(proxy.port, f"localhost:{tls_origin.port}")
    _echo, tls = tls_get(sock, pki.client_context(), "localhost", alpn=["h2", "http/1.1"])
    with tls:
        assert tls.selected_alpn_protocol() == "http/1.1"
    flow = proxy.master.wait_for("response")[0]
    assert flow.server_conn.alpn_proto_negotiated == b"http/1.1"
    assert flow.client_conn.alpn_proto_negotiated == b"http/1.1"
    assert flow.client_conn.tls_version and flow.server_conn.cipher_name


def test_custom_cert_is_served(start_proxy, tls_origin, pki):
    proxy = start_proxy(certs=[f"*={pki.origin_cert_file}"])
    r = requests.get(f"https://localhost:{tls_origin.port}/custom",
                     proxies={"https": proxy.url}, verify=pki.origin_ca_cert, timeout=WAIT)
    assert r.json()["path"] == "/custom"


def test_client_rejecting_our_cert_is_logged_with_a_hint(proxy, tls_origin, pki):
    result = proxy.curl("--cacert", pki.origin_ca_cert, f"https://localhost:{tls_origin.port}/")
    assert result.returncode != 0
    proxy.master.wait_for("clientdisconnect")
    assert any("Cannot establish TLS with client" in line and "mitmproxy CA" in line
               for line in proxy.master.logs())


def test_cipher_and_version_settings(start_proxy, tls_origin, pki):
    proxy = start_proxy(ciphers_client="ECDHE+AESGCM", ciphers_server="ECDHE+AESGCM",
                        ssl_version_client="TLSv1_2", ssl_version_server="TLSv1_2")
    result = proxy.curl("--cacert", pki.proxy_ca_cert, f"https://localhost:{tls_origin.port}/c")
    assert json.loads(result.stdout)["path"] == "/c"
    flow = proxy.master.wait_for("response")[0]
    assert flow.client_conn.tls_version == flow.server_conn.tls_version == "TLSv1.2"
    assert "GCM" in flow.client_conn.cipher_name and "GCM" in flow.server_conn.cipher_name


# --- verifying the server -------------------------------------------------------------------------

def test_upstream_verification_failure_gives_502_with_reason(start_proxy, tls_origin, pki):
    proxy = start_proxy(upstream_trusted_ca=pki.proxy_ca_cert)  # does not trust the origin
    result = proxy.curl("--cacert", pki.proxy_ca_cert, "-w", "%{http_code}",
                        f"https://localhost:{tls_origin.port}/")
    assert result.stdout.endswith(b"502")
    assert b"certificate verification failed" in result.stdout
    assert b"unable to get local issuer certificate" in result.stdout
    assert tls_origin.requests == []


def test_upstream_verification_against_default_bundle_fails(start_proxy, tls_origin, pki):
    proxy = start_proxy(upstream_trusted_ca=None)  # certifi's bundle
    result = proxy.curl("--cacert", pki.proxy_ca_cert, "-w", "%{http_code}",
                        f"https://localhost:{tls_origin.port}/")
    assert result.stdout.endswith(b"502")


def test_insecure_skips_verification(start_proxy, tls_origin, pki):
    proxy = start_proxy(upstream_trusted_ca=None, ssl_insecure=True)
    result = proxy.curl("--cacert", pki.proxy_ca_cert, f"https://localhost:{tls_origin.port}/ok")
    assert json.loads(result.stdout)["path"] == "/ok"


def test_upstream_trusted_cadir(start_proxy, tls_origin, pki, tmp_path):
    """A c_rehash-style directory: the CA under its subject hash."""
    import subprocess
    digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", pki.origin_ca_cert],
                            capture_output=True, check=True, text=True).stdout.strip()
    with open(pki.origin_ca_cert, "rb") as f:
        (tmp_path / f"{digest}.0").write_bytes(f.read())
    proxy = start_proxy(upstream_trusted_ca=None, upstream_trusted_cadir=str(tmp_path))
    result = proxy.curl("--cacert", pki.proxy_ca_cert, f"https://localhost:{tls_origin.port}/d")
    assert json.loads(result.stdout)["path"] == "/d"


def test_https_absolute_form_in_regular_mode(proxy, tls_origin):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as sock:
        sock.sendall(f"GET https://localhost:{tls_origin.port}/abs HTTP/1.1\r\n"
                     f"Host: localhost\r\n\r\n".encode())
        rfile = Reader(sock.recv)
        response = http1.read_response_head(rfile)
        body = rfile.safe_read(int(response.headers["content-length"]))
    assert json.loads(body)["path"] == "/abs"
    assert tls_origin.snis == ["localhost"]


# --- client certificates ------------------------------------------------------------------------

def _self_signed_client_cert(cn: str) -> bytes:
    """Key and certificate (PEM) of a self-signed certificate fit for TLS client auth."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(key, hashes.SHA256()))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) + cert.public_bytes(
        serialization.Encoding.PEM)


@pytest.fixture
def client_cert_origin(pki, tmp_path):
    """An origin that requires a client certificate (the one in ``cert_dir/localhost.pem``)."""
    cert_dir = tmp_path / "client-certs"
    cert_dir.mkdir()
    (cert_dir / "localhost.pem").write_bytes(_self_signed_client_cert("proxy-client"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.origin_cert_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(str(cert_dir / "localhost.pem"))
    return context, cert_dir


def test_client_certificate_by_host(start_proxy, pki, client_cert_origin, make_origin):
    context, cert_dir = client_cert_origin
    origin = make_origin(context)
    proxy = start_proxy(clientcerts=str(cert_dir))
    result = proxy.curl("--cacert", pki.proxy_ca_cert, f"https://localhost:{origin.port}/cc")
    assert json.loads(result.stdout)["path"] == "/cc"
    subject = dict(x[0] for x in origin.last()["peercert"]["subject"])
    assert subject["commonName"] == "proxy-client"


def test_client_certificate_file_for_every_host(start_proxy, pki, client_cert_origin,
                                                 make_origin):
    context, cert_dir = client_cert_origin
    origin = make_origin(context)
    proxy = start_proxy(clientcerts=str(cert_dir / "localhost.pem"))
    result = proxy.curl("--cacert", pki.proxy_ca_cert, f"https://127.0.0.1:{origin.port}/f")
    assert json.loads(result.stdout)["path"] == "/f"


# --- key logging --------------------------------------------------------------------------------

def test_key_log_has_both_sides(start_proxy, tls_origin, pki, tmp_path, monkeypatch):
    logfile = tmp_path / "keys.log"
    monkeypatch.setenv("MITMPROXY_SSLKEYLOGFILE", str(logfile))
    proxy = start_proxy()
    result = proxy.curl("--cacert", pki.proxy_ca_cert, f"https://localhost:{tls_origin.port}/")
    assert result.returncode == 0, result.stderr
    proxy.master.wait_for("clientdisconnect")
    lines = logfile.read_text().splitlines()
    client_randoms = {line.split()[1] for line in lines if line.strip()}
    assert len(client_randoms) == 2  # client <-> proxy and proxy <-> server
    assert all(line.split()[0].isupper() for line in lines)


# --- ignored hosts -------------------------------------------------------------------------------

def test_ignored_host_passes_tls_through(start_proxy, tls_origin, pki):
    """The client trusts only the origin's CA, so it must see the origin's own cert."""
    proxy = start_proxy(ignore_hosts=[rf"^localhost:{tls_origin.port}$"])
    result = proxy.curl("--cacert", pki.origin_ca_cert, f"https://localhost:{tls_origin.port}/ig")
    assert json.loads(result.stdout)["path"] == "/ig"
    proxy.master.wait_for("clientdisconnect")
    assert [n for n in proxy.master.names() if n in ("responseheaders", "tcp_message")] == []


def test_ignore_by_sni(start_proxy, tls_origin, pki):
    """CONNECT to an IP, but the ClientHello names an ignored host."""
    proxy = start_proxy(ignore_hosts=[r"^origin\.test:"])
    sock = connect_tunnel(proxy.port, f"127.0.0.1:{tls_origin.port}")
    echo, tls = tls_get(sock, pki.client_context(pki.origin_ca_cert), "origin.test")
    tls.close()
    assert echo["path"] == "/"
    assert tls_origin.snis == ["origin.test"]


def test_keylog_env_is_read_per_context(monkeypatch, tmp_path):
    """The proxy relies on netlib reading the variable when a context is made."""
    from netlib.tcp import keylog
    monkeypatch.setenv("MITMPROXY_SSLKEYLOGFILE", str(tmp_path / "k"))
    assert keylog.keylog_path() == os.path.join(str(tmp_path), "k")

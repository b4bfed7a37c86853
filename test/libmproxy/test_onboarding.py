"""The mitm.it app as a plain callable: request in, response out, CA files from a CA
directory made for the test. (Served through a running proxy: test_dump.py.)"""
from __future__ import annotations

import html.parser
import os

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from netlib import certutils

from libmproxy.models import HTTPRequest
from libmproxy.onboarding import CA_FILES, Onboarding
from libmproxy.onboarding import page


@pytest.fixture(scope="module")
def cadir(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("ca"))
    certutils.CertStore.from_store(path)
    return path


@pytest.fixture
def app(cadir) -> Onboarding:
    return Onboarding(cadir)


def req(path: str, method: str = "GET") -> HTTPRequest:
    return HTTPRequest("relative", method, "http", "mitm.it", 80, path, "HTTP/1.1",
                       [("Host", "mitm.it")], b"")


class Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs)["href"]

    def handle_data(self, data):
        if self._href is not None:
            self.links.append((data, self._href))
            self._href = None


def test_index_lists_every_platform_with_its_download(app):
    response = app(req("/"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    parser = Links()
    parser.feed(response.content.decode("utf-8"))
    links = dict(parser.links)
    assert links == {
        "Apple (iOS / macOS)": "/cert/pem",
        "Windows": "/cert/p12",
        "Android": "/cert/cer",
        "Firefox": "/cert/pem",
        "Other / Linux": "/cert/pem",
    }
    for href in links.values():
        assert app(req(href)).status_code == 200


def test_index_has_no_scripts_and_names_the_app_host(cadir):
    body = Onboarding(cadir, app_host="onboard.test")(req("/index.html")).content
    assert b"<script" not in body
    assert b"onboard.test" in body


@pytest.mark.parametrize("route, suffix, content_type", [
    ("/cert/pem", "pem", "application/x-x509-ca-cert"),
    ("/cert/p12", "p12", "application/x-pkcs12"),
    ("/cert/cer", "cer", "application/x-x509-ca-cert"),
])
def test_ca_downloads(app, cadir, route, suffix, content_type):
    response = app(req(route))
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["content-disposition"] == \
        f'attachment; filename="mitmproxy-ca-cert.{suffix}"'
    with open(os.path.join(cadir, f"mitmproxy-ca-cert.{suffix}"), "rb") as f:
        assert response.content == f.read()
    assert int(response.headers["content-length"]) == len(response.content)


def test_downloads_are_the_ca_certificate(app, cadir):
    with open(os.path.join(cadir, "mitmproxy-ca.pem"), "rb") as f:
        ca = certutils.read_cert_file(os.path.join(cadir, "mitmproxy-ca.pem"))[0]
        assert b"PRIVATE KEY" in f.read()
    pem = app(req("/cert/pem")).content
    assert b"PRIVATE KEY" not in pem
    assert certutils.SSLCert.from_pem(pem) == ca
    assert app(req("/cert/cer")).content == pem
    key, cert, extra = pkcs12.load_key_and_certificates(app(req("/cert/p12")).content, None)
    assert key is None  # a trust anchor for Windows, never the CA's key
    (p12_cert,) = [c for c in [cert, *extra] if c is not None]
    assert p12_cert == ca.to_cryptography()


def test_query_and_trailing_slash_are_ignored(app):
    assert app(req("/cert/pem?download=1")).status_code == 200
    assert app(req("/cert/pem/")).status_code == 200
    assert app(req("/?utm=x")).status_code == 200


@pytest.mark.parametrize("path", ["/cert", "/cert/der", "/favicon.ico", "/../mitmproxy-ca.pem",
                                  "/cert/pem/../../x"])
def test_anything_else_is_404(app, path):
    response = app(req(path))
    assert response.status_code == 404
    assert b"PRIVATE KEY" not in response.content


def test_head_has_headers_but_no_body(app):
    full = app(req("/cert/pem"))
    head = app(req("/cert/pem", "HEAD"))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == full.headers["content-length"]


def test_other_methods_are_refused(app):
    response = app(req("/", "POST"))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_missing_ca_file_is_404_not_a_crash(tmp_path):
    response = Onboarding(str(tmp_path))(req("/cert/p12"))
    assert response.status_code == 404
    assert b"not available" in response.content


def test_ca_is_read_per_request(tmp_path):
    """A CA replaced while the proxy runs is the one served."""
    app = Onboarding(str(tmp_path))
    (tmp_path / "mitmproxy-ca-cert.pem").write_bytes(b"first")
    assert app(req("/cert/pem")).content == b"first"
    (tmp_path / "mitmproxy-ca-cert.pem").write_bytes(b"second")
    assert app(req("/cert/pem")).content == b"second"


def test_cadir_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Onboarding("~/ca").ca_path("pem") == str(tmp_path / "ca" / "mitmproxy-ca-cert.pem")


def test_every_platform_links_a_served_route():
    assert {route for _, route, _ in page.PLATFORMS} <= set(CA_FILES)

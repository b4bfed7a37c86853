"""ProxyConfig: parsing and checking settings, with messages that name the bad value."""
from __future__ import annotations

import argparse
import os

import pytest

from netlib.tcp import Address

from libmproxy.proxy.config import (
    HostMatcher, ProxyConfig, ServerSpec, parse_cert_spec, parse_server_spec,
    parse_upstream_auth,
)


@pytest.fixture
def cadir(pki):
    return pki.proxy_cadir


def test_defaults(cadir):
    config = ProxyConfig(cadir=cadir)
    assert (config.host, config.port, config.mode) == ("", 8080, "regular")
    assert config.upstream_server is None and config.upstream_auth is None
    assert not config.ssl_insecure and not config.no_upstream_cert and config.http2
    assert config.ssl_version_client == "secure" == config.ssl_version_server
    assert (config.app_host, config.app_port, config.apps) == ("mitm.it", 80, {})
    assert config.ca_cert_path.endswith("mitmproxy-ca-cert.pem")
    assert repr(config) == "<ProxyConfig regular on *:8080>"


def test_cadir_is_created(tmp_path):
    config = ProxyConfig(cadir=str(tmp_path / "new" / "dir"))
    assert os.path.exists(tmp_path / "new" / "dir" / "mitmproxy-ca.pem")
    assert config.certstore is not None


def test_from_options_object_with_aliases(cadir, pki):
    options = argparse.Namespace(
        listen_host="127.0.0.1", listen_port=9999, ca_dir=cadir, ignore=["^a:"], tcp=["^b:"],
        insecure=True, no_http2=True, client_certs=pki.origin_cert_file, unrelated="x",
        mode="reverse", upstream_server="https://example.com", body_size_limit="3k",
    )
    config = ProxyConfig(options, port=7777)
    assert (config.host, config.port) == ("127.0.0.1", 7777)  # keywords win
    assert config.ssl_insecure and not config.http2
    assert config.ignore_hosts(("a", 1)) and config.tcp_hosts(("b", 1))
    assert config.upstream_server == ServerSpec("https", Address("example.com", 443))
    assert config.body_size_limit == 3 * 1024
    assert config.clientcerts == pki.origin_cert_file


def test_unknown_keyword_is_a_type_error(cadir):
    with pytest.raises(TypeError, match="porrt"):
        ProxyConfig(cadir=cadir, porrt=1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(mode="sideways"), "invalid proxy mode 'sideways'"),
    (dict(mode="reverse"), "reverse mode needs a server"),
    (dict(mode="upstream", upstream_server="https://p:1"), "http://host"),
    (dict(upstream_auth="nocolon"), "username:password"),
    (dict(ignore_hosts=["("]), "invalid ignore pattern '\\('"),
    (dict(ssl_version_client="SSLv2"), "unknown TLS version 'SSLv2'"),
    (dict(body_size_limit="lots"), "invalid body size limit 'lots'"),
    (dict(ciphers_server="NOT-A-CIPHER"), "invalid cipher list 'NOT-A-CIPHER'"),
    (dict(clientcerts="/does/not/exist"), "client certificate file or directory not found"),
    (dict(upstream_trusted_ca="/nope.pem"), "upstream trusted CA file not found"),
    (dict(certs=["example.com=/nope.pem"]), "invalid certificate for example.com"),
])
def test_bad_values_name_themselves(cadir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProxyConfig(cadir=cadir, **kwargs)


def test_unusable_cadir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="certificate directory"):
        ProxyConfig(cadir=str(blocker / "sub"))


@pytest.mark.parametrize("spec, expected", [
    ("http://example.com", ServerSpec("http", Address("example.com", 80))),
    ("https://example.com/", ServerSpec("https", Address("example.com", 443))),
    ("HTTP://10.0.0.1:8080", ServerSpec("http", Address("10.0.0.1", 8080))),
    ("http://[::1]:81", ServerSpec("http", Address("::1", 81))),
    (("https", ("h", 1)), ServerSpec("https", Address("h", 1))),
])
def test_server_spec(spec, expected):
    assert parse_server_spec(spec) == expected


@pytest.mark.parametrize("spec", ["example.com", "ftp://x", "http://", "http://x/path",
                                  "http://x:notaport", "http://bad host"])
def test_bad_server_spec(spec):
    with pytest.raises(ValueError, match="invalid server specification"):
        parse_server_spec(spec)


def test_upstream_auth_and_cert_specs():
    assert parse_upstream_auth("user:pass") == b"Basic dXNlcjpwYXNz"
    assert parse_cert_spec("/a.pem") == ("*", "/a.pem")
    assert parse_cert_spec("*.example.com=/a.pem") == ("*.example.com", "/a.pem")
    with pytest.raises(ValueError):
        parse_cert_spec("=/a.pem")


def test_custom_cert(cadir, pki):
    config = ProxyConfig(cadir=cadir, certs=[pki.origin_cert_file])
    assert config.certs == [("*", pki.origin_cert_file)]
    assert config.certstore.get_cert("anything.example", []).cert.cn == "origin.test"


def test_host_matcher():
    matcher = HostMatcher([r"^example\.com:443$", "APPLE"])
    assert matcher(("example.com", 443))
    assert not matcher(("example.com", 80))
    assert matcher(("17.1.1.1", 443), sni="www.apple.com")
    assert not matcher(None)
    assert matcher and not HostMatcher()


def test_find_app(cadir):
    app = object()
    config = ProxyConfig(cadir=cadir, apps={("mitm.it", 80): app})
    assert config.find_app("MITM.IT", 80) is app
    assert config.find_app("mitm.it", 443) is None
    assert config.find_app(None, 80) is None


def test_interception_certificates_have_an_ec_key_unless_client_ciphers_are_pinned(cadir):
    """P-256 leaves make each client handshake cheap; a pinned --ciphers-client may allow
    RSA-authenticated suites only, so then the leaf stays RSA."""
    config = ProxyConfig(cadir=cadir)
    assert config.certstore.get_cert("ec.example", []).cert.keyinfo == ("EC", 256)
    pinned = ProxyConfig(cadir=cadir, ciphers_client="ECDHE-RSA-AES128-GCM-SHA256")
    assert pinned.certstore.get_cert("rsa.example", []).cert.keyinfo == ("RSA", 2048)
    assert pinned.certstore.default_ca.keyinfo[0] == "RSA"

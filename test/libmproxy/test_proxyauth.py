"""Proxy authentication (spec: Proxy Authentication) end to end.

Two kinds of proxy: the real ``mitmdump`` as a subprocess (``python -m libmproxy.main``,
ready when it prints its listening line) driven by curl and requests, as a user would; and
an in-process proxy (``start_proxy``) where a test must see the hooks' events or speak
raw HTTP on one connection. The origins record what reached them, so "the credentials are
not passed upstream" is asserted where it matters: at the origin.
"""
from __future__ import annotations

import base64
import json
import os
import socket

import pytest
import requests
from passlib.hash import apr_md5_crypt, bcrypt, ldap_sha1

from netlib.http import Headers, Request, http1
from netlib.http.authentication import BasicProxyAuth, NullProxyAuth
from netlib.tcp import Reader

from libmproxy.proxy import ProxyConfig

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

WAIT = 10.0  # seconds; reached only when something is broken

CHALLENGE = 'Basic realm="mitmproxy"'


def basic(userpass: str) -> str:
    return "Basic " + base64.b64encode(userpass.encode()).decode()


def origin_headers(origin, index: int = -1) -> dict[str, str]:
    return {k.lower(): v for k, v in origin.requests[index]["headers"]}


@pytest.fixture
def htpasswd(tmp_path) -> str:
    """Users in the formats Apache's htpasswd writes: apr1 MD5 (-m), bcrypt (-B), {SHA}."""
    path = tmp_path / "users.htpasswd"
    path.write_text(f"alice:{apr_md5_crypt.hash('apple')}\n"
                    f"bob:{bcrypt.using(rounds=4).hash('banana')}\n"
                    f"carol:{ldap_sha1.hash('cherry')}\n")
    return str(path)


# --- mitmdump: what a curl user sees ---------------------------------------------------------------

def test_no_credentials_get_407_with_a_basic_challenge(mitmdump, origin):
    proxy = mitmdump("--singleuser", "user:secret").started()
    result = proxy.curl("-i", f"{origin.url}/private")
    status, _, rest = result.stdout.partition(b"\r\n")
    assert status == b"HTTP/1.1 407 Proxy Authentication Required"
    head, _, body = rest.partition(b"\r\n\r\n")
    assert f"Proxy-Authenticate: {CHALLENGE}".encode() in head.split(b"\r\n")
    assert b"requires authentication" in body
    assert origin.requests == []
    # the refused request is no flow: mitmdump prints nothing for it
    assert "/private" not in proxy.stop()[1]


def test_singleuser_over_http_and_https_keeps_the_credentials_from_the_origin(
        mitmdump, origin, tls_origin, pki):
    proxy = mitmdump("--upstream-trusted-ca", pki.bundle, "--singleuser", "user:secret").started()
    result = proxy.curl("--proxy-user", "user:secret", f"{origin.url}/plain")
    assert json.loads(result.stdout)["path"] == "/plain", result.stderr
    assert "proxy-authorization" not in origin_headers(origin)

    url = f"https://localhost:{tls_origin.port}/tunnelled"
    result = proxy.curl("--proxy-user", "user:secret", "--cacert", pki.proxy_ca_cert, url)
    assert json.loads(result.stdout)["path"] == "/tunnelled", result.stderr
    assert "proxy-authorization" not in origin_headers(tls_origin)

    _, out = proxy.stop()
    assert f"GET {origin.url}/plain" in out and f"GET {url}" in out


def test_wrong_password_gets_407_over_http_and_for_connect(mitmdump, origin, tls_origin, pki):
    proxy = mitmdump("--singleuser", "user:secret").started()
    result = proxy.curl("--proxy-user", "user:wrong", "-o", os.devnull, "-w", "%{http_code}",
                        f"{origin.url}/")
    assert result.stdout == b"407"
    result = proxy.curl("--proxy-user", "user:wrong", "--cacert", pki.proxy_ca_cert,
                        "-w", "%{http_connect}", f"https://localhost:{tls_origin.port}/")
    assert result.returncode != 0 and result.stdout == b"407"
    assert b"407" in result.stderr  # curl: "CONNECT tunnel failed, response 407"
    assert origin.requests == [] and tls_origin.requests == []


def test_nonanonymous_accepts_any_user_and_password_but_not_none(mitmdump, origin):
    proxy = mitmdump("--nonanonymous").started()
    for userpass in ("alice:x", "bob:", "some one:p@ss:word"):
        result = proxy.curl("--proxy-user", userpass, f"{origin.url}/{len(origin.requests)}")
        assert result.stdout.startswith(b"{"), (userpass, result.stdout)
    assert len(origin.requests) == 3
    result = proxy.curl("-o", os.devnull, "-w", "%{http_code}", f"{origin.url}/")
    assert result.stdout == b"407"
    assert all("proxy-authorization" not in origin_headers(origin, i) for i in range(3))


def test_htpasswd_users_in_each_format(mitmdump, origin, htpasswd):
    proxy = mitmdump("--htpasswd", htpasswd).started()
    for userpass, expected in (("alice:apple", b"200"), ("bob:banana", b"200"),
                               ("carol:cherry", b"200"), ("alice:banana", b"407"),
                               ("mallory:apple", b"407")):
        result = proxy.curl("--proxy-user", userpass, "-o", os.devnull, "-w", "%{http_code}",
                            f"{origin.url}/")
        assert result.stdout == expected, userpass
    assert len(origin.requests) == 3


def test_requests_with_credentials_in_the_proxy_url(mitmdump, origin, tls_origin, pki):
    proxy = mitmdump("--upstream-trusted-ca", pki.bundle, "--singleuser", "user:p@ss").started()
    proxies = {scheme: f"http://user:p%40ss@127.0.0.1:{proxy.port}" for scheme in
               ("http", "https")}
    with requests.Session() as session:
        session.trust_env = False
        r = session.get(f"{origin.url}/req", proxies=proxies, timeout=WAIT)
        assert r.status_code == 200 and r.json()["path"] == "/req"
        r = session.get(f"https://localhost:{tls_origin.port}/reqs", proxies=proxies,
                        verify=pki.proxy_ca_cert, timeout=WAIT)
        assert r.status_code == 200 and r.json()["path"] == "/reqs"
        r = session.get(f"{origin.url}/anon", timeout=WAIT,
                        proxies={"http": f"http://127.0.0.1:{proxy.port}"})
        assert r.status_code == 407
        assert r.headers["Proxy-Authenticate"] == CHALLENGE
    assert "proxy-authorization" not in origin_headers(origin)
    assert "proxy-authorization" not in origin_headers(tls_origin)


# --- mitmdump: refused at startup --------------------------------------------------------------------

@pytest.mark.parametrize("auth", [["--singleuser", "u:p"], ["--nonanonymous"]])
def test_authentication_in_reverse_mode_is_refused(mitmdump_once, auth):
    result = mitmdump_once("-R", "http://127.0.0.1:1", *auth)
    assert result.returncode == 2
    assert f"proxy authentication ({auth[0]}) is not compatible with reverse proxy mode" \
        in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("content, problem", [
    ("just a line\n", "malformed htpasswd file"),
    ("", "it has no users"),
    ("dave:$apr1$saltonly\n", "user 'dave': incomplete apr_md5_crypt hash"),
])
def test_bad_htpasswd_file_is_a_startup_error_naming_it(mitmdump_once, tmp_path, content,
                                                         problem):
    path = tmp_path / "users.htpasswd"
    path.write_text(content)
    result = mitmdump_once("--htpasswd", str(path))
    assert result.returncode == 2
    assert f"invalid htpasswd file {path}: {problem}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_missing_htpasswd_file_and_two_methods_are_refused(mitmdump_once, tmp_path,
                                                           htpasswd):
    result = mitmdump_once("--htpasswd", str(tmp_path / "nope"))
    assert result.returncode == 2 and str(tmp_path / "nope") in result.stderr
    result = mitmdump_once("--htpasswd", htpasswd, "--singleuser", "u:p")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


# --- in process: events and one connection ---------------------------------------------------------

class Client:
    """One raw connection to the proxy, reading responses with netlib's reader."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.rfile = Reader(self.sock.recv)

    def exchange(self, head: str, method: str = "GET"):
        self.sock.sendall(head.encode())
        response = http1.read_response_head(self.rfile)
        request = Request("relative", method, "http", "x", 80, "/", "HTTP/1.1", Headers(), b"")
        size = http1.expected_http_body_size(request, response)
        response.data.content = b"".join(http1.read_body(self.rfile, size)) if size else b""
        return response

    def close(self) -> None:
        self.sock.close()


def test_a_refused_request_fires_no_events_and_the_retry_uses_the_same_connection(
        start_proxy, origin):
    proxy = start_proxy(auth_singleuser="u:p")
    client = Client(proxy.port)
    try:
        refused = client.exchange(f"POST {origin.url}/form HTTP/1.1\r\nHost: x\r\n"
                                  f"Content-Length: 5\r\n\r\nhello")
        assert refused.status_code == 407
        assert refused.headers["Proxy-Authenticate"] == CHALLENGE
        assert "connection" not in refused.headers  # the connection stays open
        ok = client.exchange(f"POST {origin.url}/form HTTP/1.1\r\nHost: x\r\n"
                             f"Proxy-Authorization: {basic('u:p')}\r\n"
                             f"Content-Length: 5\r\n\r\nhello")
        assert ok.status_code == 200 and json.loads(ok.content)["body_length"] == 5
    finally:
        client.close()
    flows = proxy.master.wait_for("response")
    assert len(proxy.master.objects("request")) == 1
    assert len(proxy.master.objects("clientconnect")) == 1
    # stripped from the flow itself: hooks and saved flows never hold the credentials
    assert "Proxy-Authorization" not in flows[0].request.headers
    assert len(origin.requests) == 1
    assert "proxy-authorization" not in origin_headers(origin)


def test_connect_is_authenticated_and_the_tunnel_needs_no_credentials(
        start_proxy, tls_origin, pki):
    proxy = start_proxy(auth_nonanonymous=True)
    client = Client(proxy.port)
    target = f"localhost:{tls_origin.port}"
    try:
        refused = client.exchange(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n",
                                  "CONNECT")
        assert refused.status_code == 407
        assert refused.headers["Proxy-Authenticate"] == CHALLENGE
        ok = client.exchange(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
                             f"Proxy-Authorization: {basic('anyone:x')}\r\n\r\n", "CONNECT")
        assert ok.status_code == 200
        with pki.client_context().wrap_socket(client.sock, server_hostname="localhost") as tls:
            tls.sendall(f"GET /inside HTTP/1.1\r\nHost: {target}\r\n"
                        f"Connection: close\r\n\r\n".encode())
            answer = b"".join(iter(lambda: tls.recv(65536), b""))
    finally:
        client.close()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert [r["path"] for r in tls_origin.requests] == ["/inside"]
    connect, inner = proxy.master.wait_for("request", 2)
    assert connect.request.method == "CONNECT"
    assert "Proxy-Authorization" not in connect.request.headers
    assert inner.request.path == "/inside"


def test_a_refused_request_that_asks_to_close_closes(start_proxy, origin):
    proxy = start_proxy(auth_singleuser="u:p")
    client = Client(proxy.port)
    try:
        refused = client.exchange(f"GET {origin.url}/ HTTP/1.1\r\nHost: x\r\n"
                                  f"Connection: close\r\n\r\n")
        assert refused.status_code == 407
        assert client.sock.recv(1) == b""  # the proxy closed its side
    finally:
        client.close()


def test_upstream_mode_does_not_pass_the_clients_credentials_to_the_next_proxy(
        start_proxy, origin):
    second = start_proxy()
    first = start_proxy(mode="upstream", upstream_server=second.url, auth_singleuser="u:p")
    assert first.curl("-o", os.devnull, "-w", "%{http_code}", f"{origin.url}/").stdout == b"407"
    result = first.curl("--proxy-user", "u:p", f"{origin.url}/chained")
    assert json.loads(result.stdout)["path"] == "/chained", result.stderr
    seen = second.master.wait_for("request")
    assert len(seen) == 1 and "Proxy-Authorization" not in seen[0].request.headers
    assert "proxy-authorization" not in origin_headers(origin)


def test_without_authentication_the_header_stays_in_the_flow_but_not_on_the_wire(
        proxy, origin):
    """Nothing to consume it: hooks still see what the client sent (it may be meant for a
    script); the origin still never does."""
    result = proxy.curl("--proxy-user", "u:p", f"{origin.url}/open")
    assert json.loads(result.stdout)["path"] == "/open"
    flow = proxy.master.wait_for("request")[0]
    assert flow.request.headers["Proxy-Authorization"] == basic("u:p")
    assert "proxy-authorization" not in origin_headers(origin)


# --- ProxyConfig --------------------------------------------------------------------------------------

def test_config_builds_the_authenticator(pki, htpasswd):
    def make(**kwargs) -> ProxyConfig:
        return ProxyConfig(cadir=pki.proxy_cadir, **kwargs)

    assert type(make().authenticator) is NullProxyAuth
    for kwargs in ({"auth_nonanonymous": True}, {"auth_singleuser": "u:p"},
                   {"auth_htpasswd": htpasswd}):
        auth = make(**kwargs).authenticator
        assert isinstance(auth, BasicProxyAuth)
        assert auth.auth_challenge_headers() == {"Proxy-Authenticate": CHALLENGE}
    assert make(auth_singleuser="u:p").authenticator.authenticate(
        Headers(Proxy_Authorization=basic("u:p")))
    assert make(auth_htpasswd=htpasswd).authenticator.authenticate(
        Headers(Proxy_Authorization=basic("carol:cherry")))
    assert isinstance(make(auth_nonanonymous=True, mode="upstream",
                           upstream_server="http://127.0.0.1:1").authenticator, BasicProxyAuth)


@pytest.mark.parametrize("kwargs, message", [
    ({"auth_singleuser": "u:p", "auth_nonanonymous": True},
     r"--nonanonymous and --singleuser exclude each other"),
    ({"auth_singleuser": "nocolon"}, "expected username:password"),
    ({"auth_nonanonymous": True, "mode": "reverse", "upstream_server": "http://127.0.0.1:1"},
     r"proxy authentication \(--nonanonymous\) is not compatible with reverse proxy mode"),
    ({"auth_singleuser": "u:p", "mode": "transparent"}, "not compatible with transparent mode"),
    ({"auth_singleuser": "u:p", "mode": "socks5"}, "not compatible with socks mode"),
])
def test_config_refuses_bad_authentication_settings(pki, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProxyConfig(cadir=pki.proxy_cadir, **kwargs)

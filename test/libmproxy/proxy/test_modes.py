"""The proxy modes end to end: real clients (curl, requests, ssl sockets), real origins."""
from __future__ import annotations

import json

import requests

WAIT = 10.0


def _json(result) -> dict:
    """The last JSON echo in curl's output (several URLs give several, back to back)."""
    return _bodies(result)[-1]


def _bodies(result) -> list[dict]:
    assert result.returncode == 0, result.stderr
    text, decoder, docs = result.stdout.decode(), json.JSONDecoder(), []
    while text:
        doc, end = decoder.raw_decode(text)
        docs.append(doc)
        text = text[end:]
    return docs


# --- regular mode -------------------------------------------------------------------------------

def test_regular_http_keepalive_several_requests(proxy, origin):
    result = proxy.curl(f"{origin.url}/a", f"{origin.url}/b", f"{origin.url}/c?x=1")
    assert [b["path"] for b in _bodies(result)] == ["/a", "/b", "/c?x=1"]
    assert origin.connections == 1  # one client connection, one server connection
    flows = proxy.master.wait_for("response", 3)
    assert [f.request.url for f in flows] == [f"{origin.url}/a", f"{origin.url}/b",
                                              f"{origin.url}/c?x=1"]
    assert len(proxy.master.objects("clientconnect")) == 1


def test_regular_https_connect_keepalive(proxy, tls_origin, pki):
    url = f"https://localhost:{tls_origin.port}"
    result = proxy.curl("--cacert", pki.proxy_ca_cert, f"{url}/one", f"{url}/two")
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in tls_origin.requests] == ["/one", "/two"]
    assert tls_origin.connections == 1
    flows = proxy.master.wait_for("response", 2)
    assert [f.request.url for f in flows] == [f"{url}/one", f"{url}/two"]
    assert flows[0].request.scheme == "https"
    assert flows[0].client_conn.ssl_established and flows[0].server_conn.ssl_established
    assert flows[0].client_conn.sni == "localhost"
    assert flows[0].server_conn.sni == "localhost"


def test_regular_https_with_requests(proxy, tls_origin, pki):
    with requests.Session() as session:
        for path in ("/x", "/y"):
            r = session.get(f"https://localhost:{tls_origin.port}{path}",
                            proxies={"https": proxy.url}, verify=pki.proxy_ca_cert, timeout=WAIT)
            assert r.status_code == 200
            assert r.json()["path"] == path


def test_a_silent_tunnel_does_not_hold_up_other_clients(proxy, tls_origin, pki):
    """A client that opens a CONNECT tunnel and then says nothing must not delay others:
    deciding its next layer waits for its first bytes (up to the socket timeout), and
    with functools.cached_property (Python 3.11) that wait held a lock every other new
    tunnel needed too."""
    import socket
    import time

    silent = socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT)
    try:
        silent.sendall(f"CONNECT localhost:{tls_origin.port} HTTP/1.1\r\n\r\n".encode())
        assert silent.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.2)  # its connection thread is now waiting for the ClientHello
        start = time.monotonic()
        result = proxy.curl("--cacert", pki.proxy_ca_cert,
                            f"https://localhost:{tls_origin.port}/other")
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - start < WAIT / 2
    finally:
        silent.close()


# --- reverse mode --------------------------------------------------------------------------------

def test_reverse_plain_client_keeps_host_header(start_proxy, origin, curl):
    proxy = start_proxy(mode="reverse", upstream_server=origin.url)
    result = _json(curl(f"http://127.0.0.1:{proxy.port}/rev"))
    assert result["path"] == "/rev"
    assert result["headers"]["Host"] == f"127.0.0.1:{proxy.port}"
    flow = proxy.master.wait_for("response")[0]
    assert (flow.request.host, flow.request.port) == ("127.0.0.1", origin.port)
    assert flow.request.scheme == "http"


def test_reverse_tls_client_to_plain_server(start_proxy, origin, curl, pki):
    proxy = start_proxy(mode="reverse", upstream_server=origin.url)
    result = _bodies(curl("--cacert", pki.proxy_ca_cert, f"https://localhost:{proxy.port}/s",
                          f"https://localhost:{proxy.port}/t"))
    assert [r["path"] for r in result] == ["/s", "/t"]
    assert [r["path"] for r in origin.requests] == ["/s", "/t"]
    flow = proxy.master.wait_for("response")[0]
    assert flow.client_conn.ssl_established and not flow.server_conn.ssl_established


def test_reverse_plain_client_to_tls_server(start_proxy, tls_origin, curl):
    proxy = start_proxy(mode="reverse", upstream_server=f"https://localhost:{tls_origin.port}")
    result = _json(curl(f"http://127.0.0.1:{proxy.port}/up"))
    assert result["path"] == "/up"
    assert tls_origin.snis == ["localhost"]
    flow = proxy.master.wait_for("response")[0]
    assert flow.request.scheme == "https" and flow.server_conn.ssl_established


def test_reverse_tls_both_sides(start_proxy, tls_origin, curl, pki):
    proxy = start_proxy(mode="reverse", upstream_server=f"https://localhost:{tls_origin.port}")
    result = _json(curl("--cacert", pki.proxy_ca_cert, f"https://localhost:{proxy.port}/both"))
    assert result["path"] == "/both"
    assert tls_origin.snis == ["localhost"]


# --- upstream mode --------------------------------------------------------------------------------

def test_upstream_chain_http_with_auth(start_proxy, origin):
    second = start_proxy()
    first = start_proxy(mode="upstream", upstream_server=second.url, upstream_auth="user:pass")
    result = _bodies(first.curl(f"{origin.url}/chained", f"{origin.url}/again"))
    assert [r["path"] for r in result] == ["/chained", "/again"]
    assert [r["path"] for r in origin.requests] == ["/chained", "/again"]
    seen = second.master.wait_for("request", 2)[0]
    assert seen.request.headers["Proxy-Authorization"] == "Basic dXNlcjpwYXNz"
    assert seen.request.first_line_format == "absolute"
    # the first proxy's own flows do not carry the upstream credentials
    assert "Proxy-Authorization" not in first.master.wait_for("request")[0].request.headers
    assert "Proxy-Authorization" not in dict(origin.requests[0]["headers"])


def test_upstream_chain_https(start_proxy, tls_origin, pki):
    second = start_proxy()
    first = start_proxy(mode="upstream", upstream_server=second.url, upstream_auth="u:p")
    url = f"https://localhost:{tls_origin.port}"
    result = first.curl("--cacert", pki.proxy_ca_cert, f"{url}/a", f"{url}/b")
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in tls_origin.requests] == ["/a", "/b"]
    connect = second.master.wait_for("request")[0]
    assert connect.request.method == "CONNECT"
    assert connect.request.headers["Proxy-Authorization"] == "Basic dTpw"
    inner = first.master.wait_for("response", 2)
    assert [f.request.url for f in inner] == [f"{url}/a", f"{url}/b"]
    assert inner[0].server_conn.via is not None
    assert inner[0].server_conn.via.address.port == second.port


def test_upstream_refusing_connect_gives_502(start_proxy, pki):
    second = start_proxy()
    second.master.on["request"] = _refuse_connect
    first = start_proxy(mode="upstream", upstream_server=second.url)
    result = first.curl("--cacert", pki.proxy_ca_cert, "-w", "%{http_code}",
                        "https://localhost:1/")
    assert result.stdout.endswith(b"502")
    assert b"refused CONNECT" in result.stdout and b"407" in result.stdout


def _refuse_connect(flow) -> None:
    from libmproxy.models import make_error_response
    flow.response = make_error_response(407, "go away")

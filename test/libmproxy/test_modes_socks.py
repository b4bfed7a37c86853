"""SOCKS5 mode (``--socks``): curl through it (HTTP, HTTPS, names and addresses), a raw
client for IPv6 and for every refusal, whose reply bytes are those of RFC 1928.

The proxy runs in this process (the ``start_proxy`` fixture: a RecordingMaster sees the
flows and the log); one test runs the real ``mitmdump --socks`` and reads what it prints.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import Iterator

import pytest

from libmproxy import cmdline
from libmproxy.proxy import ProxyConfig

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

WAIT = 10.0
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GREETING_NO_AUTH = bytes([5, 1, 0])
CHOSE_NO_AUTH = bytes([5, 0])
SUCCEEDED = bytes([5, 0, 0, 1, 0, 0, 0, 0, 0, 0])


def connect_request(atyp: int, address: bytes, port: int, command: int = 1) -> bytes:
    return bytes([5, command, 0, atyp]) + address + port.to_bytes(2, "big")


def ipv4_request(host: str, port: int, command: int = 1) -> bytes:
    return connect_request(1, socket.inet_aton(host), port, command)


@pytest.fixture
def socks(start_proxy):
    return start_proxy(mode="socks5")


def talk(proxy, *messages: bytes, hang_up: bool = False) -> bytes:
    """Send ``messages`` to the SOCKS port one after another (then, with ``hang_up``, stop
    sending) and return every byte the proxy answered until it closed the connection."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as sock:
        for message in messages:
            sock.sendall(message)
        if hang_up:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while data := sock.recv(4096):
            received += data
    return received


def logged(proxy) -> str:
    proxy.master.wait_for("clientdisconnect")
    return "\n".join(proxy.master.logs())


def json_body(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- curl -------------------------------------------------------------------------------------

def test_curl_socks5_hostname_http(socks, origin, curl):
    """The client sends the name; the proxy resolves it and shows it in the flow."""
    url = f"http://localhost:{origin.port}/via/socks?x=1"
    body = json_body(curl("--socks5-hostname", f"127.0.0.1:{socks.port}", url))
    assert body["path"] == "/via/socks?x=1"
    assert body["headers"]["Host"] == f"localhost:{origin.port}"
    flow = socks.master.wait_for("response")[0]
    assert flow.request.url == url
    assert flow.request.first_line_format == "relative"
    assert flow.server_conn.address == ("localhost", origin.port)


def test_curl_socks5_hostname_https(socks, tls_origin, pki, curl):
    """TLS inside SOCKS is intercepted with the proxy's CA, the origin gets the SNI."""
    url = f"https://localhost:{tls_origin.port}/secret"
    body = json_body(curl("--socks5-hostname", f"127.0.0.1:{socks.port}",
                          "--cacert", pki.proxy_ca_cert, url))
    assert body["path"] == "/secret"
    assert tls_origin.snis == ["localhost"]
    flow = socks.master.wait_for("response")[0]
    assert flow.request.url == url
    assert flow.client_conn.ssl_established and flow.server_conn.ssl_established
    assert flow.client_conn.sni == "localhost"


def test_curl_socks5_ipv4_address(socks, origin, curl):
    """``--socks5``: curl resolves the name itself and sends an IPv4 address."""
    body = json_body(curl("--socks5", f"127.0.0.1:{socks.port}",
                          f"http://127.0.0.1:{origin.port}/v4"))
    assert body["path"] == "/v4"
    flow = socks.master.wait_for("response")[0]
    assert flow.request.url == f"http://127.0.0.1:{origin.port}/v4"


def test_several_requests_on_one_socks_connection(socks, origin, curl):
    proxy_arg = f"127.0.0.1:{socks.port}"
    result = curl("--socks5-hostname", proxy_arg, f"http://localhost:{origin.port}/a",
                  f"http://localhost:{origin.port}/b")
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in origin.requests] == ["/a", "/b"]
    assert origin.connections == 1
    assert len(socks.master.wait_for("clientconnect")) == 1


def test_unreachable_server_is_a_502_naming_the_reason(socks, curl):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = curl("--socks5-hostname", f"127.0.0.1:{socks.port}",
                  "-o", "-", "-w", "%{http_code}", f"http://127.0.0.1:{port}/")
    assert result.stdout.endswith(b"502")
    assert b"Connection refused" in result.stdout
    assert "Connection refused" in socks.master.wait_for("error")[0].error.msg


# --- ignore patterns ---------------------------------------------------------------------------

def test_ignored_address_is_relayed_untouched(start_proxy, tls_origin, pki, curl):
    """An ignored host sees the client's own TLS: the client must trust the origin's CA,
    and no flow is recorded."""
    proxy = start_proxy(mode="socks5", ignore_hosts=[rf"^localhost:{tls_origin.port}$"])
    body = json_body(curl("--socks5-hostname", f"127.0.0.1:{proxy.port}",
                          "--cacert", pki.origin_ca_cert,
                          f"https://localhost:{tls_origin.port}/pinned"))
    assert body["path"] == "/pinned"
    proxy.master.wait_for("clientdisconnect")
    assert proxy.master.objects("request") == []


def test_ignore_pattern_matches_the_client_hello_sni(start_proxy, tls_origin, pki, curl):
    """curl sends the IP address to the proxy and the name only in its SNI."""
    proxy = start_proxy(mode="socks5", ignore_hosts=[r"^alt\.origin\.test:"])
    port = tls_origin.port
    body = json_body(curl("--socks5", f"127.0.0.1:{proxy.port}", "--cacert",
                          pki.origin_ca_cert, "--resolve", f"alt.origin.test:{port}:127.0.0.1",
                          f"https://alt.origin.test:{port}/by-sni"))
    assert body["path"] == "/by-sni"
    assert tls_origin.snis == ["alt.origin.test"]
    proxy.master.wait_for("clientdisconnect")
    assert proxy.master.objects("request") == []


# --- IPv6, with a raw client ---------------------------------------------------------------------

def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
def ipv6_origin() -> Iterator[int]:
    """A one-shot HTTP server on [::1]: answers "v6 <request line>" and closes."""
    if not _ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback address (::1)")
    server = socket.socket(socket.AF_INET6)
    server.bind(("::1", 0))
    server.listen()
    server.settimeout(WAIT)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            head = b""
            while b"\r\n\r\n" not in head and (data := conn.recv(4096)):
                head += data
            body = b"v6 " + head.split(b"\r\n", 1)[0]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(body) + body)

    thread = threading.Thread(target=serve, name="IPv6 origin")
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(WAIT)


def test_connect_to_an_ipv6_address(socks, ipv6_origin):
    request = connect_request(4, socket.inet_pton(socket.AF_INET6, "::1"), ipv6_origin)
    http = f"GET /six HTTP/1.1\r\nHost: [::1]:{ipv6_origin}\r\nConnection: close\r\n\r\n"
    answer = talk(socks, GREETING_NO_AUTH, request, http.encode())
    assert answer.startswith(CHOSE_NO_AUTH + SUCCEEDED + b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"v6 GET /six HTTP/1.1")
    flow = socks.master.wait_for("response")[0]
    assert flow.server_conn.address == ("::1", ipv6_origin)
    assert flow.request.url == f"http://[::1]:{ipv6_origin}/six"


def test_connect_to_a_domain_name(socks, origin):
    request = connect_request(3, bytes([len(b"localhost")]) + b"localhost", origin.port)
    http = "GET /named HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    answer = talk(socks, GREETING_NO_AUTH, request, http.encode())
    assert answer.startswith(CHOSE_NO_AUTH + SUCCEEDED + b"HTTP/1.1 200 OK\r\n")
    assert origin.last()["path"] == "/named"


# --- refusals: the reply bytes of RFC 1928 -----------------------------------------------------

def test_only_username_password_offered_gets_no_acceptable_methods(socks):
    assert talk(socks, bytes([5, 1, 2])) == bytes([5, 0xFF])
    assert "offers no method we accept (offered: USERNAME_PASSWORD;" in logged(socks)


def test_no_auth_among_several_methods_is_chosen(socks, origin):
    request = ipv4_request("127.0.0.1", origin.port)
    answer = talk(socks, bytes([5, 3, 1, 2, 0]), request,
                  b"GET /m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(CHOSE_NO_AUTH + SUCCEEDED + b"HTTP/1.1 200 OK")


@pytest.mark.parametrize("command, name", [(2, "BIND"), (3, "UDP_ASSOCIATE")])
def test_commands_other_than_connect_are_not_supported(socks, command, name):
    answer = talk(socks, GREETING_NO_AUTH, ipv4_request("127.0.0.1", 80, command))
    assert answer == CHOSE_NO_AUTH + bytes([5, 7, 0, 1, 0, 0, 0, 0, 0, 0])
    assert f"SOCKS command {name} (0x0{command}) is not supported" in logged(socks)


def test_unknown_address_type(socks):
    answer = talk(socks, GREETING_NO_AUTH, bytes([5, 1, 0, 9, 1, 2, 3, 4, 0, 80]))
    assert answer == CHOSE_NO_AUTH + bytes([5, 8, 0, 1, 0, 0, 0, 0, 0, 0])
    assert "unknown address type 0x09" in logged(socks)


def test_malformed_request_is_a_general_failure(socks):
    answer = talk(socks, GREETING_NO_AUTH, bytes([5, 1, 7, 1, 127, 0, 0, 1, 0, 80]))
    assert answer == CHOSE_NO_AUTH + bytes([5, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    assert "reserved byte is 0x07" in logged(socks)


def test_socks4_client_gets_the_socks4_rejection(socks):
    socks4_connect = bytes([4, 1, 0, 80, 127, 0, 0, 1]) + b"user\x00"
    assert talk(socks, socks4_connect) == bytes([0, 0x5B, 0, 0, 0, 0, 0, 0])
    assert "SOCKS4 is not supported" in logged(socks)


def test_unknown_version_is_closed_without_a_reply(socks):
    assert talk(socks, bytes([6, 1, 0])) == b""
    assert "invalid SOCKS version 0x06, expected 0x05" in logged(socks)


def test_http_request_to_the_socks_port_is_named_as_such(socks):
    assert talk(socks, b"GET http://example.com/ HTTP/1.1\r\n\r\n") == b""
    assert "this looks like an HTTP request, not a SOCKS one" in logged(socks)


def test_client_leaving_mid_handshake(socks):
    # promises two methods, sends one
    assert talk(socks, bytes([5, 2, 0]), hang_up=True) == b""
    assert "SOCKS5 mode failure: the client went away during the handshake" in logged(socks)


# --- configuration and the command line ---------------------------------------------------------

def test_socks_flag_selects_socks5_mode():
    args = cmdline.mitmdump().parse_args(["--socks"])
    assert cmdline.get_proxy_kwargs(args)["mode"] == "socks5"


@pytest.mark.parametrize("other", [["-R", "http://example.com"], ["-U", "http://p:3128"],
                                   ["-T"]])
def test_socks_excludes_the_other_modes(capsys, other):
    with pytest.raises(SystemExit) as e:
        cmdline.mitmdump().parse_args(["--socks", *other])
    assert e.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_proxy_authentication_is_refused_in_socks_mode(pki):
    with pytest.raises(ValueError, match="not compatible with socks mode"):
        ProxyConfig(mode="socks5", cadir=pki.proxy_cadir, auth_nonanonymous=True)


def test_mitmdump_socks_prints_the_flows(pki, origin, tls_origin):
    """The real command: ``mitmdump --socks``, curl with --socks5-hostname, HTTP then
    HTTPS; mitmdump prints each flow and exits 0 on SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "libmproxy.main", "--socks", "-b", "127.0.0.1", "-p", "0",
         "--cadir", pki.proxy_cadir, "--upstream-trusted-ca", pki.origin_ca_cert],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], WAIT)
        assert ready, "mitmdump did not start"
        line = proc.stdout.readline()
        assert line.startswith("Proxy server listening at http://127.0.0.1:"), \
            line + proc.stderr.read()
        port = line.rstrip().rstrip("/").rsplit(":", 1)[1]
        socks_arg = ("--socks5-hostname", f"127.0.0.1:{port}")
        plain = subprocess.run(["curl", "-sS", "--max-time", str(WAIT), *socks_arg,
                                f"http://localhost:{origin.port}/plain"],
                               capture_output=True, timeout=WAIT * 2)
        assert json.loads(plain.stdout)["path"] == "/plain", plain.stderr
        secure = subprocess.run(["curl", "-sS", "--max-time", str(WAIT), *socks_arg,
                                 "--cacert", pki.proxy_ca_cert,
                                 f"https://localhost:{tls_origin.port}/secure"],
                                capture_output=True, timeout=WAIT * 2)
        assert json.loads(secure.stdout)["path"] == "/secure", secure.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    assert f"127.0.0.1 GET http://localhost:{origin.port}/plain\n << 200 OK" in out
    assert f"127.0.0.1 GET https://localhost:{tls_origin.port}/secure\n << 200 OK" in out

"""The HTTP layer end to end: what a client sees, what the origin sees, which events fire."""
from __future__ import annotations

import json
import socket
import threading

import pytest

from netlib.http import Headers, Request, http1
from netlib.tcp import Reader

from libmproxy.models import HTTPResponse

WAIT = 10.0


def raw_exchange(port: int, data: bytes) -> tuple[bytes, bytes]:
    """Send ``data`` to the proxy and read everything it answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks), b""


def read_response(sock: socket.socket, method: str = "GET"):
    rfile = Reader(sock.recv)
    response = http1.read_response_head(rfile)
    request = Request("relative", method, "http", "x", 80, "/", "HTTP/1.1", Headers(), b"")
    size = http1.expected_http_body_size(request, response)
    response.data.content = b"".join(http1.read_body(rfile, size)) if size else b""
    return response


# --- errors ------------------------------------------------------------------------------------

def test_malformed_request_gets_400_and_next_client_is_served(proxy, origin):
    data, _ = raw_exchange(proxy.port, b"GET / HTTP/1.1 garbage\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"invalid request line" in data.lower() or b"bad request" in data.lower()
    result = proxy.curl(f"{origin.url}/after")
    assert json.loads(result.stdout)["path"] == "/after"


def test_relative_request_in_regular_mode_gets_400(proxy):
    data, _ = raw_exchange(proxy.port, b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"Invalid request form" in data


def test_body_over_limit_gets_413(start_proxy, origin):
    proxy = start_proxy(body_size_limit="10")
    request = (f"POST {origin.url}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
               ).encode() + b"y" * 100
    data, _ = raw_exchange(proxy.port, request)
    assert data.startswith(b"HTTP/1.1 413 ")
    assert origin.requests == []


def test_origin_down_gives_502_and_error_event(proxy):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    result = proxy.curl("-w", "%{http_code}", f"http://127.0.0.1:{port}/")
    assert result.stdout.endswith(b"502")
    assert b"Error connecting to 127.0.0.1" in result.stdout
    flow = proxy.master.wait_for("error")[0]
    assert "Connection refused" in flow.error.msg
    assert flow.response is None


def test_server_hangup_gives_502(proxy, origin):
    result = proxy.curl("-w", "%{http_code}", f"{origin.url}/hangup")
    assert result.stdout.endswith(b"502")
    assert proxy.master.wait_for("error")[0].error is not None


def test_unresolvable_host_gives_502(proxy):
    result = proxy.curl("-w", "%{http_code}", "http://nonexistent.invalid/")
    assert result.stdout.endswith(b"502")
    assert b"nonexistent.invalid" in result.stdout


# --- HTTP features ------------------------------------------------------------------------------

def test_expect_100_continue_with_large_post(proxy, origin, tmp_path):
    body = tmp_path / "body"
    body.write_bytes(b"z" * 2_000_000)
    result = proxy.curl("-H", "Expect: 100-continue", "--data-binary", f"@{body}",
                        f"{origin.url}/upload")
    echo = json.loads(result.stdout)
    assert echo["method"] == "POST" and echo["body_length"] == 2_000_000
    assert "Expect" not in echo["headers"]
    flow = proxy.master.wait_for("response")[0]
    assert len(flow.request.content) == 2_000_000
    assert "expect" not in flow.request.headers


def test_http10_client(proxy, origin):
    result = proxy.curl("--http1.0", "-i", f"{origin.url}/old")
    assert result.returncode == 0, result.stderr
    assert b'"path": "/old"' in result.stdout
    flow = proxy.master.wait_for("response")[0]
    assert flow.request.http_version == "HTTP/1.0"
    assert origin.last()["version"] == "HTTP/1.0"


def test_chunked_and_until_close_responses(proxy, origin):
    result = proxy.curl(f"{origin.url}/chunked", f"{origin.url}/close")
    assert result.stdout == b"onetwothreeuntil close"
    flows = proxy.master.wait_for("response", 2)
    assert flows[0].response.content == b"onetwothree"
    assert flows[1].response.content == b"until close"


def test_head_request(proxy, origin):
    result = proxy.curl("-I", f"{origin.url}/head")
    assert result.stdout.startswith(b"HTTP/1.1 200")
    assert origin.last()["method"] == "HEAD"


def test_timestamps_and_connection_records(proxy, origin):
    proxy.curl(f"{origin.url}/t")
    flow = proxy.master.wait_for("response")[0]
    request, response = flow.request, flow.response
    assert request.timestamp_start <= request.timestamp_end <= response.timestamp_start
    assert response.timestamp_start <= response.timestamp_end
    server = flow.server_conn
    assert server.timestamp_start <= server.timestamp_tcp_setup
    assert server.ip_address.port == origin.port
    assert server.source_address.host == "127.0.0.1"
    proxy.master.wait_for("clientdisconnect")
    assert flow.client_conn.timestamp_end >= flow.client_conn.timestamp_start
    assert server.timestamp_end is not None and not server.connected


def test_proxy_connection_header_is_not_forwarded(proxy, origin):
    proxy.curl("-H", "Proxy-Connection: keep-alive", f"{origin.url}/pc")
    assert "Proxy-Connection" not in dict(origin.last()["headers"])
    assert "Proxy-Connection" in proxy.master.wait_for("request")[0].request.headers


def test_server_connection_follows_the_target(proxy, origin):
    other_url = origin.url.replace("127.0.0.1", "localhost")
    result = proxy.curl(f"{origin.url}/1", f"{other_url}/2", f"{other_url}/3")
    assert result.returncode == 0
    assert origin.connections == 2
    disconnects = proxy.master.wait_for("serverdisconnect", 2)
    assert disconnects[0].address.host == "127.0.0.1"


def test_reconnect_when_server_closed_between_requests(proxy, origin):
    result = proxy.curl(f"{origin.url}/drop", f"{origin.url}/next")
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in origin.requests] == ["/drop", "/next"]
    assert origin.connections == 2
    assert len(proxy.master.objects("clientconnect")) == 1


def test_reused_connection_failing_is_retried_once(proxy):
    """The server takes the second request on a kept-alive connection and closes without
    answering: the proxy sends it again on a new connection, and the client never knows."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer(conn, text):
            body = text.encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

        def serve():
            first, _ = listener.accept()
            with first:
                first.settimeout(WAIT)
                rfile = Reader(first.recv)
                http1.read_request_head(rfile)
                answer(first, "first")
                http1.read_request_head(rfile)  # read, then hang up without answering
            second, _ = listener.accept()
            with second:
                second.settimeout(WAIT)
                http1.read_request_head(Reader(second.recv))
                answer(second, "retried")

        server = threading.Thread(target=serve, name="flaky origin")
        server.start()
        result = proxy.curl(f"http://127.0.0.1:{port}/1", f"http://127.0.0.1:{port}/2")
        server.join(WAIT)
    assert result.stdout == b"firstretried"
    assert "error" not in proxy.master.names()


# --- events and hooks ---------------------------------------------------------------------------

def test_events_in_order(proxy, origin):
    proxy.curl(f"{origin.url}/ev")
    proxy.master.wait_for("clientdisconnect")
    assert proxy.master.names() == [
        "clientconnect", "request", "serverconnect", "responseheaders", "response",
        "serverdisconnect", "clientdisconnect",
    ]
    root_layer = proxy.master.objects("clientconnect")[0]
    assert root_layer.client_conn.address.host == "127.0.0.1"
    assert proxy.master.objects("serverconnect")[0].address.port == origin.port


def test_hook_response_answers_without_upstream(proxy, origin):
    proxy.master.on["request"] = lambda flow: setattr(
        flow, "response", HTTPResponse.make(200, b"from the hook", {"X-Hook": "1"}))
    result = proxy.curl("-i", f"{origin.url}/never")
    assert result.stdout.endswith(b"from the hook")
    assert b"X-Hook: 1" in result.stdout
    assert origin.connections == 0
    proxy.master.wait_for("clientdisconnect")
    assert "serverconnect" not in proxy.master.names()
    assert "response" in proxy.master.names()


def test_hook_kill_closes_the_connection(proxy, origin):
    proxy.master.on["request"] = lambda flow: flow.reply.kill()
    result = proxy.curl(f"{origin.url}/killed")
    assert result.returncode == 52  # curl: empty reply from server
    assert origin.requests == []
    proxy.master.wait_for("clientdisconnect")
    assert any("Connection killed" in line for line in proxy.master.logs())


def test_hook_changes_request_and_response(proxy, origin):
    def request(flow):
        flow.request.path = "/rewritten"
        flow.request.headers["X-Added"] = "yes"

    def response(flow):
        flow.response.content = flow.response.content.replace(b"rewritten", b"REWRITTEN")

    proxy.master.on["request"] = request
    proxy.master.on["response"] = response
    result = proxy.curl(f"{origin.url}/original")
    echo = json.loads(result.stdout)
    assert echo["path"] == "/REWRITTEN"
    assert echo["headers"]["X-Added"] == "yes"


def test_app_answers_locally(start_proxy, origin):
    seen = []

    def app(request):
        seen.append(request.path)
        return HTTPResponse.make(200, b"onboarding")

    proxy = start_proxy(apps={("mitm.it", 80): app})
    result = proxy.curl("http://mitm.it/cert")
    assert result.stdout == b"onboarding"
    assert seen == ["/cert"]
    assert "serverconnect" not in proxy.master.names()


def test_failing_app_gives_500(start_proxy):
    def app(request):
        raise RuntimeError("broken app")

    proxy = start_proxy(apps={("mitm.it", 80): app})
    result = proxy.curl("-w", "%{http_code}", "http://mitm.it/")
    assert result.stdout.endswith(b"500")


def test_streaming_response(proxy, origin):
    def responseheaders(flow):
        assert flow.response.content is None
        flow.response.stream = True

    proxy.master.on["responseheaders"] = responseheaders
    result = proxy.curl(f"{origin.url}/big/300000", f"{origin.url}/chunked")
    assert result.stdout == b"x" * 300000 + b"onetwothree"
    flows = proxy.master.wait_for("response", 2)
    assert flows[0].response.content == b""


def test_streaming_with_modifier(proxy, origin):
    def modify(chunks):
        for chunk in chunks:
            yield chunk.replace(b"two", b"TWO")

    proxy.master.on["responseheaders"] = lambda flow: setattr(flow.response, "stream", modify)
    result = proxy.curl(f"{origin.url}/chunked")
    assert result.stdout == b"oneTWOthree"


def test_upgrade_relays_raw(proxy):
    """After 101 Switching Protocols both sides talk directly, through the proxy."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(WAIT)
                http1.read_request_head(Reader(conn.recv))
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n"
                             b"Connection: Upgrade\r\n\r\n")
                while chunk := conn.recv(4096):
                    conn.sendall(chunk.upper())

        server = threading.Thread(target=serve, name="upgrade origin")
        server.start()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as client:
            client.sendall(f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: x\r\n"
                           f"Upgrade: echo\r\nConnection: Upgrade\r\n\r\n".encode())
            response = read_response(client)
            assert response.status_code == 101
            client.sendall(b"hello")
            assert client.recv(4096) == b"HELLO"
        server.join(WAIT)


# --- the event policy ---------------------------------------------------------------------------

def test_policy_skip(proxy, origin):
    proxy.master.set_event_policy({"request": "skip", "log": "skip"})
    proxy.curl(f"{origin.url}/skipped")
    proxy.master.wait_for("clientdisconnect")
    assert "request" not in proxy.master.names()
    assert "log" not in proxy.master.names(include_log=True)
    assert "response" in proxy.master.names()


def test_policy_tell_does_not_wait(proxy, origin):
    """A told "response" reaches the master, but the client has its answer while the
    master's handler is still busy with it."""
    release = threading.Event()
    proxy.master.on["response"] = lambda flow: release.wait(WAIT)
    proxy.master.set_event_policy({"response": "tell"})
    result = proxy.curl(f"{origin.url}/told")
    assert json.loads(result.stdout)["path"] == "/told"
    release.set()
    assert proxy.master.wait_for("response")[0].request.path == "/told"


def test_policy_ask_waits_for_the_answer(proxy, origin):
    proxy.master.set_event_policy({"response": "ask"}, default="skip")
    proxy.master.on["response"] = lambda flow: setattr(flow.response, "content", b"asked")
    result = proxy.curl(f"{origin.url}/asked")
    assert result.stdout == b"asked"
    assert proxy.master.names() == ["response"]


def test_invalid_policy_is_refused(proxy):
    with pytest.raises(ValueError, match="'sometimes'"):
        proxy.master.set_event_policy({"request": "sometimes"})


# --- more bad input -------------------------------------------------------------------------------

def test_bad_chunked_request_body_gets_400(proxy, origin):
    request = (f"POST {origin.url}/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "zz\r\n").encode()
    data, _ = raw_exchange(proxy.port, request)
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"invalid chunk size" in data


def test_client_leaving_mid_body(proxy, origin):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as sock:
        sock.sendall(f"POST {origin.url}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                     "only some".encode())
    proxy.master.wait_for("clientdisconnect")
    assert origin.requests == []
    assert "request" not in proxy.master.names()


def test_connect_answered_by_a_hook(proxy):
    from libmproxy.models import make_error_response
    proxy.master.on["request"] = lambda flow: setattr(
        flow, "response", make_error_response(407, "who are you?"))
    data, _ = raw_exchange(proxy.port, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 407 ")
    assert "serverconnect" not in proxy.master.names()


def test_get_with_authority_form_is_refused(proxy):
    data, _ = raw_exchange(proxy.port, b"GET example.com:80 HTTP/1.1\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 ")


def test_clientconnect_kill_closes(proxy, origin):
    proxy.master.on["clientconnect"] = lambda root_layer: root_layer.reply.kill()
    result = proxy.curl(f"{origin.url}/")
    assert result.returncode != 0
    assert origin.requests == []


def test_pathod_origin(proxy):
    """libpathod's test daemon as the origin: a crafted response passes unchanged."""
    from libpathod import test
    with test.Daemon() as daemon:
        result = proxy.curl("-i", daemon.p("203:h'X-Crafted'='yes':b@1000"))
        assert result.stdout.startswith(b"HTTP/1.1 203")
        assert b"X-Crafted: yes" in result.stdout
        assert len(result.stdout.split(b"\r\n\r\n", 1)[1]) == 1000
        assert daemon.last_log()["request"]["path"].startswith("/p/203")


# --- relaying bodies that no hook can change ---------------------------------------------------

HALF = 256 * 1024


@pytest.mark.parametrize("response_action", ["skip", "tell"])
def test_unchangeable_response_is_relayed_while_the_origin_sends(proxy, response_action):
    """With neither "responseheaders" nor "response" asked, the client gets the first half
    of the body while the origin still holds back the second half (it waits until the
    client has it); a told "response" still carries the whole content."""
    proxy.master.set_event_policy({"responseheaders": "skip", "response": response_action},
                                  default="skip")
    client_has_half = threading.Event()
    first, second = b"a" * HALF, b"b" * HALF
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(WAIT)
                http1.read_request_head(Reader(conn.recv))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (2 * HALF)
                             + first)
                if client_has_half.wait(WAIT):
                    conn.sendall(second)

        server = threading.Thread(target=serve, name="half-body origin")
        server.start()
        try:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as client:
                client.sendall(f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n"
                               .encode())
                rfile = Reader(client.recv)
                response = http1.read_response_head(rfile)
                assert response.status_code == 200
                assert rfile.safe_read(HALF) == first
                client_has_half.set()
                assert rfile.safe_read(HALF) == second
        finally:
            client_has_half.set()
            server.join(WAIT)
    if response_action == "tell":
        flow = proxy.master.wait_for("response")[0]
        assert flow.response.content == first + second
    else:
        assert "response" not in proxy.master.names()


def test_relayed_response_keeps_the_body_size_limit(start_proxy, origin):
    """A Content-Length above body_size_limit is refused with 502 before the head goes out,
    relayed or not."""
    proxy = start_proxy(body_size_limit="1k")
    proxy.master.set_event_policy({}, default="skip")
    result = proxy.curl("-w", "%{http_code}", f"{origin.url}/big/300000")
    assert result.stdout.endswith(b"502")


def test_relayed_chunked_response_reaches_the_client_whole(proxy, origin):
    proxy.master.set_event_policy({"response": "tell"}, default="skip")
    result = proxy.curl(f"{origin.url}/big/300000", f"{origin.url}/chunked")
    assert result.stdout == b"x" * 300000 + b"onetwothree"
    flows = proxy.master.wait_for("response", 2)
    assert [f.response.content for f in flows] == [b"x" * 300000, b"onetwothree"]


@pytest.mark.parametrize("policy", [None, "skip"], ids=["buffered", "relayed"])
def test_bodyless_responses_get_no_chunked_terminator(proxy, policy):
    """A response to HEAD (or a 204/304) carries no body even when its headers say chunked:
    the proxy must not send "0\\r\\n\\r\\n" after it, or the client would read those bytes
    as the start of the next response on the connection."""
    if policy:
        proxy.master.set_event_policy({}, default=policy)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(WAIT)
                rfile = Reader(conn.recv)
                http1.read_request_head(rfile)
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                http1.read_request_head(rfile)
                conn.sendall(b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n")
                http1.read_request_head(rfile)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")

        server = threading.Thread(target=serve, name="bodyless origin")
        server.start()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT) as sock:
            rfile = Reader(sock.recv)  # one reader: stray bytes would show up in it
            answers = []
            for method in ("HEAD", "GET", "GET"):
                sock.sendall(f"{method} http://127.0.0.1:{port}/ HTTP/1.1\r\n"
                             f"Host: 127.0.0.1:{port}\r\n\r\n".encode())
                request = Request("relative", method, "http", "x", 80, "/", "HTTP/1.1",
                                  Headers(), b"")
                answers.append(http1.read_response(rfile, request))
        server.join(WAIT)
    assert [(r.status_code, r.content) for r in answers] == [(200, b""), (204, b""),
                                                             (200, b"next")]


def test_reconnect_when_tls_server_closed_between_requests(proxy, tls_origin, pki):
    """Inside a CONNECT tunnel, a kept-alive TLS server connection that the server closed
    is replaced for the next request, with TLS again (the client never notices)."""
    url = f"https://localhost:{tls_origin.port}"
    result = proxy.curl("--cacert", pki.proxy_ca_cert, f"{url}/drop", f"{url}/next")
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in tls_origin.requests] == ["/drop", "/next"]
    assert tls_origin.connections == 2

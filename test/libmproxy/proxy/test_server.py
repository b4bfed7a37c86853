"""ProxyServer: listening, one named thread per connection, shutdown that leaves nothing."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from libmproxy import controller, exceptions
from libmproxy.proxy import DummyServer, ProxyConfig, ProxyServer, RootContext

WAIT = 10.0


def test_address_in_use_is_a_clear_error(proxy, pki):
    with pytest.raises(exceptions.ServerException,
                       match=r"Error starting proxy server: \[Errno 98\] Address already in use"):
        ProxyServer(ProxyConfig(host="127.0.0.1", port=proxy.port, cadir=pki.proxy_cadir))


def test_mode_without_layer_is_refused(pki, monkeypatch):
    from libmproxy.proxy.modes import MODE_LAYERS
    monkeypatch.delitem(MODE_LAYERS, "transparent")
    with pytest.raises(exceptions.ServerException, match="transparent mode is not available"):
        ProxyServer(ProxyConfig(host="127.0.0.1", port=0, cadir=pki.proxy_cadir,
                                mode="transparent"))


def test_dummy_server_is_the_controllers():
    assert DummyServer is controller.DummyServer


def test_connection_thread_is_named_after_the_client(proxy, origin):
    names = []
    proxy.master.on["request"] = lambda flow: names.append(
        [t.name for t in threading.enumerate() if t.name.startswith("ProxyConnection")])
    result = proxy.curl(f"{origin.url}/")
    assert result.returncode == 0
    assert names and names[0][0].startswith("ProxyConnection 127.0.0.1:")


def test_root_context_attributes(proxy, origin):
    proxy.curl(f"{origin.url}/")
    root_layer = proxy.master.wait_for("clientconnect")[0]
    root = root_layer.root_context
    assert isinstance(root, RootContext)
    assert root.mode == "regular" and root.config is proxy.config
    assert root_layer.client_conn is root.client_conn
    assert root.layers == [] and root_layer.layers == [root_layer]
    assert repr(root).startswith("RootContext(127.0.0.1:")


def test_log_subs(proxy):
    root = RootContext.__new__(RootContext)
    told = []
    root.client_conn = type("C", (), {"address": "1.2.3.4:5"})()
    root.channel = type("Ch", (), {"policy": controller.EventPolicy(),
                                   "tell": lambda self, m, o: told.append(o)})()
    root.log("message", "warn", ["one", "two"])
    assert told[0].msg == "1.2.3.4:5: message\n  -> one\n  -> two"
    assert told[0].level == "warn" and str(told[0]) == told[0].msg


def test_shutdown_releases_an_intercepted_flow(proxy, origin):
    """The connection thread waits in ask("request"); shutdown answers it with Kill."""
    taken = threading.Event()

    def intercept(flow):
        flow.intercept(proxy.master)
        taken.set()

    proxy.master.on["request"] = intercept
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT)
    client.sendall(f"GET {origin.url}/held HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert taken.wait(WAIT)
    start = time.monotonic()
    proxy.shutdown()
    assert time.monotonic() - start < WAIT / 2
    assert client.recv(4096) == b""
    client.close()
    assert origin.requests == []


def test_shutdown_wakes_a_thread_reading_from_a_silent_server(start_proxy):
    """The connection thread is blocked on the server socket (the server never answers);
    shutdown does not wait for the socket timeout."""
    proxy = start_proxy(timeout=60)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT)
        client.sendall(f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        conn, _ = silent.accept()
        with conn:
            conn.settimeout(WAIT)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)  # the request arrived; the proxy now waits for us
            start = time.monotonic()
            proxy.shutdown()
            assert time.monotonic() - start < WAIT / 2
        client.close()


def test_idle_client_connection_ends_at_shutdown(start_proxy):
    proxy = start_proxy(timeout=60)
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT)
    proxy.master.wait_for("clientconnect")
    proxy.shutdown()
    assert client.recv(10) == b""
    client.close()


def test_server_without_channel_refuses_to_serve(pki):
    server = ProxyServer(ProxyConfig(host="127.0.0.1", port=0, cadir=pki.proxy_cadir))
    thread = threading.Thread(target=server.serve_forever, name="bare server")
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.address.port), timeout=WAIT) as c:
            assert c.recv(10) == b""
    finally:
        server.shutdown()
        thread.join(WAIT)

"""The layer API without sockets: context lookup, layers, the server connection mixin."""
from __future__ import annotations

import pytest

from libmproxy import exceptions
from libmproxy.controller import Channel, EventPolicy
from libmproxy.protocol import CONTEXT_ATTRIBUTES, Layer, ServerConnectionMixin


def test_documented_attribute_lookup_on_the_context():
    """The spec's own example."""
    root_layer = Layer(None)
    root_layer.client_conn = 42
    sub_layer = Layer(root_layer)
    assert sub_layer.client_conn == 42
    assert Layer(sub_layer).client_conn == 42


def test_a_typo_fails_at_once():
    root_layer = Layer(None)
    root_layer.client_con = 42  # not a context attribute
    with pytest.raises(AttributeError, match="client_con'.*documented context attributes"):
        Layer(root_layer).client_con


def test_context_attribute_missing_everywhere():
    with pytest.raises(AttributeError, match="'server_conn'"):
        Layer(Layer(None)).server_conn
    assert "server_conn" in CONTEXT_ATTRIBUTES


def test_layers_lists_the_stack():
    outer = Layer(object())
    inner = Layer(outer)
    assert inner.layers == [inner, outer]
    assert repr(inner) == "Layer"


class FakeConfig:
    timeout = 1.0
    upstream_auth = None
    spoof_source_address = False


class Recorder(Layer):
    """A root that records log lines; channel with every event skipped."""

    def __init__(self):
        super().__init__(None)
        self.lines = []
        self.config = FakeConfig()
        self.channel = Channel(None, None, policy=EventPolicy(default="skip"))

    def log(self, msg, level, subs=()):
        self.lines.append((level, msg))


class Mixed(Layer, ServerConnectionMixin):
    pass


def test_mixin_connect_needs_an_address():
    layer = Mixed(Recorder())
    assert not layer.server_conn
    with pytest.raises(exceptions.ProtocolException, match="no server address"):
        layer.connect()
    with pytest.raises(exceptions.ProtocolException, match="not connected"):
        layer.disconnect()


def test_mixin_connect_failure_names_the_reason():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Recorder()
    layer = Mixed(root, server_address=("127.0.0.1", port))
    with pytest.raises(exceptions.ProtocolException, match="Connection refused"):
        layer.connect()
    assert layer.server_io is None


def test_mixin_set_server_makes_a_fresh_record_and_keeps_the_tunnel():
    root = Recorder()
    layer = Mixed(root, server_address=("example.com", 80))
    first = layer.server_conn
    layer.set_server(("example.org", 443), via=("proxy", 3128))
    assert layer.server_conn is not first
    assert layer.server_conn.address.host == "example.org"
    assert layer.server_conn.via.address.port == 3128
    assert root.lines == [("debug", "Set new server address: example.org:443")]
    layer.set_server_tls(True, sni="example.org", alpn=[b"http/1.1"])
    assert (layer.server_tls, layer.server_sni, layer.server_alpn) == (
        True, "example.org", (b"http/1.1",))
    layer.set_server_tls(False, sni="ignored")
    assert layer.server_sni is None and layer.server_alpn == ()
    assert not layer.server_idle_closed()

"""The next-layer rules as a table, without sockets."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from netlib.tcp import Address, Reader

from libmproxy.protocol import Http1Layer, Layer, RawTCPLayer, TlsLayer
from libmproxy.proxy.config import HostMatcher
from libmproxy.proxy.next_layer import ConnectionFacts, LayerKind, build, decide

CLIENT_HELLO_START = bytes.fromhex("160301")


def facts(**kw):
    base = dict(stage="tls", mode="regular", ignored=False, tcp_host=False, client_tls=False,
                rawtcp=False, client_ascii=True, client_alpn=None)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.mark.parametrize("kw, kind", [
    (dict(stage="start", mode="regular"), LayerKind.HTTP1),
    (dict(stage="start", mode="upstream"), LayerKind.HTTP1),
    (dict(stage="start", mode="reverse", client_tls=True), LayerKind.TLS),
    (dict(stage="start", mode="reverse"), LayerKind.HTTP1),
    (dict(stage="tunnel", client_tls=True), LayerKind.TLS),
    (dict(stage="tunnel", client_tls=True, ignored=True), LayerKind.IGNORED),
    (dict(stage="tunnel", ignored=True), LayerKind.IGNORED),
    (dict(stage="tunnel", tcp_host=True), LayerKind.RAW_TCP),
    (dict(stage="tunnel", client_tls=True, tcp_host=True), LayerKind.TLS),
    (dict(stage="tls", tcp_host=True), LayerKind.RAW_TCP),
    (dict(stage="tls", client_tls=True), LayerKind.HTTP1),  # no TLS in TLS
    (dict(stage="tls", rawtcp=True, client_ascii=False), LayerKind.RAW_TCP),
    (dict(stage="tls", rawtcp=True), LayerKind.HTTP1),
    (dict(stage="tls", client_ascii=False), LayerKind.HTTP1),
])
def test_rules(kw, kind):
    assert decide(facts(**kw)) is kind


class Top(Layer):
    def __init__(self, stage, address=None):
        super().__init__(None)
        self.stage = stage
        self.server_conn = SimpleNamespace(address=address)


def config(**kw):
    base = dict(mode="regular", rawtcp=False, ignore_hosts=HostMatcher(), tcp_hosts=HostMatcher())
    base.update(kw)
    return SimpleNamespace(**base)


def client(data: bytes):
    return SimpleNamespace(rfile=Reader.from_bytes(data))


def test_facts_do_not_peek_when_the_address_decides():
    """An ignored server may speak first: the client's bytes must not be waited for."""
    def recv(n):
        raise AssertionError("peeked")
    f = ConnectionFacts(Top("tunnel", Address("example.com", 25)),
                        config(ignore_hosts=HostMatcher([r"^example\.com:25$"])),
                        SimpleNamespace(rfile=Reader(recv)))
    assert decide(f) is LayerKind.IGNORED


def test_facts_peek_the_first_bytes():
    f = ConnectionFacts(Top("tunnel", Address("1.2.3.4", 443)), config(),
                        client(CLIENT_HELLO_START + b"rest"))
    assert f.client_tls and not f.client_ascii
    assert f.sni is None  # not a complete ClientHello: no SNI, no crash
    g = ConnectionFacts(Top("tls"), config(rawtcp=True), client(b"GET / HTTP/1.1"))
    assert g.client_ascii and not g.client_tls and g.sni is None and not g.ignored


def test_facts_when_the_client_is_gone():
    f = ConnectionFacts(Top("tunnel", Address("a", 1)), config(), client(b""))
    assert f.first_bytes == b"" and not f.client_tls


def test_build():
    top = Top("tunnel")
    f = facts(stage="tunnel", mode="regular")
    layer = build(LayerKind.TLS, top, f)
    assert isinstance(layer, TlsLayer) and layer.want_server_tls
    http = build(LayerKind.HTTP1, top, f)
    assert isinstance(http, Http1Layer) and http.mode == "transparent"
    start = build(LayerKind.HTTP1, Top("start"), facts(stage="start", mode="upstream"))
    assert start.mode == "upstream"
    assert build(LayerKind.IGNORED, top, f).ignore
    assert not build(LayerKind.RAW_TCP, top, f).ignore
    assert isinstance(build(LayerKind.RAW_TCP, top, f), RawTCPLayer)

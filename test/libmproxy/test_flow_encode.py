"""encode_flow: the bytes of ``tnetstring.dumps(flow.get_state())``, byte for byte, for every
kind of flow the models hold, including the real release files in the shared data directory.

Every test runs twice: with the C walker (netlib._tnetstring, which setup.py builds) and with
the Python walker alone (as on a machine without a compiler)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from netlib import tnetstring
from netlib.certutils import CertStore
from netlib.http import Headers
from netlib.tcp.address import Address

from libmproxy.exceptions import FlowWriteException
from libmproxy.flow import FlowWriter
from libmproxy.flow import encode
from libmproxy.flow.encode import encode_flow
from libmproxy.flow.io import read_flows_from_paths
from libmproxy.models import (
    ClientConnection, Error, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection, TCPFlow,
    TCPMessage,
)
from libmproxy.models.tcp import snapshot
from libmproxy.models.websocket import WebSocketFlow, WebSocketMessage

SHARED_FLOWS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flows"


@pytest.fixture(autouse=True, params=["c", "python"])
def walker(request, monkeypatch) -> str:
    if request.param == "c":
        # Built by `pip install -e .` (setup.py); missing means the build fell back.
        assert encode._tnetstring is not None, "netlib._tnetstring was not built"
    else:
        monkeypatch.setattr(encode, "_tnetstring", None)
    return request.param


def same(flow) -> None:
    assert encode_flow(flow) == tnetstring.dumps(flow.get_state())


def http_flow(path: bytes = b"/", response: bool = True) -> HTTPFlow:
    f = HTTPFlow(ClientConnection(("127.0.0.1", 5000), timestamp_start=1.5),
                 ServerConnection(("example.com", 80), ("10.0.0.1", 40000),
                                  ip_address=("93.184.216.34", 80), timestamp_start=2.0))
    f.request = HTTPRequest("relative", b"GET", b"http", b"example.com", 80, path, b"HTTP/1.1",
                            [(b"Host", b"example.com"), (b"Accept", b"*/*")], b"", 3.0, 3.5)
    if response:
        f.response = HTTPResponse(b"HTTP/1.1", 200, b"OK", [(b"Content-Type", b"text/plain")],
                                  b"hello", 4.0, 4.25)
    return f


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> CertStore:
    return CertStore.from_store(tmp_path_factory.mktemp("ca"))


def test_http_flows_of_every_shape():
    same(http_flow())
    same(http_flow(response=False))
    f = http_flow(response=False)
    f.error = Error("connection refused", 5.0)
    same(f)
    f = http_flow()
    f.error = Error("client went away")
    f.marked = True
    f.request.is_replay = True
    f.request.content = None
    same(f)


def test_trailers_are_encoded_only_when_present():
    f = http_flow()
    f.response.trailers = [(b"grpc-status", b"0")]
    f.request.trailers = Headers()
    same(f)
    assert b"trailers" in encode_flow(f)
    assert b"trailers" not in encode_flow(http_flow())


def test_a_modified_flow_carries_its_backup():
    f = http_flow()
    f.backup()
    f.request.path = "/changed"
    assert f.modified()
    same(f)
    assert b"backup" in encode_flow(f)
    f.backup(force=True)  # a backup equal to the flow is not saved
    same(f)


def test_tls_connections_with_certificates_and_via(certs):
    f = http_flow()
    f.client_conn.ssl_established = True
    f.client_conn.clientcert = certs.get_cert("client.test", []).cert
    f.server_conn.cert = certs.get_cert("example.com", ["example.com"]).cert
    f.server_conn.sni = "example.com"
    f.server_conn.timestamp_ssl_setup = 2.5
    f.server_conn.via = ServerConnection(("proxy.test", 3128))
    same(f)
    same(f)  # the second time from the cache of certificates and addresses


def test_ipv6_and_odd_values():
    f = http_flow(b"/\xff\x00?q=\xe2\x82\xac")
    f.client_conn.address = ("::1", 5000, 0, 0)
    f.server_conn.address = Address("example.com", 80, use_ipv6=True)
    f.response.status_code = 599
    f.response.reason = b""
    f.request.headers = [(b"X-Empty", b""), (b"X-Bin", b"\x00\xff"), (b"X-Empty", b"")]
    f.server_conn.timestamp_end = 10**12 + 0.125
    same(f)


def test_same_address_values_of_different_types_encode_apart():
    """The caches of repeated encodings must not mix up equal values of other types."""
    f = http_flow()
    f.server_conn.address = Address("example.com", 80, use_ipv6=1)
    same(f)
    f.server_conn.address = Address("example.com", 80, use_ipv6=True)
    same(f)


def test_large_bodies():
    f = http_flow()
    f.request.content = b"x" * (tnetstring.COPY_LIMIT + 1)
    f.response.content = bytes(range(256)) * 1000
    same(f)


def test_certificate_cache_stays_bounded(certs, monkeypatch):
    monkeypatch.setattr(encode, "MAX_CACHED", 3)
    for i in range(5):
        f = http_flow()
        f.server_conn.cert = certs.get_cert(f"host{i}.test", []).cert
        same(f)
    assert 1 <= len(encode._values) <= 3


def test_python_walkers_header_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(encode, "MAX_CACHED", 5)
    for i in range(12):
        f = http_flow()
        f.request.headers = [(b"X-N", b"%d" % i)]
        out: list = []
        encode.encode_value(f, out)
        assert b"".join(out) == tnetstring.dumps(f.get_state())
    assert 1 <= len(encode._fields) <= 5


def test_addresses_assigned_as_tuples_are_read_where_they_are_stored():
    f = http_flow()
    f.client_conn.address = ("10.1.2.3", 4444)
    f.server_conn.ip_address = None
    same(f)
    assert b"10.1.2.3" in encode_flow(f)


def test_a_large_body_in_a_small_flows_company():
    """The C walker leaves flows with bodies over COPY_LIMIT to the Python walker; the
    next small flow is the C walker's again."""
    big = http_flow()
    big.response.content = b"y" * (tnetstring.COPY_LIMIT + 1)
    same(big)
    same(http_flow())


def test_tcp_flows_and_snapshots():
    f = TCPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 22)))
    same(f)
    f.messages.append(TCPMessage(True, b"SSH-2.0\r\n", 1.0))
    f.messages.append(TCPMessage(False, b"\x00" * 70000, 2.0))
    same(f)
    view = snapshot(f)
    f.messages.append(TCPMessage(True, b"later", 3.0))
    same(view)
    assert encode_flow(view) != encode_flow(f)


def test_websocket_flows_are_refused_as_get_state_refuses():
    f = WebSocketFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("a.test", 80)))
    f.messages.append(WebSocketMessage("text", True, "hi"))
    with pytest.raises(FlowWriteException):
        f.get_state()
    with pytest.raises(FlowWriteException):
        encode_flow(f)


def test_unencodable_values_fail_as_dumps_fails():
    f = http_flow()
    f.marked = object()
    with pytest.raises(TypeError):
        tnetstring.dumps(f.get_state())
    with pytest.raises(TypeError):
        encode_flow(f)


@pytest.mark.parametrize("name", sorted(p.name for p in SHARED_FLOWS.glob("*.mitm")))
def test_real_release_files(name):
    flows = read_flows_from_paths([SHARED_FLOWS / name])
    assert flows
    for f in flows:
        same(f)


def test_writer_writes_the_encoding():
    flows = [http_flow(b"/a"), http_flow(b"/b", response=False)]
    buf = io.BytesIO()
    writer = FlowWriter(buf)
    for f in flows:
        writer.add(f)
    assert buf.getvalue() == b"".join(tnetstring.dumps(f.get_state()) for f in flows)

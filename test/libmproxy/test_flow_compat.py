"""The migration chain from later mitmproxy flow formats to our 0.18 layout: each step on
its own, then real files of each format end to end."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from netlib import tnetstring

from libmproxy.exceptions import FlowReadException
from libmproxy.flow import compat, read_flows_from_paths
from libmproxy.flow import io as flow_io
from libmproxy.models import HTTPFlow

SHARED_FLOWS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flows"
OUR_DATA = Path(__file__).resolve().parents[1] / "data"


def step(key, state):
    return compat.MIGRATIONS[key](state)


# --- single steps --------------------------------------------------------------------------

def test_unknown_types_are_skipped_at_any_step():
    for key in compat.MIGRATIONS:
        assert step(key, {"type": "websocket", "version": key}) is None
        assert step(key, {"type": "dns", "version": key}) is None


@pytest.mark.parametrize("key, to", [(21, 20), (20, 19), (19, 18), (11, 10), (5, 4),
                                     (4, (3, 0)), ((3, 0), (2, 0)), ((1, 0), (0, 19))])
def test_version_only_steps(key, to):
    assert step(key, {"type": "tcp", "x": 1}) == {"type": "tcp", "x": 1, "version": to}


def test_17_proxy_mode_back_to_flow_mode():
    out = step(17, {"type": "http", "client_conn": {"proxy_mode": "reverse:https://a.com/"}})
    assert out == {"type": "http", "client_conn": {}, "mode": "reverse", "version": 16}
    out = step(17, {"type": "http", "client_conn": {"proxy_mode": "regular"}})
    assert out["mode"] == "regular"


def test_13_marked_string_becomes_bool():
    assert step(13, {"type": "http", "marked": ":default:"})["marked"] is True
    assert step(13, {"type": "http", "marked": ""})["marked"] is False


def test_12_websocket_messages_dropped():
    out = step(12, {"type": "http", "websocket": {"messages": [1]}})
    assert out == {"type": "http", "version": 11}


def test_10_connection_renames():
    state = {"type": "http",
             "client_conn": {"peername": ["::1", 5], "sockname": ["::", 8080], "tls": True,
                             "certificate_list": []},
             "server_conn": {"address": ["a.com", 443], "peername": ["1.2.3.4", 443],
                             "sockname": ["10.0.0.1", 9], "tls": False,
                             "certificate_list": [b"PEM1", b"PEM2"], "via": None}}
    out = step(10, state)
    assert out["version"] == 9
    assert out["client_conn"] == {"address": ["::1", 5], "clientcert": None,
                                  "tls_established": True}
    server = out["server_conn"]
    assert server["ip_address"] == ["1.2.3.4", 443]
    assert server["source_address"] == ["10.0.0.1", 9]
    assert server["address"] == ["a.com", 443]
    assert server["cert"] == b"PEM1" and server["tls_established"] is False
    assert server["via"] is None


def test_10_upstream_spec_dropped():
    out = step(10, {"type": "http", "client_conn": None,
                    "server_conn": {"via": ["http", ["proxy", 3128]], "via2": None}})
    assert out["server_conn"] == {"via": None, "cert": None}


def test_9_request_first_line_and_replay():
    out = step(9, {"type": "http", "is_replay": "request",
                   "request": {"method": b"CONNECT", "authority": b"a:443"}})
    assert out == {"type": "http", "version": 8,
                   "request": {"method": b"CONNECT", "first_line_format": "authority",
                               "is_replay": True}}
    out = step(9, {"type": "http", "is_replay": None, "request": {"method": b"GET"}})
    assert out["request"]["first_line_format"] == "relative"
    assert out["request"]["is_replay"] is False
    out = step(9, {"type": "http", "mode": "regular",
                   "request": {"method": b"GET", "http_version": b"HTTP/1.1"}})
    assert out["request"]["first_line_format"] == "absolute"


def test_8_trailers_kept():
    """Our model holds trailers: format 8's pass on to the 0.18 projection."""
    out = step(8, {"type": "http", "request": {"trailers": None, "a": 1}, "response": None})
    assert out == {"type": "http", "request": {"trailers": None, "a": 1}, "response": None,
                   "version": 7}


def test_6_tls_names_back_to_ssl():
    out = step(6, {"type": "tcp", "client_conn": {"tls_established": True,
                                                  "timestamp_tls_setup": 1.0},
                   "server_conn": None})
    assert out["client_conn"] == {"ssl_established": True, "timestamp_ssl_setup": 1.0}
    assert out["version"] == 5


def test_2_0_addresses_wrapped():
    out = step((2, 0), {"type": "tcp", "client_conn": {"address": ["::1", 5, 0, 0]},
                        "server_conn": {"address": ["a.com", 80], "ip_address": None,
                                        "source_address": ["1.2.3.4", 9], "via": None}})
    assert out["version"] == (1, 0)
    assert out["client_conn"]["address"] == {"address": ["::1", 5], "use_ipv6": True}
    assert out["server_conn"]["address"] == {"address": ["a.com", 80], "use_ipv6": False}
    assert out["server_conn"]["ip_address"] is None


def test_019_projects_onto_the_018_layout():
    state = {"type": "tcp", "id": "x", "error": None, "intercepted": False, "marked": False,
             "mode": "regular", "metadata": {}, "messages": [[True, b"hi", 1.0]],
             "client_conn": {"address": None, "sni": "a", "ssl_established": False},
             "server_conn": None}
    out = step((0, 19), state)
    assert out["version"] == [0, 18, 2]
    assert set(out) == {"id", "error", "client_conn", "server_conn", "type", "intercepted",
                        "marked", "messages", "version"}
    assert "sni" not in out["client_conn"]
    assert out["messages"] == [[True, b"hi", 1.0]]


def test_unknown_versions_still_refused_by_name():
    with pytest.raises(ValueError, match="version 22 is not supported"):
        flow_io.migrate({"type": "http", "version": 22})
    with pytest.raises(ValueError, match="version 0.17 is not supported"):
        flow_io.migrate({"type": "http", "version": [0, 17, 0]})


def test_malformed_later_format_is_an_error_not_a_crash():
    state = {"type": "tcp", "version": 21, "client_conn": {"peername": 5}, "server_conn": None}
    with pytest.raises(FlowReadException, match="invalid flow of format version 2"):
        list(flow_io.FlowReader(io.BytesIO(tnetstring.dumps(state))).stream())


def test_skipped_flow_does_not_stop_the_reader():
    skipped = tnetstring.dumps({"type": "websocket", "version": 7})
    data = skipped + (SHARED_FLOWS / "dumpfile-018.mitm").read_bytes()
    flows = list(flow_io.FlowReader(io.BytesIO(data)).stream())
    assert len(flows) == 1 and isinstance(flows[0], HTTPFlow)


# --- real files ----------------------------------------------------------------------------

def addr(a):
    return None if a is None else (a.host, a.port)


def test_file_019_format_7_http2():
    [f] = read_flows_from_paths([SHARED_FLOWS / "dumpfile-019.mitm"])
    assert f.request.method == "GET"
    assert f.request.url.startswith("https://webrv.rtb-seller.com/webrv-at?width=400")
    assert f.request.http_version == "HTTP/2.0"
    assert f.response is None
    assert addr(f.client_conn.address) == ("::ffff:127.0.0.1", 53976)
    assert addr(f.server_conn.address) == ("webrv.rtb-seller.com", 443)
    assert addr(f.server_conn.ip_address) == ("3.213.13.94", 443)
    assert addr(f.server_conn.source_address) == ("10.20.40.10", 54004)
    assert f.server_conn.ssl_established and f.server_conn.cert is not None


def test_file_7_websocket_handshakes_load_messages_skipped():
    flows = read_flows_from_paths([SHARED_FLOWS / "dumpfile-7-websocket.mitm"])
    assert len(flows) == 3  # 3 handshakes; the 3 websocket flows are skipped
    assert [f.request.url for f in flows] == [
        "http://echo.websocket.org/?encoding=text",
        "https://echo.websocket.org/?encoding=text",
        "https://echo.websocket.org/?encoding=text"]
    assert {f.response.status_code for f in flows} == {101}
    assert addr(flows[0].client_conn.address) == ("::ffff:127.0.0.1", 52473)
    assert addr(flows[0].server_conn.ip_address) == ("174.129.224.73", 80)


def test_file_19_format_20_http3():
    [f] = read_flows_from_paths([SHARED_FLOWS / "dumpfile-19.mitm"])
    assert f.request.method == "GET"
    assert f.request.url == "https://cloudflare-quic.com/"
    assert f.response.status_code == 200
    assert addr(f.client_conn.address) == ("::1", 62648)
    assert addr(f.server_conn.address) == ("cloudflare-quic.com", 443)
    assert addr(f.server_conn.ip_address) == ("104.22.8.38", 443)
    assert addr(f.server_conn.source_address) == ("192.168.178.113", 62652)


def test_file_21_recorded_by_mitmproxy_11():
    flows = read_flows_from_paths([OUR_DATA / "dumpfile-21.mitm"])
    assert [(f.request.method, f.request.url, f.response.status_code) for f in flows] == [
        ("GET", "http://127.0.0.1:18931/", 200),
        ("GET", "http://127.0.0.1:18931/nope?x=1", 404)]
    assert addr(flows[0].client_conn.address) == ("127.0.0.1", 38034)
    assert addr(flows[0].server_conn.address) == ("127.0.0.1", 18931)
    assert addr(flows[0].server_conn.source_address) == ("127.0.0.1", 42092)
    assert flows[0].request.first_line_format == "absolute"  # regular proxy mode


def test_migrated_flows_write_back_as_018():
    flows = read_flows_from_paths([OUR_DATA / "dumpfile-21.mitm"])
    buf = io.BytesIO()
    flow_io.FlowWriter(buf).add(flows[0])
    [again] = list(flow_io.FlowReader(io.BytesIO(buf.getvalue())).stream())
    assert again.get_state() == flows[0].get_state()


def test_newer_than_21_refused():
    with open(OUR_DATA / "dumpfile-21.mitm", "rb") as fo:
        state = tnetstring.load(fo)
    state["version"] = 22
    with pytest.raises(FlowReadException, match="version 22 is not supported"):
        list(flow_io.FlowReader(io.BytesIO(tnetstring.dumps(state))).stream())

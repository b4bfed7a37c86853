"""Reading the flow files of later mitmproxy releases: a chain of small steps, each taking a
saved state one format version *back* toward ours (0.18), the reverse of the steps today's
mitmproxy uses to read old files.

Order of versions: 21, 20, ..., 5, 4, then the tuple versions (3, 0), (2, 0), (1, 0),
(0, 19), and finally (0, 18), ours. Each step undoes what its version added that our model
cannot hold and renames what moved. Extra keys a step does not know are harmless on the way:
the last step, (0, 19) -> (0, 18), keeps exactly the keys of the 0.18 layout.

What cannot be represented is dropped, by these rules:

- A flow whose type is not ``http`` or ``tcp`` (``websocket`` flows of formats before 12,
  ``udp`` and ``dns`` flows) is skipped: a step returns None and the reader goes on with the
  next flow. A pre-12 WebSocket handshake is an ``http`` flow and still loads.
- WebSocket messages held on an HTTP flow (format 12 and later) are dropped; the handshake
  (request and ``101`` response) loads.
- HTTP/3 (QUIC) flows load as HTTP flows (``http_version`` ``HTTP/3``); the transport
  (``udp``), proxy mode, TLS details our model does not save (ALPN, cipher, TLS version,
  client hello extensions), comments and metadata are dropped.
- Trailers (format 8 and later) are kept: our model holds them, and saves them under the
  same key when there are any (``netlib.http.message.MessageData``). A ``None`` is left
  out, as 0.18's layout has no such key.
- An upstream proxy saved as a spec (``via`` of formats 10 and later, not a connection) is
  dropped (``via`` None).
- The request's ``first_line_format`` (gone since format 9) is rebuilt from the method and
  the proxy mode: ``authority`` for CONNECT, ``absolute`` for HTTP/1 in regular mode,
  ``relative`` otherwise.
- Only the first certificate of a ``certificate_list`` is kept (``cert`` / ``clientcert``).
"""
from __future__ import annotations

from typing import Any, Callable, Hashable

__all__ = ["MIGRATIONS", "KNOWN_TYPES"]

State = dict[str, Any]
KNOWN_TYPES = ("http", "tcp")


def _servers(data: State) -> list[State]:
    """The server connection and the one it runs through, where present."""
    found = []
    conn = data.get("server_conn")
    while isinstance(conn, dict):
        found.append(conn)
        conn = conn.get("via")
    return found


def _conns(data: State) -> list[State]:
    client = data.get("client_conn")
    return ([client] if isinstance(client, dict) else []) + _servers(data)


def _version(data: State, version: Any) -> State:
    data["version"] = version
    return data


def _bump(version: Any) -> Callable[[State], State]:
    """A step for a version that changed nothing our model saves."""
    def step(data: State) -> State:
        return _version(data, version)
    step.__name__ = f"to_{version}"
    return step


def skip_unknown_types(data: State) -> State | None:
    """Any version: a flow of a type our model has no class for is skipped (None)."""
    return data if data.get("type") in KNOWN_TYPES else None


def from_12_to_11(data: State) -> State | None:
    """12 put WebSocket messages on the HTTP flow (``websocket``): dropped."""
    data.pop("websocket", None)
    return _version(data, 11)


def from_17_to_16(data: State) -> State:
    """17 moved the flow's ``mode`` to ``client_conn.proxy_mode`` (``"regular"``,
    ``"transparent"``, ``"reverse:URL"``, ``"upstream:URL"``, ...)."""
    client = data.get("client_conn")
    if isinstance(client, dict) and "proxy_mode" in client:
        mode = _text(client.pop("proxy_mode"))
        data.setdefault("mode", mode.split(":", 1)[0] or "regular")
    return _version(data, 16)


def from_13_to_12(data: State) -> State:
    """13 made ``marked`` a string (a marker); ours is a bool."""
    data["marked"] = bool(data.get("marked"))
    return _version(data, 12)


def from_10_to_9(data: State) -> State:
    """10 renamed the connection fields: client ``peername`` was ``address``; server
    ``peername`` / ``sockname`` were ``ip_address`` / ``source_address``; ``tls`` was
    ``tls_established``; certificates became ``certificate_list``."""
    client = data.get("client_conn")
    if isinstance(client, dict):
        if "peername" in client:
            client["address"] = client.pop("peername")
        client.pop("sockname", None)
        certs = client.pop("certificate_list", None) or []
        client.setdefault("clientcert", certs[0] if certs else None)
    for server in _servers(data):
        if "peername" in server:
            server["ip_address"] = server.pop("peername")
        if "sockname" in server:
            server["source_address"] = server.pop("sockname")
        # Later formats name the upstream proxy by a spec, ``(scheme, (host, port))``,
        # not by a connection: ours cannot hold that, so it is dropped.
        server.pop("via2", None)
        if not isinstance(server.get("via"), dict):
            server["via"] = None
        certs = server.pop("certificate_list", None) or []
        server.setdefault("cert", certs[0] if certs else None)
    for conn in _conns(data):
        if "tls" in conn:
            conn.setdefault("tls_established", bool(conn.pop("tls")))
    return _version(data, 9)


def from_9_to_8(data: State) -> State:
    """9 dropped the request's ``first_line_format`` (for ``authority``) and moved
    ``is_replay`` from the request to the flow."""
    request = data.get("request")
    if isinstance(request, dict):
        if "first_line_format" not in request:
            request["first_line_format"] = _first_line_format(data)
        request.pop("authority", None)
        request["is_replay"] = data.get("is_replay") == "request"
    data.pop("is_replay", None)
    return _version(data, 8)


def _first_line_format(data: State) -> str:
    """What 0.18 called the request's first line: ``authority`` for CONNECT, ``absolute``
    for a request sent to a regular proxy (the mode is known from format 0.19 on),
    ``relative`` otherwise."""
    if _text(data["request"].get("method")).upper() == "CONNECT":
        return "authority"
    if data.get("mode") == "regular" and data["request"].get("http_version") in (
            b"HTTP/1.0", b"HTTP/1.1", "HTTP/1.0", "HTTP/1.1"):
        return "absolute"
    return "relative"


def from_6_to_5(data: State) -> State:
    """6 renamed ``ssl_established`` / ``timestamp_ssl_setup`` to ``tls_...``."""
    for conn in _conns(data):
        if "tls_established" in conn:
            conn["ssl_established"] = bool(conn.pop("tls_established"))
        if "timestamp_tls_setup" in conn:
            conn["timestamp_ssl_setup"] = conn.pop("timestamp_tls_setup")
    return _version(data, 5)


def from_2_0_to_1_0(data: State) -> State:
    """(2, 0) saved addresses as bare ``(host, port)``; (1, 0) as
    ``{"address": (host, port), "use_ipv6": bool}``."""
    for conn in _conns(data):
        for key in ("address", "ip_address", "source_address"):
            conn[key] = _wrap_address(conn.get(key))
    return _version(data, (1, 0))


def _wrap_address(value: Any) -> Any:
    if value is None or isinstance(value, dict):
        return value
    host, port = value[0], value[1]
    host = _text(host)
    return {"address": [host, port], "use_ipv6": ":" in host}


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return "" if value is None else str(value)


def _bytes(value: Any) -> Any:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


# The exact keys of each part of the 0.18 layout, with the value used when a later format
# has no such field.
_CLIENT_018 = dict(address=None, clientcert=None, ssl_established=False, timestamp_start=None,
                   timestamp_end=None, timestamp_ssl_setup=None)
_SERVER_018 = dict(address=None, ip_address=None, source_address=None, cert=None, sni=None,
                   via=None, ssl_established=False, timestamp_start=None, timestamp_end=None,
                   timestamp_ssl_setup=None, timestamp_tcp_setup=None)
_REQUEST_018 = dict(first_line_format="relative", method=b"GET", scheme=b"http", host=b"",
                    port=0, path=b"/", http_version=b"HTTP/1.1", headers=[], content=b"",
                    timestamp_start=None, timestamp_end=None, is_replay=False,
                    stickycookie=False, stickyauth=False)
_RESPONSE_018 = dict(http_version=b"HTTP/1.1", status_code=0, reason=b"", headers=[],
                     content=b"", timestamp_start=None, timestamp_end=None)
_FLOW_018 = dict(id=None, error=None, client_conn=None, server_conn=None, type=None,
                 intercepted=False, marked=False)


def _only(state: Any, layout: State) -> Any:
    if not isinstance(state, dict):
        return state
    return {key: state.get(key, default) for key, default in layout.items()}


def _server_018(conn: Any) -> Any:
    conn = _only(conn, _SERVER_018)
    if isinstance(conn, dict):
        conn["via"] = _server_018(conn["via"])
        if isinstance(conn["sni"], bytes):
            conn["sni"] = _text(conn["sni"])
    return conn


def _with_trailers(message: Any, saved: Any) -> Any:
    """``message`` (projected onto the 0.18 layout) with the ``trailers`` of ``saved``,
    if it has any."""
    if isinstance(message, dict) and isinstance(saved, dict) and saved.get("trailers"):
        message["trailers"] = [[_bytes(name), _bytes(value)]
                               for name, value in saved["trailers"]]
    return message


def from_019_to_018(data: State) -> State:
    """(0, 19) added TLS details, ``mode`` and ``metadata`` and removed the request's sticky
    flags. The result holds exactly the keys of the 0.18 layout, and a message's
    ``trailers`` when it has some."""
    flow = _only(data, _FLOW_018)
    flow["marked"] = bool(flow["marked"])
    flow["client_conn"] = _only(flow["client_conn"], _CLIENT_018)
    flow["server_conn"] = _server_018(flow["server_conn"])
    if isinstance(flow["error"], dict):
        flow["error"] = {"msg": _text(flow["error"].get("msg")),
                         "timestamp": flow["error"].get("timestamp")}
    if data.get("type") == "http":
        request = _only(data.get("request"), _REQUEST_018)
        if isinstance(request, dict):
            for key in ("method", "scheme", "host", "path", "http_version"):
                request[key] = _bytes(request[key])
        flow["request"] = _with_trailers(request, data.get("request"))
        response = _only(data.get("response"), _RESPONSE_018)
        if isinstance(response, dict):
            for key in ("reason", "http_version"):
                response[key] = _bytes(response[key])
        flow["response"] = _with_trailers(response, data.get("response"))
    elif data.get("type") == "tcp":
        flow["messages"] = [list(m)[:3] for m in data.get("messages") or []]
    return _version(flow, [0, 18, 2])


def _skipping(step: Callable[[State], State | None]) -> Callable[[State], State | None]:
    """``step``, after flows of types our model cannot hold have been skipped."""
    def run(data: State) -> State | None:
        data = skip_unknown_types(data)
        return None if data is None else step(data)
    run.__name__ = step.__name__
    run.__doc__ = step.__doc__
    return run


_STEPS: dict[Hashable, Callable[[State], State | None]] = {
    21: _bump(20),            # 21: DNS flow changes only
    20: _bump(19),            # 20: DNS / UDP additions only
    19: _bump(18),            # 19: transport_protocol, UDP flows (dropped at the end)
    18: _bump(17),            # 18: WebSocket message details
    17: from_17_to_16,
    16: _bump(15),
    15: _bump(14),            # 15: WebSocket message types
    14: _bump(13),            # 14: comment, timestamp_created (dropped at the end)
    13: from_13_to_12,
    12: from_12_to_11,
    11: _bump(10),            # 11: alpn / sni renames (TLS details are dropped at the end)
    10: from_10_to_9,
    9: from_9_to_8,
    8: _bump(7),              # 8: trailers, which our layout keeps (see the module doc)
    7: _bump(6),              # 7: client tls_extensions (dropped at the end)
    6: from_6_to_5,
    5: _bump(4),              # 5: connection ids (dropped at the end)
    4: _bump((3, 0)),
    (3, 0): _bump((2, 0)),    # 3.0: mitmcert, server tls_version (dropped at the end)
    (2, 0): from_2_0_to_1_0,
    (1, 0): _bump((0, 19)),
    (0, 19): from_019_to_018,
}

# Every step first skips the flows of types we cannot hold.
MIGRATIONS: dict[Hashable, Callable[[State], State | None]] = {
    key: _skipping(step) for key, step in _STEPS.items()
}

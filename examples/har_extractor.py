"""Writes the flows seen into a HAR file (HTTP Archive 1.2, the format browsers' developer
tools import and export) when mitmdump ends.

Usage: mitmdump -s "examples/har_extractor.py FILE"
       mitmdump -n -r flows.mitm -s "examples/har_extractor.py FILE"   (from a flow file)

Times come from the flow's timestamps. HAR counts connecting (and the TLS handshake) only
for the first request on a server connection; later requests on the same connection
report -1 ("does not apply") for them, as the format asks.
"""
import base64
import datetime
import json
import sys

from mitmproxy import ctx

# The HAR format's version, and who wrote the file.
HAR_VERSION = "1.2"
CREATOR = {"name": "mitmproxy har_extractor", "version": "0.18",
           "comment": "examples/har_extractor.py"}

state = {}


def start():
    if len(sys.argv) != 2:
        raise ValueError('Usage: -s "har_extractor.py FILE"')
    state["path"] = sys.argv[1]
    state["entries"] = []
    # Server connections already counted (by address and start time, which also tells
    # apart the connections of flows read from a file), so connect/ssl time is reported
    # once each.
    state["connections_seen"] = set()


def response(flow):
    state["entries"].append(har_entry(flow))


def done():
    har = {"log": {"version": HAR_VERSION, "creator": CREATOR, "pages": [],
                   "entries": state["entries"]}}
    with open(state["path"], "w") as f:
        json.dump(har, f, indent=2)
    ctx.log("HAR file with %d entries written to %s" % (len(state["entries"]), state["path"]))


def har_entry(flow):
    request, response = flow.request, flow.response
    timings = har_timings(flow)
    entry = {
        "startedDateTime": iso_time(request.timestamp_start or response.timestamp_start or 0),
        "time": sum(t for t in timings.values() if t > 0),
        "request": {
            "method": request.method,
            "url": request.url,
            "httpVersion": request.http_version,
            "cookies": name_values(request.cookies.items(multi=True)),
            "headers": name_values(request.headers.items(multi=True)),
            "queryString": name_values(request.query.items(multi=True)),
            "headersSize": -1,
            "bodySize": len(request.raw_content or b""),
        },
        "response": {
            "status": response.status_code,
            "statusText": response.reason,
            "httpVersion": response.http_version,
            "cookies": [{"name": name, "value": value}
                        for name, (value, _attrs) in response.cookies.items(multi=True)],
            "headers": name_values(response.headers.items(multi=True)),
            "content": har_content(response),
            "redirectURL": response.headers.get("location", ""),
            "headersSize": -1,
            "bodySize": len(response.raw_content or b""),
        },
        "cache": {},
        "timings": timings,
    }
    if request.raw_content:
        entry["request"]["postData"] = {
            "mimeType": request.headers.get("content-type", ""),
            "text": request.get_text(strict=False) or "",
            "params": name_values(request.urlencoded_form.items(multi=True)),
        }
    server = flow.server_conn
    if server is not None and server.ip_address is not None:
        entry["serverIPAddress"] = str(server.ip_address.host)
    return entry


def har_timings(flow):
    """Milliseconds per phase; -1 where a phase does not apply or was not measured."""
    request, response, server = flow.request, flow.response, flow.server_conn

    def ms(start, end):
        if start is None or end is None:
            return -1
        return max(0, int(round((end - start) * 1000)))

    connect = ssl = -1
    key = (str(server.address), server.timestamp_start) if server is not None else None
    if key is not None and server.timestamp_start is not None \
            and key not in state["connections_seen"]:
        state["connections_seen"].add(key)
        connect = ms(server.timestamp_start, server.timestamp_tcp_setup)
        if server.timestamp_ssl_setup is not None:
            ssl = ms(server.timestamp_tcp_setup, server.timestamp_ssl_setup)
    return {
        "blocked": -1,
        "dns": -1,
        "connect": connect,
        "ssl": ssl,
        "send": ms(request.timestamp_start, request.timestamp_end),
        "wait": ms(request.timestamp_end, response.timestamp_start),
        "receive": ms(response.timestamp_start, response.timestamp_end),
    }


def har_content(response):
    """The decoded body: as text if it is text, base64 otherwise."""
    content = response.get_content(strict=False) or b""
    har = {"size": len(content),
           "compression": len(content) - len(response.raw_content or b""),
           "mimeType": response.headers.get("content-type", "")}
    try:
        har["text"] = content.decode("utf-8")
    except UnicodeDecodeError:
        har["text"] = base64.b64encode(content).decode("ascii")
        har["encoding"] = "base64"
    return har


def name_values(pairs):
    return [{"name": name, "value": value} for name, value in pairs]


def iso_time(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()

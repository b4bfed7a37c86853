"""Two ways to send a request somewhere else than where the client wanted:

1. answer it from the script with a response made here (requests to example.com);
2. reroute it to another server (requests to example.org go to TARGET, by default
   mitmproxy.org).

Usage: mitmdump -s examples/redirect_requests.py
       mitmdump -s "examples/redirect_requests.py TARGET[:PORT]"
"""
import sys

from mitmproxy.models import HTTPResponse
from netlib.http import Headers

state = {"host": "mitmproxy.org", "port": None}


def start():
    if len(sys.argv) > 2:
        raise ValueError('Usage: -s "redirect_requests.py [TARGET[:PORT]]"')
    if len(sys.argv) == 2:
        host, colon, port = sys.argv[1].partition(":")
        state["host"], state["port"] = host, int(port) if colon else None


def request(flow):
    # pretty_host takes the "Host" header of the request into account,
    # which is useful in transparent mode where we usually want to react
    # to the Host header rather than the IP address.

    # Method 1: Answer with a locally generated response
    if flow.request.pretty_host.endswith("example.com"):
        flow.response = HTTPResponse.make(
            200, b"helloworld", Headers(Content_Type="text/html"))

    # Method 2: Redirect the request to a different server
    if flow.request.pretty_host.endswith("example.org"):
        if state["port"] is not None:
            flow.request.port = state["port"]
        flow.request.host = state["host"]  # also updates the Host header

"""Uses mitmproxy's filter expressions (the ``~`` language of ``mitmdump "FILTER"``) in a
script: logs every response whose flow matches the expression given as argument.

Usage: mitmdump -s "examples/filt.py '~m POST & ~d example.com'"
"""
import sys

from mitmproxy import ctx, filt

state = {}


def start():
    if len(sys.argv) != 2:
        raise ValueError("Usage: -s \"filt.py FILTER\"")
    # filt.parse raises ValueError, naming the mistake, for an invalid expression.
    state["filter"] = filt.parse(sys.argv[1])


def response(flow):
    if flow.match(state["filter"]):
        ctx.log("Flow matches filter: %s %s -> %d" % (
            flow.request.method, flow.request.url, flow.response.status_code))

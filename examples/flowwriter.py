"""Writes flows to a flow file as they complete, like ``mitmdump -w``, optionally only
those that match a filter expression. The file can be read back with ``mitmdump -r``,
``mitmproxy -r`` or examples/read_dumpfile.

Usage: mitmdump -s "examples/flowwriter.py FILE [FILTER]"
       (FILE "-" writes to standard output)
"""
import sys

from mitmproxy import filt
from mitmproxy.flow import FlowWriter

state = {}


def start():
    if len(sys.argv) not in (2, 3):
        raise ValueError('Usage: -s "flowwriter.py FILE [FILTER]"')
    state["filter"] = filt.parse(sys.argv[2]) if len(sys.argv) == 3 else None
    if sys.argv[1] == "-":
        state["file"] = None
        state["writer"] = FlowWriter(sys.stdout.buffer)
    else:
        state["file"] = open(sys.argv[1], "wb")
        state["writer"] = FlowWriter(state["file"])


def response(flow):
    if state["filter"] is None or flow.match(state["filter"]):
        state["writer"].add(flow)


def done():
    if state["file"] is not None:
        state["file"].close()

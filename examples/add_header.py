"""Adds a header to every response (the spec's first inline script).

Usage: mitmdump -s examples/add_header.py
"""


def response(flow):
    flow.response.headers["newheader"] = "foo"

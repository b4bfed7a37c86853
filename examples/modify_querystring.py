"""Adds ``mitmproxy=rocks`` to the query string of every request.

Usage: mitmdump -s examples/modify_querystring.py
"""


def request(flow):
    flow.request.query["mitmproxy"] = "rocks"

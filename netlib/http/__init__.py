"""HTTP messages: headers, requests and responses, and the formats inside them (URLs,
cookies, multipart forms, status codes)."""
from netlib.http import cookies, multipart, status_codes, url
from netlib.http.headers import Headers
from netlib.http.message import Message
from netlib.http.request import Request
from netlib.http.response import Response
# The wire formats come last: they build on the message classes above. HTTP/2's (hpack,
# hyperframe) is imported on first use: most runs of the proxy never need it, and it costs
# each of them memory.
from netlib.http import http1  # noqa: E402

__all__ = [
    "Headers", "Message", "Request", "Response", "cookies", "http1", "http2", "multipart",
    "status_codes", "url",
]


def __getattr__(name: str):
    if name == "http2":
        # import_module, not ``from netlib.http import http2``: that form looks the name
        # up on this package first, which calls this function again, forever.
        import importlib
        return importlib.import_module("netlib.http.http2")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

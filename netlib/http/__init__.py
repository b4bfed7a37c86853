"""HTTP messages: headers, requests and responses, and the formats inside them (URLs,
cookies, multipart forms, status codes)."""
from netlib.http import cookies, multipart, status_codes, url
from netlib.http.headers import Headers
from netlib.http.message import Message
from netlib.http.request import Request
from netlib.http.response import Response
# The wire formats come last: they build on the message classes above.
from netlib.http import http1, http2  # noqa: E402

__all__ = [
    "Headers", "Message", "Request", "Response", "cookies", "http1", "http2", "multipart",
    "status_codes", "url",
]

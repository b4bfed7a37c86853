"""HTTP messages: headers, requests and responses, and the formats inside them (URLs,
cookies, multipart forms, status codes)."""
from netlib.http import cookies, multipart, status_codes, url
from netlib.http.headers import Headers
from netlib.http.message import Message
from netlib.http.request import Request
from netlib.http.response import Response

__all__ = [
    "Headers", "Message", "Request", "Response", "cookies", "multipart", "status_codes", "url",
]

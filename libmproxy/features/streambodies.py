"""``--stream SIZE``: stream large response bodies (spec: Response Streaming).

At "responseheaders" a response whose body may be longer than SIZE is marked
``response.stream = True``: the proxy relays it to the client chunk by chunk as it is read
and keeps nothing of it (the flow's content is empty afterwards). As in 0.18, a body whose
length is not known in advance (chunked, or until the server closes) may be large, so it is
streamed too; bodyless responses (HEAD, 204, 304) never are.

This feature sits after the user's scripts in the chain: a script that set ``.stream`` to
a callable (to rewrite the chunks) keeps it. A response that already has its body (from
server replay or a flow file) has nothing left to stream.
"""
from __future__ import annotations

from netlib.exceptions import HttpException
from netlib.http.http1 import expected_http_body_size

from libmproxy.flow.master import Feature
from libmproxy.models import HTTPFlow

__all__ = ["StreamBodies"]


class StreamBodies(Feature):
    """``max_size``: the largest body (in bytes) that is still read whole."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size

    def responseheaders(self, flow: HTTPFlow) -> None:
        response = flow.response
        if response.stream or response.raw_content is not None:
            return
        try:
            size = expected_http_body_size(flow.request, response)
        except HttpException:
            return  # a malformed length: the proxy reports it when it reads the body
        if size is None or size < 0 or size > self.max_size:
            response.stream = True

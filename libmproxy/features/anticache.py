"""``--anticache``: strip the request headers that let a server answer "304 Not Modified"
(If-None-Match, If-Modified-Since), so every exchange passes through the proxy whole (spec:
Anticache). Useful with client-side replay, which needs complete responses.
"""
from __future__ import annotations

from libmproxy.flow.master import Feature
from libmproxy.models import HTTPFlow

__all__ = ["Anticache"]


class Anticache(Feature):
    """Applies ``request.anticache()`` to every request; it modifies, so it is asked."""

    def request(self, flow: HTTPFlow) -> None:
        flow.request.anticache()

"""``-u FILTER``: sticky auth (spec: Sticky cookies and auth). The Authorization header of
each request is remembered per host; a later request matching FILTER to that host that
carries no Authorization gets the remembered one, as 0.18 did. This replays HTTP Basic
credentials; Digest authentication, being bound to a server nonce, is not replayable.

As in 0.18, credentials are learned from every request (FILTER only decides where they are
added), and the last one seen for a host wins.
"""
from __future__ import annotations

from libmproxy import filt
from libmproxy.flow.master import Feature
from libmproxy.models import HTTPFlow

__all__ = ["StickyAuth"]


class StickyAuth(Feature):
    """``expression``: the filter of the requests that get remembered credentials; parsed
    here, once (a ValueError names an invalid one)."""

    def __init__(self, expression: str) -> None:
        self.filt = filt.parse(expression)
        # host -> the Authorization values last sent to it
        self.hosts: dict[str | None, list[str]] = {}

    def request(self, flow: HTTPFlow) -> None:
        request = flow.request
        host = request.host
        sent = request.headers.get_all("authorization")
        if sent:
            self.hosts[host] = sent
        elif host in self.hosts and self.filt(flow):
            request.headers.set_all("authorization", self.hosts[host])
            request.stickyauth = True

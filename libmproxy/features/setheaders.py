"""``--setheader /filter/name/value``: set headers on requests and responses (spec: Set
Headers), e.g. ``--setheader :~q:Host:example.com`` in reverse proxy mode.

As with replacements, the filter decides the moment: at a request the flow has no
response yet (``~q`` matches, ``~s`` does not), at a response it has one. Each header
named by a matching pattern loses the values it had and gets the patterns' values instead;
several matching patterns with the same name give the header several values, as in 0.18.

Responses are changed at the "response" event, when the body is known (``~b`` filters
work); a streamed response's head has been sent to the client by then, so it is not
changed (spec: Response Streaming).
"""
from __future__ import annotations

from typing import Callable, Iterable

from netlib.http import Headers

from libmproxy import filt
from libmproxy.flow.master import Feature
from libmproxy.models import HTTPFlow

__all__ = ["SetHeaders"]


class SetHeaders(Feature):
    """``setheaders``: (filter expression, name, value) in the order given; filters are
    parsed here, once (a ValueError names an invalid one)."""

    def __init__(self, setheaders: Iterable[tuple[str, str, str]]) -> None:
        self.patterns: list[tuple[Callable[[HTTPFlow], bool], str, str]] = [
            (filt.parse(expression), name, value) for expression, name, value in setheaders
        ]

    def _apply(self, flow: HTTPFlow, headers: Headers) -> None:
        # header name (case folded) -> (name as first given, values in pattern order)
        values: dict[str, tuple[str, list[str]]] = {}
        for matches, name, value in self.patterns:
            if matches(flow):
                values.setdefault(name.lower(), (name, []))[1].append(value)
        for name, new in values.values():
            headers.set_all(name, new)

    def request(self, flow: HTTPFlow) -> None:
        self._apply(flow, flow.request.headers)

    def response(self, flow: HTTPFlow) -> None:
        self._apply(flow, flow.response.headers)

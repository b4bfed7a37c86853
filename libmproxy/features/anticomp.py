"""``-z``/``--anticomp``: ask every server for an uncompressed response
(``Accept-Encoding: identity``), so bodies can be read, matched and rewritten as they are.
"""
from __future__ import annotations

from libmproxy.flow.master import Feature
from libmproxy.models import HTTPFlow

__all__ = ["Anticomp"]


class Anticomp(Feature):
    """Applies ``request.anticomp()`` to every request; it modifies, so it is asked."""

    def request(self, flow: HTTPFlow) -> None:
        flow.request.anticomp()

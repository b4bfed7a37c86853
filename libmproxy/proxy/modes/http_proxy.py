"""Regular mode: the client uses us as its HTTP proxy (absolute-form requests, CONNECT)."""
from __future__ import annotations

from libmproxy.proxy.modes.mode_layer import ModeLayer

__all__ = ["HttpProxy"]


class HttpProxy(ModeLayer):
    """No server to begin with: each request (or CONNECT) says where to go."""

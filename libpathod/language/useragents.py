"""User-Agent strings behind the ``u`` shortcuts (``uchrome``, ``ugooglebot``, ...). The table
lives in netlib.http.user_agents, shared with the mitmproxy console's header editor."""
from __future__ import annotations

from netlib.http.user_agents import USER_AGENTS, get_by_shortcut

__all__ = ["USER_AGENTS", "get_by_shortcut"]

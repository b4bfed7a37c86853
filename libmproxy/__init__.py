"""The proxy server, its protocol layers, the flow model, the FlowMaster and the tools."""
# Scripts written for the 0.18 documentation say ``import mitmproxy; mitmproxy.ctx.log(...)``
# without importing ``ctx`` themselves, so it is an attribute of the package.
from libmproxy import ctx

__all__ = ["ctx"]

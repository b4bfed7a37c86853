"""The version: 0.18's numbering, because flow files, scripts and tools key on it."""
from __future__ import annotations

IVERSION = (0, 18, 0)
VERSION = ".".join(str(part) for part in IVERSION)
PATHOD = "pathod " + VERSION
MITMPROXY = "mitmproxy " + VERSION

__all__ = ["IVERSION", "VERSION", "PATHOD", "MITMPROXY"]

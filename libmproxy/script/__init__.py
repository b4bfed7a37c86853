"""Inline scripts (``-s "script.py args"``): user code in the FlowMaster's chain.

``from mitmproxy.script import concurrent`` is what the documentation's scripts import.
"""
from libmproxy.exceptions import ScriptException
from libmproxy.script._command import parse_command
from libmproxy.script._concurrent import concurrent
from libmproxy.script._context import ScriptContext
from libmproxy.script._script import Script

__all__ = ["Script", "ScriptContext", "ScriptException", "concurrent", "parse_command"]

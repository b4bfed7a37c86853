"""The ``-s`` argument: a script path and its arguments in one shell-quoted string.

Spaces separate the path from the arguments (``-s "script.py --foo 42"``), so a path with
spaces is quoted again inside: ``-s "'./foo bar/baz.py' 42"`` (or escaped:
``-s 'foo\\ bar.py 42'``). A leading ``~`` is the user's home, as in a shell.
"""
from __future__ import annotations

import os
import shlex

from libmproxy.exceptions import ScriptException

__all__ = ["parse_command"]

SPACES_HINT = ("if the path contains spaces, quote it within the argument, "
               "e.g. -s \"'./foo bar/baz.py' --args\"")


def parse_command(command: str) -> list[str]:
    """``[path, *args]`` of ``command``; raises ScriptException (one line) when the command
    is empty or unbalanced, or the path is not an existing file."""
    if not command or not command.strip():
        raise ScriptException("empty script command (-s)")
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise ScriptException(f"cannot parse script command {command!r}: {e}") from None
    argv[0] = os.path.expanduser(argv[0])
    path = argv[0]
    if not os.path.exists(path):
        raise ScriptException(f"script file not found: {path} ({SPACES_HINT})")
    if not os.path.isfile(path):
        raise ScriptException(f"script is not a file: {path}")
    return argv

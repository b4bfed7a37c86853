"""The viewer a user chose for a content type in their mailcap files (RFC 1524), which the
console runs to show a body outside it (the spec's OS X section sets one up with
``open``).

Python's own mailcap module is deprecated since 3.11 and gone in 3.13, so the lines are
read here; only what viewing needs: ``type/subtype; command[; flag | name=value ...]``,
with ``type/*`` (or a bare ``type``) for every subtype, ``\\`` continuing a line, ``#``
comments, ``\\;`` for a semicolon inside a field, the ``test=`` command that says
whether an entry applies (run, as RFC 1524 says; exit status 0 means yes) and the
``copiousoutput`` flag (the command prints, so its output goes to the pager). In a
command ``%s`` is the file, ``%t`` the content type and ``%%`` a percent sign; a command
without ``%s`` reads the file on stdin. The first entry that applies in the first file
that has one wins: the files of ``$MAILCAPS`` (colon-separated) when it is set, else
~/.mailcap, then the system's.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
from typing import Mapping

__all__ = ["Entry", "MAILCAP_FILES", "find", "parse"]

MAILCAP_FILES = ("~/.mailcap", "/etc/mailcap", "/usr/etc/mailcap", "/usr/local/etc/mailcap")

# A field ends at a semicolon that is not escaped ("\\;" is a semicolon inside a field).
_FIELD_END = re.compile(r"(?<!\\);")

# How long a ``test=`` command may run: they are meant to be instant checks ("test -n
# $DISPLAY"); one that hangs must not hang the console.
TEST_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True)
class Entry:
    """One mailcap line: ``command`` and ``test`` still hold their ``%`` escapes."""

    content_type: str  # lowercase, "type/subtype" or "type/*"
    command: str
    test: str | None = None
    copiousoutput: bool = False

    def matches(self, content_type: str) -> bool:
        main, _, _ = content_type.partition("/")
        return self.content_type in (content_type, f"{main}/*")


def parse(text: str) -> list[Entry]:
    """The entries of a mailcap file's text, in order; lines that are not entries are
    left out (a file with a bad line still serves its good ones)."""
    entries = []
    for line in text.replace("\\\n", "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip().replace("\\;", ";") for field in _FIELD_END.split(line)]
        if len(fields) < 2 or not fields[0] or not fields[1]:
            continue
        content_type = fields[0].lower()
        if "/" not in content_type:
            content_type += "/*"
        test, copious = None, False
        for field in fields[2:]:
            name, equals, value = field.partition("=")
            name = name.strip().lower()
            if equals and name == "test":
                test = value.strip()
            elif not equals and name == "copiousoutput":
                copious = True
        entries.append(Entry(content_type, fields[1], test, copious))
    return entries


def _fill(command: str, path: str, content_type: str) -> str:
    """``command`` with its escapes filled in (quoted for the shell)."""
    out, i, used_file = [], 0, False
    while i < len(command):
        c = command[i]
        following = command[i + 1:i + 2]
        if c == "%" and following == "s":
            out.append(shlex.quote(path))
            used_file = True
            i += 2
        elif c == "%" and following == "t":
            out.append(shlex.quote(content_type))
            i += 2
        elif c == "%" and following == "%":
            out.append("%")
            i += 2
        else:
            out.append(c)
            i += 1
    filled = "".join(out)
    return filled if used_file else f"{filled} < {shlex.quote(path)}"


def _applies(entry: Entry, path: str, content_type: str) -> bool:
    if entry.test is None:
        return True
    try:
        return subprocess.run(["sh", "-c", _fill(entry.test, path, content_type)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=TEST_TIMEOUT).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _files(env: Mapping[str, str]) -> list[str]:
    listed = env.get("MAILCAPS")
    if listed is not None:
        return [p for p in listed.split(":") if p]
    return [os.path.expanduser(p) for p in MAILCAP_FILES]


def find(content_type: str, path: str,
         env: Mapping[str, str] | None = None) -> tuple[str, Entry] | None:
    """The shell command that shows the file ``path`` of ``content_type`` (parameters
    such as ``; charset=`` are ignored), with the entry it came from; None when no
    mailcap file has an entry that applies."""
    env = os.environ if env is None else env
    content_type = content_type.split(";")[0].strip().lower()
    if "/" not in content_type:
        return None
    for mailcap in _files(env):
        try:
            with open(mailcap, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for entry in parse(text):
            if entry.matches(content_type) and _applies(entry, path, content_type):
                return _fill(entry.command, path, content_type), entry
    return None

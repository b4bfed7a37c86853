"""Configuration files (spec: Configuration): settings read from ``~/.mitmproxy`` and put
in front of the command line.

The tools read, in this order, each file that exists:

1. ``~/.mitmproxy/common.conf``: options shared by every tool;
2. ``~/.mitmproxy/<tool>.conf`` (``mitmdump.conf``, ``mitmproxy.conf``);
3. each ``--conf PATH`` given on the command line (which must exist). This follows 0.18,
   whose ``--conf`` added a file to the default ones rather than replacing them.

Every setting becomes command-line arguments (``port = 8080`` is ``--port=8080``) placed
before the real command line, so the tool's own parser checks and applies them exactly as
it does its flags. A later source overrides an earlier one option by option: a file read
later, or the command line, that sets an option drops what earlier files said about it,
lists included (as in 0.18), and so does an option of the same mutually exclusive group
(``afile`` in mitmdump.conf replaces ``wfile`` from common.conf; ``-a`` on the command
line replaces both).

Rules of this file:

- Syntax, as the spec shows it: ``name = value``, ``name: value``, ``--name value``;
  ``name`` alone or ``name = true`` for a flag; ``[a, b, c]`` lists; whole-line comments
  starting with ``#``, ``;`` or ``---``; a trailing comment after whitespace (``port = 80
  # http``). A value may be quoted with ``"`` or ``'`` (to hold ``#``, ``;``, a leading
  ``[``, ``=`` or ``:``, or to be empty); there are no escapes inside quotes. Keys and
  values are case-sensitive (the flag words below excepted). ``[section]`` lines are
  ignored, as 0.18 did. Relative paths in values are relative to the working directory,
  as on the command line.
- Keys are the tools' long option names (``port``, ``ca-dir`` or ``cadir``).
- Flags (store_true/store_false/count options) take ``true``/``yes``/``1`` (give the flag)
  or ``false``/``no``/``0`` (do not give it). ``false`` never means the opposite flag:
  ``norefresh = false`` leaves refreshing on, as no ``--norefresh`` would. Counting flags
  also take a number: ``detail = 2`` is ``-dd``.
- A list is allowed only for options that can be repeated (``script``, ``ignore``,
  ``setheader``...); it gives the option once per item, and ``[]`` gives it not at all
  (which still overrides an earlier file).
- Inside one file, lines apply in order, as repeated flags do: the last value of a
  single-value option wins, repeatable options collect every line.
- Every mistake is reported as ``FILE:LINE: message``: syntax, an unknown option, an
  option common.conf may not hold, a bad value (each setting is parsed alone by the tool's
  parser, so its own checks name the problem).
- ``--help`` and ``--version`` are answered without reading any file, so they work even
  while a file is broken.

This module uses argparse's private ``_option_string_actions``, ``_actions`` and
``_mutually_exclusive_groups`` and its action classes: argparse has no public way to list
a parser's options, and these have been stable for over a decade.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import re
from typing import NoReturn, Sequence, Union

from libmproxy.proxy.config import DEFAULT_CADIR

__all__ = [
    "COMMON_FILE", "CONF_OPTION", "ONLY_IN", "ConfigError", "Setting", "argv_with_config",
    "config_dir", "parse", "read",
]

# The file every tool reads first (in config_dir()).
COMMON_FILE = "common.conf"

# The flag naming more files to read.
CONF_OPTION = "--conf"

# The options only one tool has: they may not appear in common.conf, which takes only the
# options shared by all tools (spec: "Only options shared by mitmproxy and mitmdump should
# be used in this file"). The names are 0.18's. mitmdump's positional filter has no key, so
# no file can set it. The console's names are its own flags (cmdline.mitmproxy's "Console"
# and interception groups): mitmproxy.conf takes them, common.conf refuses them.
ONLY_IN: dict[str, frozenset[str]] = {
    "mitmdump": frozenset({"detail", "keepserving"}),
    "mitmproxy": frozenset({
        "palette", "palette-transparent", "eventlog", "follow", "no-mouse", "intercept",
        "limit",
    }),
}

COMMENT_STARTS = ("#", ";", "---")
QUOTES = "\"'"
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})

# A value: None for a bare key (a flag), a string, or a bracketed list.
Value = Union[None, str, list[str]]

_KEY = re.compile(r"[^\s=:]+")


class ConfigError(ValueError):
    """A config file cannot be used; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One ``key = value`` line of a config file, as written (``--`` removed)."""

    path: str
    line: int
    key: str
    value: Value

    def where(self) -> str:
        return f"{self.path}:{self.line}"


# --- reading files ----------------------------------------------------------------------------

def read(path: str) -> list[Setting]:
    """The settings of the file at ``path``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text") from None
    return parse(text, path)


def parse(text: str, path: str) -> list[Setting]:
    """The settings in ``text`` (the content of ``path``), in file order."""
    settings = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            parsed = _parse_line(line)
        except ValueError as e:
            raise ConfigError(f"{path}:{number}: {e}") from None
        if parsed is not None:
            settings.append(Setting(path, number, *parsed))
    return settings


def _parse_line(line: str) -> tuple[str, Value] | None:
    """(key, value) of a setting line; None for blank, comment and section lines."""
    text = line.strip()
    if not text or text.startswith(COMMENT_STARTS):
        return None
    if text.startswith("[") and text.endswith("]"):
        return None  # an ini [section] header
    match = _KEY.match(text)
    if match is None:
        raise ValueError(f"expected a setting (name = value), got {text!r}")
    key = match.group()
    rest = _strip_comment(text[match.end():]).strip()
    if rest[:1] in ("=", ":"):
        separator, rest = rest[0], rest[1:].strip()
        if not rest:
            raise ValueError(f"no value after '{separator}' for '{_name(key)}'")
    return _name(key), (_parse_value(rest) if rest else None)


def _name(key: str) -> str:
    """A key in command-line style (``--port``) is the option's long name (``port``)."""
    return key[2:] if key.startswith("--") else key


def _strip_comment(text: str) -> str:
    """``text`` up to a ``#`` or ``;`` that follows whitespace outside quotes. A quote opens
    only where a value or list item starts, so an apostrophe inside a word is text."""
    quote = None
    previous = "x"  # the character before text: the key's last one
    for i, ch in enumerate(text):
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in QUOTES and (previous.isspace() or previous in "=:[,"):
            quote = ch
        elif ch in "#;" and previous.isspace():
            return text[:i]
        previous = ch
    return text


def _parse_value(text: str) -> str | list[str]:
    if text[0] in QUOTES:
        return _unquote(text)
    if text.startswith("[") and text.endswith("]"):
        return _parse_list(text[1:-1])
    return text


def _unquote(text: str) -> str:
    """``"value"`` -> value; ``text`` must be exactly one quoted string."""
    quote = text[0]
    if len(text) < 2 or text[-1] != quote or quote in text[1:-1]:
        raise ValueError(f"unbalanced quotes in {text}")
    return text[1:-1]


def _parse_list(inner: str) -> list[str]:
    """The items of ``[a, "b, c", d]`` (inner: the text between the brackets)."""
    if not inner.strip():
        return []
    items: list[str] = []
    current = ""
    quote = None
    for ch in inner:
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch == ",":
            items.append(current)
            current = ""
            continue
        elif ch in QUOTES and not current.strip():
            quote = ch
        current += ch
    items.append(current)
    values = []
    for item in (item.strip() for item in items):
        if not item:
            raise ValueError(f"empty item in list [{inner}]")
        values.append(_unquote(item) if item[0] in QUOTES else item)
    return values


# --- from settings to arguments ------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Item:
    """A setting checked against the tool's parser: its action and its arguments."""

    setting: Setting
    action: argparse.Action
    args: tuple[str, ...]


def _fail(setting: Setting, message: str) -> NoReturn:
    raise ConfigError(f"{setting.where()}: {message}")


def _action_for(setting: Setting, parser: argparse.ArgumentParser, tool: str,
                common: bool) -> tuple[str, argparse.Action]:
    """The option string and action a setting's key names, or a ConfigError saying why
    the key cannot be used in this file."""
    key = setting.key
    actions = parser._option_string_actions
    if common:
        for other, names in ONLY_IN.items():
            if key in names:
                _fail(setting, f"'{key}' is an option of {other} only; {COMMON_FILE} takes "
                               f"only the options all tools share (put it in {other}.conf)")
    option = f"--{key}"
    action = actions.get(option) if not key.startswith("-") else None
    if action is None:
        short = actions.get(key)
        if short is not None:
            longs = [s[2:] for s in short.option_strings if s.startswith("--")]
            _fail(setting, f"'{key}' is a short option; config files use long names "
                           f"({', '.join(longs)})")
        for other, names in ONLY_IN.items():
            if other != tool and key in names:
                _fail(setting, f"'{key}' is an option of {other}, not of {tool}")
        _fail(setting, f"unknown option '{key}'")
    if option == CONF_OPTION or action.default is argparse.SUPPRESS:  # --conf, help, version
        _fail(setting, f"'{key}' cannot be set in a config file")
    return option, action


def _flag_count(setting: Setting, action: argparse.Action) -> int:
    """How many times a flag is given: ``true`` once, ``false`` never, a number (counting
    flags only) that many times."""
    value = setting.value
    if value is None:
        return 1
    counts = isinstance(action, argparse._CountAction)
    if isinstance(value, str):
        word = value.lower()
        if word in TRUE_WORDS:
            return 1
        if word in FALSE_WORDS:
            return 0
        if counts and value.isdigit():
            return int(value)
    expected = "true, false or a number" if counts else "true or false"
    _fail(setting, f"'{setting.key}' is a flag: expected {expected}, got {value!r}")


def _arguments(setting: Setting, option: str, action: argparse.Action) -> tuple[str, ...]:
    """The command-line arguments a setting stands for. Values are attached with ``=`` so
    one starting with ``-`` is not taken for an option."""
    if action.nargs == 0:
        return (option,) * _flag_count(setting, action)
    value = setting.value
    if value is None:
        _fail(setting, f"'{setting.key}' needs a value")
    if isinstance(value, list):
        if not isinstance(action, argparse._AppendAction):
            _fail(setting, f"'{setting.key}' takes one value, not a list")
        return tuple(f"{option}={item}" for item in value)
    return (f"{option}={value}",)


class _Refused(Exception):
    """The checker parser's error, raised instead of printing and exiting."""


def _refuse(message: str) -> NoReturn:
    raise _Refused(message)


def _check_values(item: _Item, checker: argparse.ArgumentParser) -> None:
    """Parse the item's arguments alone, so a bad value is reported at its line with the
    message the option gives on the command line."""
    try:
        checker.parse_args(list(item.args))
    except _Refused as e:
        _fail(item.setting, str(e))


def _items(settings: list[Setting], parser: argparse.ArgumentParser, tool: str,
           common: bool) -> list[_Item]:
    # A copy, so that only the checker raises: the tool's parser keeps exiting on errors.
    checker = copy.copy(parser)
    checker.error = _refuse  # type: ignore[method-assign]
    items = []
    for setting in settings:
        option, action = _action_for(setting, parser, tool, common)
        item = _Item(setting, action, _arguments(setting, option, action))
        _check_values(item, checker)
        items.append(item)
    return items


# --- which source wins -------------------------------------------------------------------------

def _group_of(parser: argparse.ArgumentParser, action: argparse.Action) -> frozenset:
    """The actions that override each other: the action's mutually exclusive group, or the
    action alone."""
    for group in parser._mutually_exclusive_groups:
        if action in group._group_actions:
            return frozenset(group._group_actions)
    return frozenset({action})


def _check_conflicts(items: list[_Item], parser: argparse.ArgumentParser) -> None:
    """Two options of one exclusive group in one file (``wfile`` and ``afile``)."""
    seen: dict[frozenset, _Item] = {}
    for item in items:
        if not item.args:
            continue
        group = _group_of(parser, item.action)
        first = seen.setdefault(group, item)
        if first.action is not item.action:
            _fail(item.setting, f"'{item.setting.key}' cannot be combined with "
                                f"'{first.setting.key}' (line {first.setting.line})")


def _command_line_options(parser: argparse.ArgumentParser,
                          argv: Sequence[str]) -> list[tuple[argparse.Action, str | None]]:
    """The options on a command line, with their values (None for flags), read the way
    argparse reads them: ``--name value``, ``--name=value``, unique abbreviations of long
    names, ``-p 80``, ``-p80`` and combined short flags (``-qz``); nothing after ``--``.
    Tokens that name no option are left for the parser to complain about."""
    actions = parser._option_string_actions
    found: list[tuple[argparse.Action, str | None]] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            break
        if len(token) < 2 or token[0] != "-":
            continue
        if token.startswith("--"):
            name, equals, value = token.partition("=")
            action = actions.get(name)
            if action is None and parser.allow_abbrev:
                matches = [s for s in actions if s.startswith(name)]
                action = actions[matches[0]] if len(matches) == 1 else None
            if action is None:
                continue
            explicit = value if equals else None
        else:
            action, explicit = _short_options(actions, token[1:], found)
            if action is None:
                continue
        if action.nargs == 0:
            found.append((action, None))
        else:
            found.append((action, explicit if explicit is not None else next(tokens, None)))
    return found


def _short_options(actions: dict[str, argparse.Action], letters: str,
                   found: list[tuple[argparse.Action, str | None]]
                   ) -> tuple[argparse.Action | None, str | None]:
    """``-qzp80``: adds the leading flags (q, z) to ``found``; returns the last option (p)
    and the value attached to it ("80"; None if nothing is attached)."""
    while letters:
        action = actions.get(f"-{letters[0]}")
        if action is None:
            return None, None
        letters = letters[1:]
        if action.nargs != 0:
            return action, letters.removeprefix("=") or None
        if not letters:
            return action, None
        found.append((action, None))
    return None, None


# --- the entry point --------------------------------------------------------------------------

def config_dir() -> str:
    """Where the config files live: the default CA directory (``~/.mitmproxy``)."""
    return os.path.expanduser(DEFAULT_CADIR)


def argv_with_config(tool: str, parser: argparse.ArgumentParser,
                     argv: Sequence[str]) -> list[str]:
    """``argv`` with the settings of ``tool``'s config files in front of it (see the module
    docstring for which files and which source wins). Raises ConfigError."""
    argv = list(argv)
    command_line = _command_line_options(parser, argv)
    if any(action.default is argparse.SUPPRESS for action, _ in command_line):
        return argv  # --help, --version
    conf = parser._option_string_actions.get(CONF_OPTION)
    directory = config_dir()
    defaults = [os.path.join(directory, COMMON_FILE), os.path.join(directory, f"{tool}.conf")]
    files = [_items(read(path), parser, tool, common=path == defaults[0])
             for path in defaults if os.path.exists(path)]
    # --conf files must exist: a typo in their name is an error, not an empty file.
    files += [_items(read(os.path.expanduser(value)), parser, tool, common=False)
              for action, value in command_line if action is conf and value is not None]

    claimed = set().union(*(_group_of(parser, action) for action, _ in command_line))
    kept: list[_Item] = []
    for items in reversed(files):
        own = [item for item in items if not (_group_of(parser, item.action) & claimed)]
        _check_conflicts(own, parser)
        claimed.update(*(_group_of(parser, item.action) for item in items))
        kept[:0] = own
    return [arg for item in kept for arg in item.args] + argv

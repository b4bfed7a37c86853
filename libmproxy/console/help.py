"""The ``?`` screen: the keys of the screen it was opened from, the keys every screen
takes, and the filter expression syntax (which the ``i`` and ``l`` prompts take)."""
from __future__ import annotations

from typing import Any, Sequence

import urwid

from libmproxy.console import common

__all__ = ["GLOBAL_KEYS", "HelpView"]

# Keys the window takes on every screen (a screen may take one of them for itself).
GLOBAL_KEYS = [
    ("?", "this help"),
    ("i", "set the interception pattern (a filter expression)"),
    ("o", "options"),
    ("q", "back to the previous screen, or quit from the flow list"),
    ("Q", "quit at once"),
]

HelpKeys = Sequence[tuple[str, Sequence[tuple[str, str]]]]


def _section(title: str, keys: Sequence[tuple[str, str]]) -> list[urwid.Widget]:
    return [urwid.Text(("head", f"\n{title}\n")),
            *common.format_keyvals(list(keys), key_attr="key", value_attr="text", indent=4)]


class HelpView(urwid.ListBox):
    """Help for the screen whose ``help_keys`` are given."""

    title = "Help"
    help_keys: HelpKeys = [("Help", [("q", "back"), ("up/down, page up/down", "scroll")])]

    def __init__(self, help_keys: HelpKeys, ui: Any = None) -> None:
        from libmproxy import filt

        rows: list[urwid.Widget] = []
        for title, keys in help_keys:
            rows += _section(title, keys)
        rows += _section("Global keys", GLOBAL_KEYS)
        rows += _section("Filter expressions", filt.help)
        rows.append(urwid.Text(("text", "\n    Regexes are Python-style, and can be quoted "
                                        "with single or double quotes.\n")))
        super().__init__(urwid.SimpleFocusListWalker(rows))
        self.ui = ui

    def keypress(self, size: Any, key: str) -> str | None:
        key = {"j": "down", "k": "up", " ": "page down", "g": "home", "G": "end"}.get(key, key)
        if key == "?":
            return None
        return super().keypress(size, key)

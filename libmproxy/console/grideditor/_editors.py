"""The grid editors the console opens: each pushes a GridEditor with its columns and hands
the edited data, in the caller's shape, to ``callback`` (see ``_base`` for when)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from netlib.http import user_agents

from libmproxy.console.grideditor._base import GridEditor, GridRow
from libmproxy.console.grideditor._columns import (
    BytesColumn, Column, EscapedTextColumn, FilterColumn, RegexColumn,
)
from libmproxy.features.replace import Replace

__all__ = ["HeaderEditor", "edit_headers", "edit_query", "edit_form", "edit_replacements",
           "edit_setheaders", "edit_list"]

USER_AGENT = b"User-Agent"


def _header_name_error(name: bytes | str) -> str | None:
    # Anything else goes, odd bytes included: sending malformed headers on purpose is
    # part of testing a server.
    return None if name else "a header needs a name"


class HeaderEditor(GridEditor):
    """The grid of a message's headers, with 0.18's ``U``: set the User-Agent to a common
    client's, picked by one key (netlib.http.user_agents). An existing User-Agent row gets
    the new value (two User-Agent fields in one request help no one); without one, a row is
    added at the end. Either way the row is focused, so the user sees what changed."""

    def __init__(self, ui: Any, title: str, fields: Sequence[tuple[bytes, bytes]],
                 callback: Callable[[list[tuple[bytes, bytes]]], Any]) -> None:
        super().__init__(ui, title, [BytesColumn("Key", _header_name_error),
                                     BytesColumn("Value")], fields, callback)
        self.help_keys.insert(0, ("Special keys", [("U", "add User-Agent header")]))

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        if key == "U" and not self.editing:
            self.ui.prompt_onekey("Add User-Agent header",
                                  [(agent.name, agent.key) for agent in user_agents.UASTRINGS],
                                  self.set_user_agent)
            return None
        return super().keypress(size, key)

    def set_user_agent(self, key: str) -> None:
        agent = user_agents.get_by_key(key)
        if agent is None:
            return
        name, value = (column.display(data) for column, data in
                       zip(self.columns, (USER_AGENT, agent.string.encode("ascii"))))
        for index, row in enumerate(self.walker):
            if row.cells[0].lower() == name.lower():
                break
        else:
            index = len(self.walker)
            self.walker.append(GridRow(self, [name, ""]))
        self.walker[index].cells[1] = value
        self.walker.set_focus(index)
        self.focus_col = 1
        self._refresh()
        self.ui.redraw()


def edit_headers(ui: Any, title: str, fields: Sequence[tuple[bytes, bytes]],
                 callback: Callable[[list[tuple[bytes, bytes]]], Any]) -> GridEditor:
    """Headers as (name, value) bytes, in order, duplicate names kept."""
    editor = HeaderEditor(ui, title, fields, callback)
    ui.push(editor)
    return editor


def edit_query(ui: Any, title: str, fields: Sequence[tuple[str, str]],
               callback: Callable[[list[tuple[str, str]]], Any]) -> GridEditor:
    """A query string's (key, value) pairs."""
    editor = GridEditor(ui, title, [EscapedTextColumn("Key"), EscapedTextColumn("Value")],
                        fields, callback)
    ui.push(editor)
    return editor


def edit_form(ui: Any, title: str, fields: Sequence[tuple[str, str]],
              callback: Callable[[list[tuple[str, str]]], Any]) -> GridEditor:
    """A URL-encoded form's (key, value) pairs."""
    return edit_query(ui, title, fields, callback)


def _replacement_error(row: tuple[str, str, str]) -> tuple[int, str] | None:
    """The replacement template checked the way the Replace feature will use it (filter
    and regex are checked by their own columns first, so what is left is the template)."""
    try:
        Replace([row])
    except ValueError as e:
        return 2, str(e)
    return None


def edit_replacements(ui: Any, patterns: Sequence[tuple[str, str, str]],
                      callback: Callable[[list[tuple[str, str, str]]], Any]) -> GridEditor:
    """Replacement patterns: (filter expression, regex, replacement)."""
    editor = GridEditor(ui, "Editing replacement patterns",
                        [FilterColumn(), RegexColumn(), Column("Replacement")],
                        patterns, callback, check_row=_replacement_error)
    ui.push(editor)
    return editor


def edit_setheaders(ui: Any, specs: Sequence[tuple[str, str, str]],
                    callback: Callable[[list[tuple[str, str, str]]], Any]) -> GridEditor:
    """Set-header patterns: (filter expression, header name, value)."""
    editor = GridEditor(ui, "Editing header set patterns",
                        [FilterColumn(), Column("Header", _header_name_error), Column("Value")],
                        specs, callback)
    ui.push(editor)
    return editor


def edit_list(ui: Any, title: str, items: Sequence[str], callback: Callable[[list[str]], Any],
              validate: Callable[[str], str | None] | None = None, *,
              heading: str = "Value") -> GridEditor:
    """A list of strings (scripts, ignore patterns, TCP patterns), one per row;
    ``validate(item)`` returns an error message or None."""
    editor = GridEditor(ui, title, [Column(heading, validate)], [(item,) for item in items],
                        lambda rows: callback([item for (item,) in rows]))
    ui.push(editor)
    return editor

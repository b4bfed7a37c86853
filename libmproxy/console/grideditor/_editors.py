"""The grid editors the console opens: each pushes a GridEditor with its columns and hands
the edited data, in the caller's shape, to ``callback`` (see ``_base`` for when)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from libmproxy.console.grideditor._base import GridEditor
from libmproxy.console.grideditor._columns import (
    BytesColumn, Column, EscapedTextColumn, FilterColumn, RegexColumn,
)
from libmproxy.features.replace import Replace

__all__ = ["edit_headers", "edit_query", "edit_form", "edit_replacements", "edit_setheaders",
           "edit_list"]

def _header_name_error(name: bytes | str) -> str | None:
    # Anything else goes, odd bytes included: sending malformed headers on purpose is
    # part of testing a server.
    return None if name else "a header needs a name"


def edit_headers(ui: Any, title: str, fields: Sequence[tuple[bytes, bytes]],
                 callback: Callable[[list[tuple[bytes, bytes]]], Any]) -> GridEditor:
    """Headers as (name, value) bytes, in order, duplicate names kept."""
    editor = GridEditor(ui, title, [BytesColumn("Key", _header_name_error), BytesColumn("Value")],
                        fields, callback)
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

"""The grid editors the console opens: each pushes a GridEditor with its columns and hands
the edited data, in the caller's shape, to ``callback`` (see ``_base`` for when)."""
from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from netlib.http import user_agents
from netlib.http.cookies import SetCookie

from libmproxy.console.grideditor._base import GridEditor, GridRow
from libmproxy.console.grideditor._columns import (
    BytesColumn, Column, EscapedTextColumn, FilterColumn, RegexColumn, SubgridColumn,
    UnaryValueColumn,
)
from libmproxy.features.replace import Replace

__all__ = ["HeaderEditor", "edit_headers", "edit_query", "edit_form", "edit_cookies",
           "edit_set_cookies", "edit_replacements", "edit_setheaders", "edit_list"]

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


# What a cookie or attribute name cannot hold: anything but visible ASCII, and the
# characters that end a name in a Cookie or Set-Cookie header ("=" its value, ";" the
# pair, "," a cookie of a folded header, '"' a quoted string). RFC 6265 asks for an HTTP
# token, but servers send names outside it (PHP's "cart[1]") and browsers take them, so
# only what would change how the header is read is refused.
_NOT_IN_COOKIE_NAME = re.compile(r'[^\x21-\x7e]|[=;,"]')


def _name_error(what: str, name: str) -> str | None:
    if not name:
        return f"{what} needs a name"
    bad = _NOT_IN_COOKIE_NAME.search(name)
    return f"{what} name cannot hold {bad.group()!r}" if bad else None


def _cookie_name_error(name: str) -> str | None:
    return _name_error("a cookie", name)


def _attribute_name_error(name: str) -> str | None:
    return _name_error("an attribute", name)


def _attribute_value_error(value: str | None) -> str | None:
    # Attribute values are written as they are (an Expires date holds spaces and a
    # comma), so only ";" would break the header: it ends the attribute.
    return "';' would end the attribute" if value and ";" in value else None


def edit_cookies(ui: Any, title: str, cookies: Sequence[tuple[str, str | None]],
                 callback: Callable[[list[tuple[str, str | None]]], Any]) -> GridEditor:
    """A request's cookies as (name, value) rows, sent back as the same pairs (the
    caller writes them as one Cookie header).

    A bare cookie (``name`` without "=", value None) shows an empty value and stays bare
    unless it is given one, so editing another row does not rewrite it as ``name=``.
    """
    bare = ({name for name, value in cookies if value is None}
            - {name for name, value in cookies if value == ""})

    def save(rows: list[tuple[str, str]]) -> Any:
        return callback([(name, None if value == "" and name in bare else value)
                         for name, value in rows])

    editor = GridEditor(ui, title, [EscapedTextColumn("Name", _cookie_name_error),
                                    EscapedTextColumn("Value")],
                        [(name, value or "") for name, value in cookies], save)
    ui.push(editor)
    return editor


def edit_set_cookies(ui: Any, title: str, cookies: Sequence[SetCookie],
                     callback: Callable[[list[SetCookie]], Any]) -> GridEditor:
    """A response's Set-Cookie cookies as (name, value, attributes) rows, attributes being
    (name, value) pairs with None for a unary one (``HttpOnly``). The Attributes cell
    opens a grid of its own with enter (0.18's sub-editor); there an empty value makes
    the attribute unary."""
    attributes = SubgridColumn("Attributes", [
        EscapedTextColumn("Name", _attribute_name_error),
        UnaryValueColumn("Value", _attribute_value_error)])
    editor = GridEditor(ui, title, [EscapedTextColumn("Name", _cookie_name_error),
                                    EscapedTextColumn("Value"), attributes],
                        [(name, value, list(attrs)) for name, value, attrs in cookies],
                        callback)
    ui.push(editor)
    return editor


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

"""The grid editor: rows of cells under column headings, one cell in focus, edited in place.

Keys are 0.18's (its help screen): arrows or ``h j k l`` move, ``g``/``G`` go to the first
and last row, ``tab`` to the next field, ``enter`` edits the focused cell (its background
changes; ``esc`` or ``enter`` stop editing) or, in a sub-grid column (a cookie's
attributes), opens a grid of its own, ``a``/``A`` add a row after/before the focus,
``d`` deletes it, ``e`` edits the cell in an external editor, ``r``/``R`` read the cell's
value from a file (escaped / exactly as it is), ``q`` or ``esc`` save and leave.

Leaving checks every row. A row whose cells are all empty is dropped; a row with a bad cell
keeps the editor open with that cell highlighted and the reason in the status bar. Then
``callback(rows)`` runs, unless nothing changed, while the editor is still shown: a
ValueError it raises (the master refusing the new value) is shown the same way and the
editor stays, so no edit is lost. The callback must not push views.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import urwid

from libmproxy.console.grideditor._columns import Column, SubgridColumn

__all__ = ["GridEditor", "GridRow", "FIRST_WIDTH_MIN", "FIRST_WIDTH_MAX"]

# The first column of a multi-column grid is as wide as its widest value (header names are
# short and the value beside them long), within these bounds: narrow enough to leave the
# value room on an 80-column terminal, wide enough that a heading stays readable.
FIRST_WIDTH_MIN = 8
FIRST_WIDTH_MAX = 40

# Spaces between two columns.
COLUMN_GAP = 2

# Palette entries (console.palettes): the focused cell, the cell being edited, bad cells.
ATTR_FOCUS = "focusfield"
ATTR_EDIT = "editfield"
ATTR_ERROR = "field_error"
ATTR_FOCUS_ERROR = "focusfield_error"
ATTR_HEADING = "heading"
ATTR_HINT = "highlight"

EMPTY_HINT = "No values. Press a to add some."
EDITING_HINT = "Editing: esc or enter to stop, tab for the next field."

# check_row(values) -> (column index, message) when the row as a whole is refused.
RowCheck = Callable[[tuple], "tuple[int, str] | None"]

_EDITOR_KEYS = [
    ("A", "insert row before cursor"),
    ("a", "add row after cursor"),
    ("d", "delete row"),
    ("e", "spawn external editor on current field"),
    ("q", "save changes and exit editor"),
    ("r", "read value from file"),
    ("R", "read unescaped value from file"),
    ("esc", "save changes and exit editor"),
    ("tab", "next field"),
    ("enter", "edit field"),
    ("arrows, h j k l", "move between fields"),
    ("g / G", "first / last row"),
]
_EDITING_KEYS = [
    ("esc / enter", "stop editing the field"),
    ("tab", "stop editing, edit the next field"),
]
_ESCAPE_KEYS = [
    ("\\\\", "a backslash (values are escaped Python-style strings)"),
    ("\\n \\r \\t", "newline, carriage return, tab"),
    ("\\xNN", "the byte (or character) with hex code NN"),
]


def _strip_hanging_newline(text: str) -> str:
    """Editors and files end their last line with a newline the value never had."""
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            return text[:-len(ending)]
    return text


class GridRow(urwid.WidgetWrap):
    """One row: its cells' text and the errors found in them (column -> message)."""

    def __init__(self, editor: GridEditor, cells: Sequence[str]) -> None:
        self.editor = editor
        self.cells = list(cells)
        self.errors: dict[int, str] = {}
        self._shown: tuple | None = None
        self._edit_col: int | None = None  # the column whose Edit this row shows
        super().__init__(urwid.Text(""))

    def is_blank(self) -> bool:
        return not any(self.cells)

    def selectable(self) -> bool:
        return True

    def keypress(self, size: tuple[int], key: str) -> str | None:
        return key  # the editor handles every key

    def update(self, focus_col: int | None, edit: urwid.Edit | None, first_width: int) -> None:
        """Rebuild the cells' widgets if what they show changed; ``edit`` is the Edit of
        the focused cell when it is being edited."""
        shown = (tuple(self.cells), tuple(sorted(self.errors)), focus_col, id(edit),
                 first_width)
        if shown == self._shown:
            return
        self._shown = shown
        self._edit_col = focus_col if edit is not None else None
        cells = []
        for i, text in enumerate(self.cells):
            if i == self._edit_col:
                cells.append(urwid.AttrMap(edit, ATTR_EDIT))
                continue
            if i == focus_col:
                attr = ATTR_FOCUS_ERROR if i in self.errors else ATTR_FOCUS
            else:
                attr = ATTR_ERROR if i in self.errors else None
            cells.append(urwid.AttrMap(urwid.Text(text, wrap="any"), attr))
        self._w = self.editor.layout(cells, focus_col)

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        if self._edit_col is not None:
            # Keys typed into the cell need its width (wrapped lines, cursor movement).
            self.editor.edit_width = self._w.column_widths(size)[self._edit_col]
        return super().render(size, focus)


class GridEditor(urwid.WidgetWrap):
    """A grid over ``values`` (tuples, one value per column); see the module docstring.
    ``check_row`` refuses a row whose cells are each fine but not together."""

    def __init__(self, ui: Any, title: str, columns: Sequence[Column],
                 values: Sequence[Sequence[Any]], callback: Callable[[list[tuple]], Any],
                 check_row: RowCheck | None = None) -> None:
        self.ui = ui
        self.title = title
        self.columns = list(columns)
        self.callback = callback
        self.check_row = check_row
        self.original = [tuple(row) for row in values]
        self.focus_col = 0
        self.edit_widget: urwid.Edit | None = None
        self.edit_width = 1
        self._width = FIRST_WIDTH_MIN
        self.help_keys = [("Editor control", _EDITOR_KEYS), ("Editing a field", _EDITING_KEYS)]
        subgrids = [column.heading for column in self.columns
                    if isinstance(column, SubgridColumn)]
        if subgrids:
            self.help_keys.insert(0, ("Special keys", [
                ("enter", f"on {heading}: edit them in a grid of their own")
                for heading in subgrids]))
        if any(column.escaped for column in self.columns):
            self.help_keys.append(("Escapes in values", _ESCAPE_KEYS))

        self.walker = urwid.SimpleFocusListWalker([
            GridRow(self, [column.display(value) for column, value in zip(self.columns, row)])
            for row in self.original
        ])
        self._headings = urwid.AttrMap(urwid.Text(""), ATTR_HEADING)
        self._footer = urwid.Text("")
        self._frame = urwid.Frame(urwid.ListBox(self.walker), header=self._headings,
                                  footer=self._footer)
        super().__init__(self._frame)
        self._refresh()

    # --- layout ---------------------------------------------------------------------------

    def _first_width(self) -> int:
        widest = max([len(self.columns[0].heading)] + [len(row.cells[0]) for row in self.walker])
        return max(FIRST_WIDTH_MIN, min(widest, FIRST_WIDTH_MAX))

    def layout(self, cells: list[urwid.Widget], focus_col: int | None = None) -> urwid.Columns:
        """Cells side by side at the grid's column widths."""
        specs: list[Any] = list(cells)
        if len(cells) > 1:
            specs[0] = (self._width, cells[0])
        return urwid.Columns(specs, dividechars=COLUMN_GAP, focus_column=focus_col or 0)

    def _refresh(self) -> None:
        """Make every row, the headings and the footer show the current state."""
        self._width = self._first_width()
        self._headings.original_widget = self.layout(
            [urwid.Text(column.heading) for column in self.columns])
        focus = self.focus_row
        for i, row in enumerate(self.walker):
            row.update(self.focus_col if i == focus else None,
                       self.edit_widget if i == focus else None, self._width)
        if not self.walker:
            hint = EMPTY_HINT
        elif self.edit_widget is not None:
            hint = EDITING_HINT
        else:
            hint = ""
        self._footer.set_text((ATTR_HINT, hint) if hint else "")

    @property
    def focus_row(self) -> int | None:
        return self.walker.focus if self.walker else None

    @property
    def editing(self) -> bool:
        return self.edit_widget is not None

    # --- keys -----------------------------------------------------------------------------

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        if self.editing:
            return self._keypress_editing(size, key)
        handler = self._KEYS.get(key)
        if handler is not None:
            handler(self)
        elif key in ("page up", "page down", "home", "end"):
            self._frame.keypress(size, key)  # the list box scrolls and moves the focus
        else:
            return key
        self._refresh()
        return None

    def mouse_event(self, size: tuple[int, int], event: str, button: int, col: int, row: int,
                    focus: bool) -> bool:
        """A click picks a row (the list box moves its focus); it ends an edit first, so
        the edited text stays in its own cell."""
        if event == "mouse press":
            self.stop_edit()
        handled = self._frame.mouse_event(size, event, button, col, row, focus)
        self._refresh()
        return bool(handled)

    def _keypress_editing(self, size: tuple[int, int], key: str) -> str | None:
        if key in ("esc", "enter"):
            self.stop_edit()
        elif key == "tab":
            self.next_field(keep_editing=True)
        else:
            rest = self.edit_widget.keypress((self.edit_width,), key)
            if rest in ("up", "down"):  # past the first or last line of the cell
                self.stop_edit()
                self.move_row(-1 if rest == "up" else 1)
        self._refresh()
        return None  # editing is modal: no key reaches the window meanwhile

    # --- moving ---------------------------------------------------------------------------

    def set_focus_row(self, index: int) -> None:
        if self.walker:
            self.walker.set_focus(max(0, min(index, len(self.walker) - 1)))

    def move_row(self, delta: int) -> None:
        if self.walker:
            self.set_focus_row(self.focus_row + delta)

    def move_col(self, delta: int) -> None:
        self.focus_col = max(0, min(self.focus_col + delta, len(self.columns) - 1))

    def next_field(self, keep_editing: bool = False) -> None:
        """The next cell, wrapping to the next row; 0.18 went on editing only within a
        row, so that tabbing off the last cell ends the edit."""
        was_editing = self.editing
        self.stop_edit()
        if self.focus_col < len(self.columns) - 1:
            self.focus_col += 1
            if keep_editing and was_editing:
                self.start_edit()
        elif self.walker and self.focus_row < len(self.walker) - 1:
            self.focus_col = 0
            self.move_row(1)

    # --- editing --------------------------------------------------------------------------

    def enter(self) -> None:
        if isinstance(self.columns[self.focus_col], SubgridColumn):
            self.open_subgrid()
        else:
            self.start_edit()

    def start_edit(self) -> None:
        """Edit the focused cell in place; a sub-grid cell is not edited as text here (as
        in 0.18: ``tab`` from the cell before ends the edit instead)."""
        if not self.walker or isinstance(self.columns[self.focus_col], SubgridColumn):
            return
        text = self.walker[self.focus_row].cells[self.focus_col]
        self.edit_widget = urwid.Edit(edit_text=text, wrap="any")

    def stop_edit(self) -> None:
        if self.edit_widget is None:
            return
        text = self.edit_widget.edit_text
        self.edit_widget = None
        self.set_cell(text)

    def open_subgrid(self) -> None:
        """The focused cell's pairs in a grid editor of their own; leaving that grid puts
        the edited pairs back in the cell. A cell whose text cannot be read opens nothing:
        the status bar says why, and ``e`` edits the text."""
        if not self.walker:
            return
        column = self.columns[self.focus_col]
        row = self.walker[self.focus_row]
        try:
            pairs = column.parse(row.cells[self.focus_col])
        except ValueError as e:
            self.ui.status(f"{column.heading}: {e} (e edits the text)")
            return

        def put_back(edited: list[tuple]) -> None:
            # The focus cannot move while the sub-grid is shown: set_cell finds the cell.
            self.set_cell(column.display(edited))
            self._refresh()

        owner = f" of {row.cells[0]}" if row.cells[0] else ""
        self.ui.push(GridEditor(self.ui, f"Editing {column.heading.lower()}{owner}",
                                column.subcolumns, pairs, put_back))

    def set_cell(self, text: str) -> None:
        """Put ``text`` in the focused cell and say at once what is wrong with its row."""
        row = self.walker[self.focus_row]
        row.cells[self.focus_col] = text
        if self._check(row) is None and row.errors:
            col = min(row.errors)
            self.ui.status(f"{self.columns[col].heading}: {row.errors[col]}")

    def _check(self, row: GridRow) -> tuple | None:
        """The values of ``row``'s cells, or None with the reasons in ``row.errors``
        (column -> message). A blank row is fine (it is dropped on leaving)."""
        row.errors.clear()
        values = []
        for col, (column, text) in enumerate(zip(self.columns, row.cells)):
            try:
                values.append(column.parse(text))
            except ValueError as e:
                row.errors[col] = str(e)
        if row.is_blank():
            row.errors.clear()
            return None
        if not row.errors and self.check_row is not None:
            error = self.check_row(tuple(values))
            if error is not None:
                row.errors[error[0]] = error[1]
        return None if row.errors else tuple(values)

    def add_row(self, before: bool = False) -> None:
        """A blank row after (or before) the focus, its first cell being edited."""
        position = 0 if not self.walker else self.focus_row + (0 if before else 1)
        self.walker.insert(position, GridRow(self, ["" for _ in self.columns]))
        self.walker.set_focus(position)
        self.focus_col = 0
        self.start_edit()

    def delete_row(self) -> None:
        if self.walker:
            del self.walker[self.focus_row]

    def external_edit(self) -> None:
        """The focused cell's text in $EDITOR (escaped cells stay escaped there)."""
        if not self.walker:
            return
        text = self.walker[self.focus_row].cells[self.focus_col]
        data = self.ui.spawn_editor(text.encode("utf-8"))
        if data is None:
            self.ui.status("The editor failed: the field is unchanged.")
            return
        try:
            edited = data.decode("utf-8")
        except UnicodeDecodeError:
            self.ui.status("The edited text is not UTF-8: the field is unchanged "
                           "(write single bytes as \\xNN).")
            return
        self.set_cell(_strip_hanging_newline(edited))
        self._refresh()

    def ask_file(self, unescaped: bool = False) -> None:
        if not self.walker:
            return
        label = "Read unescaped file" if unescaped else "Read file"
        self.ui.prompt(label, lambda path: self.read_file(path, unescaped))

    def read_file(self, path: str, unescaped: bool = False) -> None:
        """The file's content into the focused cell: as typed text (escapes understood,
        a last newline dropped), or, ``unescaped``, exactly its bytes."""
        if not path or not self.walker:
            return
        path = os.path.expanduser(path)
        column = self.columns[self.focus_col]
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            self.ui.status(f"Cannot read {path}: {e.strerror}")
            return
        try:
            if unescaped:
                text = column.from_file(data)
            else:
                text = _strip_hanging_newline(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            reason = "it is not UTF-8 text" if isinstance(e, UnicodeDecodeError) else str(e)
            self.ui.status(f"Cannot read {path}: {reason}")
            return
        self.set_cell(text)
        self._refresh()

    # --- leaving --------------------------------------------------------------------------

    def result(self) -> list[tuple] | None:
        """The rows' values, or None after showing the first bad cell (focused)."""
        values = []
        for index, row in enumerate(self.walker):
            row_values = self._check(row)
            if row.errors:
                col = min(row.errors)
                self.walker.set_focus(index)
                self.focus_col = col
                self.ui.status(f"Row {index + 1}, {self.columns[col].heading}: "
                               f"{row.errors[col]}")
                return None
            if row_values is not None:
                values.append(row_values)
        return values

    def done(self) -> None:
        """Check, hand the new rows to the callback if they changed, and leave."""
        values = self.result()
        if values is None:
            return
        if values != self.original:
            try:
                self.callback(values)
            except ValueError as e:
                self.ui.status(str(e).splitlines()[0])
                return
        self.ui.pop()

    _KEYS: dict[str, Callable[[GridEditor], None]] = {
        "up": lambda self: self.move_row(-1),
        "k": lambda self: self.move_row(-1),
        "down": lambda self: self.move_row(1),
        "j": lambda self: self.move_row(1),
        "left": lambda self: self.move_col(-1),
        "h": lambda self: self.move_col(-1),
        "right": lambda self: self.move_col(1),
        "l": lambda self: self.move_col(1),
        "g": lambda self: self.set_focus_row(0),
        "G": lambda self: self.set_focus_row(len(self.walker) - 1),
        "tab": lambda self: self.next_field(),
        "enter": lambda self: self.enter(),
        "a": lambda self: self.add_row(),
        "A": lambda self: self.add_row(before=True),
        "d": lambda self: self.delete_row(),
        "e": lambda self: self.external_edit(),
        "r": lambda self: self.ask_file(),
        "R": lambda self: self.ask_file(unescaped=True),
        "q": lambda self: self.done(),
        "esc": lambda self: self.done(),
    }

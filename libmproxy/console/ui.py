"""What a console screen may ask of the window it lives in.

The console is a stack of full-screen views (flow list, flow view, grid editors, options,
help) in one ``Window`` (console/window.py). A view never reaches into another view or
into the window's widgets: it calls these methods, so each view can be built and tested
alone against the real window.

Every view is an urwid widget that also carries:
- ``title``: the text shown in the header line ("Flows", "Editing headers", ...);
- ``help_keys``: ``[(section, [(key, description), ...]), ...]``, what ``?`` shows for it;
- optionally ``refresh()``: called when the window shows it again after a pop.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

__all__ = ["UI"]


class UI(Protocol):
    """The window, as seen by the views (implemented by ``console.window.Window``)."""

    master: Any  # the ConsoleMaster: .state (the flow store), .options, replay, save, ...

    def push(self, view: Any) -> None:
        """Show ``view`` on top of the current one; ``q`` / ``pop()`` comes back."""

    def pop(self) -> None:
        """Leave the current view (the window quits nothing when it is the last one)."""

    def status(self, message: str, expire: float | None = 3.0) -> None:
        """Show a one-line message in the status bar, cleared after ``expire`` seconds."""

    def prompt(self, label: str, callback: Callable[[str], Any], text: str = "",
               validate: Callable[[str], str | None] | None = None) -> None:
        """Ask for one line of text in the status bar. ``callback(text)`` runs on enter;
        escape cancels. ``validate(text)`` returns an error message (shown, the prompt
        stays) or None; filter prompts use it so a bad expression is refused as typed."""

    def prompt_onekey(self, label: str, keys: Sequence[tuple[str, str]],
                      callback: Callable[[str], Any]) -> None:
        """Ask for one key among ``keys`` (``[(name, key), ...]``, shown as
        "name(k)"); ``callback(key)`` runs with the key pressed; escape cancels."""

    def spawn_editor(self, data: bytes) -> bytes | None:
        """Suspend the screen, edit ``data`` in $EDITOR (default vi), return the result,
        or None if the editor failed."""

    def spawn_viewer(self, data: bytes, content_type: str | None = None) -> None:
        """Suspend the screen and show ``data`` in $PAGER (or a mailcap viewer)."""

    def redraw(self) -> None:
        """Ask for a redraw after state changed outside a keypress."""

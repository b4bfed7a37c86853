"""The console's window: a header with the current screen's title, the screen itself (the
top of a stack of views, the flow list at the bottom), and the status bar. It implements
the ``UI`` protocol of console/ui.py, which is all a view may ask of it.

Keys go to the prompt while one is open; otherwise to the current view first, and what
the view leaves goes to the window's global keys (``?``, ``q``, ``Q``, ``i``, ``o``).

Nothing a user does may crash the console: an exception raised by a view or a prompt's
callback is caught here, shown in the status bar and written to the event log with its
traceback, and the console goes on.
"""
from __future__ import annotations

import mimetypes
import os
import shlex
import shutil
import subprocess
import tempfile
import traceback
from typing import Any, Callable, Sequence

import urwid

from libmproxy.console import common, mailcap
from libmproxy.console.eventlog import EventLog
from libmproxy.console.help import HelpView
from libmproxy.console.statusbar import StatusBar

__all__ = ["Window", "DEFAULT_EDITOR", "DEFAULT_PAGERS", "pager_argv"]

DEFAULT_EDITOR = "vi"
# The pagers tried when $PAGER is not set, in order (more is in every Unix).
DEFAULT_PAGERS = ("less", "more")

# How long a status message stays, in seconds, unless the caller says otherwise.
MESSAGE_SECONDS = 3.0


class Window(urwid.Frame):
    """The topmost widget. ``loop`` is the urwid MainLoop once the console runs (None in
    widget tests, where status messages simply stay and editors run without suspending a
    screen)."""

    def __init__(self, master: Any) -> None:
        self.master = master
        self.loop: Any = None
        self.stack: list[Any] = []
        self.eventlog = EventLog(master.events)
        self.statusbar = StatusBar(self)
        self.title = urwid.Text("", wrap="clip")
        super().__init__(urwid.SolidFill(" "), header=urwid.AttrMap(self.title, "heading"),
                         footer=self.statusbar)
        master.ui = self
        from libmproxy.console.flowlist import FlowListView
        self.push(FlowListView(self))

    # --- the view stack --------------------------------------------------------------------

    @property
    def view(self) -> Any:
        return self.stack[-1]

    def push(self, view: Any) -> None:
        self.stack.append(view)
        self._show(view)

    def pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()
            view = self.stack[-1]
            refresh = getattr(view, "refresh", None)
            if refresh is not None:
                refresh()
            self._show(view)

    def _show(self, view: Any) -> None:
        self.body = view
        self.title.set_text(getattr(view, "title", ""))

    # --- the status bar --------------------------------------------------------------------

    def status(self, message: str, expire: float | None = MESSAGE_SECONDS) -> None:
        self.statusbar.show_message(message, expire=expire)

    def error(self, message: str) -> None:
        """A status message in the error colour, also kept in the event log."""
        self.statusbar.show_message(message, "error", expire=MESSAGE_SECONDS)
        self.master.add_event(message, "warn")

    def prompt(self, label: str, callback: Callable[[str], Any], text: str = "",
               validate: Callable[[str], str | None] | None = None) -> None:
        self.statusbar.prompt(label, callback, text, validate)

    def prompt_onekey(self, label: str, keys: Sequence[tuple[str, str]],
                      callback: Callable[[str], Any]) -> None:
        self.statusbar.prompt_onekey(label, keys, callback)

    def redraw(self) -> None:
        self._invalidate()

    # --- input -----------------------------------------------------------------------------

    def before_draw(self) -> None:
        """Bring the info bar up to date. The loop calls this before every draw, since
        what the bar shows (options, the follow mode) can change without any widget
        changing; ``render`` calls it too, for drawing without a loop (tests)."""
        self.statusbar.info.refresh()
        # The prompt's cursor shows only while the footer has the focus.
        part = "footer" if self.statusbar.prompting else "body"
        if self.focus_position != part:
            self.focus_position = part

    def render(self, size: Any, focus: bool = False) -> Any:
        self.before_draw()
        return super().render(size, focus)

    def keypress(self, size: Any, key: str) -> str | None:
        try:
            if self.statusbar.prompting:
                return self.statusbar.keypress(size, key)
            key = super().keypress(size, key)
            if key is not None:
                key = self._global_key(key)
        except Exception as e:  # a bug in a view must not end the console
            self._report(e)
            return None
        return key

    def mouse_event(self, size: Any, event: str, button: int, col: int, row: int,
                    focus: bool) -> bool | None:
        try:
            return super().mouse_event(size, event, button, col, row, focus)
        except Exception as e:
            self._report(e)
            return True

    def _report(self, e: Exception) -> None:
        self.master.add_event("console error:\n" + traceback.format_exc().rstrip(), "error")
        self.statusbar.show_message(f"error: {e} (details in the event log)", "error",
                                    expire=MESSAGE_SECONDS)

    def _global_key(self, key: str) -> str | None:
        if key == "?":
            self.push(HelpView(getattr(self.view, "help_keys", []), self))
        elif key == "q":
            if len(self.stack) > 1:
                self.pop()
            else:
                self.prompt_onekey("Quit", [("yes", "y"), ("no", "n")], self._quit_answer)
        elif key == "Q":
            self.master.shutdown()
        elif key == "i":
            self.prompt("Intercept filter", self._set_intercept,
                        self.master.options.intercept or "", common.validate_filter)
        elif key == "o":
            from libmproxy.console.options import OptionsView
            self.push(OptionsView(self))
        else:
            return key
        return None

    def _quit_answer(self, key: str) -> None:
        if key == "y":
            self.master.shutdown()

    def _set_intercept(self, text: str) -> None:
        self.master.set_intercept(text.strip() or None)

    # --- palettes --------------------------------------------------------------------------

    def set_palette(self, entries: list[Any]) -> None:
        if self.loop is not None:
            self.loop.screen.register_palette(entries)
            self.loop.screen.clear()

    # --- external programs -----------------------------------------------------------------

    def _run_program(self, argv: list[str]) -> int | None:
        """Run ``argv`` on the terminal (the screen suspended); its exit status, or None
        (with a message) if it cannot be started."""
        try:
            if self.loop is None:
                return subprocess.call(argv)
            with self.loop.paused():
                return subprocess.call(argv)
        except OSError as e:
            self.error(f"cannot run {argv[0]}: {e.strerror}")
            return None

    def spawn_editor(self, data: bytes) -> bytes | None:
        fd, path = tempfile.mkstemp(suffix=".txt", prefix="mitmproxy-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            editor = shlex.split(os.environ.get("EDITOR") or DEFAULT_EDITOR)
            status = self._run_program([*editor, path])
            if status is None:
                return None
            if status != 0:
                self.error(f"{editor[0]} failed (exit status {status}); nothing changed")
                return None
            with open(path, "rb") as f:
                return f.read()
        finally:
            os.unlink(path)

    def spawn_viewer(self, data: bytes, content_type: str | None = None) -> None:
        """Show ``data`` with the user's mailcap viewer for ``content_type`` if they have
        one (console/mailcap.py), else with their pager."""
        suffix = None
        if content_type:
            suffix = mimetypes.guess_extension(content_type.split(";")[0].strip())
        fd, path = tempfile.mkstemp(suffix=suffix or ".txt", prefix="mitmproxy-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            pager = pager_argv()
            found = mailcap.find(content_type, path) if content_type else None
            if found is None:
                self._run_program([*pager, path])
                return
            command, entry = found
            if entry.copiousoutput:
                command = f"{command} | {shlex.join(pager)}"
            self._run_program(["sh", "-c", command])
        finally:
            os.unlink(path)


def pager_argv() -> list[str]:
    """$PAGER, else the first of DEFAULT_PAGERS installed (the last one regardless, so
    that a missing pager is named in the message)."""
    if os.environ.get("PAGER"):
        return shlex.split(os.environ["PAGER"])
    for pager in DEFAULT_PAGERS:
        if shutil.which(pager):
            return [pager]
    return [DEFAULT_PAGERS[-1]]

"""The two footer lines: the info bar and, under it, the action bar.

The info bar shows, as the spec's flow list does: the flow count ``[n]``, the interception
and limit patterns ``[i:~q] [l:~s]``, the other active settings (``[anticache:showhost]``,
sticky cookie and auth patterns, scripts, the stream file, ``[Marked Flows]`` while only
the marked flows are shown), then on the right ``?:help``,
``q:back`` on screens above the flow list, and the bind address ``[*:8080]``. It is
computed when drawn, so it can never show a stale value.

The action bar shows messages (``status``) and the prompts: a line of text (``prompt``,
checked as typed when the caller gives a ``validate``) or one key (``prompt_onekey``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import urwid

__all__ = ["StatusBar", "info_markup", "bind_address"]

# The width of the flow count, so the patterns after it do not move as flows arrive.
COUNT_WIDTH = 9


def bind_address(master: Any) -> str:
    """``[*:8080]`` for the proxy's listening address; "" when nothing listens (-n)."""
    for server in getattr(master, "servers", ()):
        address = getattr(server, "address", None)
        if address is None:
            continue
        host = address.host if hasattr(address, "host") else address[0]
        port = address.port if hasattr(address, "port") else address[1]
        if host in ("", "0.0.0.0", "::"):
            host = "*"
        elif ":" in host:
            host = f"[{host}]"
        return f"[{host}:{port}]"
    return ""


def _active_options(options: Any) -> list[str]:
    """The on/off settings that differ from their default, in 0.18's words."""
    names = []
    if options.anticache:
        names.append("anticache")
    if options.anticomp:
        names.append("anticomp")
    if options.showhost:
        names.append("showhost")
    if not options.refresh_server_playback:
        names.append("norefresh")
    if options.kill:
        names.append("killextra")
    if getattr(options, "no_upstream_cert", False):
        names.append("no-upstream-cert")
    if options.stream_large_bodies:
        names.append(f"stream:{options.stream_large_bodies}b")
    return names


def info_markup(master: Any) -> list[Any]:
    """The left part of the info bar."""
    options = master.options
    markup: list[Any] = [("heading", f"[{len(master.state.view)}]".ljust(COUNT_WIDTH))]

    def pattern(key: str, text: str | None) -> None:
        if text:
            markup.extend(["[", ("heading_key", key), f":{text}] "])

    pattern("i", options.intercept)
    pattern("l", options.limit)
    pattern("t", options.stickycookie)
    pattern("u", options.stickyauth)
    if options.replacements:
        markup.extend(["[", ("heading_key", "R"), f":{len(options.replacements)}] "])
    if options.setheaders:
        markup.extend(["[", ("heading_key", "H"), f":{len(options.setheaders)}] "])
    if options.scripts:
        markup.extend(["[", ("heading_key", "s"), f"cripts:{len(options.scripts)}] "])
    if options.server_replay:
        markup.extend(["[", ("heading_key", "S"), f":{','.join(options.server_replay)}] "])
    if options.client_replay:
        markup.extend(["[", ("heading_key", "c"), f":{','.join(options.client_replay)}] "])
    if options.default_view.lower() != "auto":
        markup.extend(["[", ("heading_key", "M"), f":{options.default_view}] "])
    if options.outfile:
        markup.extend(["[", ("heading_key", "W"), f":{options.outfile[0]}] "])
    active = _active_options(options)
    if active:
        markup.append(f"[{':'.join(active)}] ")
    if master.state.marked_only:
        markup.extend(["[", ("heading_key", "M"), "arked Flows] "])
    if master.state.follow:
        markup.append("[follow] ")
    return markup


class _InfoBar(urwid.WidgetWrap):
    """Recomputed before every draw (``refresh``): one line, cheap, and never stale."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.left = urwid.Text("", wrap="clip")
        self.right = urwid.Text("", align="right", wrap="clip")
        self._shown: tuple[Any, str] | None = None
        super().__init__(urwid.AttrMap(
            urwid.Columns([self.left, ("pack", self.right)], dividechars=1), "heading"))

    def refresh(self) -> None:
        master = self.window.master
        back = " q:back" if len(self.window.stack) > 1 else ""
        shown = (info_markup(master), f"?:help{back} {bind_address(master)}".rstrip())
        if shown != self._shown:  # unchanged text keeps urwid's cached drawing
            self._shown = shown
            self.left.set_text(shown[0])
            self.right.set_text(shown[1])


@dataclasses.dataclass
class _Prompt:
    label: str
    callback: Callable[[str], Any]
    validate: Callable[[str], str | None] | None = None
    keys: Sequence[tuple[str, str]] | None = None  # a one-key prompt's choices
    edit: urwid.Edit | None = None


class StatusBar(urwid.WidgetWrap):
    """The footer. ``prompting`` is true while a prompt takes the keys; the window then
    sends every key here (``keypress``)."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.info = _InfoBar(window)
        self.message = urwid.Text("", wrap="clip")  # one line (errors: also the event log)
        self.error = urwid.Text("", wrap="ellipsis")  # a prompt's complaint
        self.action = urwid.WidgetPlaceholder(self.message)
        self._prompt: _Prompt | None = None
        self._expiry: Any = None  # the alarm that clears the message
        super().__init__(urwid.Pile([self.info, self.action]))

    @property
    def prompting(self) -> bool:
        return self._prompt is not None

    # --- messages -------------------------------------------------------------------------

    def show_message(self, text: str, attr: str = "text", expire: float | None = None) -> None:
        self.message.set_text((attr, text))
        loop = self.window.loop
        if loop is None:
            return
        if self._expiry is not None:
            loop.remove_alarm(self._expiry)
            self._expiry = None
        if expire is not None:
            self._expiry = loop.set_alarm_in(expire, self._expire)

    def _expire(self, loop: Any, data: Any) -> None:
        self._expiry = None
        self.message.set_text("")

    # --- prompts --------------------------------------------------------------------------

    def prompt(self, label: str, callback: Callable[[str], Any], text: str = "",
               validate: Callable[[str], str | None] | None = None) -> None:
        edit = urwid.Edit(("prompt", f"{label}: "), text)
        self._prompt = _Prompt(label, callback, validate, edit=edit)
        self.action.original_widget = urwid.Columns([edit], dividechars=1)
        self._check(text)

    def prompt_onekey(self, label: str, keys: Sequence[tuple[str, str]],
                      callback: Callable[[str], Any]) -> None:
        choices: list[Any] = []
        for i, (name, key) in enumerate(keys):
            choices += [", " if i else "", name, "(", ("heading_key", key), ")"]
        self._prompt = _Prompt(label, callback, keys=keys)
        self.action.original_widget = urwid.Text([("prompt", f"{label} ("), *choices,
                                                  ("prompt", ")? ")])

    def _end_prompt(self) -> _Prompt:
        prompt = self._prompt
        self._prompt = None
        self.message.set_text("")
        self.action.original_widget = self.message
        assert prompt is not None
        return prompt

    def _check(self, text: str) -> str | None:
        """Run the prompt's validate on ``text``; show and return its complaint."""
        validate = self._prompt.validate if self._prompt else None
        error = validate(text) if validate is not None else None
        self._show_complaint(error)
        return error

    def _show_complaint(self, error: str | None) -> None:
        """The complaint goes right of the text being typed, sharing the line with it
        (clipped with an ellipsis: a parser's message can be longer than the screen)."""
        columns = self.action.original_widget
        self.error.set_text(("prompt_error", error) if error else "")
        shown = len(columns.contents) > 1
        if error and not shown:
            columns.contents.append((self.error, columns.options("weight", 1)))
        elif not error and shown:
            del columns.contents[1:]
        columns.focus_position = 0

    def keypress(self, size: Any, key: str) -> str | None:
        prompt = self._prompt
        if prompt is None:
            return key
        if key == "esc":
            self._end_prompt()
            return None
        if prompt.keys is not None:
            if key in {k for _, k in prompt.keys}:
                self._end_prompt()
                prompt.callback(key)
            return None
        edit = prompt.edit
        assert edit is not None
        if key == "enter":
            if self._check(edit.edit_text) is None:
                self._end_prompt()
                prompt.callback(edit.edit_text)
            return None
        if isinstance(key, str):
            edit.keypress((max(1, size[0] - 1),), key)
            self._check(edit.edit_text)
        return None

"""The errors of the crafting language, under one base class.

pathod answers any ``PathodError`` raised while parsing or rendering a spec with its 800
response, and pathoc reports it and exits; neither needs to know which stage failed. The
subclasses say which: the text of the spec (``ParseException``), a spec that cannot be turned
into bytes with the given settings (``RenderError``), or a file value that may not be read
(``FileAccessDenied``).
"""
from __future__ import annotations

__all__ = ["PathodError", "ParseException", "RenderError", "FileAccessDenied"]


class PathodError(Exception):
    """Base class of every error the language raises."""


class ParseException(PathodError):
    """A spec that does not follow the grammar.

    ``col`` is the 0-based index of the offending character in ``s``; ``str()`` gives the
    message, the spec and a caret under that character, which is what a user at a prompt
    needs to find the mistake.
    """

    def __init__(self, msg: str, s: str = "", col: int = 0) -> None:
        super().__init__(msg)
        self.msg = msg
        self.s = s
        self.col = col

    def marked(self) -> str:
        """The spec's line that holds the error, and a caret under the offending column."""
        line_start = self.s.rfind("\n", 0, self.col) + 1
        line_end = self.s.find("\n", self.col)
        if line_end < 0:
            line_end = len(self.s)
        return f"{self.s[line_start:line_end]}\n{' ' * (self.col - line_start)}^"

    def __str__(self) -> str:
        if not self.s:
            return self.msg
        return f"{self.msg} (at column {self.col + 1}):\n{self.marked()}"


class RenderError(PathodError):
    """A spec that parsed but cannot be rendered with these settings (a websocket
    response without the client's key, an HTTP/2 message without a stream id, a file that
    changed size while being served)."""


class FileAccessDenied(PathodError):
    """A file value (``<path``) or a ``+path`` include that may not be read: no static
    directory configured, a path leaving it, or no regular file there."""

"""The JavaScript and CSS views: minified code beautified by jsbeautifier and cssbeautifier
(the js-beautify project's Python packages).

Both beautifiers are pure Python and slow per byte (about 100 kB/s for JavaScript here), so
they get at most a budget of bytes: when fewer lines are wanted (``limit``) a prefix that
comfortably yields them, and never more than BEAUTIFY_MAX. The prefix ends at a statement
or block boundary when there is one, and a last line says how much was not beautified.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from netlib import human

from libmproxy.contentviews._base import Line, View, text_lines
from libmproxy.contentviews._text import decode_text

__all__ = ["ViewJavaScript", "ViewCSS"]

# The most code beautified for one view (a few seconds of work for JavaScript).
BEAUTIFY_MAX = 512 * 1024

# With a line limit, this many input characters per wanted line: minified code yields a
# line every few dozen characters, so this leaves ample margin.
CHARS_PER_LINE = 400

# Characters after which a prefix may end without cutting a token in two.
_BOUNDARIES = (";", "}", "\n")


def _budget(limit: int | None) -> int:
    return BEAUTIFY_MAX if limit is None else min(BEAUTIFY_MAX, (limit + 1) * CHARS_PER_LINE)


def _beautified(text: str, limit: int | None,
                beautify: Callable[[str], str]) -> Iterable[Line]:
    """The beautified lines; when only a prefix was beautified they come uncounted, as the
    whole body's line count is unknown."""
    budget = _budget(limit)
    if len(text) <= budget:
        return text_lines(beautify(text))
    end = max(text.rfind(b, 0, budget) for b in _BOUNDARIES) + 1 or budget
    lines = list(text_lines(beautify(text[:end])))
    lines.append([("highlight",
                   f"(beautified the first {human.pretty_size(end)} only; "
                   f"{human.pretty_size(len(text) - end)} more not shown here)")])
    return iter(lines)


class ViewJavaScript(View):
    name = "JavaScript"
    prompt = ("javascript", "j")
    content_types = ("application/javascript", "application/x-javascript", "text/javascript",
                     "application/ecmascript", "text/ecmascript")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        import jsbeautifier  # imported when used: it is large and mitmdump starts fast

        options = jsbeautifier.default_options()
        options.indent_size = 2
        return "JavaScript", _beautified(decode_text(data, headers), limit,
                                         lambda code: jsbeautifier.beautify(code, options))


class ViewCSS(View):
    name = "CSS"
    prompt = ("css", "c")
    content_types = ("text/css",)

    def __call__(self, data, *, headers=None, query=None, limit=None):
        import cssbeautifier  # imported when used, as jsbeautifier

        options = cssbeautifier.default_options()
        options.indent_size = 2
        return "CSS", _beautified(decode_text(data, headers), limit,
                                  lambda code: cssbeautifier.beautify(code, options))


"""``--replace /filter/regex/replacement`` and ``--replace-from-file``: replacement hooks
(spec: Replacements).

A hook fires when a request arrives from the client and when a response arrives from the
server, and only the message of that moment is changed. Its filter decides the moment:
while a request is handled the flow has no response yet, so ``~q`` matches then and ``~s``
does not; at the response it is the other way round; a filter with neither fires at both.

The regex is replaced in the header lines, in the request path and in the body. A body sent
with a Content-Encoding is decoded, changed and encoded again (``Message.replace``); a body
that cannot be decoded is left alone. As in 0.18, ``.`` in the regex also matches a line
break (re.DOTALL), since bodies span lines. The replacement is a regex template (``\\1``
refers to a group, a literal backslash is written twice); a template that does not parse
is refused at startup rather than failing on every flow. A streamed response has no body
here (spec: Response Streaming).
"""
from __future__ import annotations

import re
from typing import Callable, Iterable

from netlib.http.headers import to_bytes

from libmproxy import filt
from libmproxy.flow.master import Feature
from libmproxy.models import HTTPFlow

__all__ = ["Replace"]


class Replace(Feature):
    """``replacements``: (filter expression, regex, replacement) in the order given.
    Filters and regexes are compiled here, once, not per flow; an invalid one raises
    ValueError naming it."""

    def __init__(self, replacements: Iterable[tuple[str, str, str]]) -> None:
        self.hooks: list[tuple[Callable[[HTTPFlow], bool], re.Pattern[bytes], bytes]] = []
        for expression, regex, replacement in replacements:
            try:
                compiled = re.compile(to_bytes(regex), re.DOTALL)
            except re.error as e:
                raise ValueError(f"invalid regular expression {regex!r}: {e}") from None
            template = to_bytes(replacement)
            try:
                compiled.sub(template, b"")  # parses the template even without a match
            except re.error as e:
                raise ValueError(f"invalid replacement for {regex!r}: {e} (write a "
                                 f"backslash as \\\\)") from None
            self.hooks.append((filt.parse(expression), compiled, template))

    def request(self, flow: HTTPFlow) -> None:
        for matches, regex, replacement in self.hooks:
            if matches(flow):
                flow.request.replace(regex, replacement)

    def response(self, flow: HTTPFlow) -> None:
        for matches, regex, replacement in self.hooks:
            if matches(flow):
                flow.response.replace(regex, replacement)

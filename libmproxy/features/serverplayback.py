"""``-S FILE``: server-side replay (spec: Server-side replay).

A request that matches a saved one is answered with a copy of the saved response, and the
server is never contacted (the HTTP layer connects only when no hook answered). Matching
(``request_key``) is on method, scheme, host, port, path and query, and body; request
headers only when named by ``--rheader``/``--server-replay-use-header``, so that a
different User-Agent does not spoil a match. ``--replay-ignore-*`` leave parts out.

Each saved response is used once, in the order saved (a page fetched twice gets the two
answers recorded), unless ``--no-pop``. Responses are refreshed (``Response.refresh``:
Date, Expires, Last-Modified and cookie expiry keep their distance from now) unless
``--norefresh``. A request with no saved response goes to the server, or with ``-k`` is
killed: its client connection is dropped.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Any, Hashable, Sequence

from libmproxy.exceptions import FlowReadException, OptionsException
from libmproxy.flow.io import read_flows_from_paths
from libmproxy.flow.master import Feature
from libmproxy.models import HTTPFlow, HTTPRequest

__all__ = ["Matching", "ServerPlayback", "request_key"]


@dataclasses.dataclass(frozen=True)
class Matching:
    """What of a request counts when looking for its saved response."""

    headers: tuple[str, ...] = ()  # --rheader: these headers' values count too
    ignore_content: bool = False  # --replay-ignore-content
    ignore_payload_params: frozenset[str] = frozenset()  # --replay-ignore-payload-param
    ignore_params: frozenset[str] = frozenset()  # --replay-ignore-param
    ignore_host: bool = False  # --replay-ignore-host


def _name(name: str | bytes) -> str:
    return name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name


def _form_fields(request: HTTPRequest) -> tuple[tuple[Any, Any], ...]:
    """The fields of an urlencoded or multipart form body (empty for any other body)."""
    form = request.urlencoded_form.fields
    if not form and request.multipart_form is not None:
        form = request.multipart_form.fields
    return tuple(form)


def request_key(request: HTTPRequest, matching: Matching) -> Hashable:
    """The key under which ``request`` finds its saved response."""
    path = request.path.partition("?")[0]
    query = tuple((name, value) for name, value in request.query.fields
                  if name not in matching.ignore_params)
    key: list[Hashable] = [request.method.upper(), (request.scheme or "").lower(),
                           request.port, path, query]
    if not matching.ignore_host:
        key.append((request.host or "").lower())
    if not matching.ignore_content:
        form = _form_fields(request) if matching.ignore_payload_params else ()
        if form:
            key.append(tuple((name, value) for name, value in form
                             if _name(name) not in matching.ignore_payload_params))
        else:
            key.append(request.raw_content)
    for name in matching.headers:
        key.append((name.lower(), tuple(request.headers.get_all(name))))
    return tuple(key)


class ServerPlayback(Feature):
    """Answers requests from the saved flows of ``paths``.

    Raises OptionsException, naming the file, when a file cannot be read or is damaged.
    """

    def __init__(self, paths: Sequence[str], matching: Matching = Matching(), *,
                 kill: bool = False, refresh: bool = True, nopop: bool = False) -> None:
        try:
            flows = read_flows_from_paths(paths)
        except FlowReadException as e:
            raise OptionsException(f"server replay: {e}") from e
        self.matching = matching
        self.kill = kill
        self.refresh = refresh
        self.nopop = nopop
        self.master: Any = None
        self.saved: dict[Hashable, collections.deque[HTTPFlow]] = {}
        for flow in flows:
            if isinstance(flow, HTTPFlow) and flow.request is not None \
                    and flow.response is not None:
                key = request_key(flow.request, matching)
                self.saved.setdefault(key, collections.deque()).append(flow)

    @classmethod
    def from_options(cls, options: Any) -> ServerPlayback:
        matching = Matching(
            headers=tuple(options.rheaders),
            ignore_content=options.replay_ignore_content,
            ignore_payload_params=frozenset(options.replay_ignore_payload_params),
            ignore_params=frozenset(options.replay_ignore_params),
            ignore_host=options.replay_ignore_host,
        )
        return cls(options.server_replay, matching, kill=options.kill,
                   refresh=options.refresh_server_playback, nopop=options.nopop)

    def configure(self, master: Any) -> None:
        self.master = master

    def next_flow(self, request: HTTPRequest) -> HTTPFlow | None:
        """The saved flow that answers ``request`` (used up unless ``nopop``), or None."""
        candidates = self.saved.get(request_key(request, self.matching))
        if not candidates:
            return None
        return candidates[0] if self.nopop else candidates.popleft()

    def request(self, flow: HTTPFlow) -> None:
        if flow.response is not None:
            return  # a script (or an app) already answered
        saved = self.next_flow(flow.request)
        if saved is None:
            if self.kill:
                if self.master is not None:
                    self.master.add_event(
                        f"server replay: no saved response for {flow.request.method} "
                        f"{flow.request.url}: killed", "info")
                flow.reply.kill()
            return
        response = saved.response.copy()
        response.is_replay = True
        if self.refresh:
            response.refresh()
        flow.response = response

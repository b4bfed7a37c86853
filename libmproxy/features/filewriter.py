"""``-w``/``-a``: every completed flow (matching mitmdump's filter, if one is given) goes to
a flow file, flushed at once, so a killed mitmdump loses at most the flow in progress.

The writer keeps no flows, only the ids of the last ``RECENT_IDS`` it wrote: an error can
follow a flow's response (the client went away before the body was sent), and that flow is
written once, at its response.
"""
from __future__ import annotations

import collections
from typing import Any, BinaryIO, Callable

from libmproxy.exceptions import FlowWriteException
from libmproxy.flow.io import FlowWriter
from libmproxy.flow.master import Feature

__all__ = ["FileWriter", "RECENT_IDS"]

# An error follows its response at once, so a short memory is enough; the bound keeps a
# long-running mitmdump's memory flat.
RECENT_IDS = 1024


class FileWriter(Feature):
    """Writes flows to ``path`` opened with ``mode`` ("wb" or "ab")."""

    observes = frozenset({"response", "error", "tcp_close"})

    def __init__(self, path: str, mode: str, filt: Callable[[Any], bool] | None = None) -> None:
        try:
            self.file: BinaryIO | None = open(path, mode)
        except OSError as e:
            raise FlowWriteException(f"{path}: cannot open flow file: {e.strerror}") from e
        self.path = path
        self.writer = FlowWriter(self.file)
        self.filt = filt
        self._written: collections.OrderedDict[str, None] = collections.OrderedDict()

    def write(self, flow: Any) -> None:
        if self.file is None or flow.id in self._written:
            return
        if self.filt is not None and not self.filt(flow):
            return
        self.writer.add(flow)
        self._written[flow.id] = None
        if len(self._written) > RECENT_IDS:
            self._written.popitem(last=False)

    def response(self, flow: Any) -> None:
        self.write(flow)

    def error(self, flow: Any) -> None:
        self.write(flow)

    def done(self) -> None:
        """Close the file. Every flow is already flushed; this only releases it."""
        if self.file is not None:
            self.file.close()
            self.file = None

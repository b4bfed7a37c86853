"""Serving a spec: write its bytes to a file-like object, applying its actions on the way.

``serve`` resolves the message, streams its values in blocks (a ``@1g`` body is never in
memory), and stops at each action's offset (bytes of the message before any injection; an
offset past the end acts at the end; equal offsets act in spec order):

- inject: the injected value is written there;
- pause: what was written is flushed, then the writer sleeps; ``f`` means forever. Set
  ``Settings.stop_event`` to cut a pause short: the serve then stops writing and returns
  with ``disconnect`` and ``interrupted`` true, which is how a server that shuts down gets
  its threads back from ``pr,f``;
- disconnect: what was written is flushed and the serve returns at once.

Disconnects are signalled, not raised: the returned dict has ``disconnect: True`` and the
caller closes the connection. A peer that went away while we wrote (TcpDisconnect,
ConnectionError) is reported the same way, with ``error`` saying what happened.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Sequence

from netlib.exceptions import TcpDisconnect

from libpathod.language import generators
from libpathod.language.grammar import PAUSE_FOREVER
from libpathod.language.actions import Action, DisconnectAt, InjectAt, PauseAt
from libpathod.language.message import Message
from libpathod.language.settings import Settings

__all__ = ["serve", "write_values", "WriteResult"]

# A pause forever without a stop event sleeps in slices this long (seconds), forever.
FOREVER_SLICE = 3600


@dataclasses.dataclass
class WriteResult:
    disconnect: bool = False
    interrupted: bool = False
    bytes_written: int = 0
    actions: list[dict] = dataclasses.field(default_factory=list)
    error: str | None = None


class _Out:
    """Gathers small writes into blocks: a status line and its headers leave as one write,
    not a dozen (the first packet carries the whole head; see DESIGN's hot-path rules)."""

    def __init__(self, fp, result: WriteResult, blocksize: int) -> None:
        self.fp = fp
        self.result = result
        self.blocksize = blocksize
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.parts.append(data)
        self.size += len(data)
        if self.size >= self.blocksize:
            self.send()

    def send(self) -> None:
        if self.parts:
            data = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
            self.parts, self.size = [], 0
            self.fp.write(data)
            self.result.bytes_written += len(data)

    def flush(self) -> None:
        self.send()
        self.fp.flush()


def _pause(seconds: float | str, stop_event: threading.Event | None) -> bool:
    """Sleep; True if ``stop_event`` cut the pause short."""
    forever = seconds == PAUSE_FOREVER
    if stop_event is not None:
        return stop_event.wait(None if forever else float(seconds))
    if not forever:
        time.sleep(float(seconds))
        return False
    while True:  # pragma: no cover - cannot end; give a stop_event to make it end
        time.sleep(FOREVER_SLICE)


def _act(action: Action, out: _Out, settings: Settings, result: WriteResult) -> bool:
    """Perform one action; True when writing must stop."""
    result.actions.append(action.log())
    if isinstance(action, InjectAt):
        for block in generators.iter_blocks(action.value.get_generator(settings)):
            out.write(block)
        return False
    out.flush()
    if isinstance(action, DisconnectAt):
        result.disconnect = True
        return True
    assert isinstance(action, PauseAt)
    if _pause(action.seconds, settings.stop_event):
        result.disconnect = result.interrupted = True
        return True
    return False


def write_values(fp, values: Iterable[generators.Source], actions: Sequence[Action],
                 settings: Settings, blocksize: int = generators.BLOCKSIZE) -> WriteResult:
    """Write ``values`` to ``fp`` with the resolved ``actions`` applied; see the module
    docstring. Offsets must be integers (resolve the message first)."""
    pending = sorted(actions, key=lambda a: a.offset)
    result = WriteResult()
    out = _Out(fp, result, blocksize)
    position = 0
    try:
        for source in values:
            end = position + len(source)
            done = position
            while pending and pending[0].offset < end:
                action = pending.pop(0)
                target = max(action.offset, done)
                for block in generators.iter_blocks(source, done - position, target - position, blocksize):
                    out.write(block)
                done = target
                if _act(action, out, settings, result):
                    return result
            for block in generators.iter_blocks(source, done - position, None, blocksize):
                out.write(block)
            position = end
        for action in pending:
            if _act(action, out, settings, result):
                return result
        out.flush()
    except (TcpDisconnect, ConnectionError) as e:
        result.disconnect = True
        result.error = str(e) or type(e).__name__
    return result


def serve(msg: Message, fp, settings: Settings) -> dict:
    """Resolve ``msg``, write it to ``fp`` (anything with write() and flush()), and return
    the log entry: the resolved spec and fields (``spec``, ``code``/``method``, ...),
    ``disconnect`` (the caller must close the connection), ``interrupted``, ``actions``
    (those performed, in order), ``bytes_written``, ``started`` and ``duration``, and
    ``error`` when the peer went away."""
    started = time.time()
    resolved = msg.resolve(settings)
    result = write_values(fp, resolved.values(settings), resolved.actions, settings)
    entry = resolved.log(settings)
    entry.update(
        disconnect=result.disconnect, interrupted=result.interrupted, actions=result.actions,
        bytes_written=result.bytes_written, started=started, duration=time.time() - started)
    if result.error:
        entry["error"] = result.error
    return entry

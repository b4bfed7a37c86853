"""The ``Script`` feature: one user script (``-s "path args"``) in the FlowMaster's chain.

A script is a Python file whose module-level functions are named after events. The feature
loads it into a module of its own and, for each event the script defines, sets a handler of
that name on *this instance*: the master asks the proxy only for events some feature has a
handler for, so a script that only defines ``response`` costs nothing on ``request``.

Rules of this file:

- Both signatures of the documentation work, chosen per function by the parameters it
  takes: ``response(flow)`` and ``response(context, flow)``; ``start()``, ``start(context)``
  and ``start(context, argv)``; ``done()`` and ``done(context)``. ``argv`` is ``sys.argv``
  during ``start``: ``[path, *args]`` (the 0.17 examples test ``len(argv) != 3``).
- At startup a script that cannot be used (missing file, syntax error, an exception while
  loading or in ``start``) is refused with one line naming the script and where it failed.
- Later, an exception in a handler is logged with the script's own traceback and the proxy
  goes on; the flow continues unchanged by the rest of that handler.
- A changed file is reloaded on the master thread: the new version is loaded first; only if
  that works is the old one's ``done`` called and the new one's ``start``. A version that
  does not load is reported and the old one stays.
- ``sys.argv`` and the script's directory at the front of ``sys.path`` are set only while
  the script's module-level code and ``start`` run (so ``import helper`` next to the script
  works), and are put back afterwards.
"""
from __future__ import annotations

import contextlib
import inspect
import itertools
import os
import sys
import traceback
import types
from typing import Any, Callable, Iterator

from libmproxy import ctx
from libmproxy.exceptions import ScriptException
from libmproxy.flow.master import EVENTS, Feature
from libmproxy.script._command import parse_command
from libmproxy.script._context import ScriptContext
from libmproxy.script._reloader import Reloader, file_stamp

__all__ = ["Script"]

# How many positional arguments each kind of function may be given, preferred first.
EVENT_ARITIES = (1, 2)  # (flow) or (context, flow)
START_ARITIES = (0, 1, 2)  # (), (context) or (context, argv)
DONE_ARITIES = (0, 1)  # () or (context)

# Each loaded script module gets a unique name in sys.modules (dataclasses and pickle look
# a class's module up there), never a name a real module could have.
_module_ids = itertools.count(1)


def _arity(fn: Callable, choices: tuple[int, ...]) -> int | None:
    """The first count in ``choices`` of positional arguments ``fn`` accepts, or None."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: trust the first form
        return choices[0]
    required = accepted = 0
    varargs = False
    for p in parameters:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            accepted += 1
            required += p.default is p.empty
        elif p.kind is p.VAR_POSITIONAL:
            varargs = True
        elif p.kind is p.KEYWORD_ONLY and p.default is p.empty:
            return None
    return next((n for n in choices if required <= n and (varargs or n <= accepted)), None)


def _line_in(path: str, tb: types.TracebackType | None) -> int | None:
    """The line of the innermost frame of ``tb`` that is in the script ``path``."""
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if os.path.abspath(frame.f_code.co_filename) == path:
            line = lineno
    return line


def _one_line(path: str, phase: str) -> ScriptException:
    """The exception being handled, said in one line naming the script, the line in it and
    what the script was doing (``phase``)."""
    etype, value, tb = sys.exc_info()
    name = etype.__name__ if etype is not None else "Exception"
    if isinstance(value, SyntaxError) and os.path.abspath(value.filename or "") == path:
        return ScriptException(f"script {path}, line {value.lineno}: {name}: {value.msg}")
    line = _line_in(path, tb)
    where = f", line {line}" if line is not None else ""
    message = f"{name}: {value}" if str(value) else name
    return ScriptException(f"script {path}{where}, in {phase}: {message}")


class Script(Feature):
    """One ``-s`` script. ``command`` is the whole ``-s`` argument (path and arguments).

    Raises ScriptException at once if the file does not exist; the script itself is loaded
    and started when it joins a master (``configure``), which raises ScriptException if it
    cannot be loaded or its ``start`` fails.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self.argv = parse_command(command)
        self.path = os.path.abspath(self.argv[0])
        self.master: Any = None
        self.module: types.ModuleType | None = None
        self.context: ScriptContext | None = None
        self._events: list[str] = []
        self._stamp: tuple[int, int] | None = None  # the file as last loaded
        self._reloader: Reloader | None = None
        self._done = False

    def __repr__(self) -> str:
        return f"<Script {self.command!r}>"

    # --- lifecycle (called by the master) ---------------------------------------------------

    def configure(self, master: Any) -> None:
        self.master = master
        ctx.enter(master)
        self._use(self._load())
        try:
            self._start()
        except ScriptException:
            self._forget()
            raise

    def running(self) -> None:
        """The master's loop runs (on this thread): from now on a changed file is
        reloaded."""
        ctx.enter(self.master)
        if self._reloader is None and not self._done:
            self._reloader = Reloader(self.path, self._stamp, self._reload_soon)
            self._reloader.start()

    def done(self) -> None:
        if self._done:
            return
        self._done = True
        if self._reloader is not None:
            self._reloader.stop()
        self._call_done()
        self._forget()

    # --- loading ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _environment(self) -> Iterator[None]:
        """``sys.argv`` and ``sys.path`` as the script expects them (module doc)."""
        saved_argv = sys.argv
        directory = os.path.dirname(self.path)
        sys.argv = list(self.argv)
        sys.path.insert(0, directory)
        try:
            yield
        finally:
            sys.argv = saved_argv
            with contextlib.suppress(ValueError):
                sys.path.remove(directory)

    def _load(self) -> types.ModuleType:
        """Read, compile and run the file into a fresh module; ScriptException if any of
        that fails."""
        self._stamp = file_stamp(self.path)
        try:
            with open(self.path, "rb") as f:
                source = f.read()
        except OSError as e:
            raise ScriptException(f"cannot read script {self.path}: {e.strerror}") from None
        stem = os.path.splitext(os.path.basename(self.path))[0]
        module = types.ModuleType(f"__mitmproxy_script_{next(_module_ids)}_{stem}__")
        module.__file__ = self.path
        try:
            code = compile(source, self.path, "exec")
        except (SyntaxError, ValueError):  # ValueError: null bytes in the source
            raise _one_line(self.path, "compiling") from None
        sys.modules[module.__name__] = module
        try:
            with self._environment():
                exec(code, module.__dict__)
        except Exception:
            del sys.modules[module.__name__]
            raise _one_line(self.path, "loading") from None
        for event in EVENTS:
            fn = getattr(module, event, None)
            if callable(fn) and _arity(fn, EVENT_ARITIES) is None:
                del sys.modules[module.__name__]
                raise ScriptException(
                    f"script {self.path}: {event}() must take (flow) or (context, flow)")
        return module

    def _use(self, module: types.ModuleType) -> None:
        """Make ``module`` the script: its handlers replace the previous version's."""
        self._forget()
        self.module = module
        self.context = ScriptContext(self.master)
        for event in self._events:
            delattr(self, event)
        self._events = [e for e in EVENTS if callable(getattr(module, e, None))]
        for event in self._events:
            setattr(self, event, self._handler(event, getattr(module, event)))

    def _forget(self) -> None:
        if self.module is not None:
            sys.modules.pop(self.module.__name__, None)

    def _handler(self, event: str, fn: Callable) -> Callable[[Any], None]:
        """The chain's handler for ``event``: calls ``fn`` with the signature it takes and
        reports its errors. Carries ``fn``'s @concurrent mark for the master."""
        with_context = _arity(fn, EVENT_ARITIES) == 2
        is_concurrent = bool(getattr(fn, "concurrent", False))
        context = self.context

        def handler(obj: Any) -> None:
            if not is_concurrent:  # a @concurrent one may run on a worker thread
                ctx.enter(self.master)
            try:
                if with_context:
                    fn(context, obj)
                else:
                    fn(obj)
            except Exception:
                self._report(event)

        handler.concurrent = is_concurrent  # type: ignore[attr-defined]
        handler.__name__ = event
        return handler

    def _report(self, phase: str) -> None:
        """Log the exception being handled with the script's part of its traceback."""
        error = ScriptException.from_exception_context(cut_tb=1)
        ctx.emit(self.master, f"Script error in {self.path} ({phase}):\n{error}", "error")

    def _start(self) -> None:
        """Call the module's ``start``; ScriptException (one line) if it fails."""
        start = getattr(self.module, "start", None)
        if not callable(start):
            return
        arity = _arity(start, START_ARITIES)
        if arity is None:
            raise ScriptException(
                f"script {self.path}: start() must take (), (context) or (context, argv)")
        try:
            with self._environment():
                start(*(self.context, sys.argv)[:arity])
        except Exception:
            raise _one_line(self.path, "start") from None

    def _call_done(self) -> None:
        """Call the module's ``done``; its errors are logged, never raised (shutdown and
        reloads go on)."""
        done = getattr(self.module, "done", None)
        if not callable(done):
            return
        ctx.enter(self.master)
        arity = _arity(done, DONE_ARITIES)
        try:
            if arity is None:
                raise ScriptException("done() must take () or (context)")
            done(*(self.context,)[:arity])
        except Exception:
            self._report("done")

    # --- reloading ---------------------------------------------------------------------------

    def _reload_soon(self) -> None:
        """From the reloader's thread: have the master thread reload us."""
        self.master.call_soon(self.reload)

    def reload(self) -> None:
        """Load the file again (on the master thread; see the module doc)."""
        if self._done:
            return
        ctx.enter(self.master)
        ctx.emit(self.master, f"Reloading script: {self.path}")
        try:
            module = self._load()
        except ScriptException as e:
            ctx.emit(self.master, f"{e} (the previous version stays)", "error")
            return
        self._call_done()
        self._use(module)
        self.master.update_policy()
        try:
            self._start()
        except ScriptException as e:
            ctx.emit(self.master, str(e), "error")

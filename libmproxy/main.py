"""The tools' entry points: the console scripts ``mitmdump`` and ``mitmproxy`` (the
console, which shares mitmdump's startup: config files, flags, proxy, signals).

Startup either succeeds or prints one line to stderr and exits non-zero: 2 for a bad
command line (argparse's convention), 1 for anything else that stops the start (the port
is taken, the flow file cannot be opened). ``-r FILE`` runs the file's flows through the
features and the output, then exits, as 0.18 did (``--keepserving``: then serves). SIGINT
and SIGTERM end the run cleanly: the
proxy stops, the flows already told to the master are printed and written, the flow file
is closed, and the exit status is 0.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, Sequence

from libmproxy import cmdline, config_files, dump
from libmproxy.controller import DummyServer
from libmproxy.exceptions import ServerException
from libmproxy.onboarding import Onboarding

__all__ = [
    "mitmdump", "mitmproxy", "EXIT_OK", "EXIT_STARTUP_ERROR", "EXIT_USAGE", "STOP_SIGNALS",
]

EXIT_OK = 0
EXIT_STARTUP_ERROR = 1
EXIT_USAGE = 2  # what argparse exits with

# The signals that end a run cleanly.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _fail(prog: str, message: str) -> int:
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.stderr.flush()
    return EXIT_STARTUP_ERROR


# The interpreter's thread switch interval while the proxy runs (Python's default: 0.005 s).
# Every thread waiting for the GIL asks the holder to drop it after one interval, so with
# N connection threads waiting, a forced switch comes every interval/N: at 500 busy
# connections and 5 ms that is every ~10 us, and the proxy spends its time handing the GIL
# around. Connection threads give it up on every socket call anyway (a request's worth of
# work is ~0.1-0.3 ms of CPU), so a longer interval costs no fairness there. Measured with
# wrk -c500 (same build, alternating runs): 0.005 s 2,661 and 2,753 req/s, 0.39-0.44 ms CPU
# per request, 16 and 292 timeouts; 0.05 s 3,186 and 3,434 req/s, 0.25-0.31 ms CPU per
# request, 10 and 0 timeouts. With 10 connections it makes no difference (5,437 vs 5,369).
SWITCH_INTERVAL = 0.05

# Where the onboarding app also answers (see make_apps).
HTTPS_PORT = 443


def make_apps(options: dict[str, Any], cadir: str) -> dict[tuple[str, int], Onboarding]:
    """The local apps to register with the proxy: the onboarding app unless ``--noapp``.
    Host names are keyed lowercase, as ProxyConfig.find_app looks them up.

    The app also answers on port 443: today's browsers upgrade a typed ``mitm.it`` to
    https, and the proxy intercepts that connection like any other.
    """
    if not options["app"]:
        return {}
    host = options["app_host"]
    app = Onboarding(cadir, app_host=host)
    return {(host.lower(), port): app for port in {options["app_port"], HTTPS_PORT}}


def _listening_line(server: Any) -> str:
    address = getattr(server, "address", None)
    if address is None:
        return "Proxy server listening"
    host = address.host if hasattr(address, "host") else address[0]
    port = address.port if hasattr(address, "port") else address[1]
    shown = host or "*"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"Proxy server listening at http://{shown}:{port}/"


class _SignalStopper:
    """Turns SIGINT/SIGTERM into ``master.shutdown()``.

    The handler runs on the main thread, which may be inside the master's queue at that
    moment; shutting down from there could deadlock on the queue's lock, so the handler
    only starts a thread that does it.

    The handler alone can miss a signal: one that lands while the main thread is on its
    way into the queue's lock (e.g. waiting to hand the GIL to a connection thread it just
    answered) only marks the handler as due, and the thread then sleeps on the lock with
    nothing to wake it. The interpreter also writes every signal's number to the wakeup
    fd at once, so a watcher thread reading it shuts the master down in that case.
    """

    def __init__(self, master: Any, tool: str = "mitmdump") -> None:
        self.master = master
        self.tool = tool
        self.thread: threading.Thread | None = None
        self._previous: dict[int, Any] = {}
        self._previous_wakeup_fd = -1
        self._pipe: tuple[int, int] | None = None
        self._watcher: threading.Thread | None = None

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        read_fd, write_fd = self._pipe = os.pipe()
        os.set_blocking(write_fd, False)  # the interpreter's rule for a wakeup fd
        self._previous_wakeup_fd = signal.set_wakeup_fd(write_fd)
        self._watcher = threading.Thread(target=self._watch, args=(read_fd,),
                                         name=f"{self.tool} signal watcher", daemon=True)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._watcher.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _watch(self, read_fd: int) -> None:
        """Until the pipe is closed: shut down when a stop signal's number comes in."""
        while data := os.read(read_fd, 64):
            if any(signum in STOP_SIGNALS for signum in data):
                self.master.shutdown()

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        if self._pipe is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            read_fd, write_fd = self._pipe
            os.close(write_fd)  # the watcher reads the end of the pipe and returns
            self._watcher.join()
            os.close(read_fd)
            self._pipe = None
        if self.thread is not None:
            self.thread.join()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self.master.shutdown,
                                           name=f"{self.tool} shutdown on signal",
                                           daemon=True)
            self.thread.start()


def _parse_args(tool: str, parser: Any, argv: Sequence[str] | None) -> Any:
    """``argv`` (default: the process's arguments) after the settings of the tool's config
    files, parsed. Bad flags and bad config files exit through argparse (status 2)."""
    try:
        argv = config_files.argv_with_config(
            tool, parser, sys.argv[1:] if argv is None else argv)
    except config_files.ConfigError as e:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {e}\n")
    return parser.parse_args(argv)


def _options_and_config(tool: str, parser: Any, get_options: Any,
                        argv: Sequence[str] | None) -> tuple[dict[str, Any], Any]:
    """The tool's options (``get_options`` of the parsed arguments) and its ProxyConfig,
    with the onboarding app served from the CA directory."""
    args = _parse_args(tool, parser, argv)
    options = get_options(args)
    cadir = cmdline.get_proxy_kwargs(args)["cadir"]
    return options, cmdline.process_proxy_options(parser, args,
                                                  apps=make_apps(options, cadir))


def _server(no_server: bool, config: Any) -> Any:
    """The proxy server (-n: one that serves nothing). ServerException if it cannot
    listen."""
    if no_server:
        return DummyServer(config)
    from libmproxy.proxy import ProxyServer
    return ProxyServer(config)


def _start_servers(master: Any) -> None:
    """Start the master's servers with the stop signals blocked: the server thread, and
    the connection threads it starts, inherit the signal mask, so the kernel can only
    deliver those signals to the main thread. A signal caught by another thread would
    only set a flag that the main thread, asleep in its loop, never wakes up to read."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        master.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def mitmdump(argv: Sequence[str] | None = None) -> int:
    """Run mitmdump with ``argv`` (default: the process's arguments) after the settings of
    its config files (libmproxy.config_files); return the exit status. Bad flags and bad
    config files exit through argparse (SystemExit 2)."""
    parser = cmdline.mitmdump()
    options, config = _options_and_config("mitmdump", parser, cmdline.get_common_options,
                                          argv)

    try:
        master = dump.DumpMaster(None, dump.Options.from_dict(options))
    except dump.DumpError as e:
        return _fail(parser.prog, str(e))
    try:
        try:
            server = _server(options["no_server"], config)
        except ServerException as e:
            return _fail(parser.prog, str(e))
        master.add_server(server)
        if options["rfile"]:
            try:
                master.read_flow_file(options["rfile"])
            except dump.DumpError as e:
                return _fail(parser.prog, str(e))
            if not options["keepserving"]:
                master.shutdown()  # closes the listening socket the run would have used
                return EXIT_OK
        if not options["no_server"] and master.options.verbosity > 0:
            master.echo(_listening_line(server))
        stopper = _SignalStopper(master)
        stopper.install()
        _start_servers(master)
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            master.run()
        finally:
            sys.setswitchinterval(switch_interval)
            stopper.uninstall()
    finally:
        master.close()
    return EXIT_OK


def mitmproxy(argv: Sequence[str] | None = None) -> int:
    """Run the console with ``argv`` (default: the process's arguments) after the
    settings of its config files; return the exit status. Every startup problem (a bad
    flag, filter, script or flow file, a taken port, no terminal) is one line on stderr
    before the screen opens."""
    parser = cmdline.mitmproxy()
    options, config = _options_and_config("mitmproxy", parser, cmdline.get_console_options,
                                          argv)

    from libmproxy.console.master import ConsoleError, ConsoleMaster, ConsoleOptions
    try:
        master = ConsoleMaster(None, ConsoleOptions.from_dict(options))
    except ConsoleError as e:
        return _fail(parser.prog, str(e))
    try:
        try:
            master.add_server(_server(options["no_server"], config))
        except ServerException as e:
            return _fail(parser.prog, str(e))
        if options["rfile"]:
            try:
                master.read_flows(options["rfile"])
            except ConsoleError as e:
                return _fail(parser.prog, str(e))
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            return _fail(parser.prog, "the console needs a terminal (use mitmdump otherwise)")
        stopper = _SignalStopper(master, "mitmproxy")
        stopper.install()
        try:
            _start_servers(master)
            master.run()
        finally:
            stopper.uninstall()
    finally:
        master.shutdown()
        master.done()
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover - exercised as a subprocess by the tests
    sys.exit(mitmdump())

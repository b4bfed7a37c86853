#!/usr/bin/env python
"""The mitmproxy console's speed targets (issue 8, "Speed"), measured.

1. Proxying while the console runs: the real ``mitmproxy`` in a detached tmux session
   (120x40, its own HOME, so no user config is read, and its own --cadir) against plain
   ``mitmdump -q``, otherwise the same flags; wrk, 10 keep-alive connections, absolute-form
   requests for nginx's /small; the two alternate, several rounds, best round each. The
   console keeps ``-q`` off (its event log runs, as a user has it). Target: the console
   keeps at least half of mitmdump's requests/s. The console keeps every flow in memory,
   so its RSS after the run is reported with the number of requests it served.
2. 50,000 flows loaded: synthetic flows written with ``FlowWriter`` to a temporary file,
   then read into the real ``ConsoleMaster`` (``read_flows``, what ``mitmproxy -r`` does)
   with the real ``Window`` on it, in this process. Each figure is one key handled
   (``keypress``) plus the drawing of the whole window that follows it
   (``window.render(size)``, 120x40), timed with ``time.perf_counter``: the work urwid
   and the console do for one keypress, precisely and without tmux's or the terminal's
   own latency (writing the changed cells to a terminal adds well under a millisecond
   for a screen this size). Keys: the first draw of the list, down, page down, G, g,
   enter (the flow view opens), q (back); target under 50 ms each (median and worst
   of several presses).
3. A 5 MB JSON response in the flow view, the same way in process: enter (the Request
   tab), tab (the Response tab: the body pretty-printed by the auto view, cut off after
   the flow view's VIEW_LINES lines; the first draw of the body, target under 1 s), then
   f (the whole body formatted) and G (its last line). Best and median of a few runs.

A developer tool, not a test: it prints a table and exits 0. nginx, wrk and tmux are
installed with apt-get when missing (as scripts/bench.py does).

Usage::

    python scripts/bench_console.py                  # about 2 minutes
    python scripts/bench_console.py --quick          # 3 s rounds, fewer presses
    python scripts/bench_console.py --only list,json # skip the proxying part
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared benchmark helpers: origin, proxy, wrk, RSS)

sys.path.insert(0, bench.ROOT)

TARGET_KEEP = 0.50  # the console keeps at least this share of mitmdump's req/s
TARGET_KEY_MS = 50.0  # each keypress of the flow list drawn within this
TARGET_JSON_FIRST_S = 1.0  # a 5 MB JSON body's first draw in the flow view within this

# The terminal the console is drawn in, as in the console's tmux tests.
COLS, ROWS = 120, 40

LIST_FLOWS = 50_000
JSON_BYTES = 5_000_000

# How long the console may take to start listening, or to end after SIGTERM.
CONSOLE_WAIT = 30.0

PARTS = ("proxy", "list", "json")


# --- 1. proxying with the console running ---------------------------------------------------

def console_argv(port: int, confdir: str) -> list[str]:
    """mitmdump's row's command line, for the console: the same flags but -q."""
    argv = bench.ours_argv(port, confdir)
    argv[argv.index("libmproxy.main")] = "libmproxy.console"
    argv.remove("-q")
    return argv


class TmuxConsole(bench.Proxy):
    """The real ``mitmproxy`` in a detached tmux session of its own tmux server (``-L``),
    so it never touches a user's tmux. ``pid`` is the console's own process: the session's
    shell writes its pid, then becomes the console."""

    def __init__(self, name: str, tmp: str) -> None:
        super().__init__(name, console_argv, tmp, "")
        self.home = os.path.join(tmp, f"home-{name}")
        os.makedirs(os.path.join(self.home, ".mitmproxy"), exist_ok=True)
        self.socket = f"mitmbench-{uuid.uuid4().hex[:12]}"
        self.pid_file = os.path.join(tmp, f"{name}.pid")
        self._pid = 0

    @property
    def pid(self) -> int:
        return self._pid

    def _tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=CONSOLE_WAIT)

    def start(self) -> None:
        self.port = bench.free_port()
        if os.path.exists(self.pid_file):
            os.remove(self.pid_file)
        run = ["sh", "-c", f'echo $$ >{shlex.quote(self.pid_file)}; exec "$@"', "sh",
               *self.argv(self.port, self.confdir)]
        command = f"{shlex.join(run)} 2>>{shlex.quote(self.log)}"
        self._tmux("new-session", "-d", "-x", str(COLS), "-y", str(ROWS), "-c", bench.ROOT,
                   "-e", f"HOME={self.home}", "-e", "LANG=C.UTF-8", "-e", "LC_ALL=C.UTF-8",
                   command)
        deadline = time.monotonic() + CONSOLE_WAIT
        while not os.path.exists(self.pid_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(self.pid_file) as f:
            self._pid = int(f.read().strip() or 0)
        try:
            bench.wait_for_port(self.port, None, CONSOLE_WAIT)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"the console did not start; see {self.log}") from None

    def alive(self) -> bool:
        try:
            os.kill(self._pid, 0)
        except OSError:
            return False
        return self._pid > 0

    def stop(self) -> None:
        if self.alive():
            os.kill(self._pid, signal.SIGTERM)
            deadline = time.monotonic() + CONSOLE_WAIT
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.alive():
                os.kill(self._pid, signal.SIGKILL)
        self._tmux("kill-server")


def measure_proxy(proxy: bench.Proxy, origin: bench.Origin, lua: str,
                  seconds: float) -> dict[str, Any]:
    proxy.start()
    try:
        if not bench.warm_up(proxy, origin):
            bench.log(f"{proxy.name}: the warm-up request failed (log: {proxy.log})")
        result = bench.run_wrk(f"http://{bench.HOST}:{proxy.port}/", lua, 10, seconds,
                               proxy.pid)
        result["rss_after"] = bench.rss(proxy.pid)
        return result
    finally:
        proxy.stop()


def bench_proxying(rounds: int, seconds: float) -> dict[str, Any]:
    bench.raise_fd_limit()
    tmp = tempfile.mkdtemp(prefix="mitmbench-console-")
    origin, lua = bench.start_small_origin(tmp)
    proxies = [bench.Proxy("mitmdump", bench.ours_argv, tmp, ""), TmuxConsole("console", tmp)]
    runs: dict[str, list[dict[str, Any]]] = {p.name: [] for p in proxies}
    try:
        for n in range(rounds):
            for proxy in proxies:
                bench.log(f"round {n + 1}: {proxy.name}, wrk 10 connections, {seconds:.0f} s")
                runs[proxy.name].append(measure_proxy(proxy, origin, lua, seconds))
    finally:
        origin.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return runs


# --- synthetic flows ------------------------------------------------------------------------

def make_flow(i: int, rnd: random.Random, body: bytes | None = None,
              content_type: str | None = None) -> Any:
    """An HTTP flow as the proxy records one: a request to one of a few hosts and its
    response, with timestamps."""
    from libmproxy.models import (
        ClientConnection, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection,
    )
    host = f"api{i % 7}.example.com"
    start = 1_700_000_000.0 + i * 0.01
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 40000 + i % 1000), timestamp_start=start),
                    ServerConnection((host, 443), timestamp_start=start))
    method = "POST" if i % 5 == 0 else "GET"
    flow.request = HTTPRequest(
        "absolute", method, "https", host, 443, f"/v1/items/{i}?page={i % 13}", "HTTP/1.1",
        [("Host", host), ("User-Agent", "bench/1.0"), ("Accept", "*/*")],
        b'{"query": "x"}' if method == "POST" else b"",
        timestamp_start=start, timestamp_end=start + 0.001)
    if body is None:
        body = bytes(rnd.choice(b"abcdefghij \n") for _ in range(rnd.randrange(50, 400)))
        content_type = rnd.choice(["text/html", "application/json", "image/png", "text/css"])
    flow.response = HTTPResponse(
        "HTTP/1.1", rnd.choice([200, 200, 200, 304, 404, 500]), "OK",
        [("Content-Type", content_type or "text/plain"),
         ("Content-Length", str(len(body)))],
        body, timestamp_start=start + 0.002, timestamp_end=start + 0.003)
    return flow


def write_flows(path: str, count: int) -> None:
    from libmproxy.flow.io import FlowWriter
    rnd = random.Random(8)
    with open(path, "wb") as f:
        writer = FlowWriter(f)
        for i in range(count):
            writer.add(make_flow(i, rnd), flush=False)


def json_body(size: int) -> bytes:
    """A JSON API response of about ``size`` bytes: an array of small records."""
    items, total, i = [], 2, 0
    while total < size:
        item = {"id": i, "name": f"item {i}", "active": i % 3 == 0, "score": i * 0.25,
                "tags": ["alpha", "beta"], "owner": {"login": f"user{i % 97}", "id": i % 97},
                "note": None}
        total += len(json.dumps(item)) + 2
        items.append(item)
        i += 1
    return json.dumps(items).encode()


# --- drawing in process ---------------------------------------------------------------------

class Screen:
    """The real ConsoleMaster (no proxy) and Window, drawn at COLS x ROWS."""

    def __init__(self) -> None:
        from libmproxy.console.master import ConsoleMaster, ConsoleOptions
        from libmproxy.console.window import Window
        from libmproxy.controller import DummyServer
        self.master = ConsoleMaster(DummyServer(), ConsoleOptions())
        self.window = Window(self.master)
        self.size = (COLS, ROWS)

    def draw(self) -> float:
        """Seconds to draw the window."""
        start = time.perf_counter()
        self.window.render(self.size, focus=True)
        return time.perf_counter() - start

    def press(self, key: str) -> float:
        """Seconds to handle ``key`` and draw the window after it."""
        start = time.perf_counter()
        self.window.keypress(self.size, key)
        self.window.render(self.size, focus=True)
        return time.perf_counter() - start

    def text(self) -> str:
        canvas = self.window.render(self.size, focus=True)
        return "\n".join(row.decode("utf-8", "replace") for row in canvas.text)

    def close(self) -> None:
        self.master.shutdown()
        self.master.done()


def bench_list(flows: int, presses: int) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="mitmbench-console-list-")
    path = os.path.join(tmp, "flows.mitm")
    bench.log(f"writing {flows:,} synthetic flows")
    write_flows(path, flows)
    screen = Screen()
    try:
        start = time.perf_counter()
        loaded = screen.master.read_flows(path)
        load_s = time.perf_counter() - start
        result: dict[str, Any] = {"flows": loaded, "load_s": load_s,
                                  "file_mib": os.path.getsize(path) / bench.MIB,
                                  "rss": bench.rss(os.getpid())}
        result["open"] = [screen.draw()]
        keys: dict[str, list[float]] = {k: [] for k in ("down", "page down", "G", "g",
                                                        "enter", "q")}
        for _ in range(presses):
            keys["down"].append(screen.press("down"))
        for _ in range(presses):
            keys["page down"].append(screen.press("page down"))
        for _ in range(max(3, presses // 4)):
            keys["G"].append(screen.press("G"))
            keys["g"].append(screen.press("g"))
            keys["enter"].append(screen.press("enter"))
            if "Flow details" not in screen.text():
                raise RuntimeError("enter did not open the flow view")
            keys["q"].append(screen.press("q"))
        # The first enter builds the first flow view (its code is imported with the list).
        first_enter = keys["enter"].pop(0)
        result["keys"] = {"enter, the first": [first_enter], **keys}
        return result
    finally:
        screen.close()
        shutil.rmtree(tmp, ignore_errors=True)


def bench_json(size: int, runs: int) -> dict[str, Any]:
    body = json_body(size)
    lines = len(json.dumps(json.loads(body), indent=2).splitlines())
    result: dict[str, Any] = {"bytes": len(body), "lines": lines,
                              "enter": [], "first": [], "f": [], "G": []}
    screen = Screen()
    try:
        flow = make_flow(0, random.Random(1), body, "application/json")
        screen.master.state.add_flow(flow)
        screen.draw()
        for _ in range(runs):
            gc.collect()
            result["enter"].append(screen.press("enter"))
            result["first"].append(screen.press("tab"))
            if '"name": "item 0"' not in screen.text():
                raise RuntimeError("the Response tab does not show the pretty JSON")
            result["f"].append(screen.press("f"))
            result["G"].append(screen.press("G"))
            if "cut off" in screen.text():
                raise RuntimeError("f did not show the whole body")
            screen.press("q")
        return result
    finally:
        screen.close()


# --- the table ------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "BELOW"


def print_proxy(runs: dict[str, list[dict[str, Any]]]) -> None:
    dump, console = runs["mitmdump"], runs["console"]
    best_dump = max(r["rps"] for r in dump)
    best_console = max(r["rps"] for r in console)
    keep = best_console / best_dump if best_dump else 0.0
    errors = sum(r["errors"] for r in dump + console)
    print("1. proxying while the console runs (wrk 10 keep-alive connections, nginx /small)")
    print("   mitmdump -q        req/s per round: "
          + " / ".join(f"{r['rps']:,.0f}" for r in dump))
    print("   mitmproxy in tmux  req/s per round: "
          + " / ".join(f"{r['rps']:,.0f}" for r in console))
    print(f"   console keeps {keep:.0%} of mitmdump's req/s (best rounds; target >= "
          f"{TARGET_KEEP:.0%}) {verdict(keep >= TARGET_KEEP)}; wrk errors: {errors}")
    print("   console RSS after each round (flows it holds = requests served): " + ", ".join(
        f"{r['rss_after'] / bench.MIB:,.0f} MiB ({r['requests']:,})" for r in console))


def print_keys(rows: list[tuple[str, list[float]]], target_ms: float) -> None:
    width = max(len(name) for name, _ in rows)
    for name, times in rows:
        median, worst = statistics.median(times), max(times)
        print(f"   {name:<{width}}  median {ms(median):>10}  worst {ms(worst):>10}  "
              f"(n={len(times)})  {verdict(worst * 1000 < target_ms)}")


def print_list(result: dict[str, Any]) -> None:
    print(f"2. {result['flows']:,} flows loaded (in process: keypress + window.render at "
          f"{COLS}x{ROWS}; target < {TARGET_KEY_MS:.0f} ms, worst press)")
    print(f"   reading the {result['file_mib']:.0f} MiB flow file (-r): "
          f"{result['load_s']:.1f} s; process RSS then {result['rss'] / bench.MIB:,.0f} MiB")
    print_keys([("open the list", result["open"])]
               + [(key, times) for key, times in result["keys"].items()], TARGET_KEY_MS)


def print_json(result: dict[str, Any]) -> None:
    print(f"3. a {result['bytes'] / 1e6:.1f} MB JSON response ({result['lines']:,} lines "
          f"pretty) in the flow view (in process, best / median of {len(result['f'])})")
    first = min(result["first"])
    rows = (("enter (Request tab)", result["enter"], ""),
            ("tab: first draw of the pretty body", result["first"],
             f"target < {TARGET_JSON_FIRST_S:.0f} s {verdict(first < TARGET_JSON_FIRST_S)}"),
            ("f: the whole body", result["f"], ""),
            ("G after f: its last line", result["G"], ""))
    for name, times, note in rows:
        print(f"   {name:<36} {ms(min(times)):>12} / {ms(statistics.median(times)):>12}"
              f"  {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 s rounds, fewer presses and runs")
    parser.add_argument("--rounds", type=int, default=3, help="proxying rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per proxying round (default 10, or 3 with --quick)")
    parser.add_argument("--flows", type=int, default=LIST_FLOWS)
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to run, of {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    presses = 10 if args.quick else 40
    json_runs = 2 if args.quick else 4
    tables: list[Callable[[], None]] = []
    if "list" in parts:
        listed = bench_list(args.flows, presses)
        tables.append(lambda: print_list(listed))
    if "json" in parts:
        bench.log(f"a {JSON_BYTES / 1e6:.0f} MB JSON response in the flow view")
        shown = bench_json(JSON_BYTES, json_runs)
        tables.append(lambda: print_json(shown))
    if "proxy" in parts:
        bench.ensure_apt(["wrk", "nginx", "curl", "tmux"])
        runs = bench_proxying(args.rounds, seconds)
        tables.insert(0, lambda: print_proxy(runs))
    print()
    print(f"mitmproxy console benchmark (load average {bench.loadavg()})")
    for table in tables:
        table()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""What recording and scripting cost mitmdump: the FlowMaster targets of the features issue.

- keep-alive small requests (wrk, 10 connections, absolute-form) through plain ``mitmdump
  -q`` and through ``mitmdump -q -w FILE -s trivial.py`` (a script with one ``response``
  handler that sets a header), alternating the two, several rounds, in one run: the
  second must keep at least 70% of the first's requests/s;
- memory while recording: ``-w`` through at least ``--flows`` (default 100,000) requests,
  RSS sampled all along: it must stay flat (mitmdump keeps no flows in memory); the flows
  in the file are counted afterwards.

The origin is nginx (installed with apt if missing, as scripts/bench.py does) on loopback.
A developer tool, not a test: it prints a table and exits 0.

Usage::

    python scripts/bench_flowmaster.py              # about 2 minutes
    python scripts/bench_flowmaster.py --quick      # 3 s per round, 20,000 flows
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared benchmark helpers: origin, proxy, wrk, RSS)

TARGET_KEEP = 0.70  # -w and one script keep at least this share of the plain req/s
TARGET_FLAT_MIB = 20.0  # RSS may grow by at most this much over the recording
TRIVIAL_SCRIPT = '''\
def response(flow):
    flow.response.headers["x-bench"] = "1"
'''


def ours_with(extra: list[str]) -> Any:
    def argv(port: int, confdir: str) -> list[str]:
        return bench.ours_argv(port, confdir) + extra
    return argv


def count_flows(path: str) -> int:
    sys.path.insert(0, bench.ROOT)
    from libmproxy.flow.io import FlowReader
    with open(path, "rb") as fo:
        return sum(1 for _ in FlowReader(fo).stream())


def measure_rps(proxy: bench.Proxy, origin: bench.Origin, lua: str, seconds: float) -> float:
    proxy.start()
    try:
        bench.warm_up(proxy, origin)
        return bench.run_wrk(f"http://{bench.HOST}:{proxy.port}/", lua, 10, seconds,
                             proxy.pid)["rps"]
    finally:
        proxy.stop()


def record(proxy: bench.Proxy, origin: bench.Origin, lua: str, flows: int) -> dict[str, Any]:
    """Drive ``proxy`` (recording with -w) until ``flows`` requests were answered; RSS
    after warm-up, then the peak and the last sample, and the requests sent."""
    proxy.start()
    try:
        bench.warm_up(proxy, origin)
        time.sleep(0.5)
        start_rss = bench.rss(proxy.pid)
        samples, sent = [], 0
        while sent < flows:
            res = bench.run_wrk(f"http://{bench.HOST}:{proxy.port}/", lua, 10, 5, proxy.pid)
            sent += res["requests"]
            samples.append((sent, res.get("peak_rss", 0), bench.rss(proxy.pid)))
            if res["requests"] == 0:
                break
        return {"start": start_rss, "samples": samples, "sent": sent}
    finally:
        proxy.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s rounds, 20,000 flows")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flows", type=int, default=None)
    args = parser.parse_args(argv)
    seconds = 3.0 if args.quick else 10.0
    flows = args.flows or (20_000 if args.quick else 100_000)
    bench.raise_fd_limit()
    bench.ensure_apt(["wrk", "nginx", "curl"])

    tmp = tempfile.mkdtemp(prefix="mitmbench-fm-")
    origin, lua = bench.start_small_origin(tmp)
    script = os.path.join(tmp, "trivial.py")
    with open(script, "w") as f:
        f.write(TRIVIAL_SCRIPT)
    flowfile = os.path.join(tmp, "flows.mitm")
    plain = bench.Proxy("plain", bench.ours_argv, tmp, "")
    loaded = bench.Proxy("w+s", ours_with(["-w", flowfile, "-s", script]), tmp, "")
    try:
        rates: dict[str, list[float]] = {"plain": [], "w+s": []}
        for n in range(args.rounds):
            for proxy in (plain, loaded):
                bench.log(f"round {n + 1}: {proxy.name}, wrk 10 connections, {seconds:.0f} s")
                rates[proxy.name].append(measure_rps(proxy, origin, lua, seconds))
        recorder = bench.Proxy("record", ours_with(["-w", flowfile]), tmp, "")
        bench.log(f"recording {flows:,} flows with -w")
        rec = record(recorder, origin, lua, flows)
        written = count_flows(flowfile)
    finally:
        origin.stop()

    best_plain, best_loaded = max(rates["plain"]), max(rates["w+s"])
    keep = best_loaded / best_plain if best_plain else 0.0
    peak = max(s[1] for s in rec["samples"]) if rec["samples"] else 0
    growth = (peak - rec["start"]) / bench.MIB
    print()
    print("mitmdump FlowMaster benchmark, wrk 10 keep-alive connections, /small via nginx")
    print("plain mitmdump -q            req/s per round: "
          + " / ".join(f"{r:,.0f}" for r in rates["plain"]))
    print("mitmdump -q -w F -s trivial  req/s per round: "
          + " / ".join(f"{r:,.0f}" for r in rates["w+s"]))
    print(f"kept: {keep:.0%} of the plain req/s (best rounds; target >= {TARGET_KEEP:.0%}) "
          f"{'PASS' if keep >= TARGET_KEEP else 'BELOW'}")
    print(f"recording: {rec['sent']:,} requests sent, {written:,} flows in the file; RSS "
          f"{rec['start'] / bench.MIB:.1f} MiB after warm-up, peak {peak / bench.MIB:.1f} MiB "
          f"(+{growth:.1f} MiB; target <= +{TARGET_FLAT_MIB:.0f}) "
          f"{'PASS' if growth <= TARGET_FLAT_MIB else 'BELOW'}")
    print("RSS along the way (requests sent: MiB): " + ", ".join(
        f"{sent:,}: {last / bench.MIB:.1f}" for sent, _, last in rec["samples"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark pathod as a load source: it must not be the bottleneck of a proxy benchmark.

Runs pathod in a subprocess (so the client here does not share its interpreter lock) and
measures, each against the issue's target:

- throughput: MB/s of one ``200:b@100m`` download, read into a reused buffer;
- small responses per second on one keep-alive connection (``200:b'ok'``, one request
  after another, each answered before the next is sent);
- memory: pathod's resident set before, at its peak (VmHWM) while serving ``@1g``, so a
  streamed body shows as flat memory.

Prints one line per figure with the target and PASS or BELOW; exits 1 if any is BELOW.
Takes well under a minute. Usage: ``python scripts/bench_pathod.py [--quick]``.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TARGET_MB_PER_S = 500
TARGET_RESPONSES_PER_S = 3000
# "Memory flat while serving @1g": the peak may exceed the idle size by buffers, not by body.
TARGET_RSS_GROWTH_MB = 64

BIG_SPEC = "200:b@100m"
HUGE_SPEC = "200:b@1g"
SMALL_SPEC = "200:b'ok'"
SMALL_REQUESTS = 5000
THROUGHPUT_RUNS = 3
RECV_BUFFER = 1024 * 1024
MB = 1024 * 1024

SERVER_CODE = """
import sys
from libpathod import pathod
server = pathod.Pathod(("127.0.0.1", 0), logfp=None)
print(server.address.port, flush=True)
server.serve_forever()
"""


def start_server() -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER_CODE], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, port


def proc_status(pid: int, field: str) -> int:
    """A size field of /proc/PID/status (VmRSS, VmHWM) in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request(path: str) -> bytes:
    return f"GET /p/{path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def download(port: int, spec: str) -> tuple[int, float]:
    """Fetch one response and throw its body away; (body bytes, seconds)."""
    sock = connect(port)
    buf = bytearray(RECV_BUFFER)
    view = memoryview(buf)
    start = time.perf_counter()
    sock.sendall(request(spec))
    head = b""
    while b"\r\n\r\n" not in head:
        n = sock.recv_into(view)
        assert n, "connection closed in the response head"
        head += bytes(view[:n])
    head, _, rest = head.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    remaining = length - len(rest)
    while remaining > 0:
        n = sock.recv_into(view, min(remaining, RECV_BUFFER))
        assert n, "connection closed in the body"
        remaining -= n
    elapsed = time.perf_counter() - start
    sock.close()
    return length, elapsed


def small_responses(port: int, count: int) -> float:
    """Requests per second on one keep-alive connection, one at a time."""
    sock = connect(port)
    req = request(SMALL_SPEC.replace("'", "%27"))
    # Learn the response's exact size once, then read exactly that much each time.
    sock.sendall(req)
    first = sock.recv(65536)
    size = len(first)
    buf = bytearray(size)
    view = memoryview(buf)
    start = time.perf_counter()
    for _ in range(count):
        sock.sendall(req)
        got = 0
        while got < size:
            n = sock.recv_into(view[got:])
            assert n, "connection closed"
            got += n
    elapsed = time.perf_counter() - start
    assert bytes(buf) == first, "responses differ in size; the benchmark reads the wrong amount"
    sock.close()
    return count / elapsed


def report(name: str, value: float, unit: str, target: float,
           higher_is_better: bool = True) -> bool:
    ok = value >= target if higher_is_better else value <= target
    relation = ">=" if higher_is_better else "<="
    print(f"{name:<38} {value:>10.1f} {unit:<12} target {relation} {target:<6} "
          f"{'PASS' if ok else 'BELOW'}", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, no @1g")
    args = parser.parse_args()
    proc, port = start_server()
    results = []
    try:
        runs = 1 if args.quick else THROUGHPUT_RUNS
        best = min(download(port, BIG_SPEC)[1] for _ in range(runs))
        results.append(report(f"throughput {BIG_SPEC}", 100 / best, "MB/s", TARGET_MB_PER_S))
        rate = small_responses(port, SMALL_REQUESTS // (5 if args.quick else 1))
        results.append(report("small responses, 1 keep-alive conn", rate, "resp/s",
                              TARGET_RESPONSES_PER_S))
        if not args.quick:
            before = proc_status(proc.pid, "VmRSS")
            length, elapsed = download(port, HUGE_SPEC)
            peak = proc_status(proc.pid, "VmHWM")
            print(f"{'pathod RSS before / peak serving @1g':<38} {before / MB:>10.1f} / "
                  f"{peak / MB:.1f} MB ({length / MB / elapsed:.0f} MB/s)")
            results.append(report("RSS growth while serving @1g", (peak - before) / MB, "MB",
                                  TARGET_RSS_GROWTH_MB, higher_is_better=False))
    finally:
        proc.terminate()
        proc.wait()
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

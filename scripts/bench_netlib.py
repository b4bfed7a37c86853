"""Benchmark of netlib's HTTP/1 hot path: parsing and assembling heads, reading bodies.

A developer tool, not a test: ``python scripts/bench_netlib.py``. Each figure is the best of
several repeats after a warm-up (the best run is the one least disturbed by other work on
the machine), printed beside its target with PASS or BELOW. Runs in well under 30 seconds.

Targets (DESIGN.md, hot-path rules), for one core:
- 40,000 browser request heads parsed per second: a proxy reads a request head and a
  response head per flow, so parsing must not be where a proxy's time goes.
- The same for response heads and for assembling either head, which a proxy does once
  per message it forwards.
- 1 GB/s for a 10 MB Content-Length body, from memory and over a loopback socket.
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from netlib.http.http1 import (  # noqa: E402
    assemble_request_head, assemble_response_head, read_body, read_request, read_request_head,
    read_response_head,
)
from netlib.tcp.buffered import Reader  # noqa: E402

REPEATS = 5
HEADS_PER_RUN = 20_000
BODY_SIZE = 10 * 1024 * 1024
HEAD_TARGET = 40_000  # per second
BODY_TARGET = 1.0  # GB/s

# What Chrome sends for a top-level navigation with a few cookies.
REQUEST_HEAD = (
    b"GET /search?q=intercepting+proxy&hl=en&source=hp HTTP/1.1\r\n"
    b"Host: www.example.com\r\n"
    b"Connection: keep-alive\r\n"
    b"Cache-Control: max-age=0\r\n"
    b'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"\r\n'
    b"sec-ch-ua-mobile: ?0\r\n"
    b'sec-ch-ua-platform: "Linux"\r\n'
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/124.0.0.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    b"image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"Sec-Fetch-User: ?1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"Referer: https://www.example.com/\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
    b"Cookie: SID=g.a000kAiKz7Xbq3V1sP0dYwHn8rT2mQ; HSID=AbCdEfGhIjKlMnOp; "
    b"SSID=Aq1Bw2Ce3Dr4; _ga=GA1.2.1234567890.1700000000; "
    b"NID=511=xYzXyZ0123456789abcdefABCDEF-_xYzXyZ0123456789abcdef; consent=YES+cb\r\n"
    b"\r\n"
)

# What a CDN-fronted web server answers to it.
RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Date: Tue, 14 May 2024 10:00:00 GMT\r\n"
    b"Content-Type: text/html; charset=UTF-8\r\n"
    b"Content-Length: 48213\r\n"
    b"Connection: keep-alive\r\n"
    b"Cache-Control: private, max-age=0\r\n"
    b"Expires: -1\r\n"
    b"Content-Encoding: br\r\n"
    b"Vary: Accept-Encoding\r\n"
    b"Server: nginx\r\n"
    b"Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
    b"X-Content-Type-Options: nosniff\r\n"
    b"X-Frame-Options: SAMEORIGIN\r\n"
    b"Set-Cookie: session=8f14e45fceea167a5a36dedd4bea2543; Path=/; HttpOnly; Secure; "
    b"SameSite=Lax\r\n"
    b"Set-Cookie: theme=dark; Path=/; Max-Age=31536000\r\n"
    b"\r\n"
)


def best_of(run: Callable[[], float]) -> float:
    """The shortest of REPEATS timed runs, after one untimed warm-up run."""
    run()
    return min(run() for _ in range(REPEATS))


def time_heads(read: Callable[[Reader], object], head: bytes) -> float:
    data = head * HEADS_PER_RUN

    def run() -> float:
        rfile = Reader.from_bytes(data)
        start = time.perf_counter()
        for _ in range(HEADS_PER_RUN):
            read(rfile)
        return time.perf_counter() - start

    return HEADS_PER_RUN / best_of(run)


def time_assemble(assemble: Callable[[object], bytes], message: object) -> float:
    def run() -> float:
        start = time.perf_counter()
        for _ in range(HEADS_PER_RUN):
            assemble(message)
        return time.perf_counter() - start

    return HEADS_PER_RUN / best_of(run)


def time_body_in_memory() -> float:
    body = b"x" * BODY_SIZE

    def run() -> float:
        rfile = Reader.from_bytes(body)
        start = time.perf_counter()
        received = sum(len(chunk) for chunk in read_body(rfile, BODY_SIZE))
        elapsed = time.perf_counter() - start
        assert received == BODY_SIZE
        return elapsed

    return BODY_SIZE / best_of(run) / 1e9


def time_body_socketpair() -> float:
    """The body through a real loopback socket, sent by a writer thread as a server would."""
    body = b"x" * BODY_SIZE

    def run() -> float:
        left, right = socket.socketpair()
        with left, right:
            left.settimeout(10)
            right.settimeout(10)
            writer = threading.Thread(target=right.sendall, args=(body,), name="bench-writer")
            rfile = Reader(left.recv)
            start = time.perf_counter()
            writer.start()
            received = sum(len(chunk) for chunk in read_body(rfile, BODY_SIZE))
            elapsed = time.perf_counter() - start
            writer.join()
        assert received == BODY_SIZE
        return elapsed

    return BODY_SIZE / best_of(run) / 1e9


def report(name: str, value: float, target: float, unit: str) -> None:
    verdict = "PASS" if value >= target else "BELOW"
    fmt = "{:>10.2f}" if unit == "GB/s" else "{:>10,.0f}"
    print(f"{name:<44} {fmt.format(value)} {unit:<10} target {fmt.format(target).strip()}"
          f"  {verdict}")


def main() -> None:
    started = time.perf_counter()
    request = read_request_head(Reader.from_bytes(REQUEST_HEAD))
    response = read_response_head(Reader.from_bytes(RESPONSE_HEAD))
    report("parse request head (read_request_head)", time_heads(read_request_head, REQUEST_HEAD),
           HEAD_TARGET, "heads/s")
    report("parse request, no body (read_request)", time_heads(read_request, REQUEST_HEAD),
           HEAD_TARGET, "requests/s")
    report("parse response head (read_response_head)",
           time_heads(read_response_head, RESPONSE_HEAD), HEAD_TARGET, "heads/s")
    report("assemble request head", time_assemble(assemble_request_head, request),
           HEAD_TARGET, "heads/s")
    report("assemble response head", time_assemble(assemble_response_head, response),
           HEAD_TARGET, "heads/s")
    report("10 MB Content-Length body, in memory", time_body_in_memory(), BODY_TARGET, "GB/s")
    report("10 MB Content-Length body, socketpair", time_body_socketpair(), BODY_TARGET, "GB/s")
    headers = len(request.headers.fields)
    print(f"({time.perf_counter() - started:.1f} s; request head {len(REQUEST_HEAD)} bytes with "
          f"{headers} headers; best of {REPEATS} runs after a warm-up)")


if __name__ == "__main__":
    main()

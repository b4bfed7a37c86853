"""Benchmark of filter matching: microseconds per match, per expression, per kind of flow.

A developer tool, not a test: ``python scripts/bench_filt.py``. Each figure is the best of
several repeats (the run least disturbed by other work on the machine), printed beside the
target with PASS or BELOW. Runs in a few seconds.

Target: a compiled filter matches a flow in under 20 microseconds for each of the spec's
examples. The console re-filters its whole flow list when the view filter changes and
mitmdump filters every flow it prints, so 10,000 flows should take well under a second.

The flows are what a browser and a web server exchange: a page load with Chrome's request
headers and a gzip-encoded HTML answer, and a form POST still waiting for its response.
Every other operator is measured too, for information: the body operators undo the
Content-Encoding on each match, so their cost grows with the body.
"""
from __future__ import annotations

import gzip
import os
import sys
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from libmproxy import filt  # noqa: E402
from libmproxy.models import (  # noqa: E402
    ClientConnection, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection,
)

REPEATS = 5
MATCHES_PER_RUN = 5_000
TARGET_US = 20.0

# The examples of the spec's "Filter expressions" chapter: these carry the target.
SPEC_EXAMPLES = (
    r"google\.com",
    "~q ~b test",
    '!(~q & ~t "text/html")',
)

# One use of every operator, for information.
OPERATORS = (
    "~a", "~b test", "~bq test", "~bs test", "~c 200", r"~d google\.com",
    "~dst 443", "~e", '~h "Accept-Language: en"', "~hq Cookie", "~hs Set-Cookie",
    "~http", "~m POST", "~q", "~s", r"~src 10\.0\.0", "~t html", "~tcp", "~tq form",
    "~ts html", "~u search",
)

REQUEST_HEADERS = [
    (b"Host", b"www.google.com"),
    (b"Connection", b"keep-alive"),
    (b"sec-ch-ua", b'"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"'),
    (b"sec-ch-ua-mobile", b"?0"),
    (b"sec-ch-ua-platform", b'"Linux"'),
    (b"Upgrade-Insecure-Requests", b"1"),
    (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                    b"Gecko) Chrome/124.0.0.0 Safari/537.36"),
    (b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                b"image/webp,*/*;q=0.8"),
    (b"Sec-Fetch-Site", b"same-origin"),
    (b"Sec-Fetch-Mode", b"navigate"),
    (b"Referer", b"https://www.google.com/"),
    (b"Accept-Encoding", b"gzip, deflate, br"),
    (b"Accept-Language", b"en-US,en;q=0.9,de;q=0.8"),
    (b"Cookie", b"SID=g.a000kAiKz7Xbq3V1sP0dYwHn8rT2mQ; HSID=AbCdEfGhIjKlMnOp; "
                b"_ga=GA1.2.1234567890.1700000000; consent=YES+cb"),
]

# A 20 kB page (about 5 kB gzip-encoded): smaller than most, larger than an API answer.
PAGE = (
    b"<!doctype html><html><head><title>mitmproxy - Google Search</title></head><body>"
    + b"".join(
        b'<div class="g"><a href="https://example.com/result/%d">Result %d</a>'
        b"<span>An intercepting proxy for HTTP and HTTPS, number %d.</span></div>\n"
        % (i, i, i) for i in range(150)
    )
    + b"</body></html>"
)[:20_000]

RESPONSE_HEADERS = [
    (b"Date", b"Tue, 14 May 2024 10:00:00 GMT"),
    (b"Content-Type", b"text/html; charset=UTF-8"),
    (b"Cache-Control", b"private, max-age=0"),
    (b"Content-Encoding", b"gzip"),
    (b"Vary", b"Accept-Encoding"),
    (b"Server", b"gws"),
    (b"Strict-Transport-Security", b"max-age=31536000"),
    (b"X-Frame-Options", b"SAMEORIGIN"),
    (b"Set-Cookie", b"session=8f14e45fceea167a5a36dedd4bea2543; Path=/; HttpOnly; Secure"),
]


def page_load() -> HTTPFlow:
    """A completed GET of a search result page."""
    flow = HTTPFlow(ClientConnection(("10.0.0.7", 51234)),
                    ServerConnection(("www.google.com", 443)))
    flow.request = HTTPRequest("relative", "GET", "https", "www.google.com", 443,
                               "/search?q=mitmproxy&hl=en", "HTTP/1.1", REQUEST_HEADERS, b"")
    body = gzip.compress(PAGE, mtime=0)
    flow.response = HTTPResponse(
        "HTTP/1.1", 200, "OK",
        RESPONSE_HEADERS + [(b"Content-Length", str(len(body)).encode())], body,
    )
    return flow


def form_post() -> HTTPFlow:
    """A login form POST whose response has not arrived."""
    flow = HTTPFlow(ClientConnection(("10.0.0.7", 51236)),
                    ServerConnection(("accounts.example.com", 443)))
    body = b"user=alice&password=correct+horse+battery+staple&remember=1&next=%2Fhome"
    headers = REQUEST_HEADERS[1:] + [
        (b"Host", b"accounts.example.com"),
        (b"Content-Type", b"application/x-www-form-urlencoded"),
        (b"Content-Length", str(len(body)).encode()),
    ]
    flow.request = HTTPRequest("relative", "POST", "https", "accounts.example.com", 443,
                               "/login", "HTTP/1.1", headers, body)
    return flow


def microseconds_per_match(expression: str, flow: HTTPFlow) -> float:
    f = filt.parse(expression)
    f(flow)  # warm-up
    best = min(timeit.repeat(lambda: f(flow), number=MATCHES_PER_RUN, repeat=REPEATS))
    return best / MATCHES_PER_RUN * 1e6


def report(expressions: tuple[str, ...], flows: dict[str, HTTPFlow], with_target: bool
           ) -> bool:
    ok = True
    for expression in expressions:
        for name, flow in flows.items():
            us = microseconds_per_match(expression, flow)
            result = filt.parse(expression)(flow)
            line = f"  {expression:28} {name:10} {us:8.2f} us  matches={result!s:5}"
            if with_target:
                verdict = "PASS" if us < TARGET_US else "BELOW"
                ok = ok and us < TARGET_US
                line += f"  target < {TARGET_US:.0f} us  {verdict}"
            print(line)
    return ok


def main() -> None:
    flows = {"page load": page_load(), "form POST": form_post()}
    print(f"filter matching, best of {REPEATS} x {MATCHES_PER_RUN} matches")
    print("spec examples:")
    ok = report(SPEC_EXAMPLES, flows, with_target=True)
    print("every operator (no target):")
    report(OPERATORS, flows, with_target=False)
    parse_us = min(timeit.repeat(
        lambda: filt._Parser('!(~q & ~t "text/html") | ~b test').parse(),
        number=2_000, repeat=REPEATS)) / 2_000 * 1e6
    print(f"parsing (uncached) '!(~q & ~t \"text/html\") | ~b test': {parse_us:.1f} us")
    print("spec examples:", "PASS" if ok else "BELOW")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark our mitmdump against a reference mitmdump (PyPI's ``mitmproxy`` 11.x), side by side.

One run starts an origin (nginx from apt, or a small Python origin when nginx cannot be had),
then each proxy in turn, never both at once, and puts them through the same tests:

- keep-alive HTTP/1.1 small responses (``/small``, 100 bytes) through the proxy with wrk,
  absolute-form requests, 10 and 500 concurrent connections: requests/s, errors, p99 latency;
- new HTTPS connections per second: CONNECT 127.0.0.1:<origin TLS port>, a fresh TLS handshake
  with a distinct SNI (``h<N>.bench.localhost``) verified against the proxy's CA, one GET, close;
- one 100 MB response (``/big``) through the proxy with curl: best MB/s of 3, and the proxy's
  peak RSS growth over idle during the download;
- idle RSS (after startup and one request) and loaded RSS (peak during the 500-client test);
- HTTP/2 on both sides (nginx origin only): h2load, which speaks to no HTTP proxy, against
  each proxy started a second time in reverse mode (``-R https://127.0.0.1:<nginx h2 port>``
  for ours, ``--mode reverse:...`` for the reference), over TLS with ALPN h2, /small with
  ``H2_CLIENTS`` connections of ``H2_STREAMS`` concurrent streams: requests/s and errors;
- transparent mode, where network namespaces are available: three namespaces (client,
  gateway, origin) joined by veth pairs, a second origin of the same kind in the origin
  namespace, each proxy started in transparent mode in the gateway (``-T`` for ours,
  ``--mode transparent`` for the reference) with ``iptables -t nat -A PREROUTING -p tcp
  --dport 80 -j REDIRECT --to-port <proxy port>`` there, and wrk (origin-form, plain HTTP,
  keep-alive, 10 connections) in the client against the origin's address: requests/s,
  errors, p99 latency. Without namespaces or iptables the row says
  "n/a (no network namespaces)". The namespaces have unique names and are deleted at the
  end, their interfaces and iptables rules with them.

The clients are also run straight against the origin, and those figures printed as the
ceiling: a proxy figure near its ceiling means the client or the machine is the limit.

Prints one table: metric | ours | reference | ratio | target | PASS/BELOW, with the load average.
It is a developer tool, not a test; it always exits 0 once the table is printed.

What it installs when missing (only after the command line is parsed, so ``--help`` installs
nothing): ``apt-get install -y nginx wrk nghttp2-client`` (h2load) and ``iptables`` when they are not
on PATH (needs root), and a venv
at ``~/.cache/mitmbench/venv`` (``$MITMBENCH_CACHE`` overrides the directory) with
``mitmproxy>=11,<12``, kept between runs. Everything listens on and talks to 127.0.0.1 only, but for the
transparent-mode test, which stays inside its own network namespaces (10.203.0.0/16).

Usage::

    python scripts/bench.py                 # full run, both proxies (about 3 minutes)
    python scripts/bench.py --quick         # 3 s per test
    python scripts/bench.py --only ours     # skip the reference (no venv needed)
    python scripts/bench.py --json out.json # also save the figures
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import multiprocessing
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"

CACHE_DIR = os.environ.get("MITMBENCH_CACHE",
                           os.path.join(os.path.expanduser("~"), ".cache", "mitmbench"))
VENV_DIR = os.path.join(CACHE_DIR, "venv")
REFERENCE_SPEC = "mitmproxy>=11,<12"
REFERENCE_MAJOR = 11

SMALL_BODY = b"x" * 99 + b"\n"  # 100 bytes
BIG_SIZE = 100 * 1024 * 1024
MB = 1_000_000  # speeds in MB/s (10^6 bytes), sizes of memory in MiB
MIB = 1024 * 1024
SNI_DOMAIN = "bench.localhost"
CRLF = b"\r\n"

# Targets (ours vs reference); the script only reports PASS/BELOW.
TARGET_KEEPALIVE_RATIO = 5.0
TARGET_HTTPS_RATIO = 3.0
TARGET_BIG_RATIO = 3.0
TARGET_IDLE_RSS_RATIO = 0.60
TARGET_H2_RATIO = 3.0
# "Memory not growing by the body size more than once": one buffered copy of the body is
# allowed, a second is not; the line is drawn half-way.
TARGET_BIG_GROWTH = 1.5 * BIG_SIZE

HTTPS_PROCESSES = 4
HTTPS_THREADS = 2
WRK_THREADS = 2
WRK_TIMEOUT = "5s"
BIG_RUNS = 3
H2_CLIENTS = 10
H2_STREAMS = 10
RSS_SAMPLE_INTERVAL = 0.05
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with status {proc.returncode} before "
                               f"listening on port {port}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def stop(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss(pid: int) -> int:
    """VmRSS of ``pid`` in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples a process's VmRSS in a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int, interval: float = RSS_SAMPLE_INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.pid))


# --- installing what is missing ------------------------------------------------------------

def which(name: str) -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin:/usr/local/sbin"
    return shutil.which(name, path=path)


# The Debian package of each tool whose package is named otherwise.
APT_PACKAGES = {"h2load": "nghttp2-client"}


def ensure_apt(tools: list[str]) -> None:
    missing = [APT_PACKAGES.get(t, t) for t in tools if which(t) is None]
    if not missing:
        return
    if os.geteuid() != 0 or which("apt-get") is None:
        log(f"missing {', '.join(missing)} and cannot apt-get them (not root or no apt-get)")
        return
    log(f"installing {' '.join(missing)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", *missing]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-q"],
                       env=env, stdout=subprocess.DEVNULL)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL)


def reference_version(mitmdump: str) -> str | None:
    try:
        out = subprocess.run([mitmdump, "--version"], capture_output=True, text=True,
                             timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"Mitmproxy:\s*(\S+)", out)
    return m.group(1) if m else None


def ensure_reference() -> tuple[str, str]:
    """The reference mitmdump (in the cached venv, installed if needed) and its version."""
    mitmdump = os.path.join(VENV_DIR, "bin", "mitmdump")
    version = reference_version(mitmdump) if os.path.exists(mitmdump) else None
    if version is None or not version.startswith(f"{REFERENCE_MAJOR}."):
        log(f"installing {REFERENCE_SPEC} into {VENV_DIR}")
        if not os.path.exists(os.path.join(VENV_DIR, "bin", "python")):
            os.makedirs(CACHE_DIR, exist_ok=True)
            subprocess.run([sys.executable, "-m", "venv", VENV_DIR], check=True)
        subprocess.run([os.path.join(VENV_DIR, "bin", "python"), "-m", "pip", "install", "-q",
                        REFERENCE_SPEC], check=True)
        version = reference_version(mitmdump)
        if version is None or not version.startswith(f"{REFERENCE_MAJOR}."):
            raise RuntimeError(f"the reference mitmdump in {VENV_DIR} reports version "
                               f"{version!r}, not {REFERENCE_MAJOR}.x")
    return mitmdump, version


# --- certificates ----------------------------------------------------------------------------

def make_certs(tmp: str) -> tuple[str, str, str]:
    """A bench CA and a server certificate for ``*.bench.localhost``, ``localhost`` and
    127.0.0.1; returns (ca cert path, server cert path, server key path)."""
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mitmbench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        f"*.{SNI_DOMAIN}")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(f"*.{SNI_DOMAIN}"), x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(tmp, n) for n in ("bench-ca.pem", "server.crt", "server.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    return paths[0], paths[1], paths[2]


# --- the origin ------------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen {host}:{port} backlog=4096;
        listen {host}:{tls_port} ssl backlog=4096;
        listen {host}:{h2_port} ssl http2 backlog=4096;
        server_name _;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_session_cache off;
        ssl_session_tickets off;
        root {www};
        location = /small {{ }}
        location = /big {{ }}
    }}
}}
"""


class Origin:
    """The origin: nginx with a generated config in ``tmp``, or the Python origin."""

    def __init__(self, tmp: str, cert: str, key: str, kind: str) -> None:
        self.tmp, self.cert, self.key = tmp, cert, key
        self.port, self.tls_port = free_port(), free_port()
        self.kind = kind
        # HTTP/2 (TLS, ALPN h2): nginx only; the Python origin speaks HTTP/1.1.
        self.h2_port: int | None = free_port() if kind == "nginx" else None
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if self.kind == "nginx":
            # nginx's workers drop root for an unprivileged user: they must be able to
            # reach the files (mkdtemp makes the directory 0700).
            os.chmod(self.tmp, 0o755)
            www = os.path.join(self.tmp, "www")
            os.makedirs(www, mode=0o755, exist_ok=True)
            with open(os.path.join(www, "small"), "wb") as f:
                f.write(SMALL_BODY)
            with open(os.path.join(www, "big"), "wb") as f:
                chunk = os.urandom(MIB)
                for _ in range(BIG_SIZE // MIB):
                    f.write(chunk)
            conf = os.path.join(self.tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=self.tmp, host=HOST, port=self.port,
                                          tls_port=self.tls_port, h2_port=self.h2_port,
                                          cert=self.cert, key=self.key, www=www))
            self.proc = subprocess.Popen(
                [which("nginx") or "nginx", "-p", self.tmp, "-c", conf, "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
        else:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--serve-origin",
                 f"{self.port},{self.tls_port},{self.cert},{self.key}"],
                stdin=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
        wait_for_port(self.port, self.proc)
        wait_for_port(self.tls_port, self.proc)
        if self.h2_port is not None:
            wait_for_port(self.h2_port, self.proc)

    def stop(self) -> None:
        stop(self.proc)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def small_url(self) -> str:
        return f"http://{HOST}:{self.port}/small"

    @property
    def big_url(self) -> str:
        return f"http://{HOST}:{self.port}/big"


def serve_origin(spec: str) -> None:
    """The Python origin (``--serve-origin PORT,TLSPORT,CERT,KEY[,HOST]``): keep-alive
    HTTP/1.1, ``/small`` and ``/big``, on a plain and a TLS port of HOST (127.0.0.1 unless
    given). Used when nginx is not available."""
    port, tls_port, cert, key, *rest = spec.split(",")
    host = rest[0] if rest else HOST
    big_chunk = b"\0" * MIB

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].split()
                path = line[1] if len(line) > 1 else b"/"
                if b"://" in path:
                    path = b"/" + path.split(b"/", 3)[-1]
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                close = re.search(rb"(?i)\r\nconnection:\s*close", head) is not None
                if path == b"/small":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(SMALL_BODY), SMALL_BODY))
                elif path == b"/big":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
                                 b"\r\nContent-Length: %d\r\n\r\n" % BIG_SIZE)
                    for _ in range(BIG_SIZE // MIB):
                        writer.write(big_chunk)
                        await writer.drain()
                else:
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        plain = await asyncio.start_server(handle, host, int(port), backlog=4096)
        tls = await asyncio.start_server(handle, host, int(tls_port), ssl=ctx, backlog=4096)
        async with plain, tls:
            await asyncio.gather(plain.serve_forever(), tls.serve_forever())

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    asyncio.run(main())


# --- the proxies -----------------------------------------------------------------------------

class Proxy:
    """One mitmdump under test, started on a free port with its own CA directory."""

    def __init__(self, name: str, argv: Callable[[int, str], list[str]], tmp: str,
                 version: str) -> None:
        self.name = name
        self.argv = argv
        self.version = version
        self.confdir = os.path.join(tmp, f"ca-{name}")
        os.makedirs(self.confdir, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = os.path.join(tmp, f"{name}.log")

    @property
    def ca_cert(self) -> str:
        return os.path.join(self.confdir, "mitmproxy-ca-cert.pem")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        self.port = free_port()  # a fresh one per round: the last may be in TIME_WAIT
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(self.argv(self.port, self.confdir), cwd=ROOT,
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         preexec_fn=raise_fd_limit)
        wait_for_port(self.port, self.proc)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.ca_cert) and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        stop(self.proc)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def ours_argv(port: int, confdir: str) -> list[str]:
    return [sys.executable, "-m", "libmproxy.main", "-q", "-b", HOST, "-p", str(port),
            "--cadir", confdir, "--insecure"]


def reference_argv(mitmdump: str) -> Callable[[int, str], list[str]]:
    def argv(port: int, confdir: str) -> list[str]:
        return [mitmdump, "-q", "-k", "--listen-host", HOST, "-p", str(port),
                "--set", f"confdir={confdir}"]
    return argv


# --- the clients -----------------------------------------------------------------------------

WRK_LUA = """\
-- absolute-form requests, as a client configured with an HTTP proxy sends them
wrk.method = "GET"
wrk.path = "{url}"
wrk.headers["Host"] = "{host}"
"""


def parse_duration_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, lua: str | None, connections: int, seconds: float,
            pid: int | None, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """wrk keep-alive against ``url``; ``prefix`` runs it otherwise (``ip netns exec NS``)."""
    threads = min(WRK_THREADS, connections)
    cmd = [*prefix, "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
           "--latency", "--timeout", WRK_TIMEOUT]
    if lua:
        cmd += ["-s", lua]
    cmd.append(url)
    sampler = RssSampler(pid, 0.1) if pid else None
    if sampler:
        sampler.__enter__()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             preexec_fn=raise_fd_limit).stdout
    finally:
        if sampler:
            sampler.__exit__()
    result: dict[str, Any] = {"rps": 0.0, "requests": 0, "errors": 0, "socket_errors": {},
                              "non_2xx": 0, "p50_ms": float("nan"), "p99_ms": float("nan"),
                              "avg_ms": float("nan"), "max_ms": float("nan")}
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if m:
        result["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    if m:
        result["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        result["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                           map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        result["non_2xx"] = int(m.group(1))
    m = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    if m:
        result["avg_ms"] = parse_duration_ms(m.group(1))
        result["max_ms"] = parse_duration_ms(m.group(3))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s*{pct}%\s+(\S+)", out, re.M)
        if m:
            result[key] = parse_duration_ms(m.group(1))
    result["errors"] = sum(result["socket_errors"].values()) + result["non_2xx"]
    if not re.search(r"Requests/sec", out):
        result["errors"] = max(result["errors"], 1)
        result["output"] = out[-2000:]
    if sampler:
        result["peak_rss"] = sampler.peak
    return result


def _https_worker(args: tuple) -> tuple[int, int, str]:
    """One client process: HTTPS_THREADS threads, each making new connections until the
    deadline; (completed, errors, first error)."""
    (index, proxy_port, target_port, ca_file, deadline) = args
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = True
    counts = [0, 0]
    first_error = [""]
    lock = threading.Lock()

    def one(name: str) -> None:
        with socket.create_connection((HOST, proxy_port or target_port), timeout=10) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy_port:
                raw.sendall(f"CONNECT {HOST}:{target_port} HTTP/1.1\r\n"
                            f"Host: {HOST}:{target_port}\r\n\r\n".encode())
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = raw.recv(4096)
                    if not chunk:
                        raise ConnectionError("proxy closed the connection after CONNECT")
                    head += chunk
                status = head.split(b"\r\n", 1)[0]
                if b" 200" not in status:
                    raise ConnectionError(f"CONNECT answered {status!r}")
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(f"GET /small HTTP/1.1\r\nHost: {name}\r\n"
                            f"Connection: close\r\n\r\n".encode())
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed before the response head")
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise ConnectionError(f"response {head.partition(CRLF)[0]!r}")
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                want = int(m.group(1)) if m else len(SMALL_BODY)
                while len(body) < want:
                    chunk = tls.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed before the end of the body")
                    body += chunk

    def loop(thread: int) -> None:
        n = 0
        while time.time() < deadline:
            n += 1
            name = f"h{index}x{thread}x{n}.{SNI_DOMAIN}"
            try:
                one(name)
                ok = True
            except Exception as e:  # noqa: BLE001 - every failure is counted and named
                ok = False
                err = f"{type(e).__name__}: {e}"
            with lock:
                if ok:
                    counts[0] += 1
                else:
                    counts[1] += 1
                    if not first_error[0]:
                        first_error[0] = err
                    time.sleep(0.01)

    threads = [threading.Thread(target=loop, args=(t,)) for t in range(HTTPS_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts[0], counts[1], first_error[0]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its live children (nginx and its workers)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            if int(entry) == pid or int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / CLOCK_TICKS, sum(values) / CLOCK_TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_https(proxy_port: int | None, target_port: int, ca_file: str, seconds: float,
              run_id: int, proxy_pid: int | None = None,
              origin_pid: int | None = None) -> dict[str, Any]:
    """New HTTPS connections per second through ``proxy_port`` (or straight to the origin
    when it is None), and where the CPU went: per connection, the milliseconds of CPU of
    the proxy, of the clients and of the origin, and how busy the whole machine was. On
    this shared 2-core machine the three compete: a proxy near 100% machine use is limited
    by the machine, not by itself."""
    start = time.time()
    deadline = start + seconds
    before = {"proxy": process_cpu(proxy_pid) if proxy_pid else 0.0,
              "origin": tree_cpu(origin_pid) if origin_pid else 0.0,
              "client": children_cpu()}
    busy0, total0 = machine_cpu()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(HTTPS_PROCESSES) as pool:
        results = pool.map(_https_worker, [
            (run_id * 100 + i, proxy_port or 0, target_port, ca_file, deadline)
            for i in range(HTTPS_PROCESSES)])
        after_proxy = process_cpu(proxy_pid) if proxy_pid else 0.0
        after_origin = tree_cpu(origin_pid) if origin_pid else 0.0
        busy1, total1 = machine_cpu()
    elapsed = max(time.time() - start, seconds)
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    first = next((r[2] for r in results if r[2]), "")
    per_conn = 1000.0 / max(done, 1)  # seconds of CPU -> ms per connection
    return {"cps": done / elapsed, "connections": done, "errors": errors,
            "first_error": first,
            "proxy_cpu_ms": (after_proxy - before["proxy"]) * per_conn if proxy_pid else None,
            "origin_cpu_ms": (after_origin - before["origin"]) * per_conn if origin_pid else None,
            "client_cpu_ms": (children_cpu() - before["client"]) * per_conn,
            "machine_busy": (busy1 - busy0) / max(total1 - total0, 1e-9)}


def run_big(proxy: Proxy | None, origin: Origin) -> dict[str, Any]:
    """Best MB/s of BIG_RUNS downloads of /big with curl (through ``proxy`` if given) and
    the proxy's peak RSS growth over its RSS just before each download."""
    speeds, growth, errors = [], 0, 0
    for _ in range(BIG_RUNS):
        cmd = ["curl", "-s", "-S", "-o", "/dev/null", "-w", "%{http_code} %{size_download} "
               "%{speed_download}", "--max-time", "300"]
        if proxy:
            cmd += ["-x", f"http://{HOST}:{proxy.port}"]
        else:
            cmd += ["--noproxy", "*"]
        cmd.append(origin.big_url)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        before = rss(proxy.pid) if proxy else 0
        sampler = RssSampler(proxy.pid) if proxy else None
        if sampler:
            sampler.__enter__()
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        finally:
            if sampler:
                sampler.__exit__()
        parts = out.stdout.split()
        if (out.returncode != 0 or len(parts) != 3 or parts[0] != "200"
                or int(parts[1]) != BIG_SIZE):
            errors += 1
            continue
        speeds.append(float(parts[2]) / MB)
        if sampler:
            growth = max(growth, sampler.peak - before)
    return {"mbps": max(speeds) if speeds else 0.0, "runs": speeds, "errors": errors,
            "rss_growth": growth}


def start_small_origin(tmp: str) -> tuple[Origin, str]:
    """The origin of the keep-alive tests (nginx if installed, else the Python one),
    started, and the wrk script sending absolute-form requests for its small page through
    a proxy: for the benchmarks that build on this one."""
    _, cert, key = make_certs(tmp)
    origin = Origin(tmp, cert, key, "nginx" if which("nginx") else "python")
    origin.start()
    lua = os.path.join(tmp, "proxy.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA.format(url=origin.small_url, host=f"{HOST}:{origin.port}"))
    return origin, lua


def warm_up(proxy: Proxy, origin: Origin) -> bool:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                          "30", "-x", f"http://{HOST}:{proxy.port}", origin.small_url],
                         capture_output=True, text=True, env=env)
    return out.stdout.strip() == "200"


# --- HTTP/2 ----------------------------------------------------------------------------------

def ours_reverse_argv(target: str) -> Callable[[int, str], list[str]]:
    def argv(port: int, confdir: str) -> list[str]:
        return ours_argv(port, confdir) + ["-R", target]
    return argv


def reference_reverse_argv(mitmdump: str, target: str) -> Callable[[int, str], list[str]]:
    def argv(port: int, confdir: str) -> list[str]:
        return reference_argv(mitmdump)(port, confdir) + ["--mode", f"reverse:{target}"]
    return argv


def run_h2load(port: int, seconds: float, pid: int | None = None) -> dict[str, Any]:
    """h2load against https://127.0.0.1:``port``/small: H2_CLIENTS connections of
    H2_STREAMS streams each, for ``seconds`` after a 1 s warm-up; requests/s, errors (every
    request that did not succeed, and a run that negotiated anything but h2), and the
    CPU ms per request of process ``pid``."""
    cmd = [which("h2load") or "h2load", "-D", str(max(1, round(seconds))), "--warm-up-time", "1",
           "-c", str(H2_CLIENTS), "-m", str(H2_STREAMS), "-t", "1",
           f"https://{HOST}:{port}/small"]
    cpu_before = process_cpu(pid) if pid else 0.0
    out = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=raise_fd_limit).stdout
    cpu = process_cpu(pid) - cpu_before if pid else None
    result: dict[str, Any] = {"rps": 0.0, "requests": 0, "errors": 1,
                              "protocol": None, "proxy_cpu_ms": None}
    m = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    if m:
        result["rps"] = float(m.group(1))
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", out)
    if m:
        result["requests"] = int(m.group(3))
        result["errors"] = int(m.group(2)) - int(m.group(3))
    m = re.search(r"Application protocol: (\S+)", out)
    result["protocol"] = m.group(1) if m else None
    if result["protocol"] != "h2":
        result["errors"] = max(result["errors"], 1)
        result["output"] = out[-2000:]
    if cpu is not None and result["requests"]:
        result["proxy_cpu_ms"] = cpu * 1000.0 / result["requests"]
    return result


def bench_http2(name: str, argv: Callable[[int, str], list[str]], version: str, tmp: str,
                seconds: float) -> dict[str, Any]:
    """One proxy's HTTP/2 figure: the proxy started on its own in reverse mode (``argv``
    names the origin), h2load through it, the proxy stopped."""
    proxy = Proxy(f"{name}-h2", argv, tmp, version)
    log(f"{name}: HTTP/2 reverse proxy, h2load {H2_CLIENTS}x{H2_STREAMS} streams, "
        f"{seconds:.0f} s (load {loadavg()})")
    proxy.start()
    try:
        res = run_h2load(proxy.port, seconds, proxy.pid)
        res["load"] = loadavg()
        if not proxy.alive():
            raise RuntimeError(f"{name} died during the HTTP/2 test")
    finally:
        proxy.stop()
    return res


# --- transparent mode (network namespaces) ---------------------------------------------------
#
#   client 10.203.1.2 ---veth--- 10.203.1.1 gateway 10.203.2.1 ---veth--- 10.203.2.2 origin
#
# wrk runs in the client namespace, whose default route is the gateway, against the origin's
# address; in the gateway, where the proxy runs, ``iptables -t nat -A PREROUTING -p tcp
# --dport <origin port> -j REDIRECT --to-port <proxy port>`` sends it into the proxy, which
# finds the original destination and connects to the origin (a second origin, of the same
# kind as the main one, in the origin namespace). All three namespaces have unique names
# and are deleted at the end; their interfaces and iptables rules go with them.

TP_CLIENT, TP_GATEWAY_CLIENT_SIDE, TP_GATEWAY_ORIGIN_SIDE, TP_ORIGIN = (
    "10.203.1.2", "10.203.1.1", "10.203.2.1", "10.203.2.2")
TP_ORIGIN_PORT = 80
TP_CONNECTIONS = 10
TP_UNAVAILABLE = "n/a (no network namespaces)"


def run_quiet(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a setup command; raise with its stderr if it fails and ``check`` is set."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result


def namespaces_unavailable() -> str | None:
    """Why this machine cannot run the transparent-mode test (no ``ip``, ``ip netns add``
    refused, no iptables even after trying apt-get), or None if it can."""
    if which("iptables") is None:
        ensure_apt(["iptables"])
    if which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if which("iptables") is None:
        return "iptables is not installed and could not be installed"
    probe = f"mitmbench-probe-{secrets.token_hex(3)}"
    result = run_quiet("ip", "netns", "add", probe, check=False)
    if result.returncode != 0:
        return result.stderr.strip() or f"ip netns add failed ({result.returncode})"
    run_quiet("ip", "netns", "del", probe, check=False)
    return None


class TransparentNetwork:
    """The client, gateway and origin namespaces, their veth links and routes, and the
    origin started in the origin namespace. ``close`` removes all of it."""

    def __init__(self, origin: Origin, tmp: str) -> None:
        token = secrets.token_hex(3)
        self.client, self.gateway, self.origin_ns = (f"mitmbench-{token}-{role}"
                                                     for role in ("client", "gw", "origin"))
        # Interface names: at most 15 characters.
        self.client_if, self.gateway_client_if = f"mbc{token}", f"mbgc{token}"
        self.origin_if, self.gateway_origin_if = f"mbo{token}", f"mbgo{token}"
        self.main_origin = origin
        self.tmp = os.path.join(tmp, "transparent")
        self.namespaces: list[str] = []
        self.origin_proc: subprocess.Popen | None = None

    def netns(self, name: str) -> tuple[str, ...]:
        """The prefix that runs a command in namespace ``name``."""
        return ("ip", "netns", "exec", name)

    @property
    def small_url(self) -> str:
        return f"http://{TP_ORIGIN}:{TP_ORIGIN_PORT}/small"

    def create(self) -> None:
        """The namespaces, links, addresses and routes; forwarding on in the gateway (so
        the client reaches the origin straight while no REDIRECT rule is in place)."""
        for name in (self.client, self.gateway, self.origin_ns):
            run_quiet("ip", "netns", "add", name)
            self.namespaces.append(name)
            run_quiet("ip", "-n", name, "link", "set", "lo", "up")
        for (ns_a, if_a), (ns_b, if_b) in (
                ((self.client, self.client_if), (self.gateway, self.gateway_client_if)),
                ((self.origin_ns, self.origin_if), (self.gateway, self.gateway_origin_if))):
            run_quiet("ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer",
                      "name", if_b, "netns", ns_b)
        for ns, interface, address in (
                (self.client, self.client_if, TP_CLIENT),
                (self.gateway, self.gateway_client_if, TP_GATEWAY_CLIENT_SIDE),
                (self.gateway, self.gateway_origin_if, TP_GATEWAY_ORIGIN_SIDE),
                (self.origin_ns, self.origin_if, TP_ORIGIN)):
            run_quiet("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", interface)
            run_quiet("ip", "-n", ns, "link", "set", interface, "up")
        run_quiet("ip", "-n", self.client, "route", "add", "default", "via",
                  TP_GATEWAY_CLIENT_SIDE)
        run_quiet("ip", "-n", self.origin_ns, "route", "add", "default", "via",
                  TP_GATEWAY_ORIGIN_SIDE)
        run_quiet(*self.netns(self.gateway), "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")

    def start_origin(self) -> None:
        """An origin of the main origin's kind on TP_ORIGIN:80 in the origin namespace,
        serving the same files (nginx) or the same built-in responses (Python)."""
        os.makedirs(self.tmp, mode=0o755, exist_ok=True)
        main = self.main_origin
        if main.kind == "nginx":
            conf = os.path.join(self.tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=self.tmp, host=TP_ORIGIN, port=TP_ORIGIN_PORT,
                                          tls_port=443, h2_port=8443, cert=main.cert,
                                          key=main.key, www=os.path.join(main.tmp, "www")))
            argv = [which("nginx") or "nginx", "-p", self.tmp, "-c", conf, "-g", "daemon off;"]
        else:
            argv = [sys.executable, os.path.abspath(__file__), "--serve-origin",
                    f"{TP_ORIGIN_PORT},443,{main.cert},{main.key},{TP_ORIGIN}"]
        self.origin_proc = subprocess.Popen([*self.netns(self.origin_ns), *argv],
                                            stdin=subprocess.DEVNULL,
                                            preexec_fn=raise_fd_limit)
        if not self.client_get_ok(deadline=30):
            raise RuntimeError(f"the origin in {self.origin_ns} does not answer the client")

    def client_get_ok(self, deadline: float, proc: subprocess.Popen | None = None) -> bool:
        """Poll GET /small from the client namespace until it answers 200 (True) or
        ``deadline`` seconds pass or ``proc`` exits (False)."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            for p in (self.origin_proc, proc):
                if p is not None and p.poll() is not None:
                    return False
            out = run_quiet(*self.netns(self.client), "curl", "-s", "-o", "/dev/null",
                            "-w", "%{http_code}", "--noproxy", "*", "--max-time", "5",
                            self.small_url, check=False)
            if out.stdout.strip() == "200":
                return True
            time.sleep(0.2)
        return False

    def redirect(self, to_port: int) -> tuple[str, ...]:
        """Add the REDIRECT rule in the gateway; returns the rule's spec (for ``unredirect``)."""
        rule = ("PREROUTING", "-i", self.gateway_client_if, "-p", "tcp", "--dport",
                str(TP_ORIGIN_PORT), "-j", "REDIRECT", "--to-port", str(to_port))
        run_quiet(*self.netns(self.gateway), "iptables", "-t", "nat", "-A", *rule)
        return rule

    def unredirect(self, rule: tuple[str, ...]) -> None:
        run_quiet(*self.netns(self.gateway), "iptables", "-t", "nat", "-D", *rule,
                  check=False)

    def close(self) -> None:
        stop(self.origin_proc)
        for name in self.namespaces:  # their interfaces and iptables rules go with them
            run_quiet("ip", "netns", "del", name, check=False)
        self.namespaces = []


def ours_transparent_argv(port: int, confdir: str) -> list[str]:
    """Ours in transparent mode, listening on all of the gateway's addresses (REDIRECT
    delivers to the incoming interface's address)."""
    return [sys.executable, "-m", "libmproxy.main", "-q", "-T", "-b", "0.0.0.0", "-p",
            str(port), "--cadir", confdir, "--insecure"]


def reference_transparent_argv(mitmdump: str) -> Callable[[int, str], list[str]]:
    def argv(port: int, confdir: str) -> list[str]:
        return [mitmdump, "-q", "-k", "--mode", "transparent", "--listen-host", "0.0.0.0",
                "-p", str(port), "--set", f"confdir={confdir}"]
    return argv


def bench_transparent(name: str, argv: Callable[[int, str], list[str]], version: str,
                      net: TransparentNetwork, tmp: str, seconds: float) -> dict[str, Any]:
    """One proxy's transparent-mode figure: the proxy started in the gateway namespace in
    transparent mode, the REDIRECT rule added, wrk (origin-form, plain HTTP, keep-alive,
    TP_CONNECTIONS connections) from the client namespace against the origin's address;
    then the rule removed and the proxy stopped."""
    confdir = os.path.join(tmp, f"ca-{name}-transparent")
    os.makedirs(confdir, exist_ok=True)
    logfile = os.path.join(tmp, f"{name}-transparent.log")
    port = 8080  # the gateway namespace is ours alone: no other listener there
    log(f"{name}: transparent mode, wrk {TP_CONNECTIONS} connections, {seconds:.0f} s "
        f"(load {loadavg()})")
    with open(logfile, "ab") as logf:
        proc = subprocess.Popen([*net.netns(net.gateway), *argv(port, confdir)], cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                preexec_fn=raise_fd_limit)
    rule: tuple[str, ...] | None = None
    try:
        rule = net.redirect(port)
        # The first request through the proxy doubles as the readiness check.
        if not net.client_get_ok(deadline=60, proc=proc):
            raise RuntimeError(f"no answer through {name} in transparent mode "
                               f"(log: {logfile})")
        time.sleep(1.0)
        res = run_wrk(net.small_url, None, TP_CONNECTIONS, seconds, proc.pid,
                      prefix=net.netns(net.client))
        res["load"] = loadavg()
        if proc.poll() is not None:
            raise RuntimeError(f"{name} died during the transparent-mode test")
    finally:
        if rule is not None:
            net.unredirect(rule)
        stop(proc)
    return res


def setup_transparent(origin: Origin, tmp: str) -> tuple[TransparentNetwork | None,
                                                          str | None]:
    """The transparent-mode network with its origin running, or (None, why not). A
    network that fails half-way is removed again."""
    reason = namespaces_unavailable()
    if reason:
        return None, reason
    net = TransparentNetwork(origin, tmp)
    try:
        net.create()
        net.start_origin()
        run_quiet(*net.netns(net.gateway), "iptables", "-t", "nat", "-L", "PREROUTING",
                  "-n")  # iptables usable in a namespace (nat table, kernel modules)
    except Exception as e:  # noqa: BLE001 - the rest of the benchmark runs regardless
        net.close()
        return None, f"{type(e).__name__}: {e}"
    return net, None


def transparent_ceiling(net: TransparentNetwork, seconds: float) -> dict[str, Any]:
    """The same wrk from the client namespace straight to the origin (forwarded by the
    gateway, no REDIRECT rule, no proxy)."""
    return run_wrk(net.small_url, None, TP_CONNECTIONS, seconds, None,
                   prefix=net.netns(net.client))


# --- one proxy's run -------------------------------------------------------------------------

def bench_proxy(proxy: Proxy, origin: Origin, lua: str, seconds: float,
                run_id: int) -> dict[str, Any]:
    log(f"{proxy.name}: starting ({proxy.version})")
    proxy.start()
    res: dict[str, Any] = {"version": proxy.version}
    try:
        if not warm_up(proxy, origin):
            log(f"{proxy.name}: the first request through the proxy failed")
        time.sleep(1.0)
        res["idle_rss"] = rss(proxy.pid)
        for conns in (10, 500):
            log(f"{proxy.name}: wrk keep-alive /small, {conns} connections, {seconds:.0f} s "
                f"(load {loadavg()})")
            res[f"wrk{conns}"] = run_wrk(f"http://{HOST}:{proxy.port}/", lua, conns, seconds,
                                         proxy.pid)
            res[f"wrk{conns}"]["load"] = loadavg()
            if not proxy.alive():
                raise RuntimeError(f"{proxy.name} died during the wrk test")
        res["loaded_rss"] = res["wrk500"].get("peak_rss", 0)
        time.sleep(1.0)
        log(f"{proxy.name}: new HTTPS connections, {seconds:.0f} s (load {loadavg()})")
        res["https"] = run_https(proxy.port, origin.tls_port, proxy.ca_cert, seconds, run_id,
                                 proxy_pid=proxy.pid, origin_pid=origin.pid)
        res["https"]["load"] = loadavg()
        log(f"{proxy.name}: 100 MB response x{BIG_RUNS} (load {loadavg()})")
        res["big"] = run_big(proxy, origin)
        res["big"]["load"] = loadavg()
        res["alive_at_end"] = proxy.alive()
    finally:
        proxy.stop()
    return res


def bench_ceiling(origin: Origin, ca: str, seconds: float) -> dict[str, Any]:
    """The same clients straight against the origin."""
    log(f"ceiling: clients straight to the origin (load {loadavg()})")
    res: dict[str, Any] = {}
    for conns in (10, 500):
        res[f"wrk{conns}"] = run_wrk(origin.small_url, None, conns, min(seconds, 5), None)
    res["https"] = run_https(None, origin.tls_port, ca, min(seconds, 5), 99,
                             origin_pid=origin.pid)
    res["big"] = run_big(None, origin)
    return res


def merge_rounds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One proxy's figures over the rounds: per test the round with the best rate (the
    machine is shared: other load only ever slows a round down), but errors summed over
    all rounds and memory figures the largest seen."""
    good = [r for r in runs if "error" not in r] or runs
    out: dict[str, Any] = {"version": runs[0].get("version")}
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        out["error"] = "; ".join(errors)
    for test, key in (("wrk10", "rps"), ("wrk500", "rps"), ("https", "cps"), ("big", "mbps"),
                      ("h2", "rps"), ("transparent", "rps")):
        cands = [r[test] for r in good if test in r]
        if not cands:
            continue
        best = dict(max(cands, key=lambda c: c[key]))
        best["errors"] = sum(c["errors"] for c in cands)
        best["per_round"] = [c[key] for c in cands]
        if test == "big":
            best["rss_growth"] = max(c["rss_growth"] for c in cands)
        out[test] = best
    for key in ("idle_rss", "loaded_rss"):
        values = [r[key] for r in good if key in r]
        if values:
            out[key] = max(values)
    return out


# --- the table -------------------------------------------------------------------------------

def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    else:
        text = f"{value:,}"
    return text + unit


def build_rows(results: dict[str, Any]) -> list[list[str]]:
    ours = results.get("ours")
    ref = results.get("reference")
    ceil = results.get("ceiling", {})

    def get(res: dict | None, *keys: str) -> Any:
        for key in keys:
            if res is None or key not in res:
                return None
            res = res[key]
        return res

    rows: list[list[str]] = []

    def row(metric: str, path: tuple, unit: str, target: str = "",
            check: Callable[[Any, Any], bool | None] | None = None, scale: float = 1.0,
            ratio: bool = True, ceiling: bool = True) -> None:
        a, b = get(ours, *path), get(ref, *path)
        if scale != 1.0:
            a = a / scale if a is not None else None
            b = b / scale if b is not None else None
        r = a / b if ratio and a is not None and b else None
        verdict = ""
        if check is not None and a is not None:
            ok = check(a, r)
            verdict = "" if ok is None else ("PASS" if ok else "BELOW")
        c = get(ceil, *path) if ceiling else None
        if c is not None and scale != 1.0:
            c = c / scale
        rows.append([metric, fmt(a, unit), fmt(b, unit),
                     f"{r:.2f}x" if r is not None else "-", target, verdict,
                     fmt(c, unit) if c is not None else ""])

    def ratio_at_least(k: float, errors: tuple | None = None):
        def check(a: Any, r: Any) -> bool | None:
            if errors is not None and (get(ours, *errors) or 0) > 0:
                return False
            return None if r is None else r >= k
        return check

    for conns in (10, 500):
        row(f"keep-alive /small req/s, {conns} conns", (f"wrk{conns}", "rps"), "",
            f">= {TARGET_KEEPALIVE_RATIO:g}x, 0 errors",
            ratio_at_least(TARGET_KEEPALIVE_RATIO, (f"wrk{conns}", "errors")))
        row(f"  errors (socket + non-2xx), {conns} conns", (f"wrk{conns}", "errors"), "",
            "0", lambda a, r: a == 0, ratio=False)
        row(f"  p99 latency, {conns} conns", (f"wrk{conns}", "p99_ms"), " ms", ratio=True)
    row("new HTTPS (CONNECT+TLS) conn/s", ("https", "cps"), "",
        f">= {TARGET_HTTPS_RATIO:g}x, 0 errors",
        ratio_at_least(TARGET_HTTPS_RATIO, ("https", "errors")))
    row("  errors", ("https", "errors"), "", "0", lambda a, r: a == 0, ratio=False)
    row("  proxy CPU per connection", ("https", "proxy_cpu_ms"), " ms", ceiling=False)
    row("  client CPU per connection", ("https", "client_cpu_ms"), " ms")
    row("  origin CPU per connection", ("https", "origin_cpu_ms"), " ms")
    row("  machine busy (2 cores = 100%)", ("https", "machine_busy"), "%", scale=0.01,
        ratio=False)
    row("100 MB response MB/s (best of 3)", ("big", "mbps"), "",
        f">= {TARGET_BIG_RATIO:g}x", ratio_at_least(TARGET_BIG_RATIO, ("big", "errors")))
    row("  RSS growth during 100 MB", ("big", "rss_growth"), " MiB",
        f"< {TARGET_BIG_GROWTH / MIB:.0f} MiB (1 body)",
        lambda a, r: a * MIB < TARGET_BIG_GROWTH, scale=MIB, ceiling=False)
    row(f"HTTP/2 req/s (h2load {H2_CLIENTS}x{H2_STREAMS}, reverse)", ("h2", "rps"), "",
        f">= {TARGET_H2_RATIO:g}x, 0 errors", ratio_at_least(TARGET_H2_RATIO, ("h2", "errors")))
    row("  errors", ("h2", "errors"), "", "0", lambda a, r: a == 0, ratio=False)
    row("  proxy CPU per request", ("h2", "proxy_cpu_ms"), " ms", ceiling=False)
    if results.get("transparent_unavailable"):
        rows.append([f"transparent mode req/s (-T, {TP_CONNECTIONS} conns)", TP_UNAVAILABLE,
                     TP_UNAVAILABLE, "-", "", "", ""])
    else:
        row(f"transparent mode req/s (-T, {TP_CONNECTIONS} conns)", ("transparent", "rps"),
            "")
        row("  errors", ("transparent", "errors"), "", "0", lambda a, r: a == 0, ratio=False)
        row("  p99 latency", ("transparent", "p99_ms"), " ms")
    row("idle RSS", ("idle_rss",), " MiB", f"<= {TARGET_IDLE_RSS_RATIO:.0%} of ref",
        lambda a, r: None if r is None else r <= TARGET_IDLE_RSS_RATIO, scale=MIB,
        ceiling=False)
    row("loaded RSS (peak, 500 conns)", ("loaded_rss",), " MiB", scale=MIB, ceiling=False)
    return rows


def print_table(results: dict[str, Any]) -> None:
    header = ["metric", "ours", "reference", "ratio", "target", "verdict", "ceiling*"]
    rows = build_rows(results)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    align = ["<", ">", ">", ">", "<", "<", ">"]

    def line(cells: list[str]) -> str:
        return " | ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths))

    meta = results["meta"]
    print()
    print(f"mitmdump benchmark, {meta['date']}; origin: {meta['origin']}; "
          f"{meta['seconds']:.0f} s per test; best of {meta['rounds']} round(s); "
          f"{meta['cpus']} CPUs")
    print(f"ours: {results.get('ours', {}).get('version', '-')}   reference: "
          f"{results.get('reference', {}).get('version', '-')}")
    print(line(header))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    if results.get("transparent_unavailable"):
        print(f"transparent mode: {results['transparent_unavailable']}")
    if results.get("ceiling"):
        print("* ceiling: the same client straight against the origin, no proxy.")
    print(f"load average (1/5/15 min): before {meta['load_before']}; after "
          f"{meta.get('load_after', '?')}")
    units = {"wrk10": "req/s", "wrk500": "req/s", "https": "conn/s", "big": "MB/s",
             "h2": "req/s", "transparent": "req/s"}
    keys = {"wrk10": "rps", "wrk500": "rps", "https": "cps", "big": "mbps", "h2": "rps",
            "transparent": "rps"}
    for name in ("ours", "reference"):
        runs = results.get("rounds", {}).get(name, [])
        parts = []
        for test in ("wrk10", "wrk500", "https", "big", "h2", "transparent"):
            figures = [f"{r[test][keys[test]]:,.0f} (load {r[test]['load'].split()[0]})"
                       for r in runs if isinstance(r.get(test), dict)]
            if figures:
                parts.append(f"{test} " + " / ".join(figures) + f" {units[test]}")
        if parts:
            print(f"{name} per round: " + "; ".join(parts))
    for name in ("ours", "reference"):
        res = results.get(name, {})
        err = res.get("https", {}).get("first_error")
        if err:
            print(f"{name}: first HTTPS error: {err}")
        for conns in (10, 500):
            w = res.get(f"wrk{conns}", {})
            if w.get("socket_errors") and any(w["socket_errors"].values()):
                print(f"{name}: wrk {conns} conns socket errors: {w['socket_errors']}")
            if w.get("output"):
                print(f"{name}: wrk {conns} conns output: {w['output']}")
        if res.get("h2", {}).get("output"):
            print(f"{name}: h2load output: {res['h2']['output']}")
        if res.get("transparent", {}).get("output"):
            print(f"{name}: transparent wrk output: {res['transparent']['output']}")
        if res.get("transparent_error"):
            print(f"{name}: transparent mode failed: {res['transparent_error']}")
        if res.get("error"):
            print(f"{name}: run failed: {res['error']}")


# --- main ------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark our mitmdump against PyPI's mitmproxy 11.x mitmdump, side by "
                    "side: keep-alive req/s (10 and 500 clients), new HTTPS MITM "
                    "connections/s, 100 MB response MB/s, HTTP/2 req/s, transparent-mode req/s "
                    "(network namespaces), idle and loaded RSS. Installs nginx, "
                    "wrk, iptables with apt-get and the reference into ~/.cache/mitmbench/venv if "
                    "missing.")
    parser.add_argument("--only", choices=("ours", "reference", "both"), default="both",
                        help="which proxy to measure (default: both)")
    parser.add_argument("--quick", action="store_true",
                        help="3 s per test instead of 10 s, for development")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds, each proxy once per round, interleaved; rates are the "
                             "best round's, errors summed, memory the largest (default: 2, "
                             "or 1 with --quick)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per timed test (default: 10, or 3 with --quick)")
    parser.add_argument("--origin", choices=("auto", "nginx", "python"), default="auto",
                        help="origin server: nginx (installed if missing), the built-in "
                             "Python origin, or auto: nginx if it can be had (default)")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="skip measuring the clients straight against the origin")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--keep-tmp", action="store_true",
                        help="keep the temporary directory (configs, logs, CA dirs)")
    parser.add_argument("--serve-origin", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_origin:
        serve_origin(args.serve_origin)
        return 0
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.rounds = max(1, args.rounds or (1 if args.quick else 2))
    raise_fd_limit()

    tools = ["wrk", "curl"] + (["nginx", "h2load"] if args.origin != "python" else [])
    ensure_apt(tools)
    for tool in ("wrk", "curl"):
        if which(tool) is None:
            print(f"bench.py: {tool} is required and could not be installed", file=sys.stderr)
            return 1
    origin_kind = "nginx" if args.origin != "python" and which("nginx") else "python"
    if args.origin == "nginx" and origin_kind != "nginx":
        print("bench.py: nginx is not available", file=sys.stderr)
        return 1

    ref_mitmdump = ref_version = None
    if args.only in ("reference", "both"):
        ref_mitmdump, ref_version = ensure_reference()

    sys.path.insert(0, ROOT)
    try:
        from libmproxy.version import VERSION as ours_version
    except ImportError:
        ours_version = "?"

    results: dict[str, Any] = {"meta": {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": seconds,
        "cpus": os.cpu_count(), "load_before": loadavg(), "origin": origin_kind,
        "rounds": args.rounds,
    }}
    tmp = tempfile.mkdtemp(prefix="mitmbench-")
    origin: Origin | None = None
    tp_net: TransparentNetwork | None = None
    try:
        _, cert, key = make_certs(tmp)
        ca = os.path.join(tmp, "bench-ca.pem")
        origin = Origin(tmp, cert, key, origin_kind)
        log(f"origin: {origin_kind} on {HOST}:{origin.port} (TLS {origin.tls_port})")
        origin.start()
        results["meta"]["origin"] = (f"{origin_kind} "
                                     f"{HOST}:{origin.port}/{origin.tls_port}")
        lua = os.path.join(tmp, "abs.lua")
        with open(lua, "w") as f:
            f.write(WRK_LUA.format(url=origin.small_url, host=f"{HOST}:{origin.port}"))

        h2_target = f"https://{HOST}:{origin.h2_port}" if origin.h2_port else None
        if h2_target and which("h2load") is None:
            log("h2load is missing: no HTTP/2 row")
            h2_target = None
        if not args.no_ceiling:
            results["ceiling"] = bench_ceiling(origin, ca, seconds)
            if h2_target:
                results["ceiling"]["h2"] = run_h2load(origin.h2_port, min(seconds, 5))

        tp_net, reason = setup_transparent(origin, tmp)
        if reason:
            log(f"transparent mode: {TP_UNAVAILABLE}: {reason}")
            results["transparent_unavailable"] = reason
        elif not args.no_ceiling:
            results.setdefault("ceiling", {})["transparent"] = transparent_ceiling(
                tp_net, min(seconds, 5))
        tp_argvs: dict[str, Callable[[int, str], list[str]]] = {}
        if tp_net is not None:
            tp_argvs["ours"] = ours_transparent_argv
            if ref_mitmdump:
                tp_argvs["reference"] = reference_transparent_argv(ref_mitmdump)

        proxies = []
        h2_argvs: dict[str, Callable[[int, str], list[str]]] = {}
        if h2_target:
            h2_argvs["ours"] = ours_reverse_argv(h2_target)
            if ref_mitmdump:
                h2_argvs["reference"] = reference_reverse_argv(ref_mitmdump, h2_target)
        if args.only in ("ours", "both"):
            proxies.append(("ours", Proxy("ours", ours_argv, tmp, f"mitmproxy-suite "
                                                                  f"{ours_version}")))
        if ref_mitmdump:
            proxies.append(("reference", Proxy("reference", reference_argv(ref_mitmdump),
                                               tmp, f"mitmproxy {ref_version}")))
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in proxies}
        for round_no in range(args.rounds):
            if args.rounds > 1:
                log(f"round {round_no + 1} of {args.rounds}")
            for index, (name, proxy) in enumerate(proxies):
                run_id = (round_no + 1) * 10 + index
                try:
                    rounds[name].append(bench_proxy(proxy, origin, lua, seconds, run_id))
                except Exception as e:  # noqa: BLE001 - report and carry on
                    log(f"{name}: {type(e).__name__}: {e} (log: {proxy.log})")
                    rounds[name].append({"version": proxy.version, "error": str(e)})
                time.sleep(2.0)
                if name in h2_argvs and "error" not in rounds[name][-1]:
                    try:
                        rounds[name][-1]["h2"] = bench_http2(name, h2_argvs[name],
                                                             proxy.version, tmp, seconds)
                    except Exception as e:  # noqa: BLE001 - report and carry on
                        log(f"{name}: HTTP/2: {type(e).__name__}: {e}")
                    time.sleep(2.0)
                if name in tp_argvs and "error" not in rounds[name][-1]:
                    try:
                        rounds[name][-1]["transparent"] = bench_transparent(
                            name, tp_argvs[name], proxy.version, tp_net, tmp, seconds)
                    except Exception as e:  # noqa: BLE001 - report and carry on
                        log(f"{name}: transparent mode: {type(e).__name__}: {e}")
                        rounds[name][-1]["transparent_error"] = str(e)
                    time.sleep(2.0)
        for name, runs in rounds.items():
            results[name] = merge_rounds(runs)
            tp_errors = [r["transparent_error"] for r in runs if "transparent_error" in r]
            if tp_errors:
                results[name]["transparent_error"] = "; ".join(tp_errors)
        results["rounds"] = rounds
    finally:
        if tp_net is not None:
            tp_net.close()
        if origin:
            origin.stop()
        results["meta"]["load_after"] = loadavg()
        if args.keep_tmp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

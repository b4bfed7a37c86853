"""Transparent mode (``-T``), for real: network namespaces, a veth pair, iptables REDIRECT.

The machine of the spec's "custom gateway" setup, built from three network namespaces:

    client 10.201.1.2 ---veth--- 10.201.1.1 gateway 10.201.2.1 ---veth--- 10.201.2.2 origin
           fd00:201:1::2         fd00:201:1::1    fd00:201:2::1            fd00:201:2::2

The client's default route is the gateway, which forwards and, for ports 80 and 443
arriving from the client, has the iptables (and ip6tables) REDIRECT rule of the spec
pointing at mitmdump's port. mitmdump runs in the gateway (``ip netns exec``), curl in the
client, the origin (HTTP on 80, HTTPS on 443, IPv4 and IPv6) in the origin namespace:
what arrives at the origin and what mitmdump prints is what a user of ``-T`` would see.

Everything is made per test module under unique names and removed afterwards (the
iptables rules live in the namespaces and go with them), so parallel runs do not meet.
Only a machine that cannot create network namespaces skips these tests, saying so; iptables
is installed if missing (.ci/run installs it too). The pf parser (OSX) has no pf here; it
is tested on pfctl outputs written below in pfctl's layouts.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pytest

from libmproxy import cmdline, platform
from libmproxy.platform import TransparentModeError, linux, osx
from libmproxy.protocol import Http1Layer, Layer, TlsLayer
from libmproxy.proxy import ProxyConfig
from libmproxy.proxy.next_layer import LayerKind, build, decide

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

WAIT = 10.0
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CLIENT4, GATEWAY4_CLIENT_SIDE, GATEWAY4_ORIGIN_SIDE, ORIGIN4 = (
    "10.201.1.2", "10.201.1.1", "10.201.2.1", "10.201.2.2")
CLIENT6, GATEWAY6_CLIENT_SIDE, GATEWAY6_ORIGIN_SIDE, ORIGIN6 = (
    "fd00:201:1::2", "fd00:201:1::1", "fd00:201:2::1", "fd00:201:2::2")
CLIENT_NET4, CLIENT_NET6 = "10.201.1.0/24", "fd00:201:1::/64"
ORIGIN_NAME = "origin.test"  # in the origin certificate made by the pki fixture


# === without namespaces =========================================================================

# --- the pf state table (OSX, BSD) --------------------------------------------------------

# ``pfctl -s state`` on OSX: where pf sent the connection, the original destination, the
# client. Closing states of an earlier connection from the same client port must not count.
PF_OSX = """\
No ALTQ support in kernel
ALTQ related functions disabled
ALL tcp 192.168.1.13:57474 -> 23.205.82.58:443       ESTABLISHED:ESTABLISHED
ALL tcp 127.0.0.1:8080 <- 5.5.5.6:80 <- 192.168.1.111:40001       FIN_WAIT_2:FIN_WAIT_2
ALL tcp 127.0.0.1:8080 <- 5.5.5.5:80 <- 192.168.1.111:40000       ESTABLISHED:ESTABLISHED
ALL tcp 127.0.0.1:8080 <- 5.5.5.7:443 <- 192.168.1.11:40000       ESTABLISHED:ESTABLISHED
ALL udp 127.0.0.1:53 <- 5.5.5.8:53 <- 192.168.1.111:40002       MULTIPLE:MULTIPLE
ALL tcp ::1[8080] <- 2001:db8::5[443] <- 2001:db8::111[40003]       ESTABLISHED:ESTABLISHED
ALL tcp 192.168.1.13:8080 <- 192.168.1.111:40004       ESTABLISHED:ESTABLISHED
"""

# ``pfctl -v -s state`` on FreeBSD/OpenBSD: the original destination in parentheses, a
# detail line under each state, IPv6 addresses not in their shortest form.
PF_BSD = """\
all tcp 127.0.0.1:8080 (10.0.0.5:80) <- 192.168.1.111:40001       ESTABLISHED:ESTABLISHED
   [3165868840 + 44372] wscale 10  [2555950065 + 65536] wscale 7
   age 00:00:01, expires in 23:59:59, 6:5 pkts, 700:900 bytes, rule 3
all tcp 0:0:0:0:0:0:0:1[8080] (2001:db8:0:0:0:0:0:5[8443]) <- 2001:db8:0:0:0:0:0:111[40002]       ESTABLISHED:ESTABLISHED
all tcp 10.0.0.2:1234 (192.168.1.5:5555) -> 1.2.3.4:80       ESTABLISHED:ESTABLISHED
"""


@pytest.mark.parametrize("states, client, original", [
    (PF_OSX, ("192.168.1.111", 40000), ("5.5.5.5", 80)),
    (PF_OSX, ("192.168.1.11", 40000), ("5.5.5.7", 443)),
    (PF_OSX, ("::ffff:192.168.1.111", 40000), ("5.5.5.5", 80)),  # seen by an IPv6 socket
    (PF_OSX, ("2001:db8::111", 40003), ("2001:db8::5", 443)),
    (PF_BSD, ("192.168.1.111", 40001), ("10.0.0.5", 80)),
    (PF_BSD, ("2001:db8::111", 40002), ("2001:db8::5", 8443)),
])
def test_pf_state_lookup(states, client, original):
    assert osx.lookup(*client, states) == original


@pytest.mark.parametrize("states, client", [
    (PF_OSX, ("192.168.1.111", 40001)),  # only a closing state
    (PF_OSX, ("192.168.1.111", 40002)),  # udp
    (PF_OSX, ("192.168.1.111", 40004)),  # not redirected
    (PF_OSX, ("192.168.1.112", 40000)),  # unknown client
    (PF_BSD, ("1.2.3.4", 80)),  # an outgoing state
    ("", ("192.168.1.111", 40000)),
])
def test_pf_state_lookup_misses(states, client):
    with pytest.raises(TransparentModeError, match=rf"no redirected pf state for the "
                                                   rf"connection from {re.escape(client[0])}"):
        osx.lookup(*client, states)


@pytest.mark.parametrize("token, parsed", [
    ("10.0.0.5:80", ("10.0.0.5", 80)), ("2001:db8::5[443]", ("2001:db8::5", 443)),
    ("(10.0.0.5:80)", None), ("<-", None), ("ESTABLISHED:ESTABLISHED", None),
])
def test_pf_host_tokens(token, parsed):
    result = osx.parse_host(token)
    assert (result and (str(result[0]), result[1])) == parsed


def fake_pfctl(monkeypatch, code: str) -> None:
    """Make the resolver run ``python -c code`` instead of sudo pfctl."""
    monkeypatch.setattr(osx, "STATE_COMMAND", (sys.executable, "-c", code))


def test_pf_resolver_reads_the_state_of_a_real_connection(monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as server, \
            socket.create_connection(server.getsockname(), timeout=WAIT):
        conn, (host, port) = server.accept()
        with conn:
            line = f"ALL tcp 127.0.0.1:8080 <- 93.184.216.34:443 <- {host}:{port} " \
                   f"ESTABLISHED:ESTABLISHED"
            fake_pfctl(monkeypatch, f"print({line!r})")
            assert osx.Resolver().original_addr(conn) == ("93.184.216.34", 443)


def test_pf_resolver_without_sudo_rights_says_how_to_grant_them(monkeypatch):
    fake_pfctl(monkeypatch, "import sys; sys.stderr.write('sudo: a password is required\\n');"
                            " sys.exit(1)")
    with pytest.raises(TransparentModeError, match=r"insufficient privileges .* add the line "
                                                   r"'ALL ALL=NOPASSWD: /sbin/pfctl -s state'"):
        osx.Resolver().states()
    fake_pfctl(monkeypatch, "import sys; sys.stderr.write('pfctl: pf not enabled\\n');"
                            " sys.exit(1)")
    with pytest.raises(TransparentModeError, match="failed: pfctl: pf not enabled"):
        osx.Resolver().states()


def test_resolver_by_platform():
    assert isinstance(platform.resolver("linux"), linux.Resolver)
    assert isinstance(platform.resolver("darwin"), osx.Resolver)
    assert isinstance(platform.resolver("freebsd13"), osx.Resolver)
    assert platform.resolver("win32") is None


def test_transparent_mode_is_refused_where_no_resolver_exists(monkeypatch, pki):
    monkeypatch.setattr(platform, "resolver", lambda: None)
    with pytest.raises(ValueError, match=r"transparent mode is not supported on this "
                                         r"platform"):
        ProxyConfig(mode="transparent", cadir=pki.proxy_cadir)


# --- the next-layer rules in transparent and SOCKS mode --------------------------------------

def facts(**kw: Any) -> SimpleNamespace:
    base = dict(stage="start", mode="transparent", ignored=False, tcp_host=False,
                client_tls=False, tls_port=False, rawtcp=False, client_ascii=True,
                client_alpn=None)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.mark.parametrize("mode", ["transparent", "socks5"])
@pytest.mark.parametrize("kw, kind", [
    (dict(client_tls=True), LayerKind.TLS),
    (dict(tls_port=True), LayerKind.TLS),  # 443/8443 whatever the first bytes
    (dict(), LayerKind.HTTP1),
    (dict(ignored=True, client_tls=True), LayerKind.IGNORED),
    (dict(tcp_host=True), LayerKind.RAW_TCP),
    (dict(rawtcp=True, client_ascii=False), LayerKind.RAW_TCP),
    (dict(stage="tls", tls_port=True), LayerKind.HTTP1),  # no TLS in TLS
])
def test_rules(mode, kw, kind):
    assert decide(facts(mode=mode, **kw)) is kind


def test_tls_port_rule_is_for_transparent_modes_only():
    assert decide(facts(mode="reverse", tls_port=True)) is LayerKind.HTTP1


def test_built_layers_speak_tls_to_the_server_when_the_client_does():
    class Top(Layer):
        stage = "start"
    tls = build(LayerKind.TLS, Top(None), facts())
    assert isinstance(tls, TlsLayer) and tls.want_server_tls
    http = build(LayerKind.HTTP1, Top(None), facts(mode="socks5"))
    assert isinstance(http, Http1Layer) and http.mode == "transparent"
    assert not build(LayerKind.TLS, Top(None), facts(mode="reverse")).want_server_tls


# --- the command line ------------------------------------------------------------------------

def parse(*argv: str):
    return cmdline.mitmdump().parse_args(list(argv))


def test_transparent_flags():
    for flag in ("-T", "--transparent"):
        kwargs = cmdline.get_proxy_kwargs(parse(flag))
        assert kwargs["mode"] == "transparent" and not kwargs["spoof_source_address"]
    assert cmdline.get_proxy_kwargs(parse("-T", "--spoof-source-address"))[
        "spoof_source_address"]
    assert "--spoof-source-address" in cmdline.mitmdump().format_help()


@pytest.mark.parametrize("argv, message", [
    (["-T", "-R", "http://example.com"], "not allowed with argument"),
    (["-T", "-U", "http://proxy:3128"], "not allowed with argument"),
    (["-T", "--nonanonymous"], "not compatible with transparent mode"),
])
def test_transparent_flag_errors(argv, message):
    result = subprocess.run([sys.executable, "-m", "libmproxy.main", *argv], cwd=REPO,
                            capture_output=True, text=True, timeout=WAIT * 2)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_spoofing_without_the_capability_is_one_clear_error(tmp_path):
    """Without CAP_NET_ADMIN/CAP_NET_RAW (dropped here from root's bounding set) the
    kernel refuses IP_TRANSPARENT: mitmdump says so at startup and names the way out."""
    drop = ["setpriv", "--bounding-set", "-net_admin,-net_raw"] if os.geteuid() == 0 else []
    if drop and shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop root's capabilities")
    result = subprocess.run(
        [*drop, sys.executable, "-m", "libmproxy.main", "-T", "--spoof-source-address",
         "-p", "0", "--cadir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=WAIT * 2)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert "--spoof-source-address: cannot spoof the source address: IP_TRANSPARENT " \
           "needs the CAP_NET_ADMIN or CAP_NET_RAW capability" in result.stderr
    assert "examples/mitmproxy_shim.c" in result.stderr


def test_a_connection_that_was_not_redirected_is_refused(start_proxy, curl):
    """Connecting to a transparent proxy directly would make it connect to itself."""
    proxy = start_proxy(mode="transparent")
    result = curl(f"http://127.0.0.1:{proxy.port}/")
    assert result.returncode != 0
    proxy.master.wait_for("clientdisconnect")
    assert any("Transparent mode failure" in line for line in proxy.master.logs())
    assert proxy.master.objects("serverconnect") == []


# --- the shim (fully transparent mode without running mitmdump as root) ----------------------

NETWORK_CAPABILITIES = (1 << 12) | (1 << 13)  # CAP_NET_ADMIN, CAP_NET_RAW


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> str:
    """examples/mitmproxy_shim.c, built as its comment says, in a directory that any user
    may enter (the shim is meant to be run by unprivileged users)."""
    directory = tmp_path_factory.mktemp("shim")
    directory.chmod(0o755)
    binary = directory / "mitmproxy_shim"
    result = subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", "-o", str(binary),
                             os.path.join(REPO, "examples", "mitmproxy_shim.c")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return str(binary)


def capabilities_of(argv: list[str]) -> dict[str, str]:
    """The Uid and Cap* lines of /proc/self/status of ``argv + [grep]``."""
    result = subprocess.run([*argv, "/bin/grep", "-E", "^(Uid|Cap)", "/proc/self/status"],
                            capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    return dict(line.split(":\t", 1) for line in result.stdout.splitlines())


def as_nobody() -> list[str]:
    """The prefix that runs a command as an unprivileged user (none needed if we are one)."""
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] \
        if os.geteuid() == 0 else []


def test_shim_usage_and_refusal_without_setuid(shim):
    usage = subprocess.run([shim], capture_output=True, text=True, timeout=WAIT)
    assert usage.returncode == 2 and usage.stderr.startswith("usage: ")
    refused = subprocess.run([*as_nobody(), shim, "/bin/true"], capture_output=True,
                             text=True, timeout=WAIT)
    assert refused.returncode == 1
    assert refused.stderr == ("mitmproxy_shim: not running as root: install it with "
                              "'chown root:root' and 'chmod u+s'\n")


def test_shim_run_by_a_user_keeps_only_the_network_capabilities(shim, tmp_path_factory):
    """Installed setuid root and started by an unprivileged user (nobody): the program
    runs as that user with CAP_NET_ADMIN and CAP_NET_RAW, and nothing else."""
    if os.geteuid() != 0:
        pytest.skip("installing the shim setuid root needs root")
    installed = tmp_path_factory.mktemp("installed")
    installed.chmod(0o755)
    setuid_shim = installed / "mitmproxy_shim"
    shutil.copy(shim, setuid_shim)
    setuid_shim.chmod(0o4755)
    status = capabilities_of([*as_nobody(), str(setuid_shim)])
    assert status["Uid"].split() == ["65534"] * 4
    for field in ("CapPrm", "CapEff", "CapInh", "CapAmb", "CapBnd"):
        assert int(status[field], 16) == NETWORK_CAPABILITIES, (field, status)


def test_shim_run_by_root_gives_root_no_more_than_the_network_capabilities(shim):
    if os.geteuid() != 0:
        pytest.skip("this is about a shim started by root")
    status = capabilities_of([shim])
    assert int(status["CapEff"], 16) == int(status["CapBnd"], 16) == NETWORK_CAPABILITIES


# === with namespaces ============================================================================

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(name: str, action: Callable[[], Any]) -> Any:
    """``action()`` run on a thread that entered network namespace ``name``; sockets it
    makes belong to that namespace for good, whichever thread uses them later."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns({name}): {os.strerror(errno)}")
            finally:
                os.close(fd)
            outcome["value"] = action()
        except BaseException as e:  # handed to the caller
            outcome["error"] = e

    thread = threading.Thread(target=run, name=f"in network namespace {name}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result


def require_iptables() -> None:
    """iptables and ip6tables, installed with apt if missing (as .ci/run does)."""
    if shutil.which("iptables") and shutil.which("ip6tables"):
        return
    if shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for argv in (["apt-get", "update", "-qq"],
                     ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=120",
                      "iptables"]):
            subprocess.run(argv, capture_output=True, timeout=300, env=env,
                           stdin=subprocess.DEVNULL)
    if not (shutil.which("iptables") and shutil.which("ip6tables")):
        pytest.fail("iptables is needed for the transparent mode tests and could not be "
                    "installed (apt-get install iptables)")


class OriginHandler(BaseHTTPRequestHandler):
    """Answers with JSON: the path, the Host header and the address the request came
    from (the gateway's, or with --spoof-source-address the client's)."""

    protocol_version = "HTTP/1.1"
    timeout = WAIT

    def do_GET(self) -> None:
        peer = self.client_address[0].removeprefix("::ffff:")
        body = json.dumps({"path": self.path, "host": self.headers.get("Host"),
                           "peer": peer}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class DualStackOrigin(socketserver.ThreadingTCPServer):
    """An origin on [::]:port for IPv4 and IPv6, TLS with ``context``. (Not
    http.server.HTTPServer: it looks its own address up in DNS, which an isolated
    namespace has none of.)"""

    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = False
    block_on_close = True

    def __init__(self, port: int, context: ssl.SSLContext | None = None) -> None:
        self.snis: list[str | None] = []
        self.context = context
        if context is not None:
            context.sni_callback = lambda sock, name, ctx: self.snis.append(name)
        super().__init__(("::", port), OriginHandler)

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.context is None:
            return sock, address
        sock.settimeout(WAIT)
        try:
            return self.context.wrap_socket(sock, server_side=True), address
        except (ssl.SSLError, OSError):
            sock.close()
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class Network:
    """The three namespaces, their links and routes; ``redirect`` sets the REDIRECT rules."""

    def __init__(self) -> None:
        token = secrets.token_hex(3)
        self.client, self.gateway, self.origin = (f"mitm-{token}-{role}"
                                                  for role in ("client", "gw", "origin"))
        # Interface names: at most 15 characters.
        self.client_if, self.gateway_client_if = f"c{token}", f"gc{token}"
        self.origin_if, self.gateway_origin_if = f"o{token}", f"go{token}"
        self.namespaces: list[str] = []
        self.servers: list[tuple[DualStackOrigin, threading.Thread]] = []

    def create(self) -> None:
        for name in (self.client, self.gateway, self.origin):
            sh("ip", "netns", "add", name)
            self.namespaces.append(name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        for (ns_a, if_a), (ns_b, if_b) in (
                ((self.client, self.client_if), (self.gateway, self.gateway_client_if)),
                ((self.origin, self.origin_if), (self.gateway, self.gateway_origin_if))):
            sh("ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b,
               "netns", ns_b)
        for ns, interface, v4, v6 in (
                (self.client, self.client_if, CLIENT4, CLIENT6),
                (self.gateway, self.gateway_client_if, GATEWAY4_CLIENT_SIDE,
                 GATEWAY6_CLIENT_SIDE),
                (self.gateway, self.gateway_origin_if, GATEWAY4_ORIGIN_SIDE,
                 GATEWAY6_ORIGIN_SIDE),
                (self.origin, self.origin_if, ORIGIN4, ORIGIN6)):
            sh("ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", interface)
            sh("ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", interface, "nodad")
            sh("ip", "-n", ns, "link", "set", interface, "up")
        for ns, v4, v6 in ((self.client, GATEWAY4_CLIENT_SIDE, GATEWAY6_CLIENT_SIDE),
                           (self.origin, GATEWAY4_ORIGIN_SIDE, GATEWAY6_ORIGIN_SIDE)):
            sh("ip", "-n", ns, "route", "add", "default", "via", v4)
            sh("ip", "-n", ns, "-6", "route", "add", "default", "via", v6)
        sh("ip", "netns", "exec", self.gateway, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
           "net.ipv6.conf.all.forwarding=1")

    def serve_origin(self, pki) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.origin_cert_file)
        for port, tls in ((80, None), (443, context)):
            server = in_netns(self.origin, lambda: DualStackOrigin(port, tls))
            thread = threading.Thread(target=server.serve_forever,
                                      name=f"origin {self.origin}:{port}")
            thread.start()
            self.servers.append((server, thread))

    @property
    def tls_origin(self) -> DualStackOrigin:
        return self.servers[1][0]

    def redirect(self, to_port: int, ports: tuple[int, ...] = (80, 443)) -> None:
        """The spec's rule, for traffic from the client: ``iptables -t nat -A PREROUTING
        -i IF -p tcp --dport N -j REDIRECT --to-port PORT`` (and the same for IPv6)."""
        for tool in ("iptables", "ip6tables"):
            sh("ip", "netns", "exec", self.gateway, tool, "-t", "nat", "-F", "PREROUTING")
            for port in ports:
                sh("ip", "netns", "exec", self.gateway, tool, "-t", "nat", "-A", "PREROUTING",
                   "-i", self.gateway_client_if, "-p", "tcp", "--dport", str(port),
                   "-j", "REDIRECT", "--to-port", str(to_port))

    def route_replies_to_the_proxy(self) -> Callable[[], None]:
        """Fully transparent mode's routing (transparent-fully.rst), for IPv4 and IPv6:
        replies to the client's network are delivered to this host (to mitmdump's
        spoofing sockets) instead of being forwarded. Returns what undoes it."""
        steps = []
        for tool, family, net in (("iptables", "-4", CLIENT_NET4),
                                  ("ip6tables", "-6", CLIENT_NET6)):
            mark = ("PREROUTING", "-d", net, "-j", "MARK", "--set-mark", "1")
            rule = ("fwmark", "1", "lookup", "100")
            route = ("local", net, "dev", "lo", "table", "100")
            ip = ("ip", family, "-n", self.gateway)
            steps += [
                (("ip", "netns", "exec", self.gateway, tool, "-t", "mangle", "-A", *mark),
                 ("ip", "netns", "exec", self.gateway, tool, "-t", "mangle", "-D", *mark)),
                ((*ip, "rule", "add", *rule), (*ip, "rule", "del", *rule)),
                ((*ip, "route", "add", *route), (*ip, "route", "del", *route)),
            ]
        for do, _ in steps:
            sh(*do)

        def undo() -> None:
            for _, undo_step in reversed(steps):
                sh(*undo_step)
        return undo

    def curl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.client, "curl", "-sS",
                               "--max-time", str(int(WAIT)), *args],
                              capture_output=True, text=True, timeout=WAIT * 2)

    def close(self) -> None:
        for server, thread in self.servers:
            server.shutdown()
            server.server_close()
            thread.join(WAIT)
        for name in self.namespaces:  # their interfaces and iptables rules go with them
            sh("ip", "netns", "del", name, check=False)


def namespaces_unavailable() -> str | None:
    """Why this machine cannot create network namespaces, or None if it can."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"mitm-probe-{secrets.token_hex(3)}"
    result = sh("ip", "netns", "add", probe, check=False)
    if result.returncode != 0:
        return result.stderr.strip() or f"ip netns add failed ({result.returncode})"
    sh("ip", "netns", "del", probe, check=False)
    return None


@pytest.fixture(scope="module")
def network(pki) -> Iterator[Network]:
    reason = namespaces_unavailable()
    if reason is not None:
        pytest.skip(f"this machine cannot create network namespaces: {reason}")
    require_iptables()
    net = Network()
    try:
        net.create()
        net.serve_origin(pki)
        yield net
    finally:
        net.close()


class Mitmdump:
    """mitmdump in the gateway namespace; ``stop`` returns its exit status and output."""

    def __init__(self, network: Network, pki, *args: str, wrapper: list[str]) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", network.gateway, *wrapper, sys.executable, "-m",
             "libmproxy.main",
             "-T", "-p", "0", "--cadir", pki.proxy_cadir, "--upstream-trusted-ca",
             pki.origin_ca_cert, *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], WAIT)
        line = self.proc.stdout.readline() if ready else ""
        match = re.match(r"Proxy server listening at http://.*:(\d+)/$", line.rstrip())
        if match is None:
            self.proc.kill()
            raise AssertionError(f"mitmdump did not start: {line}{self.proc.stderr.read()}")
        self.port = int(match.group(1))
        network.redirect(self.port)

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=WAIT)
        return self.proc.returncode, out, err


@pytest.fixture
def mitmdump(network, pki) -> Iterator[Callable[..., Mitmdump]]:
    started: list[Mitmdump] = []

    def start(*args: str, wrapper: list[str] = ()) -> Mitmdump:
        started.append(Mitmdump(network, pki, *args, wrapper=list(wrapper)))
        return started[-1]

    yield start
    for m in started:
        if m.proc.poll() is None:
            m.proc.kill()
            m.proc.communicate(timeout=WAIT)


def answer(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- the original destination, straight from the kernel --------------------------------------

@pytest.mark.parametrize("listen, origin", [
    (("0.0.0.0", socket.AF_INET), ORIGIN4),
    (("::", socket.AF_INET6), ORIGIN4),  # an IPv4 client seen by a dual-stack socket
    (("::", socket.AF_INET6), ORIGIN6),
])
def test_original_destination_of_a_redirected_connection(network, listen, origin):
    host, family = listen

    def listener() -> socket.socket:
        sock = socket.socket(family)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, 0))
        sock.listen()
        sock.settimeout(WAIT)
        return sock

    with in_netns(network.gateway, listener) as server:
        network.redirect(server.getsockname()[1], ports=(80,))
        with in_netns(network.client, lambda: socket.create_connection((origin, 80), WAIT)):
            conn, _ = server.accept()
            with conn:
                assert conn.getsockname()[1] != 80  # it did arrive redirected
                assert linux.original_addr(conn) == (origin, 80)
                assert platform.resolver().original_addr(conn) == (origin, 80)


def test_a_connection_without_redirect_has_no_original_destination(network):
    """Where no iptables rule ever made the kernel track connections (the client's
    namespace), there is no original destination, and the error says what to check."""
    def connection() -> tuple[socket.socket, socket.socket]:
        server = socket.create_server(("127.0.0.1", 0))
        return server, socket.create_connection(server.getsockname(), WAIT)

    server, client = in_netns(network.client, connection)
    with server, client:
        conn, _ = server.accept()
        with conn, pytest.raises(TransparentModeError,
                                 match=r"is it redirected with iptables -j REDIRECT\? "
                                       r"connection tracking says: No such file"):
            linux.original_addr(conn)


# --- mitmdump -T ---------------------------------------------------------------------------------

def test_http_is_sent_to_the_original_destination(network, mitmdump):
    m = mitmdump()
    body = answer(network.curl(f"http://{ORIGIN4}/plain?q=1"))
    assert body == {"path": "/plain?q=1", "host": ORIGIN4, "peer": GATEWAY4_ORIGIN_SIDE}
    rc, out, err = m.stop()
    assert rc == 0, err
    assert f"{CLIENT4} GET http://{ORIGIN4}/plain?q=1\n << 200 OK" in out


def test_host_flag_shows_the_host_header(network, mitmdump):
    m = mitmdump("--host")
    body = answer(network.curl("--resolve", f"{ORIGIN_NAME}:80:{ORIGIN4}",
                               f"http://{ORIGIN_NAME}/named"))
    assert body["host"] == ORIGIN_NAME
    rc, out, _ = m.stop()
    assert f"{CLIENT4} GET http://{ORIGIN_NAME}/named\n << 200 OK" in out


def test_https_is_intercepted_with_the_client_hello_sni(network, mitmdump, pki):
    m = mitmdump()
    before = len(network.tls_origin.snis)
    body = answer(network.curl("--cacert", pki.proxy_ca_cert,
                               "--resolve", f"{ORIGIN_NAME}:443:{ORIGIN4}",
                               f"https://{ORIGIN_NAME}/secret"))
    assert body["path"] == "/secret" and body["peer"] == GATEWAY4_ORIGIN_SIDE
    assert network.tls_origin.snis[before:] == [ORIGIN_NAME]  # upstream gets the client's SNI
    rc, out, _ = m.stop()
    assert f"{CLIENT4} GET https://{ORIGIN4}/secret\n << 200 OK" in out


def test_ipv6(network, mitmdump, pki):
    m = mitmdump("-b", "::")
    assert answer(network.curl(f"http://[{ORIGIN6}]/six"))["peer"] == GATEWAY6_ORIGIN_SIDE
    body = answer(network.curl("--cacert", pki.proxy_ca_cert, "--resolve",
                               f"{ORIGIN_NAME}:443:[{ORIGIN6}]", f"https://{ORIGIN_NAME}/six"))
    assert body["path"] == "/six"
    rc, out, _ = m.stop()
    assert f"{CLIENT6} GET http://[{ORIGIN6}]/six\n << 200 OK" in out
    assert f"{CLIENT6} GET https://[{ORIGIN6}]/six\n << 200 OK" in out


def test_ignore_pattern_matches_the_ip(network, mitmdump):
    m = mitmdump("--ignore", rf"^{re.escape(ORIGIN4)}:80$")
    assert answer(network.curl(f"http://{ORIGIN4}/ignored"))["path"] == "/ignored"
    rc, out, _ = m.stop()
    assert rc == 0 and "/ignored" not in out


def test_ignore_pattern_matches_the_sni(network, mitmdump, pki):
    """The ignored client does TLS with the origin itself: it must trust the origin's CA."""
    m = mitmdump("--ignore", r"^origin\.test:443$")
    body = answer(network.curl("--cacert", pki.origin_ca_cert,
                               "--resolve", f"{ORIGIN_NAME}:443:{ORIGIN4}",
                               f"https://{ORIGIN_NAME}/pinned"))
    assert body["path"] == "/pinned"
    rc, out, _ = m.stop()
    assert rc == 0 and "/pinned" not in out


@pytest.mark.parametrize("listen", [[], ["-b", "::"]], ids=["IPv4 socket", "dual-stack socket"])
def test_a_client_connecting_to_the_proxy_itself_is_refused(network, mitmdump, listen):
    """Not redirected: connection tracking names mitmdump itself as the destination
    (an IPv4 client of a dual-stack socket as ::ffff:...); mitmdump must not connect to
    itself, and says what is wrong."""
    m = mitmdump(*listen)
    result = network.curl(f"http://{GATEWAY4_CLIENT_SIDE}:{m.port}/")
    assert result.returncode != 0
    rc, out, _ = m.stop()
    assert "Transparent mode failure: the connection was made to the proxy itself " \
           f"({GATEWAY4_CLIENT_SIDE}:{m.port})" in out


@pytest.mark.parametrize("through_shim", [False, True], ids=["as root", "through the shim"])
def test_spoof_source_address(network, mitmdump, shim, through_shim):
    """Fully transparent mode: the origin sees the client's address, not the proxy's, for
    IPv4 and IPv6 clients. Through the shim mitmdump has CAP_NET_ADMIN and CAP_NET_RAW
    only, and that is enough."""
    undo = network.route_replies_to_the_proxy()
    try:
        m = mitmdump("-b", "::", "--spoof-source-address",
                     wrapper=[shim] if through_shim else [])
        assert answer(network.curl(f"http://{ORIGIN4}/spoofed"))["peer"] == CLIENT4
        assert answer(network.curl(f"http://[{ORIGIN6}]/spoofed"))["peer"] == CLIENT6
        rc, out, err = m.stop()
        assert rc == 0, err
        # a dual-stack socket shows IPv4 clients as such
        assert f"::ffff:{CLIENT4} GET http://{ORIGIN4}/spoofed\n << 200 OK" in out
        assert f"{CLIENT6} GET http://[{ORIGIN6}]/spoofed\n << 200 OK" in out
    finally:
        undo()

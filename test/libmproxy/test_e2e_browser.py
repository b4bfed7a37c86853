"""End to end with a real browser: headless Chromium (Debian's ``chromium``) fetches HTTP
and HTTPS pages through the proxy in regular, reverse and upstream mode.

Chromium trusts the proxy's CA through an NSS database made with ``certutil`` (from
libnss3-tools) in a temporary HOME, as a user would install it; certificate errors are never
ignored, so an HTTPS page that arrives proves the interception certificate was accepted.

Nothing may leave the machine: Chromium's background services are switched off, its own
host resolver answers NOTFOUND for every name but the loopback ones, and every proxy in these
tests answers 403 to requests for any host but the test's own, so a stray background request
is refused at the proxy instead of being resolved and sent out. The assertions look only at
the flows for the pages the test asked for.

Chromium must be installed (CI installs ``chromium`` and ``libnss3-tools``); without it the
tests fail, saying so.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from typing import Any, Callable, Iterator

import pytest

from libmproxy.models import make_error_response
from libmproxy.onboarding import Onboarding

# How long one Chromium run may take before it is killed and the test fails.
CHROMIUM_TIMEOUT = 60

INSTALL_HINT = "apt-get install chromium libnss3-tools"

# The only hosts the proxies in these tests will talk to.
LOCAL_HOSTS = {"127.0.0.1", "localhost", "mitm.it"}

# Switches that keep Chromium from talking to anything but the page it was told to load.
QUIET_FLAGS = [
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-extensions",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-pings",
    "--safebrowsing-disable-auto-update",
    "--disable-features=OptimizationHints,OptimizationGuideModelDownloading,MediaRouter,"
    "DialMediaRouteProvider,Translate,AutofillServerCommunication,InterestFeedContentSuggestions,"
    "CertificateTransparencyComponentUpdater,NetworkTimeServiceQuerying,"
    "SafeBrowsingBetterTelemetry,"
    # HTTPS-Upgrades would turn http://mitm.it/ into https://mitm.it/, which the onboarding
    # app (on port 80 only) does not answer; the tests ask for the scheme they mean.
    "HttpsUpgrades",
    # Chromium resolves nothing but loopback names itself (through a proxy it resolves only
    # the proxy's address, which is a literal).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is not installed; these end-to-end tests need it: "
                    f"{INSTALL_HINT}", pytrace=False)
    return path


class Chromium:
    """Runs headless Chromium with a HOME whose NSS database trusts the proxy's CA."""

    def __init__(self, executable: str, home: str) -> None:
        self.executable = executable
        self.home = home
        self._runs = 0
        self.last_stderr = ""

    def run(self, url: str, proxy: str | None = None, *extra: str) -> str:
        """Load ``url`` (through ``proxy`` if given) and return what Chromium printed: the
        DOM with ``--dump-dom``. A run that takes longer than CHROMIUM_TIMEOUT is killed
        (its whole process group) and fails the test."""
        self._runs += 1
        profile = os.path.join(self.home, f"profile-{self._runs}")
        args = [
            self.executable, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}", *QUIET_FLAGS,
        ]
        if proxy is not None:
            # Without "<-loopback>" Chromium would bypass the proxy for 127.0.0.1/localhost.
            args += [f"--proxy-server={proxy}", "--proxy-bypass-list=<-loopback>"]
        args += [*extra, url]
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        env["HOME"] = self.home
        env.pop("XDG_CONFIG_HOME", None)
        env.pop("XDG_CACHE_HOME", None)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill_group(proc)
            try:
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                out, err = b"", b"(no output: a helper process kept the pipes open)"
            pytest.fail(f"chromium did not finish loading {url} within {CHROMIUM_TIMEOUT}s; "
                        f"stderr:\n{err.decode(errors='replace')[-3000:]}")
        finally:
            self._kill_group(proc)  # helpers Chromium left behind, if any
        self.last_stderr = err.decode(errors="replace")
        assert proc.returncode == 0, (
            f"chromium exited with {proc.returncode} loading {url}; "
            f"stderr:\n{self.last_stderr[-3000:]}")
        return out.decode(errors="replace")

    def dump_dom(self, url: str, proxy: str | None = None) -> str:
        return self.run(url, proxy, "--dump-dom")

    @staticmethod
    def _kill_group(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture(scope="session")
def chromium(pki, tmp_path_factory) -> Chromium:
    """One HOME (and NSS database trusting the proxy's CA) for the whole session."""
    executable = _require("chromium")
    certutil = _require("certutil")
    home = str(tmp_path_factory.mktemp("chromium-home"))
    nssdb = os.path.join(home, ".pki", "nssdb")
    os.makedirs(nssdb)
    db = f"sql:{nssdb}"
    subprocess.run([certutil, "-d", db, "-N", "--empty-password"], check=True,
                   capture_output=True, timeout=30)
    subprocess.run([certutil, "-d", db, "-A", "-t", "C,,", "-n", "mitmproxy",
                    "-i", pki.proxy_ca_cert], check=True, capture_output=True, timeout=30)
    listed = subprocess.run([certutil, "-d", db, "-L"], check=True, capture_output=True,
                            text=True, timeout=30).stdout
    assert "mitmproxy" in listed, listed
    return Chromium(executable, home)


@pytest.fixture
def local_proxy(no_thread_leaks, start_proxy) -> Iterator[Callable[..., Any]]:
    """start_proxy, but the proxy answers 403 to any request (or CONNECT) for a host other
    than the test's own; the refused hosts are in ``handle.refused``. Requesting
    ``no_thread_leaks`` first makes its check run after the proxies are shut down."""

    def start(**config: Any) -> Any:
        handle = start_proxy(**config)
        handle.refused = []

        def refuse_foreign(flow: Any) -> None:
            host = flow.request.host
            if host not in LOCAL_HOSTS:
                handle.refused.append(f"{flow.request.method} {host}:{flow.request.port}")
                flow.response = make_error_response(403, "the e2e tests stay on this machine")

        handle.master.on["request"] = refuse_foreign
        return handle

    yield start


def marker() -> str:
    return f"chromium-e2e-{uuid.uuid4().hex}"


def flows_for(handle: Any, path: str) -> list[Any]:
    """The flows ``handle``'s master saw answered for ``path``."""
    return [f for f in handle.master.objects("response") if f.request.path == path]


def assert_page(chromium: Chromium, dom: str, origin: Any, path: str) -> None:
    """The echo page for ``path`` arrived in Chromium, and the request the origin saw came
    from Chromium (headless Chromium says so in its User-Agent)."""
    assert path in dom, (f"the page for {path} did not arrive; Chromium's DOM:\n{dom[:2000]}\n"
                         f"Chromium's stderr:\n{chromium.last_stderr[-3000:]}")
    seen = [r for r in origin.requests if r["path"] == path]
    assert len(seen) == 1, [r["path"] for r in origin.requests]
    user_agent = dict((k.lower(), v) for k, v in seen[0]["headers"])["user-agent"]
    assert "HeadlessChrome" in user_agent, user_agent


def assert_flow(handle: Any, path: str, url: str) -> Any:
    flows = flows_for(handle, path)
    assert len(flows) == 1, [f.request.url for f in handle.master.objects("response")]
    flow = flows[0]
    assert flow.request.url == url
    assert flow.response.status_code == 200
    assert flow.error is None
    return flow


# --- regular mode ------------------------------------------------------------------------------

def test_regular_http(local_proxy, chromium, origin):
    proxy = local_proxy()
    path = f"/{marker()}"
    dom = chromium.dump_dom(f"http://127.0.0.1:{origin.port}{path}", proxy.url)
    assert_page(chromium, dom, origin, path)
    flow = assert_flow(proxy, path, f"http://127.0.0.1:{origin.port}{path}")
    assert flow.request.scheme == "http"


def test_regular_https_trusts_the_interception_certificate(local_proxy, chromium, tls_origin):
    proxy = local_proxy()
    path = f"/{marker()}"
    url = f"https://localhost:{tls_origin.port}{path}"
    dom = chromium.dump_dom(url, proxy.url)
    assert_page(chromium, dom, tls_origin, path)
    flow = assert_flow(proxy, path, url)
    assert flow.request.scheme == "https"
    assert flow.client_conn.tls_established
    # Chromium spoke TLS to the proxy, which spoke TLS to the origin (SNI from the URL).
    assert "localhost" in tls_origin.snis


def test_onboarding_page_renders(local_proxy, chromium, pki):
    app = Onboarding(pki.proxy_cadir, app_host="mitm.it")
    proxy = local_proxy(apps={("mitm.it", 80): app})
    dom = chromium.dump_dom("http://mitm.it/", proxy.url)
    for platform in ("Apple (iOS / macOS)", "Windows", "Android", "Firefox", "Other / Linux"):
        assert platform in dom, (
            f"{dom[:2000]}\nChromium's stderr:\n{chromium.last_stderr[-3000:]}")
    assert 'href="/cert/pem"' in dom
    assert_flow(proxy, "/", "http://mitm.it/")


# --- reverse mode ------------------------------------------------------------------------------

def test_reverse_to_a_tls_origin(local_proxy, chromium, tls_origin):
    proxy = local_proxy(mode="reverse", upstream_server=f"https://localhost:{tls_origin.port}")
    path = f"/{marker()}"
    dom = chromium.dump_dom(f"http://127.0.0.1:{proxy.port}{path}")  # no proxy: it is the server
    assert_page(chromium, dom, tls_origin, path)
    flow = assert_flow(proxy, path, f"https://localhost:{tls_origin.port}{path}")
    assert flow.request.scheme == "https"
    assert tls_origin.snis == ["localhost"]


# --- upstream mode -------------------------------------------------------------------------------

@pytest.fixture
def chain(local_proxy) -> tuple[Any, Any]:
    """Chromium -> A (upstream mode) -> B (regular mode) -> origin."""
    b = local_proxy()
    a = local_proxy(mode="upstream", upstream_server=b.url)
    return a, b


def test_upstream_http(chain, chromium, origin):
    a, b = chain
    path = f"/{marker()}"
    url = f"http://127.0.0.1:{origin.port}{path}"
    dom = chromium.dump_dom(url, a.url)
    assert_page(chromium, dom, origin, path)
    assert_flow(a, path, url)
    assert_flow(b, path, url)


def test_upstream_https(chain, chromium, tls_origin):
    a, b = chain
    path = f"/{marker()}"
    url = f"https://localhost:{tls_origin.port}{path}"
    dom = chromium.dump_dom(url, a.url)
    assert_page(chromium, dom, tls_origin, path)
    # A intercepted Chromium's TLS and tunnelled through B, which intercepted A's.
    for handle in (a, b):
        flow = assert_flow(handle, path, url)
        assert flow.request.scheme == "https"

"""pathod: a pathological HTTP server that answers each request with a crafted response.

How a request finds its response (``Pathod.choose``):

1. An anchor (``-a REGEX=SPEC``) whose regex matches the request path serves its spec. The
   regexes and specs are checked once, at startup: a bad one is a ``PathodError`` naming it.
2. A path under the craft anchor (``/p/`` by default) serves the rest of the path, percent-
   decoded, as a response spec (unless ``nocraft``).
3. A websocket handshake request that matched neither gets a plain ``ws`` answer.
4. Anything else is a 404 saying where the craft anchor is. (0.18 also served a small web
   app here; that app is not part of this port.)

Proxy requests (``GET http://host/path``) are served by their path, so pathod can stand in
for any upstream server of a proxy-configured client. CONNECT is answered with "200
Connection established" and, unless ``SSLOptions.not_after_connect`` (``-C``), followed by
a TLS handshake with a certificate minted for the CONNECT host (or the SNI name).

Internal errors (a spec that does not parse, a file that may not be read, a response over
the size limit, a pause under ``nohang``, crafting disabled) are answered with the
non-standard status code 800 and a readable message, so they cannot be mistaken for a
crafted response.

Every request, response and connection error becomes one entry in ``Pathod.log``
(``libpathod.log.RequestLog``), which is what ``test.Daemon`` reads.

Threads: netlib's ``TCPServer`` runs one bounded thread per connection; each connection
thread owns its socket and nothing else is shared but the read-only configuration and the
thread-safe log. ``shutdown`` also cuts short any pause in progress (``Settings.stop_event``).

HTTP/2 (when a TLS client picks ``h2`` by ALPN, on the listening port or after CONNECT)
lives in ``libpathod.pathod_http2``: the language renders the frames of a response, the
connection reads the client's frames with netlib, answers each request stream in turn and
keeps to the client's flow-control windows.

Speed: pathod is a load source for proxy benchmarks (scripts/bench_pathod.py). Parsed
specs are cached by their text (parsing costs several times more than serving a small
response), and bodies are streamed by the language in blocks, never built whole.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import os
import re
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO


from netlib import certutils, exceptions, websockets
from netlib.http import http1
from netlib.http.headers import Headers, to_str
from netlib.tcp import BaseHandler, TCPServer, version_range
from netlib.tcp.connection import DEFAULT_TIMEOUT

from libpathod import language
from libpathod.language.actions import PauseAt
from libpathod.language.values import escape_bytes, quote
from libpathod.language.writer import write_values
from libpathod.pathod_http2 import Http2Connection
from libpathod.log import LOG_ENTRIES, RECORD_LIMIT, ConsoleLog, RecordingWriter, RequestLog

__all__ = [
    "Pathod", "PathodHandler", "SSLOptions", "PathodError", "Anchor",
    "DEFAULT_CRAFT_ANCHOR", "DEFAULT_CERT_DOMAIN", "CONFDIR", "CERTSTORE_BASENAME",
    "ERROR_CODE", "ERROR_REASON",
]

DEFAULT_CRAFT_ANCHOR = "/p/"
# The name on the built-in certificate when neither --cn nor SNI nor CONNECT names one.
DEFAULT_CERT_DOMAIN = "pathod.net"
CONFDIR = "~/.mitmproxy"
CERTSTORE_BASENAME = "mitmproxy"

# The non-standard status code of pathod's own errors (spec: "Internal Error Responses").
ERROR_CODE = 800
ERROR_REASON = "Pathod Error"

# The largest websocket frame payload pathod reads from a client. Frames are read whole to
# be logged; without a bound one frame header could make pathod allocate gigabytes.
MAX_WEBSOCKET_PAYLOAD = 16 * 1024 * 1024

# Request bodies are read (so the next request on the connection starts in the right place)
# and thrown away in pieces of this size; only -q keeps a copy, of RECORD_LIMIT bytes.
BODY_PIECE = 256 * 1024

# Distinct specs whose parse is kept, and the most messages one cached spec may expand to.
PARSE_CACHE_SIZE = 256
MAX_CACHED_MESSAGES = 64

# A websocket frame whose payload starts with this carries a frame spec for pathod to
# serve back (0.18's convention, which pathoc's websocket mode uses).
NESTED_LEADER = b"pathod!"

# What the log keeps of a websocket frame's payload, and the console of a spec.
FRAME_LOG_LIMIT = 1024
SPEC_LOG_LIMIT = 200


class PathodError(Exception):
    """A configuration pathod cannot start with (a bad anchor, an unreadable certificate)."""


# --- TLS ---------------------------------------------------------------------------------

class SSLOptions:
    """How pathod serves TLS: on its listening port (``Pathod(ssl=True)``) and after CONNECT.

    The certificate is minted by a CertStore kept in ``confdir`` (the same CA files as
    mitmproxy's, so a client that trusts mitmproxy trusts pathod), for ``cn`` if given,
    else for the SNI name or CONNECT host, else for ``DEFAULT_CERT_DOMAIN``. ``certs`` are
    ``(domain, path)`` pairs of custom PEM files that win over minting (``--cert``).
    The store is created on first use, so a plain-HTTP pathod never writes to confdir.

    ``ssl_version`` names a netlib ``VERSIONS`` range ("secure", "all", "TLSv1_2", ...).
    ``alpn_select`` is the protocol chosen when the client offers it (``b"h2"``); without
    it, "http/1.1" is chosen when offered.
    """

    def __init__(
        self,
        confdir: str = CONFDIR,
        cn: str | None = None,
        sans: Sequence[str] = (),
        not_after_connect: bool | None = None,
        request_client_cert: bool = False,
        ssl_version: str = "secure",
        ciphers: str | None = None,
        certs: Iterable[tuple[str, str]] | None = (),
        alpn_select: bytes | None = b"h2",
    ) -> None:
        self.confdir = confdir
        self.cn = cn
        self.sans = list(sans)
        self.not_after_connect = bool(not_after_connect)
        self.request_client_cert = request_client_cert
        self.ssl_version = ssl_version
        try:
            self.min_version, self.max_version = version_range(ssl_version)
        except exceptions.TlsException as e:
            raise PathodError(str(e)) from e
        self.ciphers = ciphers or None
        self.certs = list(certs or ())
        self.alpn_select = alpn_select
        self._certstore: certutils.CertStore | None = None
        self._lock = threading.Lock()

    @property
    def certstore(self) -> certutils.CertStore:
        """The CertStore in ``confdir`` with the custom certificates added; created once."""
        with self._lock:
            if self._certstore is None:
                try:
                    store = certutils.CertStore.from_store(
                        os.path.expanduser(self.confdir), CERTSTORE_BASENAME)
                    for domain, path in self.certs:
                        store.add_cert_file(domain, os.path.expanduser(path))
                except (exceptions.NetlibException, OSError, ValueError) as e:
                    raise PathodError(f"cannot set up TLS certificates: {e}") from e
                self._certstore = store
            return self._certstore

    def get_cert(self, name: str | None, address: str | None = None) -> certutils.CertStoreEntry:
        """The certificate to present to a client that asked for ``name`` (SNI, CONNECT).

        ``address`` is the IP address the client connected to, added as a SAN: a client
        that connects by address sends no SNI, yet checks the address against the
        certificate (``requests.get("https://127.0.0.1:...", verify=ca)``)."""
        name = self.cn or name or DEFAULT_CERT_DOMAIN
        sans = [*self.sans, address] if address else self.sans
        return self.certstore.get_cert(name, sans)

    def choose_alpn(self, offers: list[bytes]) -> bytes | None:
        if self.alpn_select and self.alpn_select in offers:
            return self.alpn_select
        if b"http/1.1" in offers:
            return b"http/1.1"
        return None


# --- anchors -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Anchor:
    """A path regex and the response spec served for paths it matches."""

    pattern: re.Pattern
    spec: str

    @classmethod
    def make(cls, pattern: str | re.Pattern, spec: str,
             settings: language.Settings | None = None) -> "Anchor":
        """Compile and check an anchor, or raise PathodError saying which part is bad.
        ``settings`` gives the static directory for specs that include a file."""
        try:
            regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        except re.error as e:
            raise PathodError(f"invalid regex in anchor {pattern!r}: {e}") from e
        try:
            language.parse_pathod(spec, False, settings)
        except (language.PathodError, OSError) as e:
            raise PathodError(f"invalid response spec in anchor {regex.pattern!r}: {e}") from e
        return cls(regex, spec)


# --- the server ----------------------------------------------------------------------------

class _ParseCache:
    """Parsed specs by their text. Parsing costs far more than serving a small response
    (~150 us against ~20 us), and a load test asks for the same spec over and over; specs
    are immutable, so one parse can serve every request. Not cached: specs that include a
    file (``+path``: the file may change), and specs that expand (``x``) to more than
    MAX_CACHED_MESSAGES messages, which stay lazy."""

    def __init__(self, size: int = PARSE_CACHE_SIZE) -> None:
        self.size = size
        self._entries: collections.OrderedDict[tuple[str, bool], tuple] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: str, use_http2: bool, settings: language.Settings) -> Iterator:
        key = (spec, use_http2)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                return iter(cached)
        messages = language.parse_pathod(spec, use_http2, settings)
        head = tuple(itertools.islice(messages, MAX_CACHED_MESSAGES + 1))
        if len(head) > MAX_CACHED_MESSAGES:
            return itertools.chain(head, messages)
        if "+" not in spec:
            with self._lock:
                self._entries[key] = head
                if len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return iter(head)


class Pathod(TCPServer):
    """The pathod daemon. ``serve_forever()`` serves; ``shutdown()`` stops it from any thread.

    ``addr`` is ``(host, port)``; port 0 picks a free one (``self.address.port`` tells which).
    ``anchors`` are ``(regex, spec)`` pairs. ``sizelimit`` (bytes) refuses larger responses;
    ``nohang`` refuses responses with pauses; ``nocraft`` disables the craft anchor (anchors
    still work); ``timeout`` bounds every socket wait of a connection (seconds; default
    netlib's). ``logreq``/``logresp`` print the request/response bytes to ``logfp``
    (``hexdump`` as a hexdump), ``explain`` prints the resolved spec of each response,
    ``http2_framedump`` each HTTP/2 frame received. ``logfp=None`` prints nothing.
    ``webdebug``, ``noweb`` and ``noapi`` are accepted for 0.18 compatibility and do
    nothing: this port has no web app.
    """

    # Entries the in-memory log keeps (0.18's name for it).
    LOGBUF = LOG_ENTRIES

    def __init__(
        self,
        addr: tuple[str, int],
        ssl: bool = False,
        ssloptions: SSLOptions | None = None,
        craftanchor: str = DEFAULT_CRAFT_ANCHOR,
        staticdir: str | None = None,
        anchors: Iterable[tuple[str | re.Pattern, str] | Anchor] = (),
        sizelimit: int | None = None,
        nocraft: bool = False,
        nohang: bool = False,
        timeout: float | None = None,
        logreq: bool = False,
        logresp: bool = False,
        explain: bool = False,
        hexdump: bool = False,
        http2_framedump: bool = False,
        webdebug: bool = False,
        logfp: TextIO | None = sys.stdout,
        noweb: bool = False,
        noapi: bool = False,
    ) -> None:
        self.ssl = ssl
        self.ssloptions = ssloptions or SSLOptions()
        self.craftanchor = craftanchor
        self.staticdir = staticdir
        self.sizelimit = sizelimit
        self.nocraft = nocraft
        self.nohang = nohang
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self.logreq = logreq
        self.logresp = logresp
        self.explain = explain
        self.hexdump = hexdump
        self.http2_framedump = http2_framedump
        self.logfp = logfp
        self.console = ConsoleLog(logfp, hexdump)
        self.log = RequestLog(self.LOGBUF)
        self.stop_event = threading.Event()
        self.settings = language.Settings(staticdir=staticdir, stop_event=self.stop_event)
        self._parsed = _ParseCache()
        self.anchors = [a if isinstance(a, Anchor) else Anchor.make(*a, settings=self.settings)
                        for a in anchors]
        if ssl or self.ssloptions.certs:
            self.ssloptions.certstore  # a bad confdir or --cert fails now, not per client
        super().__init__(addr, timeout=self.timeout)

    # --- choosing the response -----------------------------------------------------------

    def choose(self, path: str, websocket: bool, use_http2: bool) -> tuple[str, Any]:
        """What to answer a request for ``path`` with: ``(kind, what)``.

        ``kind`` "crafted": ``what`` is an iterator of parsed specs, ``x`` repetitions
        expanded lazily; "error" (an 800) or "notfound" (a 404): ``what`` is
        ``(reason, message)``.
        """
        for anchor in self.anchors:
            if anchor.pattern.match(path):
                return self.parse(anchor.spec, use_http2)
        if path.startswith(self.craftanchor):
            if self.nocraft:
                return "error", ("Crafting disabled", "Crafting disabled: only anchors are served.")
            return self.parse(urllib.parse.unquote(path[len(self.craftanchor):]), use_http2)
        if websocket and not use_http2:
            return self.parse("ws", use_http2)
        return "notfound", ("Not Found", f"No anchor matches this path; craft a response "
                                         f"under {self.craftanchor}, as in {self.craftanchor}200")

    def parse(self, spec: str, use_http2: bool) -> tuple[str, Any]:
        """``("crafted", specs)`` or ``("error", (reason, message))`` for a spec that does
        not parse or includes (``+path``) a file it may not read."""
        try:
            return "crafted", self._parsed.get(spec, use_http2, self.settings)
        except language.ParseException as e:
            return "error", ("Parse Error", f"Error parsing response spec: {e}")
        except language.FileAccessDenied as e:
            return "error", ("File access denied", f"File access denied: {e}")
        except OSError as e:
            return "error", ("File access denied", f"Cannot read an included file: {e}")

    def check_policy(self, msg: Any, settings: language.Settings) -> tuple[str | None, Any]:
        """``(None, resolved message)``, or ``(reason it may not be served, None)``."""
        try:
            msg = msg.resolve(settings)
            length = msg.length(settings)
        except language.FileAccessDenied as e:
            return f"File access denied: {e}", None
        except language.PathodError as e:
            return f"Cannot render the spec: {e}", None
        if self.sizelimit is not None and length > self.sizelimit:
            return f"Response too large: {length} bytes, the limit is {self.sizelimit}", None
        if self.nohang and any(isinstance(a, PauseAt) for a in msg.actions):
            return "Pauses have been disabled", None
        return None, msg

    # --- connections ----------------------------------------------------------------------

    def handle_client_connection(self, connection: Any, client_address: Any) -> None:
        handler = PathodHandler(connection, client_address, self)
        try:
            handler.handle()
        finally:
            handler.finish()

    def add_log(self, entry: dict) -> int:
        return self.log.add(entry)

    def get_log(self) -> list[dict]:
        """The log entries, oldest first."""
        return self.log.entries()

    def clear_log(self) -> None:
        self.log.clear()

    def log_by_id(self, identifier: int) -> dict | None:
        return self.log.by_id(identifier)

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self.stop_event.set()  # wakes any pause in progress
        super().shutdown(*args, **kwargs)


# --- one connection ----------------------------------------------------------------------

def _write(resolved: Any, writer: Any, settings: language.Settings, response_log: dict) -> None:
    """Write a resolved message and add what happened to its log entry (the keys of
    ``language.serve``'s log)."""
    started = time.time()
    result = write_values(writer, resolved.values(settings), resolved.actions, settings)
    response_log.update(
        disconnect=result.disconnect, interrupted=result.interrupted, actions=result.actions,
        bytes_written=result.bytes_written, started=started, duration=time.time() - started)
    if result.error:
        response_log["error"] = result.error


def _headers_log(headers: Headers) -> list[list[str]]:
    return [[to_str(name), to_str(value)] for name, value in headers.fields]


def _clientcert_log(cert: certutils.SSLCert | None) -> dict | None:
    if cert is None:
        return None
    return {
        "cn": cert.cn,
        "subject": cert.subject,
        "serial": cert.serial,
        "notbefore": cert.notbefore.isoformat(),
        "notafter": cert.notafter.isoformat(),
        "keyinfo": cert.keyinfo,
    }


def _error_spec(code: int, reason: str, text: str, use_http2: bool) -> str:
    """A response spec for pathod's own answers (800 errors, 404), as plain text."""
    body = quote(text.encode("utf-8", "backslashreplace"))
    spec = f"{code}:c'text/plain':b{body}"
    if not use_http2:
        spec += f":m{quote(reason.encode('ascii'))}"
    return spec


class PathodHandler(BaseHandler):
    """Serves one client connection: TLS if asked, then HTTP/1 requests (switching to
    websocket frames after a 101, or to TLS after CONNECT), or HTTP/2 if ALPN said so."""

    def __init__(self, connection: Any, address: Any, server: Pathod) -> None:
        super().__init__(connection, address, server, timeout=server.timeout)
        self.server: Pathod = server
        self.console = server.console
        self.peer = f"{self.address.host}:{self.address.port}"

    # --- the connection ---------------------------------------------------------------------

    def handle(self) -> None:
        try:
            if self.server.ssl and not self._tls_handshake(None):
                return
            if self.get_alpn_proto_negotiated() == b"h2":
                Http2Connection(self).serve()
            else:
                self._serve_http1()
        except exceptions.TcpTimeout:
            self.console.write(f"{self.peer}: timeout")
            self.server.add_log({"type": "timeout", "remote_address": self.address.address})
        except exceptions.TcpDisconnect:
            self.console.write(f"{self.peer}: disconnect")
        except exceptions.NetlibException as e:
            self.log_error(str(e))
        except language.PathodError as e:  # e.g. a file value that changed while served
            self.log_error(f"cannot serve the spec: {e}")

    def log_error(self, message: str) -> None:
        self.console.write(f"{self.peer}: {message}")
        self.server.add_log(
            {"type": "error", "msg": message, "remote_address": self.address.address})

    def _tls_handshake(self, connect_host: str | None) -> bool:
        """Handshake as a TLS server; False (and logged) if it failed."""
        opts = self.server.ssloptions
        try:
            local_ip = self._local_ip() if connect_host is None else None
            cert, key, chain_file = opts.get_cert(connect_host, local_ip)
            self.convert_to_ssl(
                cert, key, chain_file,
                handle_sni=None if opts.cn else self._cert_for_sni,
                alpn_select=opts.choose_alpn,
                request_client_cert=opts.request_client_cert,
                cipher_list=opts.ciphers,
                min_version=opts.min_version, max_version=opts.max_version,
            )
        except exceptions.TlsException as e:
            self.log_error(f"TLS handshake failed: {e}")
            return False
        return True

    def _local_ip(self) -> str | None:
        try:
            return self.connection.getsockname()[0]
        except OSError:  # pragma: no cover - the client is already gone
            return None

    def _cert_for_sni(self, name: str | None) -> certutils.CertStoreEntry | None:
        return self.server.ssloptions.get_cert(name) if name else None

    def request_log(self, request: Any, protocol: str) -> dict:
        """The log entry for a request, before its response is known."""
        return {
            "type": "crafted",
            "protocol": protocol,
            "request": {
                "method": request.method,
                "path": request.path,
                "http_version": request.http_version,
                "headers": _headers_log(request.headers),
                "sni": self.sni,
                "remote_address": self.address.address,
                "clientcert": _clientcert_log(self.clientcert),
            },
            "cipher": self.get_current_cipher(),
            "timestamp": time.time(),
        }

    # --- HTTP/1 ------------------------------------------------------------------------------

    def _serve_http1(self) -> None:
        while True:
            try:
                request = http1.read_request_head(self.rfile)
                body = self._read_body(request)
            except exceptions.HttpReadDisconnect:
                return
            except exceptions.HttpException as e:
                self.log_error(f"invalid request: {e}")
                self._write_plain_error(400, "Bad Request", f"{e}\n")
                return
            request_bytes = None
            if self.server.logreq:
                head = http1.assemble_request_head(request)
                request_bytes = (head + body)[:RECORD_LIMIT]
                self.console.write_bytes(f"{self.peer}: request", request_bytes,
                                         len(head) + len(body) > RECORD_LIMIT)
            if request.method.upper() == "CONNECT":
                if not self._handle_connect(request):
                    return
                continue
            if not self._serve_request(request, request_bytes):
                return
            if http1.connection_close(request.http_version, request.headers):
                return

    def _read_body(self, request: Any) -> bytes:
        """Consume the request body (answering ``Expect: 100-continue`` first, as curl
        waits for that before it sends a large body); return what -q keeps of it."""
        size = http1.expected_http_body_size(request)
        if size == 0 and "expect" in request.headers:
            without_expect = request.copy()
            del without_expect.headers["expect"]
            size = http1.expected_http_body_size(without_expect)
            if size != 0:
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.wfile.flush()
        if size == 0:
            return b""
        kept = bytearray()
        for piece in http1.read_body(self.rfile, size, max_chunk_size=BODY_PIECE):
            if self.server.logreq and len(kept) < RECORD_LIMIT:
                kept += piece[:RECORD_LIMIT - len(kept)]
        return bytes(kept)

    def _write_plain_error(self, code: int, reason: str, text: str) -> None:
        body = text.encode("utf-8", "backslashreplace")
        head = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("ascii")
        try:
            self.wfile.write(head + body)
            self.wfile.flush()
        except exceptions.NetlibException:  # pragma: no cover - the client left first
            pass

    def _handle_connect(self, request: Any) -> bool:
        """Answer a CONNECT; then, unless -C, become a TLS server. False: stop serving."""
        self.console.write(f"{self.peer}: CONNECT {request.host}:{request.port}")
        established = f"{request.http_version} 200 Connection established\r\n\r\n"
        self.wfile.write(established.encode("ascii"))
        self.wfile.flush()
        if self.server.ssloptions.not_after_connect:
            return True
        if not self._tls_handshake(request.host):
            return False
        if self.get_alpn_proto_negotiated() == b"h2":
            Http2Connection(self).serve()
            return False
        return True

    def _serve_request(self, request: Any, request_bytes: bytes | None) -> bool:
        """Serve one HTTP/1 request; False when the connection must end. With -q/-r the
        log entry also gets the bytes (escaped, at most RECORD_LIMIT), as in 0.18."""
        entry = self.request_log(request, "http")
        if request_bytes is not None:
            entry["request_bytes"] = escape_bytes(request_bytes)
        websocket_key = None
        if websockets.is_websocket_request(request.headers):
            try:
                websocket_key = websockets.get_client_key(request.headers)
            except exceptions.WebSocketException:
                pass  # not a valid handshake: served like any other request
        settings = dataclasses.replace(self.server.settings, websocket_key=websocket_key)
        kind, what = self.server.choose(request.path, websocket_key is not None, False)
        writer: Any = RecordingWriter(self.wfile) if self.server.logresp else self.wfile
        keep, upgraded = self.serve_messages(kind, what, settings, writer, entry)
        if self.server.logresp:
            truncated = writer.truncated
            response_bytes = writer.take()
            entry["response_bytes"] = escape_bytes(response_bytes)
            self.console.write_bytes(f"{self.peer}: response", response_bytes, truncated)
        if keep and upgraded:
            self._serve_websocket(settings)
            return False
        return keep

    def serve_messages(self, kind: str, what: Any, settings: language.Settings, writer: Any,
                       entry: dict, stream_id: int | None = None) -> tuple[bool, bool]:
        """Serve what ``Pathod.choose`` picked and log it as ``entry``. ``stream_id`` is
        the HTTP/2 stream to answer on (None for HTTP/1).

        The entry is added to the log *before* the response is written, with the resolved
        spec already in ``entry["response"]``: a client that has its answer finds its
        request in the log at once (``requests.put(d.p(...)); d.last_log()``). What only
        serving tells (``disconnect``, ``actions``, ``bytes_written``, ``duration``) is
        filled in when the response has been written. With ``x`` repetitions,
        ``entry["responses"]`` lists every one.

        Returns ``(keep the connection, upgraded to websocket)``.
        """
        if kind != "crafted":
            reason, text = what
            code = 404 if kind == "notfound" else ERROR_CODE
            what = self._own_response(code, reason, text, stream_id)
            entry["type"] = kind
            if kind == "error":
                entry["msg"] = text
        upgraded = False
        for index, msg in enumerate(what):
            resolved, refused = self._prepare(msg, settings, entry, stream_id)
            response_log = resolved.log(settings)
            if index == 0:
                entry["response"] = response_log
                self.server.add_log(entry)
            else:
                entry.setdefault("responses", [entry["response"]]).append(response_log)
            request = entry["request"]
            self.console.write(f"{self.peer}: {request['method']} {request['path']}"
                               f" << {response_log['spec'][:SPEC_LOG_LIMIT]}")
            _write(resolved, writer, settings, response_log)
            upgraded = upgraded or (not refused and bool(getattr(resolved, "ws", False)))
            if response_log["disconnect"]:
                return False, False
        return True, upgraded

    @staticmethod
    def _own_response(code: int, reason: str, text: str, stream_id: int | None) -> list:
        """Pathod's own answer (800, 404) as a spec, so it is served like any other."""
        use_http2 = stream_id is not None
        return list(language.parse_pathod(_error_spec(code, reason, text, use_http2), use_http2))

    def _prepare(self, msg: Any, settings: language.Settings, entry: dict,
                 stream_id: int | None) -> tuple[Any, bool]:
        """``(resolved message, refused)``: the message, or the 800 that replaces it when
        the server's policy refuses it."""
        if stream_id is not None:
            msg = msg.with_stream_id(stream_id)
        error, resolved = self.server.check_policy(msg, settings)
        if error is None:
            if self.server.explain:
                self.console.write(f"{self.peer}: >> Spec: {resolved.spec()}")
            return resolved, False
        entry["type"] = "error"
        entry["msg"] = error
        refusal = self._own_response(ERROR_CODE, ERROR_REASON, error, stream_id)[0]
        if stream_id is not None:
            refusal = refusal.with_stream_id(stream_id)
        return refusal.resolve(settings), True

    # --- websocket -----------------------------------------------------------------------------

    def _serve_websocket(self, settings: language.Settings) -> None:
        """After a 101: log every frame the client sends until it closes. A frame whose
        payload starts with ``NESTED_LEADER`` carries a ``wf:`` spec, which is served back."""
        while True:
            try:
                frame = websockets.Frame.from_file(self.rfile, max_payload=MAX_WEBSOCKET_PAYLOAD)
            except (exceptions.TcpDisconnect, exceptions.TcpReadIncomplete):
                return
            except exceptions.WebSocketException as e:
                self.log_error(f"invalid websocket frame: {e}")
                return
            self.server.add_log({
                "type": "inbound",
                "protocol": "websockets",
                "frame": {
                    "opcode": int(frame.header.opcode),
                    "fin": bool(frame.header.fin),
                    "masked": bool(frame.header.mask),
                    "length": len(frame.payload),
                    "payload": escape_bytes(frame.payload[:FRAME_LOG_LIMIT]),
                },
                "remote_address": self.address.address,
                "timestamp": time.time(),
            })
            self.console.write(f"{self.peer}: websocket frame received\n{frame.human_readable()}")
            if frame.header.opcode == websockets.OPCODE.CLOSE:
                return
            if frame.payload.startswith(NESTED_LEADER):
                if not self._serve_nested_frames(frame.payload[len(NESTED_LEADER):], settings):
                    return

    def _serve_nested_frames(self, spec: bytes, settings: language.Settings) -> bool:
        """Serve the frames a client asked for; False when the connection must end."""
        try:
            frames = language.parse_websocket_frame(spec, settings)
        except (language.PathodError, OSError) as e:
            self.log_error(f"invalid websocket frame spec: {e}")
            return True
        for msg in frames:
            error, resolved = self.server.check_policy(msg, settings)
            if error is not None:
                self.log_error(error)
                return True
            served = language.serve(resolved, self.wfile, settings)
            self.server.add_log({"type": "outbound", "protocol": "websockets",
                                 "frame": served, "timestamp": time.time()})
            if served.get("disconnect"):
                return False
        return True

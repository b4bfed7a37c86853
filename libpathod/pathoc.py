"""pathoc as a library: ``Pathoc(("host", port)).connect()``, then ``request(spec)``.

A Pathoc is one client connection. It sends requests crafted from the pathod language
(``get:/p/200``, ``ws:/``, ``wf:b'hi'``), reads what the server answers, and logs each
exchange in the format of the documentation::

    07-06-16 12:13:43: >> 'GET':/
    << 302 Found: 261 bytes

The rules of this file:

- One exchange, one log block (``ExchangeLog``): the timestamp goes on its first line only,
  and the block is written at once, also when the exchange fails (so a ``<< Timeout`` line
  is printed before the error reaches the caller) or not at all (``-I`` ignored codes,
  ``ignoretimeout``). Blocks are written under one lock, because the WebSocket reader thread
  logs frames while the main thread may log a request.
- Errors keep their netlib class: a request that fails raises the NetlibException that ended
  it (TcpTimeout, TcpDisconnect, HttpException) after its block is written; ``connect``
  raises ``PathocError`` for failures that make the whole run pointless (the proxy refused
  CONNECT, TLS failed, the server refused HTTP/2) and netlib's TcpException when the server
  is not there, so the command line can go on with the next of ``-n`` connections. A
  disconnect the spec itself asks for (``d``) raises ``SpecDisconnect``.
- After a ``ws:`` upgrade the connection carries frames: send ``wf:`` specs and read what
  arrives with ``wait()``; an HTTP request on it would race the reader.
- Nothing outlives the connection: ``close()`` (or leaving ``with``) stops the WebSocket
  reader by shutting down the read side of the socket, which wakes its blocking read, and
  joins it.
- HTTP/2 (``use_http2``) speaks just enough of the protocol to read responses to crafted
  requests (``libpathod.pathoc_http2.Http2Session``); the request frames are the language's.
"""
from __future__ import annotations

import os
import queue
import socket
import sys
import threading
import time
from typing import IO, Any, Iterable, Iterator

from netlib import exceptions, tcp
from netlib.http import Request, Response, http1
from netlib.tcp import tls
from netlib.websockets import OPCODE, Frame

from libpathod import language
from libpathod.pathoc_http2 import Http2Session
from libpathod.log import RECORD_LIMIT, TIMESTAMP_FORMAT, RecordingWriter, escape, hexdump
from libpathod.language import generators

__all__ = [
    "Pathoc", "PathocError", "SpecDisconnect", "SSLInfo", "ExchangeLog", "Http2Session",
    "WebsocketFrameReader",
]

# How long close() waits for the WebSocket reader after waking it. It wakes at once (its
# socket read returns EOF); the bound only keeps a wedged TLS shutdown from hanging exit.
READER_JOIN_TIMEOUT = 5.0

# ALPN protocol names (RFC 7301 registry).
ALPN_HTTP2 = b"h2"
ALPN_HTTP1 = b"http/1.1"

# 1xx codes after which the final response still follows (101 ends HTTP/1 instead).
INTERIM_STATUS_CODES = frozenset(range(100, 200)) - {101}

# Default ports per scheme, to decide whether the Host header needs the port.
DEFAULT_PORTS = {False: 80, True: 443}


class PathocError(Exception):
    """The connection cannot be used at all: CONNECT was refused, TLS failed, HTTP/2 was
    not agreed. The command line reports it and exits non-zero."""


class SpecDisconnect(exceptions.TcpDisconnect):
    """The request's spec asked to disconnect (``d``): the connection is over, as intended."""


# --- output ------------------------------------------------------------------------------

class ExchangeLog:
    """The lines of one exchange, written as one block with a timestamp in front.

    Collecting first and writing at the end lets an exchange be suppressed after the fact
    (the response code turned out to be ignored) and keeps blocks from two threads apart.
    """

    def __init__(self, fp: IO[str] | None, lock: threading.Lock, use_hexdump: bool = False) -> None:
        self.fp = fp
        self.lock = lock
        self.use_hexdump = use_hexdump
        self.lines: list[str] = []
        self.suppressed = False

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def dump(self, title: str, data: bytes) -> None:
        """``title`` and ``data`` indented below it, escaped or as a hex dump (-x)."""
        self(f"{title} ({len(data)} bytes):")
        text = hexdump(data) if self.use_hexdump else escape(data)
        for line in text.split("\n"):
            self("\t" + line)

    def suppress(self) -> None:
        self.suppressed = True

    def write(self) -> None:
        if self.suppressed or self.fp is None or not self.lines:
            return
        text = time.strftime(TIMESTAMP_FORMAT) + ": " + "\n".join(self.lines) + "\n"
        with self.lock:
            self.fp.write(text)
            self.fp.flush()


class _RecordingSource:
    """The recv of a Reader stacked on the connection's reader, keeping a copy of what
    arrives while recording is on (-r, show the response bytes).

    It records bytes as they are received, not as they are parsed: bytes the server sent
    ahead of our next request would be shown with the current response. Servers do not do
    that to HTTP clients, so in practice the record is exactly the response. Only the first
    RECORD_LIMIT bytes are kept, as pathod does for its -r.
    """

    def __init__(self, inner: tcp.Reader) -> None:
        self.inner = inner
        self.parts: list[bytes] | None = None
        self.kept = 0

    def recv(self, n: int) -> bytes:
        data = self.inner.readsome(n)
        if self.parts is not None and self.kept < RECORD_LIMIT:
            piece = data[:RECORD_LIMIT - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        return data

    def start(self) -> None:
        self.parts = []
        self.kept = 0

    def stop(self) -> bytes:
        data = b"".join(self.parts or [])
        self.parts = None
        return data


class SSLInfo:
    """What was agreed in the TLS handshake, printed by -S."""

    def __init__(self, certchain: list, cipher: tuple[str, int, str] | None, alpn: bytes) -> None:
        self.certchain = certchain
        self.cipher = cipher
        self.alpn = alpn

    def __str__(self) -> str:
        lines = [f"Application Layer Protocol: {self.alpn.decode('ascii', 'replace') or '-'}"]
        if self.cipher:
            lines.append("Cipher: %s, %s bit, %s" % self.cipher)
        lines.append("SSL certificate chain:")
        for n, cert in enumerate(self.certchain):
            lines.append(f"  Certificate [{n}]")
            lines.append("\tSubject: " + ", ".join(f"{k}={v}" for k, v in cert.subject))
            lines.append("\tIssuer: " + ", ".join(f"{k}={v}" for k, v in cert.issuer))
            lines.append(f"\tValidity: {cert.notbefore} - {cert.notafter}")
            lines.append(f"\tSerial: {cert.serial}")
            key_type, bits = cert.keyinfo
            lines.append(f"\tPubkey: {bits} bit {key_type}")
            if cert.altnames:
                lines.append("\tSANs: " + " ".join(cert.altnames))
        return "\n".join(lines)


def _authority(host: str, port: int | None) -> str:
    """host[:port] as HTTP writes it (RFC 3986 3.2.2): an IPv6 literal in brackets."""
    if ":" in host:
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def _summary(response: Response) -> str:
    """The "<< 302 Found: 261 bytes" line. HTTP/2 has no reason phrase: "<< 200: 5 bytes"."""
    size = len(response.raw_content or b"")
    reason = escape(response.reason.encode("utf-8", "surrogateescape"))
    code = f"{response.status_code} {reason}" if reason else str(response.status_code)
    return f"<< {code}: {size} bytes"


def _error_line(error: exceptions.NetlibException) -> str:
    """The "<<" line for a request that got no response."""
    if isinstance(error, exceptions.TcpTimeout):
        return "<< Timeout"
    if isinstance(error, SpecDisconnect):
        return "<< Disconnected, as the spec asked"
    if isinstance(error, exceptions.Disconnect):
        return f"<< Server disconnected: {error}"
    if isinstance(error, exceptions.HttpException):
        return f"<< Invalid server response: {error}"
    return f"<< Error: {error}"


# --- WebSocket receive mode --------------------------------------------------------------

class WebsocketFrameReader(threading.Thread):
    """Reads frames after a successful ``ws:`` upgrade, logs each and queues it for
    ``Pathoc.wait``; ``None`` in the queue means the reader has ended.

    It ends when the server closes (or sends a close frame), when ``read_limit`` frames
    have arrived, on an error, or after ``timeout`` seconds without a frame when a timeout
    was asked for (without one an idle connection just waits). ``Pathoc.stop`` wakes it
    by shutting the socket's read side, so it needs no polling.
    """

    def __init__(self, client: "Pathoc", read_limit: int | None, timeout: float | None) -> None:
        super().__init__(name=f"pathoc websocket reader {client.address}", daemon=True)
        self.client = client
        self.read_limit = read_limit
        self.timeout = timeout
        self.frames: queue.Queue[Frame | None] = queue.Queue()
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            self._read_frames()
        finally:
            self.frames.put(None)

    def _read_frames(self) -> None:
        client = self.client
        remaining = self.read_limit
        while remaining is None or remaining > 0:
            log = client._new_log()
            client._recorder_start()
            try:
                frame = Frame.from_file(client.rfile)
            except exceptions.TcpTimeout:
                if self.timeout is None and not self.stopping.is_set():
                    continue  # idle, not dead: no timeout was asked for
                return
            except exceptions.NetlibException:
                return  # closed by the server, or by stop()
            finally:
                raw = client._recorder_stop()
            log("<< " + frame.header.human_readable())
            if raw:
                log.dump("Frame bytes read", raw)
            log.write()
            self.frames.put(frame)
            if frame.header.opcode == OPCODE.CLOSE:
                return  # the server ends the session; nothing follows a close frame
            if remaining is not None:
                remaining -= 1


# --- HTTP/2 ------------------------------------------------------------------------------

class Pathoc(tcp.TCPClient):
    """One client connection that sends crafted requests and logs the answers.

    ``ssl_version`` names a range in ``netlib.tcp.VERSIONS`` ("secure", "all", "TLSv1_2"...).
    ``sni`` defaults to the host the requests are for (the CONNECT target with
    ``connect_to``). ``timeout`` bounds every socket operation; without it netlib's default
    applies, except that an idle WebSocket connection waits for frames indefinitely.
    Output (``showsummary``, ``explain``, ``showreq``, ``showresp``, ``hexdump``) goes to
    ``fp``; the command line turns on ``showsummary``, a library user gets silence unless
    asking for it.
    """

    def __init__(
        self,
        address: tcp.Address | tuple[str, int],
        # TLS
        ssl: bool | None = None,
        sni: str | None = None,
        ssl_version: str = "secure",
        ssl_options: int = tls.DEFAULT_OPTIONS,
        clientcert: str | None = None,
        ciphers: str | None = None,
        # HTTP/2
        use_http2: bool = False,
        http2_skip_connection_preface: bool = False,
        http2_framedump: bool = False,
        # WebSocket
        ws_read_limit: int | None = None,
        # network
        timeout: float | None = None,
        # output
        showreq: bool = False,
        showresp: bool = False,
        explain: bool = False,
        hexdump: bool = False,
        ignorecodes: Iterable[int] = (),
        ignoretimeout: bool = False,
        showsummary: bool = False,
        fp: IO[str] | None = sys.stdout,
    ) -> None:
        super().__init__(address, timeout=timeout if timeout else tcp.DEFAULT_TIMEOUT)
        self.ssl = bool(ssl)
        self.sni = sni
        self.ssl_version = ssl_version
        self.ssl_options = ssl_options
        self.clientcert = clientcert
        self.ciphers = ciphers
        self.sslinfo: SSLInfo | None = None
        self.use_http2 = use_http2
        self.http2_skip_connection_preface = http2_skip_connection_preface
        self.http2_framedump = http2_framedump
        self.ws_read_limit = ws_read_limit
        self.user_timeout = timeout
        self.showreq = showreq
        self.showresp = showresp
        self.explain = explain
        self.hexdump = hexdump
        self.ignorecodes = frozenset(ignorecodes)
        self.ignoretimeout = ignoretimeout
        self.showsummary = showsummary
        self.fp = fp
        self._output_lock = threading.Lock()
        # Set by finish(): cuts short a pause in a request being written (p0,f) when
        # another thread closes the client.
        self._stop_event = threading.Event()
        self._recorder: _RecordingSource | None = None
        self.ws_framereader: WebsocketFrameReader | None = None
        self.http2: Http2Session | None = Http2Session(self, http2_framedump) if use_http2 else None
        self.settings = self._make_settings(self.address.host, self.address.port)

    # --- set-up ---------------------------------------------------------------------------

    def _make_settings(self, host: str, port: int) -> language.Settings:
        """Settings for rendering: Host header for ``host``, files relative to the working
        directory without restriction (the user typing the spec is the one we protect)."""
        host_header = _authority(host, None if port == DEFAULT_PORTS[self.ssl] else port)
        return language.Settings(
            is_client=True,
            staticdir=os.getcwd(),
            unconstrained_file_access=True,
            request_host=host_header,
            protocol=self.http2.framing if self.http2 is not None else None,
            stop_event=self._stop_event,
        )

    def http_connect(self, connect_to: tuple[str, int]) -> None:
        """Ask the proxy we are connected to for a tunnel to ``connect_to``.

        Any 2xx opens the tunnel (RFC 7231 4.3.6); anything else is a PathocError that
        names the answer, as is a proxy that does not answer HTTP.
        """
        host, port = connect_to
        authority = _authority(host, port)
        wire_authority = authority.encode("idna")
        self.wfile.write(
            b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (wire_authority, wire_authority))
        self.wfile.flush()
        connect_request = Request("authority", "CONNECT", None, host, port, b"",
                                  b"HTTP/1.1", ())
        try:
            response = http1.read_response(self.rfile, connect_request)
        except exceptions.NetlibException as e:
            raise PathocError(f"Proxy CONNECT to {authority} failed: {e}") from e
        if not 200 <= response.status_code < 300:
            raise PathocError(
                f"Proxy CONNECT to {authority} failed: "
                f"{response.status_code} {response.reason}".rstrip())

    def connect(self, connect_to: tuple[str, int] | None = None, showssl: bool = False,
                fp: IO[str] | None = sys.stdout) -> "Pathoc":
        """Connect (through a CONNECT tunnel to ``connect_to`` if given), then TLS and the
        HTTP/2 preface as configured. Returns self, which closes on leaving ``with``.

        Raises TcpException (and its subclasses) when the server cannot be reached and
        PathocError when it can but will not talk as asked.
        """
        if self.use_http2 and not self.ssl:
            raise PathocError("HTTP/2 needs TLS (ALPN): use -s")
        super().connect()
        try:
            if connect_to:
                self.http_connect(connect_to)
                self.settings = self._make_settings(*connect_to)
            if self.ssl:
                self._start_client_tls(connect_to[0] if connect_to else self.address.host)
                if showssl and fp is not None:
                    print(str(self.sslinfo), file=fp)
            if self.showresp:
                self._install_recorder()
            if self.use_http2 and not self.http2_skip_connection_preface:
                self.http2.perform_connection_preface()
        except BaseException:
            self.finish()
            raise
        return self

    def _start_client_tls(self, host: str) -> None:
        alpn = [ALPN_HTTP2, ALPN_HTTP1] if self.use_http2 else [ALPN_HTTP1]
        try:
            min_version, max_version = tcp.version_range(self.ssl_version)
            self.convert_to_ssl(
                sni=self.sni or host,
                alpn_protos=alpn,
                cert=self.clientcert,
                options=self.ssl_options,
                min_version=min_version,
                max_version=max_version,
                cipher_list=self.ciphers,
            )
        except exceptions.TlsException as e:
            raise PathocError(f"TLS handshake with {self.address} failed: {e}") from e
        self.sslinfo = SSLInfo(self.server_certs, self.get_current_cipher(),
                               self.get_alpn_proto_negotiated())
        if self.use_http2 and self.get_alpn_proto_negotiated() != ALPN_HTTP2:
            chosen = self.get_alpn_proto_negotiated().decode("ascii", "replace") or "nothing"
            raise PathocError(f"HTTP/2 requested, but the server chose {chosen} in ALPN")

    def _install_recorder(self) -> None:
        """Stack a recording reader on rfile, so -r can show the bytes of each response."""
        self._recorder = _RecordingSource(self.rfile)
        self.rfile = tcp.Reader(self._recorder.recv)

    def _recorder_start(self) -> None:
        """Start keeping the bytes received (only with -r, which installed the recorder)."""
        if self._recorder is not None:
            self._recorder.start()

    def _recorder_stop(self) -> bytes:
        """The bytes received since ``_recorder_start`` (b"" without -r)."""
        return self._recorder.stop() if self._recorder is not None else b""

    # --- output ---------------------------------------------------------------------------

    @property
    def _logging(self) -> bool:
        return (self.showsummary or self.explain or self.showreq or self.showresp
                or self.http2_framedump)

    def _new_log(self) -> ExchangeLog:
        return ExchangeLog(self.fp if self._logging else None, self._output_lock, self.hexdump)

    # --- requests -------------------------------------------------------------------------

    def _begin(self, spec: Any) -> tuple[Any, ExchangeLog]:
        """Resolve ``spec`` and open its log block.

        Resolving first fixes what serve sends and, for HTTP/2, the stream id to read the
        answer from (serving a resolved message resolves nothing more). The log shows the
        spec as written, or with -e the resolved one, so the line can be replayed.
        """
        resolved = spec.resolve(self.settings)
        log = self._new_log()
        log(">> " + (resolved if self.explain else spec).spec())
        return resolved, log

    def _serve(self, spec: Any, exchange: ExchangeLog) -> None:
        """Write ``spec``; a disconnect it asks for (or a server that went away while we
        wrote) ends the connection with TcpDisconnect."""
        recording = self.showreq or self.http2_framedump
        writer = RecordingWriter(self.wfile) if recording else self.wfile
        try:
            served = language.serve(spec, writer, self.settings)
            self.wfile.flush()
        finally:
            if recording:
                sent = writer.take()
                if self.http2 is not None:
                    self.http2.dump_sent(sent)
                if self.showreq:
                    exchange.dump("Request", sent)
        if served.get("error"):
            raise exceptions.TcpDisconnect(served["error"])
        if served.get("disconnect"):
            raise SpecDisconnect("the spec asked to disconnect")

    def http(self, spec: Any) -> Response | None:
        """Send one HTTP request and read its response.

        Returns the response, or None for a timeout that ``ignoretimeout`` swallows. Other
        failures raise their NetlibException after the log block says what happened.
        """
        spec, log = self._begin(spec)
        try:
            self._serve(spec, log)
            self._recorder_start()
            try:
                response = self._read_response(spec)
            finally:
                raw = self._recorder_stop()
            log(_summary(response))
            if self._recorder is not None:
                log.dump("Response", raw)
            if response.status_code in self.ignorecodes:
                log.suppress()
            response.sslinfo = self.sslinfo
            return response
        except exceptions.TcpTimeout as e:
            if self.ignoretimeout:
                log.suppress()
                return None
            log(_error_line(e))
            raise
        except exceptions.NetlibException as e:
            log(_error_line(e))
            raise
        finally:
            log.write()

    def _read_response(self, spec: Any) -> Response:
        if self.http2 is not None:
            return self.http2.read_response(spec.stream_id)
        # The reader needs the method (a HEAD response has no body) and nothing else.
        method = generators.source_bytes(spec.method.get_generator(self.settings))
        request = Request("relative", method, None, None, None, b"/", b"HTTP/1.1", ())
        response = http1.read_response(self.rfile, request)
        # Interim answers (100 Continue, 103 Early Hints) precede the real one; 101 is final.
        while response.status_code in INTERIM_STATUS_CODES:
            response = http1.read_response(self.rfile, request)
        return response

    def websocket_start(self, spec: Any) -> Response | None:
        """Send a ``ws:`` request; on 101 Switching Protocols start reading frames."""
        response = self.http(spec)
        if response is not None and response.status_code == 101:
            self.ws_framereader = WebsocketFrameReader(self, self.ws_read_limit, self.user_timeout)
            self.ws_framereader.start()
        return response

    def websocket_send_frame(self, spec: Any) -> None:
        """Send one ``wf:`` frame."""
        spec, log = self._begin(spec)
        try:
            self._serve(spec, log)
        except exceptions.NetlibException as e:
            log(_error_line(e))
            raise
        finally:
            log.write()

    def request(self, spec: Any) -> Response | None:
        """Send what ``spec`` says: a spec string or a parsed message.

        A string may expand to several messages (``x3``, or several specs); each is sent
        and the last result returned. HTTP requests return their Response, frames None.
        """
        if isinstance(spec, str):
            result = None
            for message in language.parse_pathoc(spec, self.use_http2, self.settings):
                result = self.request(message)
            return result
        if isinstance(spec, language.websockets.WebsocketFrame):
            self.websocket_send_frame(spec)
            return None
        if getattr(spec, "ws", False):
            return self.websocket_start(spec)
        return self.http(spec)

    # --- WebSocket frames and the end -----------------------------------------------------

    def wait(self, timeout: float | None = None, finish: bool = True) -> Iterator[Frame]:
        """The frames the WebSocket reader receives, until it ends.

        With ``finish`` (the default) this waits for the reader to end, however long; with
        ``finish`` false it stops at the first ``timeout`` seconds without a frame
        (``timeout=0``: only the frames that have already arrived).
        """
        reader = self.ws_framereader
        if reader is None:
            return
        while True:
            try:
                if finish:
                    frame = reader.frames.get()  # the reader always ends with None
                else:
                    frame = reader.frames.get(block=timeout != 0, timeout=timeout)
            except queue.Empty:
                return
            if frame is None:
                break
            yield frame
        reader.join(READER_JOIN_TIMEOUT)
        self.ws_framereader = None

    def stop(self) -> None:
        """Stop the WebSocket reader, if one runs, and wait for it to end."""
        reader = self.ws_framereader
        if reader is None:
            return
        reader.stopping.set()
        if self.connection is not None:
            try:
                self.connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass  # already closed: the reader has seen EOF anyway
        reader.join(READER_JOIN_TIMEOUT)
        self.ws_framereader = None

    def finish(self) -> None:
        """Stop the WebSocket reader and any pause being served, then close."""
        self._stop_event.set()
        self.stop()
        super().finish()

    def __enter__(self) -> "Pathoc":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.finish()

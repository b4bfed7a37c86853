"""The ``pathoc`` command: ``pathoc [options] host[:port] spec [spec ...]``.

Two jobs, kept apart: ``parse_args`` turns the command line into checked options (every spec
is parsed here, so a bad one stops the run before any connection, with the parser's message
and a caret under the offending column), and ``run`` plays the specs: all of them over one
connection, that ``-n`` times over fresh connections.

Decisions where 0.18 and its documentation differ or are silent:

- ``-p PORT`` sets the port, as the documentation's examples use it (0.18 used ``-p`` for
  "print the response"); the port can also be given as ``host:port``, and ``-p`` wins.
  Showing the response is ``-r``/``--show-response``, which moves 0.18's ``-r`` (play a
  random spec per connection) to ``--random``.
- The SNI option is ``--sni`` (0.18's ``-i`` is kept too); ciphers are ``--ciphers`` or
  ``--cipher``; ``-I`` takes comma-separated codes and may be repeated.
- A spec argument that names an existing file is read as a file of specs (0.18), and the
  language's ``+path`` includes work relative to the working directory.
- Exit status: 0 when every exchange got an answer (ignored codes and ``-T`` timeouts count
  as answers), 1 when a connection or an exchange failed, CONNECT/TLS were refused, or a
  spec could not be rendered (a missing file), 2 for a bad command line or spec.
- Specs are parsed again for each connection rather than kept expanded, so
  ``get:/:x10000000`` with ``-n 2`` costs no memory.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import random
import sys
import time
from typing import IO, Iterator, Sequence

from netlib import exceptions, tcp

from libpathod import language, pathoc
from libpathod.language import useragents

__all__ = ["main", "go_pathoc", "parse_args", "run", "make_parser", "EXIT_OK", "EXIT_FAILED",
           "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # what argparse uses for a bad command line; bad specs are the same kind

DEFAULT_PORT = 80
DEFAULT_TLS_PORT = 443

# -m: how many already-played specs in a row may be drawn before giving up (0.18's value).
DEFAULT_MEMO_LIMIT = 5000

# -n -1 repeats until interrupted.
REPEAT_FOREVER = -1


def _version() -> str:
    try:
        return importlib.metadata.version("mitmproxy-suite")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "unknown"


class _ShowUserAgents(argparse.Action):
    """--show-uas: list the ``u`` shortcuts and exit, like --help."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        lines = ["User agent strings:"]
        lines += [f"  {name}  {agent}" for name, agent in useragents.USER_AGENTS.items()]
        print("\n".join(lines))
        parser.exit(EXIT_OK)


def make_parser() -> argparse.ArgumentParser:
    """The argument parser; its --help is pathoc's reference for every option."""
    parser = argparse.ArgumentParser(
        prog="pathoc",
        description="A perverse HTTP client: send requests crafted in the pathod language.",
        epilog="Example: pathoc -p 9999 localhost \"get:/p/:s'401:ir,@1'\"",
    )
    parser.add_argument("--version", action="version", version=f"pathoc {_version()}")
    parser.add_argument("--show-uas", action=_ShowUserAgents,
                        help="Print the user agent shortcuts of the u feature and exit.")
    parser.add_argument("host", metavar="host[:port]", help="Host (and port) to connect to.")
    parser.add_argument(
        "requests", metavar="spec", nargs="+",
        help="Request specification, or the path of a file of specifications. Several are "
             "sent over one connection, in order.")

    group = parser.add_argument_group("Connection")
    group.add_argument("-p", "--port", dest="port", type=int, default=None,
                       help=f"Port to connect to (default {DEFAULT_PORT}, "
                            f"{DEFAULT_TLS_PORT} with -s).")
    group.add_argument("-c", dest="connect_to", metavar="HOST:PORT", default=None,
                       help="Connect through the proxy at host:port with an HTTP CONNECT "
                            "to HOST:PORT first.")
    group.add_argument("-n", dest="repeat", type=int, default=1, metavar="N",
                       help="Repeat N times, each time over a new connection; -1 repeats "
                            "until interrupted.")
    group.add_argument("-w", "--wait", dest="wait", type=float, default=0, metavar="SECONDS",
                       help="Wait this long between repetitions.")
    group.add_argument("-t", "--timeout", dest="timeout", type=float, default=None,
                       metavar="SECONDS",
                       help="Give up on a connection or response after this long.")
    group.add_argument("-m", dest="memo", action="store_true",
                       help="Remember the resolved specs played and never play one twice.")
    group.add_argument("--memo-limit", dest="memolimit", type=int, default=DEFAULT_MEMO_LIMIT,
                       metavar="N",
                       help="With -m, stop after N specs in a row that were already played.")
    group.add_argument("--random", dest="random", action="store_true",
                       help="Play one spec chosen at random per connection, not all in order.")

    group = parser.add_argument_group("HTTP/2")
    group.add_argument("--http2", dest="use_http2", action="store_true",
                       help="Speak HTTP/2 (implies -s; the server must agree in ALPN).")
    group.add_argument("--http2-skip-connection-preface", dest="http2_skip_connection_preface",
                       action="store_true",
                       help="Do not send the HTTP/2 connection preface (implies --http2).")
    group.add_argument("--http2-framedump", dest="http2_framedump", action="store_true",
                       help="Print every HTTP/2 frame sent and received.")

    group = parser.add_argument_group("TLS")
    group.add_argument("-s", "--ssl", dest="ssl", action="store_true", help="Connect with TLS.")
    group.add_argument("-C", "--clientcert", dest="clientcert", default=None, metavar="PATH",
                       help="PEM file with the client certificate and its private key.")
    group.add_argument("-i", "--sni", dest="sni", default=None,
                       help="Server Name Indication to send (default: the host).")
    group.add_argument("--ciphers", "--cipher", dest="ciphers", default=None,
                       help="OpenSSL cipher list.")
    group.add_argument("--ssl-version", dest="ssl_version", default="secure",
                       choices=list(tcp.VERSIONS),
                       help="TLS versions to allow (default: secure, TLS 1.2 and newer).")

    group = parser.add_argument_group(
        "Output",
        "Some of these print generated values in full: with large generated data, take care.")
    group.add_argument("-I", dest="ignorecodes", action="append", default=[], metavar="CODES",
                       help="Comma-separated response codes not to print; may be repeated.")
    group.add_argument("-T", dest="ignoretimeout", action="store_true",
                       help="Do not print timeouts, and go on with the next spec.")
    group.add_argument("-S", dest="showssl", action="store_true",
                       help="Print the TLS connection details.")
    group.add_argument("-e", dest="explain", action="store_true",
                       help="Print each request as its resolved spec (random parts fixed, "
                            "automatic headers added), which replays exactly.")
    group.add_argument("-o", dest="oneshot", action="store_true",
                       help="Exit after the first response whose code is not ignored.")
    group.add_argument("-q", "--show-request", dest="showreq", action="store_true",
                       help="Print the bytes of each request.")
    group.add_argument("-r", "--show-response", dest="showresp", action="store_true",
                       help="Print the bytes of each response.")
    group.add_argument("-x", dest="hexdump", action="store_true",
                       help="Print request and response bytes as a hex dump.")
    return parser


def _split_host_port(value: str) -> tuple[str, int | None]:
    """"host", "host:port", "[::1]:port" -> (host, port or None). ValueError on a bad port."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, int(port)
    return value, None


def _read_specs(arg: str) -> str:
    """The spec text of an argument: the contents of a file it names, or itself."""
    if os.path.isfile(arg):
        with open(arg, encoding="ascii", errors="surrogateescape") as f:
            return f.read()
    return arg


def _spec_settings() -> language.Settings:
    """What parsing needs for ``+path`` includes: the working directory, no fence."""
    return language.Settings(is_client=True, staticdir=os.getcwd(), unconstrained_file_access=True)


def parse_args(argv: Sequence[str], stderr: IO[str] | None = None) -> argparse.Namespace:
    """The checked options. Raises SystemExit (EXIT_USAGE) after printing what is wrong."""
    stderr = stderr or sys.stderr
    parser = make_parser()
    args = parser.parse_args(list(argv))

    try:
        host, port = _split_host_port(args.host)
    except ValueError:
        parser.error(f"invalid port in {args.host!r}")
    args.host = host
    if args.http2_skip_connection_preface:
        args.use_http2 = True
    if args.use_http2:
        args.ssl = True
    if args.port is None:
        args.port = port if port is not None else (DEFAULT_TLS_PORT if args.ssl else DEFAULT_PORT)
    if not 0 < args.port < 65536:
        parser.error(f"port out of range: {args.port}")

    try:
        args.ignorecodes = {int(code) for value in args.ignorecodes
                            for code in value.split(",") if code.strip()}
    except ValueError:
        parser.error(f"invalid response codes for -I: {','.join(args.ignorecodes)}")

    if args.connect_to:
        try:
            target, target_port = _split_host_port(args.connect_to)
        except ValueError:
            target, target_port = "", None
        if not target or target_port is None:
            parser.error(f"-c needs HOST:PORT, not {args.connect_to!r}")
        args.connect_to = (target, target_port)

    if args.clientcert and not os.path.isfile(args.clientcert):
        parser.error(f"client certificate file not found: {args.clientcert}")
    if args.timeout is not None and args.timeout <= 0:
        parser.error("-t needs a positive number of seconds")

    specs = []
    for arg in args.requests:
        text = _read_specs(arg)
        try:
            # Parsing is eager (only the x repetitions are expanded lazily): this checks
            # the whole text.
            language.parse_pathoc(text, args.use_http2, _spec_settings())
        except language.ParseException as e:
            print(f"pathoc: error parsing request spec: {e}", file=stderr)
            raise SystemExit(EXIT_USAGE) from None
        except (language.PathodError, OSError) as e:
            print(f"pathoc: cannot read request spec {arg!r}: {e}", file=stderr)
            raise SystemExit(EXIT_USAGE) from None
        specs.append(text)
    args.requests = specs
    return args


def _repetitions(repeat: int) -> Iterator[int]:
    n = 0
    while repeat == REPEAT_FOREVER or n < repeat:
        yield n
        n += 1


class _Memo:
    """-m: the digests of the resolved specs played so far."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[bytes] = set()
        self.misses = 0

    def first_time(self, spec_text: str) -> bool:
        digest = hashlib.sha256(spec_text.encode("ascii", "surrogateescape")).digest()
        if digest in self.seen:
            self.misses += 1
            return False
        self.seen.add(digest)
        self.misses = 0
        return True

    @property
    def exhausted(self) -> bool:
        return self.misses > self.limit


class _Stop(Exception):
    """Ends the whole run early (-o got its answer, -m ran out of new specs)."""

    def __init__(self, status: int) -> None:
        self.status = status


def _make_client(args: argparse.Namespace, stdout: IO[str]) -> pathoc.Pathoc:
    """A client per connection; the command line always prints the summary lines."""
    return pathoc.Pathoc(
        (args.host, args.port),
        ssl=args.ssl, sni=args.sni, ssl_version=args.ssl_version, clientcert=args.clientcert,
        ciphers=args.ciphers,
        use_http2=args.use_http2, http2_skip_connection_preface=args.http2_skip_connection_preface,
        http2_framedump=args.http2_framedump,
        timeout=args.timeout,
        showreq=args.showreq, showresp=args.showresp, explain=args.explain, hexdump=args.hexdump,
        ignorecodes=args.ignorecodes, ignoretimeout=args.ignoretimeout, showsummary=True,
        fp=stdout,
    )


def _playlist(args: argparse.Namespace, client: pathoc.Pathoc) -> Iterator:
    """The messages for one connection: every spec in order, or one picked (--random)."""
    texts = [random.choice(args.requests)] if args.random else args.requests
    for text in texts:
        yield from language.parse_pathoc(text, args.use_http2, client.settings)


def _play(args: argparse.Namespace, client: pathoc.Pathoc, memo: _Memo | None,
          stderr: IO[str]) -> bool:
    """Send the playlist over ``client``. True when every exchange got an answer; the
    first failure ends the connection (its state is unknown), having been printed."""
    for spec in _playlist(args, client):
        if memo is not None:
            spec = spec.resolve(client.settings)
            if not memo.first_time(spec.spec()):
                if memo.exhausted:
                    print("pathoc: memo limit exceeded: no new spec in "
                          f"{memo.limit} attempts", file=stderr)
                    raise _Stop(EXIT_FAILED)
                continue
        try:
            response = client.request(spec)
        except pathoc.SpecDisconnect:
            return True
        except exceptions.NetlibException:
            return False
        if args.oneshot and response is not None and response.status_code not in args.ignorecodes:
            raise _Stop(EXIT_OK)
    for _ in client.wait():
        pass  # the reader prints the frames; wait until the server or the timeout ends it
    return True


def run(args: argparse.Namespace, stdout: IO[str] | None = None,
        stderr: IO[str] | None = None) -> int:
    """Play the specs ``args.repeat`` times; the exit status (see the module docstring)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    memo = _Memo(args.memolimit) if args.memo else None
    failed = False
    client = None
    try:
        for n in _repetitions(args.repeat):
            if n and args.wait:
                time.sleep(args.wait)  # the user asked for this pause between connections
            client = _make_client(args, stdout)
            try:
                client.connect(args.connect_to, args.showssl, stdout)
            except pathoc.PathocError as e:
                print(f"pathoc: {e}", file=stderr)
                return EXIT_FAILED
            except exceptions.NetlibException as e:
                print(f"pathoc: {e}", file=stderr)
                failed = True
                continue
            with client:
                if not _play(args, client, memo, stderr):
                    failed = True
    except _Stop as stop:
        return stop.status
    except language.PathodError as e:
        print(f"pathoc: {e}", file=stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        pass  # the way to end -n -1 or a WebSocket session: not an error
    finally:
        if client is not None:
            client.finish()
    return EXIT_FAILED if failed else EXIT_OK


def main(argv: Sequence[str] | None = None, stdout: IO[str] | None = None,
         stderr: IO[str] | None = None) -> int:
    """Run pathoc with ``argv`` (default: the process's arguments); the exit status."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv, stderr)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    return run(args, stdout, stderr)


def go_pathoc() -> None:
    """The console entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover - python -m libpathod.pathoc_cmdline
    go_pathoc()

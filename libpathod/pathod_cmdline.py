"""The ``pathod`` command: parse the command line, start a Pathod, serve until interrupted.

The options are 0.18's (``pathod --help`` lists them), with these decisions:

- ``-a PATTERN=SPEC``: SPEC may also be ``@FILE`` (the spec is read from FILE, relative to
  the working directory, then to the static directory), or, as in 0.18, the path of an
  existing file. Every regex and spec is checked before pathod listens.
- ``--ssl-version`` takes netlib's version range names ("secure" is TLS 1.2 and later).
- 0.18's ``-D`` (daemonize), ``-f`` (log file) and ``--webdebug`` (its web app) are not
  offered: run pathod under a service manager and redirect its output instead.
- Bad input gets one line on stderr and exit status 2 (argparse's convention for usage
  errors); a configuration that fails when the server starts (a port in use, a bad
  certificate) exits with 1. SIGINT and SIGTERM stop the server cleanly with status 0.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from netlib import exceptions, human
from netlib.tcp import VERSIONS

from libpathod import language, pathod

__all__ = ["main", "go_pathod", "make_parser", "parse_args", "make_server", "UsageError",
           "DEFAULT_PORT", "DEFAULT_ADDRESS"]

DEFAULT_PORT = 9999
DEFAULT_ADDRESS = "127.0.0.1"
# The installed distribution whose version --version reports.
DISTRIBUTION = "mitmproxy-suite"

EXIT_OK = 0
EXIT_STARTUP_ERROR = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A well-formed command line that cannot be served; the message names the option."""


def _version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "unknown"


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pathod", description="A pathological HTTP/S daemon: serves crafted responses.")
    parser.add_argument("--version", action="version", version=f"pathod {_version()}")
    parser.add_argument("-p", dest="port", type=int, default=DEFAULT_PORT, metavar="PORT",
                        help=f"Port; 0 picks a free one. ({DEFAULT_PORT})")
    parser.add_argument("-l", dest="address", default=DEFAULT_ADDRESS, metavar="ADDRESS",
                        help=f"Listening address. ({DEFAULT_ADDRESS})")
    parser.add_argument("-a", dest="anchors", action="append", default=[], metavar="ANCHOR",
                        help="Add an anchor, as PATTERN=SPEC: requests whose path matches the "
                             "regex PATTERN get SPEC. SPEC may be @FILE to read it from a file. "
                             "Repeatable.")
    parser.add_argument("-c", dest="craftanchor", default=pathod.DEFAULT_CRAFT_ANCHOR,
                        metavar="CRAFTANCHOR",
                        help=f"URL path prefix under which the rest of the path is a response "
                             f"spec. ({pathod.DEFAULT_CRAFT_ANCHOR})")
    parser.add_argument("--confdir", default=pathod.CONFDIR, metavar="DIR",
                        help=f"Configuration directory holding the CA. ({pathod.CONFDIR})")
    parser.add_argument("-d", dest="staticdir", default=None, metavar="STATICDIR",
                        help="Directory that file values (<path) and includes (+path) read from; "
                             "without it, file access is disabled.")
    parser.add_argument("-t", dest="timeout", type=float, default=None, metavar="SECONDS",
                        help="Connection timeout: how long pathod waits for a client.")
    parser.add_argument("--limit-size", dest="sizelimit", default=None, metavar="SIZE",
                        help="Refuse (with an 800) responses larger than SIZE, e.g. 100k or 5m.")
    parser.add_argument("--nohang", action="store_true",
                        help="Refuse (with an 800) responses that pause.")
    parser.add_argument("--nocraft", action="store_true",
                        help="Disable response crafting under the craft anchor; "
                             "anchors still work.")

    group = parser.add_argument_group("TLS")
    group.add_argument("-s", "--ssl", dest="ssl", action="store_true",
                       help="Serve TLS on the listening port.")
    group.add_argument("--cn", default=None,
                       help="Common name of the generated certificates. (the SNI or CONNECT "
                            f"host, else {pathod.DEFAULT_CERT_DOMAIN})")
    group.add_argument("-C", "--ssl-not-after-connect", dest="ssl_not_after_connect",
                       action="store_true", help="Don't expect TLS after a CONNECT request.")
    group.add_argument("--cert", dest="ssl_certs", action="append", default=[], metavar="SPEC",
                       help='Serve a certificate, as "[domain=]path": a PEM file with the '
                            'certificate and its key. domain may hold a wildcard and is "*" '
                            "when omitted. Repeatable.")
    group.add_argument("--ciphers", default=None, help="OpenSSL cipher list.")
    group.add_argument("--san", dest="sans", action="append", default=[], metavar="SAN",
                       help="Subject Alternative Name for the generated certificates. Repeatable.")
    group.add_argument("--ssl-version", dest="ssl_version", default="secure",
                       choices=list(VERSIONS),
                       help="Allowed TLS versions. (secure: TLS 1.2 and later)")
    group.add_argument("--no-http2", dest="http2", action="store_false",
                       help="Don't offer HTTP/2 by ALPN to TLS clients.")

    group = parser.add_argument_group(
        "Logging", "Some of these expand generated values; use them with care with large data.")
    group.add_argument("-e", "--explain", dest="explain", action="store_true",
                       help="Print the resolved spec of each response.")
    group.add_argument("-q", "--logreq", dest="logreq", action="store_true",
                       help="Print each request.")
    group.add_argument("-r", "--logresp", dest="logresp", action="store_true",
                       help="Print each response.")
    group.add_argument("-x", "--hexdump", dest="hexdump", action="store_true",
                       help="Print requests and responses as hexdumps.")
    group.add_argument("--http2-framedump", dest="http2_framedump", action="store_true",
                       help="Print every HTTP/2 frame received.")
    return parser


def _read_anchor_spec(spec: str, staticdir: str | None) -> str:
    """The spec text of an anchor: itself, or the contents of the file it names."""
    explicit = spec.startswith("@")
    path = os.path.expanduser(spec[1:] if explicit else spec)
    candidates = [path]
    if staticdir and not os.path.isabs(path):
        candidates.append(os.path.join(os.path.expanduser(staticdir), path))
    for candidate in candidates:
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8") as f:
                    return f.read().strip()
            except (OSError, UnicodeDecodeError) as e:
                raise UsageError(f"cannot read anchor spec file {candidate}: {e}") from e
    if explicit:
        raise UsageError(f"anchor spec file does not exist: {path}")
    return spec


def _anchors(values: Sequence[str], staticdir: str | None) -> list[pathod.Anchor]:
    settings = language.Settings(staticdir=staticdir)
    anchors = []
    for value in values:
        pattern, sep, spec = value.partition("=")
        if not sep or not pattern or not spec:
            raise UsageError(f"invalid anchor {value!r}: expected PATTERN=SPEC, as in /foo=200")
        try:
            spec = _read_anchor_spec(spec, staticdir)
            anchors.append(pathod.Anchor.make(pattern, spec, settings))
        except pathod.PathodError as e:
            raise UsageError(str(e)) from e
    return anchors


def _certs(values: Sequence[str]) -> list[tuple[str, str]]:
    certs = []
    for value in values:
        domain, sep, path = value.partition("=")
        if not sep:
            domain, path = "*", value
        path = os.path.expanduser(path)
        if not os.path.isfile(path):
            raise UsageError(f"certificate file does not exist: {path}")
        certs.append((domain, path))
    return certs


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The parsed options, with anchors, certificates and the size limit checked and
    converted. Syntax errors exit as argparse does (usage and message, status 2); a value
    that is well-formed but unusable raises UsageError naming the option."""
    args = make_parser().parse_args(argv)
    if args.staticdir and not os.path.isdir(os.path.expanduser(args.staticdir)):
        raise UsageError(f"static directory does not exist: {args.staticdir}")
    args.anchors = _anchors(args.anchors, args.staticdir)
    args.ssl_certs = _certs(args.ssl_certs)
    if args.sizelimit is not None:
        try:
            args.sizelimit = human.parse_size(args.sizelimit)
        except (exceptions.InvalidSizeException, ValueError) as e:
            raise UsageError(f"invalid --limit-size: {e}") from e
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"invalid -t: the timeout must be positive, not {args.timeout}")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"invalid -p: {args.port} is not a port number")
    return args


def make_server(args: argparse.Namespace, logfp: TextIO | None = sys.stdout) -> pathod.Pathod:
    """The Pathod the options describe (PathodError or NetlibException if it cannot start)."""
    ssloptions = pathod.SSLOptions(
        confdir=args.confdir, cn=args.cn, sans=args.sans,
        not_after_connect=args.ssl_not_after_connect, ssl_version=args.ssl_version,
        ciphers=args.ciphers, certs=args.ssl_certs,
        alpn_select=b"h2" if args.http2 else None,
    )
    return pathod.Pathod(
        (args.address, args.port), ssl=args.ssl, ssloptions=ssloptions,
        craftanchor=args.craftanchor, staticdir=args.staticdir, anchors=args.anchors,
        sizelimit=args.sizelimit, nocraft=args.nocraft, nohang=args.nohang,
        timeout=args.timeout, logreq=args.logreq, logresp=args.logresp, explain=args.explain,
        hexdump=args.hexdump, http2_framedump=args.http2_framedump, logfp=logfp,
    )


def _stop_on_signals(server: pathod.Pathod) -> list[threading.Thread]:
    """SIGINT/SIGTERM stop the server; shutdown waits for the accept loop, so it runs in a
    thread of its own rather than in the handler, which interrupts that very loop. Returns
    the list those threads are added to, so the caller can wait for them."""
    stoppers: list[threading.Thread] = []

    def handler(signum: int, frame: object) -> None:
        thread = threading.Thread(target=server.shutdown, name="pathod shutdown", daemon=True)
        stoppers.append(thread)
        thread.start()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)
    return stoppers


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run pathod with ``argv`` (default: ``sys.argv[1:]``); returns the exit status.
    Output goes to ``stdout``/``stderr`` (default: the process's, looked up at call time)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # --help, --version and syntax errors: argparse has printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    except UsageError as e:
        print(f"pathod: error: {e}", file=stderr)
        return EXIT_USAGE
    try:
        server = make_server(args, stdout)
    except (pathod.PathodError, exceptions.NetlibException) as e:
        print(f"pathod: error: {e}", file=stderr)
        return EXIT_STARTUP_ERROR
    stoppers: list[threading.Thread] = []
    if threading.current_thread() is threading.main_thread():
        stoppers = _stop_on_signals(server)
    scheme = "https" if args.ssl else "http"
    print(f"pathod listening on {scheme}://{server.address.host}:{server.address.port}",
          file=stdout, flush=True)
    try:
        server.serve_forever()
    finally:
        server.shutdown()
        for thread in stoppers:
            thread.join()
    return EXIT_OK


def go_pathod() -> None:  # pragma: no cover - the console entry point
    """The ``pathod`` console script."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    go_pathod()

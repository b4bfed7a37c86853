"""The tools' command lines (mitmdump, mitmproxy): the flags (0.18's names), their
checks, and what they become.

Rules of this file:

- Flag names, short letters and destinations are 0.18's: they are the contract that users'
  scripts and muscle memory rely on. Where the documentation spells a flag differently from
  0.18 (``--ca-dir`` vs ``--cadir``), both spellings are accepted.
- A flag is advertised only once the feature behind it works. Every proxy mode of the
  spec is here: regular (the default), ``-R``, ``-U``, ``-T`` (with
  ``--spoof-source-address`` for fully transparent mode) and ``--socks``.
- Values that can be checked at startup are (filter expressions, regular expressions,
  sizes, files that must exist), so a typo fails before the proxy starts, not per request.
- Every bad value ends in ``parser.error``: one line naming the flag, exit status 2.
- The parser only parses; ``get_common_options`` (the master's options) and
  ``process_proxy_options`` (the proxy's ``ProxyConfig``) turn the parsed values into what
  the rest of the program uses, so neither needs to know about argparse.
"""
from __future__ import annotations

import argparse
import os
import re
from typing import Any, Callable, NoReturn

from OpenSSL import SSL

from netlib import certutils, human
from netlib.exceptions import CertificateException
from netlib.tcp import tls

from libmproxy.exceptions import ProxyException
from libmproxy.proxy import config
from libmproxy.proxy.config import ServerSpec
from libmproxy.version import VERSION

__all__ = [
    "APP_HOST", "APP_PORT", "CA_DIR", "DEFAULT_PORT", "ArgumentParser", "mitmdump",
    "mitmproxy", "get_console_options",
    "common_options", "server_spec", "cert_spec", "get_common_options", "get_proxy_kwargs",
    "process_proxy_options", "version",
]

APP_HOST = config.DEFAULT_APP_HOST
APP_PORT = config.DEFAULT_APP_PORT
CA_DIR = config.DEFAULT_CADIR
DEFAULT_PORT = 8080
MAX_PORT = 65535

# Verbosity of the event log: -q silences it, each -v adds a level (see dump.LOG_LEVELS).
QUIET_VERBOSITY = 0
DEFAULT_VERBOSITY = 1

# Flow detail: 0 nothing, 1 request and response lines, 2 + headers, 3 + bodies (cut off),
# 4 + whole bodies. -d adds one level, as in 0.18.
DEFAULT_FLOW_DETAIL = 1

# The cipher list a client connection uses when --ciphers-client is not given: None lets
# OpenSSL pick its own secure default.
DEFAULT_CIPHERS = None


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line, as every startup error of the
    tools is: the usage block argparse prints first buries the one line that matters."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def version() -> str:
    """The version ``--version`` reports: 0.18's numbering (libmproxy.version)."""
    return VERSION


# --- value parsers (argparse ``type=``): raise ArgumentTypeError naming the bad value ------

def server_spec(*schemes: str) -> Callable[[str], ServerSpec]:
    """An argparse type for ``-R``/``-U``: ``scheme://host[:port][/]`` with one of
    ``schemes``; the port defaults to the scheme's."""
    def parse(spec: str) -> ServerSpec:
        try:
            return config.parse_server_spec(spec, schemes)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = "server specification"
    return parse


def _port(value: str, allow_zero: bool) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {value!r}") from None
    if not (0 if allow_zero else 1) <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def listen_port(value: str) -> int:
    """A port to listen on: 0 lets the system pick one (the startup line names it)."""
    return _port(value, allow_zero=True)


def app_port(value: str) -> int:
    return _port(value, allow_zero=False)


def size(value: str) -> int:
    """A byte size with an optional k/m/g suffix."""
    try:
        return human.parse_size(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def regex(value: str) -> str:
    """A regular expression, checked now so a typo fails at startup and not per request."""
    try:
        re.compile(value)
    except re.error as e:
        raise argparse.ArgumentTypeError(f"invalid regular expression {value!r}: {e}") from None
    return value


def cipher_list(value: str) -> str:
    """An OpenSSL cipher list, checked against this OpenSSL."""
    try:
        SSL.Context(SSL.TLS_METHOD).set_cipher_list(value.encode("ascii"))
    except (SSL.Error, UnicodeEncodeError):
        raise argparse.ArgumentTypeError(
            f"no cipher of {value!r} is known to this OpenSSL") from None
    return value


def upstream_auth(value: str) -> str:
    if ":" not in value:
        raise argparse.ArgumentTypeError(f"expected username:password, got {value!r}")
    return value


def cert_spec(spec: str) -> tuple[str, str]:
    """``[domain=]path`` -> (domain, path); the domain defaults to ``*`` (every host).
    The file is read now, so a missing or bad certificate is reported against ``--cert``."""
    try:
        domain, path = config.parse_cert_spec(spec)
        path = os.path.expanduser(path)
        certutils.read_cert_file(path)
    except (ValueError, CertificateException) as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return domain, path


def filter_expression(value: str) -> str:
    """A filter expression (spec: Filter expressions), checked now."""
    from libmproxy import filt
    message = filt.problem(value)
    if message is not None:
        raise argparse.ArgumentTypeError(message)
    return value


def _split_pattern(spec: str, what: str) -> tuple[str, str, str]:
    """``/a/b/c`` with any separator (the first character) -> (a, b, c). A pattern whose
    parts hold the separator needs another separator, as the spec says."""
    if len(spec) < 2:
        raise argparse.ArgumentTypeError(f"invalid {what} {spec!r}: expected /filter/a/b")
    parts = spec[1:].split(spec[0])
    if len(parts) != 3 or not all(parts[:2]):
        raise argparse.ArgumentTypeError(
            f"invalid {what} {spec!r}: expected three parts separated by {spec[0]!r}, "
            f"like {spec[0]}filter{spec[0]}a{spec[0]}b")
    filter_expression(parts[0])
    return parts[0], parts[1], parts[2]


def replace_hook(spec: str) -> tuple[str, str, str]:
    """``--replace /filter/regex/replacement`` -> (filter, regex, replacement)."""
    patt, regex_, replacement = _split_pattern(spec, "replacement pattern")
    regex(regex_)
    return patt, regex_, replacement


def replace_file_hook(spec: str) -> tuple[str, str, str]:
    """``--replace-from-file /filter/regex/path``: the replacement is the file's content,
    read now, so a missing file fails at startup."""
    patt, regex_, path = _split_pattern(spec, "replacement pattern")
    regex(regex_)
    path = os.path.expanduser(path)
    try:
        with open(path, "rb") as f:
            replacement = f.read().decode("utf-8", "surrogateescape")
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot read replacement file {path}: "
                                         f"{e.strerror}") from None
    return patt, regex_, replacement


def setheader(spec: str) -> tuple[str, str, str]:
    """``--setheader /filter/name/value`` -> (filter, name, value)."""
    return _split_pattern(spec, "set-header pattern")


def singleuser(value: str) -> str:
    if ":" not in value or value.startswith(":"):
        raise argparse.ArgumentTypeError(f"expected username:password, got {value!r}")
    return value


def _existing(check: Callable[[str], bool], what: str) -> Callable[[str], str]:
    """An argparse type for a path that must exist as ``what`` (``~`` expanded)."""
    def parse(value: str) -> str:
        path = os.path.expanduser(value)
        if not check(path):
            raise argparse.ArgumentTypeError(f"no such {what}: {value}")
        return path
    parse.__name__ = what
    return parse


existing_file = _existing(os.path.isfile, "file")
existing_dir = _existing(os.path.isdir, "directory")
existing_path = _existing(os.path.exists, "file or directory")


def _outfile(mode: str) -> Any:
    def parse(value: str) -> tuple[str, str]:
        return os.path.expanduser(value), mode
    parse.__name__ = "path"  # argparse names the type in its messages
    return parse


# --- the groups ----------------------------------------------------------------------------

def basic_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--shortversion", action="version", version=version(),
                        help="show the version number alone and exit")
    parser.add_argument("--conf", action="append", dest="conf", default=[], metavar="PATH",
                        help=f"Read settings from the config file PATH too, after "
                             f"{CA_DIR}/common.conf and the tool's own file there (e.g. "
                             f"mitmdump.conf); its settings win over theirs, the command "
                             f"line wins over all. Can be repeated.")
    parser.add_argument("-q", "--quiet", action="store_true", dest="quiet",
                        help="Print nothing: no flows and no event log.")
    parser.add_argument("-v", "--verbose", action="count", dest="verbose", default=0,
                        help="Show the debug entries of the event log too (connections, "
                             "server addresses).")
    parser.add_argument("--host", action="store_true", dest="showhost",
                        help="Show URLs built from the Host header instead of the "
                             "address the request went to.")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("-w", "--wfile", dest="outfile", type=_outfile("wb"), metavar="PATH",
                     help="Write every completed flow to PATH (replacing its content).")
    out.add_argument("-a", "--afile", dest="outfile", type=_outfile("ab"), metavar="PATH",
                     help="Append every completed flow to PATH.")
    parser.add_argument("-r", "--read-flows", dest="rfile", type=existing_file, metavar="PATH",
                        help="Read the flows of PATH at start: mitmdump runs them through "
                             "the scripts, features and output, then exits (unless "
                             "--keepserving); mitmproxy shows them in its flow list.")
    parser.add_argument("-s", "--script", action="append", dest="scripts", default=[],
                        metavar='"script.py --bar"',
                        help="Run an inline script, with arguments (quote the whole "
                             "argument; use quotes within it for paths with spaces). "
                             "Repeat for more scripts; they run in the order given.")
    parser.add_argument("--anticache", action="store_true", dest="anticache",
                        help="Strip the headers that let a server answer 304 Not Modified "
                             "(If-None-Match, If-Modified-Since), so every response is whole.")
    parser.add_argument("-z", "--anticomp", action="store_true", dest="anticomp",
                        help="Ask servers for uncompressed responses (Accept-Encoding).")
    parser.add_argument("-t", "--stickycookie", dest="stickycookie", type=filter_expression,
                        metavar="FILTER",
                        help="Sticky cookies: set the cookies seen in responses on later "
                             "requests matching FILTER that have none.")
    parser.add_argument("-u", "--stickyauth", dest="stickyauth", type=filter_expression,
                        metavar="FILTER",
                        help="Sticky auth: set the last Authorization header seen on later "
                             "requests matching FILTER that have none.")
    parser.add_argument("--stream", dest="stream_large_bodies", type=size, metavar="SIZE",
                        help="Stream response bodies larger than SIZE (k/m/g suffixes) to "
                             "the client instead of holding them; such bodies are not kept.")


def proxy_modes(parser: argparse.ArgumentParser) -> None:
    modes = parser.add_argument_group("Proxy modes")
    group = modes.add_mutually_exclusive_group()
    group.add_argument("-R", "--reverse", type=server_spec("http", "https"), dest="reverse_proxy",
                       metavar="http[s]://host[:port]",
                       help="Reverse proxy: send every request to this server, speaking "
                            "HTTP or HTTPS to it as the scheme says.")
    group.add_argument("-U", "--upstream", type=server_spec("http"), dest="upstream_proxy",
                       metavar="http://host[:port]",
                       help="Upstream proxy mode: send every request on to this proxy.")
    group.add_argument("-T", "--transparent", action="store_true", dest="transparent_proxy",
                       help="Transparent mode: serve connections that a firewall (iptables "
                            "REDIRECT on Linux, a pf rdr rule on OSX) redirected to the "
                            "proxy, sending each to its original destination.")
    group.add_argument("--socks", action="store_true", dest="socks_proxy",
                       help="SOCKS5 mode: be a SOCKS5 proxy (CONNECT, no authentication).")
    modes.add_argument("--spoof-source-address", action="store_true",
                       dest="spoof_source_address",
                       help="Connect to servers from the client's IP address instead of "
                            "the proxy's (fully transparent mode; Linux, needs "
                            "CAP_NET_ADMIN and the routing in docs/transparent.md).")


def proxy_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Proxy options")
    group.add_argument("-b", "--bind-address", dest="addr", default="", metavar="ADDR",
                       help="Address to listen on (default: all interfaces).")
    group.add_argument("-p", "--port", type=listen_port, dest="port", default=DEFAULT_PORT,
                       help=f"Port to listen on; 0 picks a free one. (default: "
                            f"{DEFAULT_PORT})")
    group.add_argument("-n", "--no-server", action="store_true", dest="no_server",
                       help="Start no proxy server.")
    group.add_argument("-I", "--ignore", action="append", type=regex, dest="ignore_hosts",
                       default=[], metavar="HOST",
                       help="Pass the traffic of hosts matching this regular expression "
                            "through untouched (matched against host:port; in regular mode "
                            "only CONNECT tunnels are ignored). Can be repeated.")
    group.add_argument("--tcp", action="append", type=regex, dest="tcp_hosts", default=[],
                       metavar="HOST",
                       help="Treat the traffic of hosts matching this regular expression "
                            "as raw TCP: like --ignore, but TLS is still intercepted. Can "
                            "be repeated.")
    group.add_argument("-Z", "--body-size-limit", type=size, dest="body_size_limit",
                       default=None, metavar="SIZE",
                       help="Refuse request and response bodies larger than SIZE (k, m "
                            "and g suffixes work, e.g. 3m).")
    group.add_argument("--upstream-auth", type=upstream_auth, dest="upstream_auth",
                       default=None, metavar="USER:PASS",
                       help="Credentials to send to the upstream proxy (Basic "
                            "Proxy-Authorization).")
    http2 = group.add_mutually_exclusive_group()
    http2.add_argument("--no-http2", action="store_false", dest="http2", default=True,
                       help="Do not offer HTTP/2 to clients or servers: TLS connections "
                            "negotiate HTTP/1.1 by ALPN.")
    http2.add_argument("--http2", action="store_true", dest="http2",
                       help="Offer HTTP/2 by ALPN on TLS connections (the default): to the "
                            "server first, and to the client only when its server agreed "
                            "to speak it. Plain-text HTTP/2 (h2c) is not supported.")
    rawtcp = group.add_mutually_exclusive_group()
    rawtcp.add_argument("--raw-tcp", action="store_true", dest="rawtcp", default=False,
                        help="Relay connections that do not speak HTTP as raw TCP instead "
                             "of failing them.")
    rawtcp.add_argument("--no-raw-tcp", action="store_false", dest="rawtcp",
                        help="Fail connections that do not speak HTTP (the default).")
    group.add_argument("--no-websockets", action="store_false", dest="websockets",
                       default=True,
                       help="Relay WebSocket connections as raw TCP after their handshake "
                            "instead of message by message (no websocket_message events, "
                            "no messages in the output).")


def proxy_ssl_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("TLS")
    group.add_argument("--cadir", "--ca-dir", dest="cadir", default=CA_DIR,
                       metavar="DIRECTORY",
                       help=f"Where the proxy's CA files live; they are made there on the "
                            f"first start. (default: {CA_DIR})")
    group.add_argument("--cert", action="append", type=cert_spec, dest="certs",
                       default=[], metavar="[DOMAIN=]PATH",
                       help="Serve the certificate in PATH (PEM: private key, certificate, "
                            "then any intermediates) for DOMAIN instead of minting one; "
                            "DOMAIN may hold a wildcard and defaults to every host. Can be "
                            "repeated.")
    group.add_argument("--client-certs", type=existing_path, dest="clientcerts",
                       default=None, metavar="DIRECTORY|FILE",
                       help="Present a client certificate to servers: one PEM file for "
                            "all, or a directory of HOSTNAME.pem files.")
    group.add_argument("--no-upstream-cert", action="store_true", dest="no_upstream_cert",
                       help="Do not connect to the server to copy its certificate's names "
                            "before answering the client's TLS handshake.")
    group.add_argument("--insecure", action="store_true", dest="ssl_insecure",
                       help="Do not verify the certificates of upstream servers.")
    group.add_argument("--upstream-trusted-ca", type=existing_file,
                       dest="upstream_trusted_ca", default=None, metavar="PATH",
                       help="A PEM file of CA certificates to verify upstream servers "
                            "against.")
    group.add_argument("--upstream-trusted-cadir", type=existing_dir,
                       dest="upstream_trusted_cadir", default=None, metavar="DIRECTORY",
                       help="A directory of CA certificates (prepared with c_rehash) to "
                            "verify upstream servers against.")
    group.add_argument("--ciphers-client", type=cipher_list, dest="ciphers_client",
                       default=DEFAULT_CIPHERS, metavar="CIPHERS",
                       help="Ciphers to offer clients (OpenSSL cipher list syntax).")
    group.add_argument("--ciphers-server", type=cipher_list, dest="ciphers_server",
                       default=None, metavar="CIPHERS",
                       help="Ciphers to offer servers (OpenSSL cipher list syntax).")
    versions = list(tls.VERSIONS)
    group.add_argument("--ssl-version-client", dest="ssl_version_client", default="secure",
                       choices=versions,
                       help="TLS versions to accept from clients; 'secure' means TLS 1.2 "
                            "and newer. (default: secure)")
    group.add_argument("--ssl-version-server", dest="ssl_version_server", default="secure",
                       choices=versions,
                       help="TLS versions to use with servers. (default: secure)")


def onboarding_app(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Onboarding app")
    group.add_argument("--noapp", action="store_false", dest="app", default=True,
                       help=f"Do not serve the certificate installation app at {APP_HOST}.")
    group.add_argument("--app-host", dest="app_host", default=APP_HOST, metavar="HOST",
                       help=f"Host name of the onboarding app; in transparent mode, an IP "
                            f"address if the name does not resolve. (default: {APP_HOST})")
    group.add_argument("--app-port", type=app_port, dest="app_port", default=APP_PORT,
                       metavar="PORT",
                       help=f"Port of the onboarding app. (default: {APP_PORT})")


def replay_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Client replay")
    group.add_argument("-c", "--client-replay", action="append", dest="client_replay",
                       type=existing_file, default=[], metavar="PATH",
                       help="Replay the requests saved in PATH, one after another.")
    group = parser.add_argument_group("Server replay")
    group.add_argument("-S", "--server-replay", action="append", dest="server_replay",
                       type=existing_file, default=[], metavar="PATH",
                       help="Answer requests with the responses saved in PATH.")
    group.add_argument("-k", "--replay-kill-extra", action="store_true", dest="kill",
                       help="Kill requests that have no saved response (by default they "
                            "go to the server).")
    group.add_argument("--rheader", "--server-replay-use-header", action="append",
                       dest="rheaders", default=[], metavar="NAME",
                       help="Request headers to match too (repeatable); by default only "
                            "method, URL and body are matched.")
    group.add_argument("--norefresh", action="store_false", dest="refresh_server_playback",
                       help="Do not move the dates and cookie expiry of replayed "
                            "responses to now.")
    group.add_argument("--no-pop", action="store_true", dest="nopop",
                       help="Keep each saved response for later requests instead of "
                            "using it once.")
    group.add_argument("--replay-ignore-content", action="store_true",
                       dest="replay_ignore_content",
                       help="Ignore request bodies when matching.")
    group.add_argument("--replay-ignore-payload-param", action="append",
                       dest="replay_ignore_payload_params", default=[], metavar="PARAM",
                       help="Ignore this form parameter of request bodies when matching "
                            "(urlencoded and multipart forms; repeatable).")
    group.add_argument("--replay-ignore-param", action="append", dest="replay_ignore_params",
                       default=[], metavar="PARAM",
                       help="Ignore this query parameter when matching (repeatable).")
    group.add_argument("--replay-ignore-host", action="store_true", dest="replay_ignore_host",
                       help="Ignore the destination host when matching.")


def rewrite_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "Replacements",
        "Patterns are /filter/regex/replacement; any character may be the separator "
        "(the first one), e.g. :~q:foo:bar.")
    group.add_argument("--replace", action="append", dest="replacements", type=replace_hook,
                       default=[], metavar="PATTERN",
                       help="Replace regex by replacement in the bodies and headers of the "
                            "requests and responses matching filter.")
    group.add_argument("--replace-from-file", action="append", dest="replacements",
                       type=replace_file_hook, metavar="PATTERN",
                       help="Like --replace, the replacement being the content of a file: "
                            "/filter/regex/path.")
    group = parser.add_argument_group(
        "Set headers", "Patterns are /filter/name/value, with any separator.")
    group.add_argument("--setheader", action="append", dest="setheaders", type=setheader,
                       default=[], metavar="PATTERN",
                       help="Set header name to value on the requests and responses "
                            "matching filter (replacing what was there).")


def proxy_auth_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "Proxy authentication",
        "Clients must authenticate to the proxy (407 with a Basic challenge). Not offered "
        "in reverse, transparent or SOCKS mode.").add_mutually_exclusive_group()
    group.add_argument("--nonanonymous", action="store_true", dest="auth_nonanonymous",
                       help="Accept any username and password.")
    group.add_argument("--singleuser", dest="auth_singleuser", type=singleuser,
                       metavar="USER:PASS", help="Accept only this username and password.")
    group.add_argument("--htpasswd", dest="auth_htpasswd", type=existing_file, metavar="PATH",
                       help="Accept the users of this Apache htpasswd file.")


def common_options(parser: argparse.ArgumentParser) -> None:
    """The options shared by mitmdump and the console."""
    basic_options(parser)
    proxy_modes(parser)
    proxy_options(parser)
    proxy_ssl_options(parser)
    onboarding_app(parser)
    replay_options(parser)
    rewrite_options(parser)
    proxy_auth_options(parser)


def mitmdump(prog: str = "mitmdump") -> ArgumentParser:
    """The parser of ``mitmdump``."""
    parser = ArgumentParser(
        prog=prog, usage="%(prog)s [options]",
        description="mitmdump: an intercepting HTTP(S) proxy that prints and records the "
                    "traffic passing through it, like tcpdump for HTTP.")
    common_options(parser)
    parser.add_argument("--keepserving", action="store_true", dest="keepserving",
                        help="Keep serving after client replay or reading a flow file with "
                             "-r is done (mitmdump exits by default).")
    group = parser.add_argument_group("Output")
    group.add_argument("-d", "--detail", action="count", dest="flow_detail",
                       default=DEFAULT_FLOW_DETAIL,
                       help="Show more of each flow: -d adds headers, -dd bodies (cut off "
                            "after 70 lines), -ddd whole bodies.")
    parser.add_argument("filter", nargs="*", metavar="FILTER",
                        help="A filter expression: only matching flows are shown and "
                             "written (the words are joined by spaces).")
    return parser


def mitmproxy(prog: str = "mitmproxy") -> ArgumentParser:
    """The parser of ``mitmproxy``, the console: mitmdump's options (without its output
    flags) plus the console's own, 0.18's names."""
    from libmproxy.console import palettes  # no urwid import: mitmdump stays light

    parser = ArgumentParser(
        prog=prog, usage="%(prog)s [options]",
        description="mitmproxy: an interactive intercepting HTTP(S) proxy in the console; "
                    "press ? in it for help.")
    common_options(parser)
    group = parser.add_argument_group("Console")
    group.add_argument("--palette", dest="palette", default=palettes.DEFAULT,
                       choices=sorted(palettes.PALETTES), metavar="NAME",
                       help=f"Colour palette: {', '.join(sorted(palettes.PALETTES))}. "
                            f"(default: {palettes.DEFAULT})")
    group.add_argument("--palette-transparent", action="store_true",
                       dest="palette_transparent",
                       help="Draw on the terminal's own background.")
    group.add_argument("-e", "--eventlog", action="store_true", dest="eventlog",
                       help="Show the event log at start.")
    group.add_argument("-f", "--follow", action="store_true", dest="follow",
                       help="Follow the flow list: focus each new flow.")
    group.add_argument("--no-mouse", action="store_true", dest="no_mouse",
                       help="Do not use the mouse (leaves the terminal's own selection "
                            "working).")
    group = parser.add_argument_group(
        "Filters", "Filter expressions; press ? in mitmproxy for their syntax.")
    group.add_argument("-i", "--intercept", dest="intercept", type=filter_expression,
                       metavar="FILTER", help="Intercept the flows matching FILTER.")
    group.add_argument("-l", "--limit", dest="limit", type=filter_expression,
                       metavar="FILTER", help="Show only the flows matching FILTER.")
    return parser


# --- from parsed flags to options ----------------------------------------------------------

# Parsed values the master and ProxyConfig take as they are (destination = option name).
MASTER_OPTIONS = (
    "outfile", "showhost", "no_server", "app", "app_host", "app_port", "rfile", "scripts",
    "anticache", "anticomp", "stickycookie", "stickyauth", "stream_large_bodies",
    "client_replay", "server_replay", "kill", "rheaders", "refresh_server_playback", "nopop",
    "replay_ignore_content", "replay_ignore_payload_params", "replay_ignore_params",
    "replay_ignore_host", "replacements", "setheaders",
)
PROXY_OPTIONS = (
    "port", "upstream_auth", "clientcerts", "no_upstream_cert", "ssl_insecure",
    "upstream_trusted_ca", "upstream_trusted_cadir", "ciphers_client", "ciphers_server",
    "ssl_version_client", "ssl_version_server", "body_size_limit", "http2", "rawtcp",
    "websockets", "app_host", "app_port", "auth_nonanonymous", "auth_singleuser",
    "auth_htpasswd",
)


def _pick(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names}


def get_common_options(args: argparse.Namespace) -> dict[str, Any]:
    """The master's options: what to show, where to write, whether to serve the app."""
    quiet = args.quiet
    filter_words = getattr(args, "filter", None) or []
    return dict(
        _pick(args, MASTER_OPTIONS),
        # mitmdump's flag; the console always keeps serving.
        keepserving=getattr(args, "keepserving", True),
        filtstr=" ".join(filter_words) or None,
        flow_detail=0 if quiet else getattr(args, "flow_detail", DEFAULT_FLOW_DETAIL),
        verbosity=QUIET_VERBOSITY if quiet else DEFAULT_VERBOSITY + args.verbose,
    )


# The console's own flags (destination = option name), and the proxy settings it can
# change at run time, which its options therefore carry too.
CONSOLE_OPTIONS = ("intercept", "limit", "palette", "palette_transparent", "eventlog",
                   "follow", "no_mouse", "ignore_hosts", "tcp_hosts", "no_upstream_cert")


def get_console_options(args: argparse.Namespace) -> dict[str, Any]:
    """The console master's options: mitmdump's and the console's own."""
    return dict(get_common_options(args), **_pick(args, CONSOLE_OPTIONS))


def get_proxy_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``ProxyConfig`` for the parsed flags."""
    if args.reverse_proxy:
        mode, upstream_server = "reverse", args.reverse_proxy
    elif args.upstream_proxy:
        mode, upstream_server = "upstream", args.upstream_proxy
    elif args.transparent_proxy:
        mode, upstream_server = "transparent", None
    elif args.socks_proxy:
        mode, upstream_server = "socks5", None
    else:
        mode, upstream_server = "regular", None
    return dict(
        _pick(args, PROXY_OPTIONS),
        host=args.addr,
        cadir=os.path.expanduser(args.cadir),
        mode=mode,
        upstream_server=upstream_server,
        spoof_source_address=args.spoof_source_address,
        certs=[f"{domain}={path}" for domain, path in args.certs],
        ignore_hosts=list(args.ignore_hosts),
        tcp_hosts=list(args.tcp_hosts),
    )


def process_proxy_options(parser: argparse.ArgumentParser, args: argparse.Namespace,
                          apps: dict | None = None) -> Any:
    """The ``ProxyConfig`` for the parsed flags (with ``apps``: (host, port) -> app).

    Anything ProxyConfig refuses (a CA directory that cannot be made, a bad combination)
    ends in ``parser.error`` with its message, exit status 2.
    """
    kwargs = get_proxy_kwargs(args)
    if apps is not None:
        kwargs["apps"] = apps
    try:
        return config.ProxyConfig(**kwargs)
    except (ProxyException, CertificateException, ValueError, OSError) as e:
        parser.error(str(e))


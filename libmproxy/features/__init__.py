"""The features of the FlowMaster chain, one module each (see ``flow/master.py``).

Each feature is built from the master's options by ``build_chain`` and handles the events it
names, like an inline script does. ``build_chain`` fixes their order, which is 0.18's order
of processing a flow: rewriting first (replacements, set headers), then the user's scripts,
then the features that act on what the scripts left (sticky cookies and auth, anticache,
anticomp, server replay, streaming), then the observers (client replay bookkeeping, the
flow file, the printer).
"""
from __future__ import annotations

from typing import Any, Callable

from libmproxy.flow.master import Feature

__all__ = ["CHAIN", "Feature", "build_chain"]


# --- the chain, one row per feature ----------------------------------------------------
# Each maker returns the features its options ask for (none when they are off); lazy
# imports keep mitmdump's start light.

def _replace(options: Any) -> list[Any]:
    if not options.replacements:
        return []
    from libmproxy.features.replace import Replace
    return [Replace(options.replacements)]


def _setheaders(options: Any) -> list[Any]:
    if not options.setheaders:
        return []
    from libmproxy.features.setheaders import SetHeaders
    return [SetHeaders(options.setheaders)]


def _scripts(options: Any) -> list[Any]:
    if not options.scripts:
        return []
    from libmproxy.script import Script
    return [Script(command) for command in options.scripts]  # in the order given


def _stickycookie(options: Any) -> list[Any]:
    if not options.stickycookie:
        return []
    from libmproxy.features.stickycookie import StickyCookie
    return [StickyCookie(options.stickycookie)]


def _stickyauth(options: Any) -> list[Any]:
    if not options.stickyauth:
        return []
    from libmproxy.features.stickyauth import StickyAuth
    return [StickyAuth(options.stickyauth)]


def _anticache(options: Any) -> list[Any]:
    if not options.anticache:
        return []
    from libmproxy.features.anticache import Anticache
    return [Anticache()]


def _anticomp(options: Any) -> list[Any]:
    if not options.anticomp:
        return []
    from libmproxy.features.anticomp import Anticomp
    return [Anticomp()]


def _streambodies(options: Any) -> list[Any]:
    if options.stream_large_bodies is None:
        return []
    from libmproxy.features.streambodies import StreamBodies
    return [StreamBodies(options.stream_large_bodies)]


def _serverplayback(options: Any) -> list[Any]:
    if not options.server_replay:
        return []
    from libmproxy.features.serverplayback import ServerPlayback
    return [ServerPlayback.from_options(options)]


def _clientplayback(options: Any) -> list[Any]:
    if not options.client_replay:
        return []
    from libmproxy.features.clientplayback import ClientPlayback
    return [ClientPlayback(options.client_replay, options.keepserving)]


def _filewriter(options: Any) -> list[Any]:
    if options.outfile is None:
        return []
    from libmproxy.features.filewriter import FileWriter
    path, mode = options.outfile
    return [FileWriter(path, mode, options.filter)]


# (feature class name, the options it is built from, its maker), in chain order. The
# console reads the first two columns to rebuild only the features whose options changed.
CHAIN: tuple[tuple[str, tuple[str, ...], Callable[[Any], list[Any]]], ...] = (
    # rewrite: replacements (--replace), set headers (--setheader)
    ("Replace", ("replacements",), _replace),
    ("SetHeaders", ("setheaders",), _setheaders),
    # inline scripts (-s)
    ("Script", ("scripts",), _scripts),
    # modifiers: sticky cookies (-t), sticky auth (-u), anticache, anticomp, --stream
    ("StickyCookie", ("stickycookie",), _stickycookie),
    ("StickyAuth", ("stickyauth",), _stickyauth),
    ("Anticache", ("anticache",), _anticache),
    ("Anticomp", ("anticomp",), _anticomp),
    ("StreamBodies", ("stream_large_bodies",), _streambodies),
    # replay: server replay (-S) answers requests, client replay (-c) sends saved ones
    ("ServerPlayback", ("server_replay", "kill", "rheaders", "refresh_server_playback",
                        "nopop", "replay_ignore_content", "replay_ignore_payload_params",
                        "replay_ignore_params", "replay_ignore_host"), _serverplayback),
    ("ClientPlayback", ("client_replay",), _clientplayback),
    # observers
    ("FileWriter", ("outfile",), _filewriter),
)


def build_chain(options: Any) -> list[Any]:
    """The features ``options`` ask for, in chain order (the printer is added by the
    master that prints)."""
    return [feature for _, _, make in CHAIN for feature in make(options)]

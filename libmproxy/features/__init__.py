"""The features of the FlowMaster chain, one module each (see ``flow/master.py``).

Each feature is built from the master's options by ``build_chain`` and handles the events it
names, like an inline script does. ``build_chain`` fixes their order, which is 0.18's order
of processing a flow: rewriting first (replacements, set headers), then the user's scripts,
then the features that act on what the scripts left (sticky cookies and auth, anticache,
anticomp, server replay, streaming), then the observers (client replay bookkeeping, the
flow file, the printer).
"""
from __future__ import annotations

from typing import Any

from libmproxy.flow.master import Feature

__all__ = ["Feature", "build_chain"]


def build_chain(options: Any) -> list[Any]:
    """The features ``options`` ask for, in chain order (the printer is added by the
    master that prints)."""
    from libmproxy.features import filewriter

    chain: list[Any] = []
    # rewrite: replacements (--replace), set headers (--setheader)
    from libmproxy.features import replace, setheaders
    if options.replacements:
        chain.append(replace.Replace(options.replacements))
    if options.setheaders:
        chain.append(setheaders.SetHeaders(options.setheaders))
    # -- inline scripts (-s), in the order given
    if options.scripts:
        from libmproxy.script import Script
        chain.extend(Script(command) for command in options.scripts)
    # modifiers: sticky cookies (-t), sticky auth (-u), anticache, anticomp, --stream
    from libmproxy.features import anticache, anticomp, stickyauth, stickycookie, streambodies
    if options.stickycookie:
        chain.append(stickycookie.StickyCookie(options.stickycookie))
    if options.stickyauth:
        chain.append(stickyauth.StickyAuth(options.stickyauth))
    if options.anticache:
        chain.append(anticache.Anticache())
    if options.anticomp:
        chain.append(anticomp.Anticomp())
    if options.stream_large_bodies is not None:
        chain.append(streambodies.StreamBodies(options.stream_large_bodies))
    # -- replay: server replay (-S) answers requests, client replay (-c) sends saved ones
    if options.server_replay:
        from libmproxy.features.serverplayback import ServerPlayback
        chain.append(ServerPlayback.from_options(options))
    if options.client_replay:
        from libmproxy.features.clientplayback import ClientPlayback
        chain.append(ClientPlayback(options.client_replay, options.keepserving))
    # -- observers
    if options.outfile is not None:
        path, mode = options.outfile
        chain.append(filewriter.FileWriter(path, mode, options.filter))
    return chain

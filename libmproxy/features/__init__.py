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
    # SLOT rewrite: replacements (--replace), set headers (--setheader)
    # SLOT scripts: inline scripts (-s)
    # SLOT modifiers: sticky cookies (-t), sticky auth (-u), anticache, anticomp, --stream
    # SLOT replay: server replay (-S), client replay (-c)
    # -- observers
    if options.outfile is not None:
        path, mode = options.outfile
        chain.append(filewriter.FileWriter(path, mode, options.filter))
    return chain

"""The mitmproxy console (urwid): a flow list, flow views, editors and options over a
ConsoleMaster (master.py), which runs mitmdump's feature chain plus a flow store.

Modules: master (the master and its options), state (the flow store), window (the UI
protocol of ui.py: view stack, status bar, prompts, help), flowlist, statusbar, eventlog,
help, palettes, common (shared formatting), loop (urwid and the master's queue on one
thread), recorder (the feature that records and intercepts), liveoptions (options changed
at run time). ``python -m libmproxy.console`` runs the ``mitmproxy`` command.
"""

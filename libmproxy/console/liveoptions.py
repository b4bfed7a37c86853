"""Changing the console's options while it runs (``ConsoleMaster.set_options``).

A change is all or nothing: every new value is checked, and every feature it needs is
built and set up, before anything is replaced; the first problem raises ValueError with
a message for the user and leaves the console as it was.

Features are rebuilt only for the options that changed: a feature whose options did not
change keeps its state (sticky cookies seen so far, a script's module, an open flow file,
server replay's unused responses). New features are made by ``features.build_chain`` from
a copy of the options in which every unchanged feature's options are switched off, so
this module builds nothing itself; ``FEATURE_OPTIONS`` (build_chain's own table,
``features.CHAIN``) says which options each feature reads and, by its order, where the
feature goes in the chain.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from libmproxy.exceptions import ProxyException
from libmproxy.features import CHAIN, build_chain

__all__ = ["FEATURE_OPTIONS", "PROXY_OPTIONS", "apply"]

# (feature class name, the options it is built from), in chain order: build_chain's table.
FEATURE_OPTIONS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (kind, options) for kind, options, _ in CHAIN)
_KIND_ORDER = {name: i for i, (name, _) in enumerate(FEATURE_OPTIONS)}
_CHAIN_OPTIONS = {opt for _, opts in FEATURE_OPTIONS for opt in opts}

# Options that live in the proxy's configuration (read per connection).
PROXY_OPTIONS = ("ignore_hosts", "tcp_hosts", "no_upstream_cert")

# Options fixed for the session: changing them would need a restart.
FIXED_OPTIONS = frozenset({"rfile", "keepserving", "no_mouse", "max_flows", "filtstr",
                           "flow_detail"})


def _kind(feature: Any) -> str:
    return type(feature).__name__


def _blank(options: Any, name: str) -> Any:
    """The default (switched-off) value of option ``name``."""
    field = next(f for f in dataclasses.fields(options) if f.name == name)
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _check_filter(name: str, value: Any) -> None:
    if value:
        from libmproxy import filt
        message = filt.problem(value)
        if message is not None:
            raise ValueError(f"{name}: {message}")


def _proxy_values(changes: dict[str, Any]) -> dict[str, Any]:
    """The proxy settings to install, checked (host patterns compiled)."""
    from libmproxy.proxy.config import HostMatcher
    values: dict[str, Any] = {}
    if "ignore_hosts" in changes:
        values["ignore_hosts"] = HostMatcher(changes["ignore_hosts"], "ignore pattern")
    if "tcp_hosts" in changes:
        values["tcp_hosts"] = HostMatcher(changes["tcp_hosts"], "TCP host pattern")
    if "no_upstream_cert" in changes:
        values["no_upstream_cert"] = bool(changes["no_upstream_cert"])
    return values


def _new_chain(master: Any, old: Any, new: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """(the chain for ``new``, the features made for it, the features it drops)."""
    changed = {opt for opt in _CHAIN_OPTIONS if getattr(old, opt) != getattr(new, opt)}
    changed_kinds = {kind for kind, opts in FEATURE_OPTIONS if changed & set(opts)}
    current = [f for f in master.addons if _kind(f) in _KIND_ORDER]
    kept = [f for f in current if _kind(f) not in changed_kinds]
    # Scripts are kept one by one: a script still asked for keeps its loaded module.
    old_scripts = {f.command: f for f in current if _kind(f) == "Script"}
    kept_scripts = [old_scripts[c] for c in new.scripts if c in old_scripts]
    kept = [f for f in kept if _kind(f) != "Script"] + kept_scripts

    delta = dataclasses.replace(new)
    for kind, opts in FEATURE_OPTIONS:
        if kind not in changed_kinds and kind != "Script":
            for opt in opts:
                setattr(delta, opt, _blank(new, opt))
    delta.scripts = [c for c in new.scripts if c not in old_scripts]
    made = build_chain(delta)

    scripts_order = {c: i for i, c in enumerate(new.scripts)}

    def position(feature: Any) -> tuple[int, int]:
        kind = _kind(feature)
        return _KIND_ORDER[kind], scripts_order.get(getattr(feature, "command", ""), 0)

    chain = sorted(kept + made, key=position)
    kept_ids = {id(f) for f in chain}
    dropped = [f for f in current if id(f) not in kept_ids]
    return chain, made, dropped


def apply(master: Any, changes: dict[str, Any]) -> None:
    """Check and apply ``changes`` to ``master`` (see the module doc)."""
    options = master.options
    names = {f.name for f in dataclasses.fields(options)}
    for name in changes:
        if name not in names:
            raise ValueError(f"unknown option {name!r}")
        if name in FIXED_OPTIONS:
            raise ValueError(f"{name} cannot be changed while the console runs")
    for name in ("intercept", "limit", "stickycookie", "stickyauth"):
        if name in changes:
            _check_filter(name, changes[name])
    if "palette" in changes:
        from libmproxy.console import palettes
        palettes.get(changes["palette"])
    proxy_values = _proxy_values(changes)
    new = dataclasses.replace(options, **changes)

    try:
        chain, made, dropped = _new_chain(master, options, new)
    except (ProxyException, ValueError) as e:
        raise ValueError(str(e)) from e
    for feature in made:
        try:
            getattr(feature, "configure", lambda m: None)(master)
        except BaseException as e:
            # Release what the others hold (an opened flow file); the one that failed
            # cleaned up after itself.
            for other in made:
                if other is not feature:
                    getattr(other, "done", lambda: None)()
            if isinstance(e, (ProxyException, ValueError)):
                raise ValueError(str(e)) from e
            raise

    # Everything is checked: from here on nothing may fail halfway.
    master.options = new
    master.install_chain(chain, started=made, stopped=dropped)
    for server in master.servers:
        config = getattr(server, "config", None)
        if config is not None:
            for name, value in proxy_values.items():
                setattr(config, name, value)
    master.options_changed(options, new)

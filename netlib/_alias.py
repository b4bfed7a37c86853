"""Import aliases: make ``import mitmproxy.X`` return the very module ``libmproxy.X``.

Scripts written for the 0.18 documentation say ``from mitmproxy.script import concurrent``
and ``from pathod import test``; our packages are named libmproxy and libpathod. A plain
re-export would import each submodule twice under two names (two class objects, failing
isinstance checks), so instead a meta-path finder hands out the already imported module.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

__all__ = ["alias_package"]


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, alias: str, target: str) -> None:
        self.alias = alias
        self.target = target

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith(self.alias + "."):
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        # The import system keeps the target's own __name__ and __spec__ because they are
        # already set, so the module is one object under both names.
        return importlib.import_module(self.target + spec.name[len(self.alias):])

    def exec_module(self, module: types.ModuleType) -> None:
        """The target module has already been executed by its own import."""


def alias_package(alias: str, target: str) -> None:
    """Register ``alias`` (and every ``alias.sub.module``) as another name for ``target``."""
    sys.modules[alias] = importlib.import_module(target)
    if not any(isinstance(f, _AliasFinder) and f.alias == alias for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder(alias, target))

"""The 0.18 documentation imports ``mitmproxy.X`` and ``pathod.X``; those names must give the
very same module objects as ``libmproxy.X`` and ``libpathod.X``."""
import importlib


def test_mitmproxy_submodule_is_the_libmproxy_module():
    import libmproxy.exceptions
    import mitmproxy.exceptions
    assert mitmproxy.exceptions is libmproxy.exceptions


def test_from_import_through_the_alias_gives_the_same_class():
    from libmproxy.exceptions import ProtocolException as a
    from mitmproxy.exceptions import ProtocolException as b
    assert a is b


def test_alias_first_then_original_is_still_one_module():
    alias = importlib.import_module("mitmproxy.exceptions")
    original = importlib.import_module("libmproxy.exceptions")
    assert alias is original
    assert alias.__name__ == "libmproxy.exceptions"


def test_pathod_is_libpathod():
    import libpathod
    import pathod
    assert pathod is libpathod

"""``mitmproxy`` is another name for ``libmproxy``, as the 0.18 documentation spells it."""
from netlib._alias import alias_package

alias_package("mitmproxy", "libmproxy")

"""``pathod`` is another name for ``libpathod``, as the 0.18 documentation spells it."""
from netlib._alias import alias_package

alias_package("pathod", "libpathod")

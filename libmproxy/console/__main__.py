"""``python -m libmproxy.console``: the ``mitmproxy`` command."""
import sys

from libmproxy.main import mitmproxy

sys.exit(mitmproxy())

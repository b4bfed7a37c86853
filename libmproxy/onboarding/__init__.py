"""The onboarding app served at http://mitm.it/ through the proxy (``--noapp`` turns it
off, ``--app-host``/``--app-port`` move it)."""
from libmproxy.onboarding.app import CA_FILES, Onboarding

__all__ = ["CA_FILES", "Onboarding"]

"""The mitm.it app: answers requests for the onboarding host inside the proxy.

The HTTP layer calls an app for requests to its (host, port) instead of going upstream
(``ProxyConfig.apps``), so a device that just set the proxy up can fetch the CA
certificate without any network access and before it trusts anything.

The CA files are read from the CA directory on each request rather than once at start, so
a CA that was replaced while the proxy runs is the one served.
"""
from __future__ import annotations

import os
from typing import NamedTuple

from netlib.http import Headers

from libmproxy.models import HTTPRequest, HTTPResponse
from libmproxy.onboarding import page

__all__ = ["Onboarding", "CAFile", "CA_FILES", "DEFAULT_BASENAME"]

# The stem of the CA files in the CA directory (netlib.certutils.CertStore.from_store).
DEFAULT_BASENAME = "mitmproxy"

# Methods that read; anything else is refused, since the app has nothing to change.
READ_METHODS = ("GET", "HEAD")

HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


class CAFile(NamedTuple):
    """One downloadable form of the CA certificate."""

    suffix: str  # of the file in the CA directory and of the downloaded name
    content_type: str


# route -> file. The content types are those certificate installers recognise: browsers
# and Android hand application/x-x509-ca-cert to their CA import, Windows opens
# application/x-pkcs12 in its certificate import wizard.
CA_FILES: dict[str, CAFile] = {
    "/cert/pem": CAFile("pem", "application/x-x509-ca-cert"),
    "/cert/p12": CAFile("p12", "application/x-pkcs12"),
    "/cert/cer": CAFile("cer", "application/x-x509-ca-cert"),
}


def _response(status_code: int, body: bytes, content_type: str, **extra: str) -> HTTPResponse:
    headers = Headers(content_type=content_type, cache_control="no-store")
    for name, value in extra.items():
        headers[name.replace("_", "-")] = value
    return HTTPResponse.make(status_code, body, headers)  # type: ignore[return-value]


class Onboarding:
    """``Onboarding(cadir)(request) -> response``: the page at ``/``, the CA certificate at
    ``/cert/pem``, ``/cert/p12`` and ``/cert/cer``, 404 for anything else."""

    def __init__(self, cadir: str | os.PathLike, app_host: str = "mitm.it",
                 basename: str = DEFAULT_BASENAME) -> None:
        self.cadir = os.path.expanduser(os.fspath(cadir))
        self.app_host = app_host
        self.basename = basename

    def ca_path(self, suffix: str) -> str:
        """Where the CA certificate in format ``suffix`` is kept."""
        return os.path.join(self.cadir, f"{self.basename}-ca-cert.{suffix}")

    def __call__(self, request: HTTPRequest) -> HTTPResponse:
        response = self._route(request)
        if request.method.upper() == "HEAD":
            length = response.headers.get("content-length")
            response.content = b""
            if length is not None:
                response.headers["content-length"] = length
        return response

    def _route(self, request: HTTPRequest) -> HTTPResponse:
        if request.method.upper() not in READ_METHODS:
            return _response(405, b"Only GET and HEAD are served here.\n", TEXT_TYPE,
                             allow=", ".join(READ_METHODS))
        path = request.path.partition("?")[0].partition("#")[0]
        if path in ("/", "/index.html"):
            return _response(200, page.render_index(self.app_host), HTML_TYPE)
        ca_file = CA_FILES.get(path.rstrip("/"))
        if ca_file is None:
            return _response(404, f"Not found: {path}\n".encode("utf-8", "replace"),
                             TEXT_TYPE)
        return self._ca_download(ca_file)

    def _ca_download(self, ca_file: CAFile) -> HTTPResponse:
        try:
            with open(self.ca_path(ca_file.suffix), "rb") as f:
                data = f.read()
        except OSError as e:
            return _response(404, f"The CA certificate is not available: {e.strerror}\n"
                             .encode("utf-8", "replace"), TEXT_TYPE)
        filename = f"{self.basename}-ca-cert.{ca_file.suffix}"
        return _response(200, data, ca_file.content_type,
                         content_disposition=f'attachment; filename="{filename}"')

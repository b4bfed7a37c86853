"""``-t FILTER``: sticky cookies (spec: Sticky cookies and auth).

The cookies servers set are remembered in a jar; a later *cookie-less* request that
matches FILTER gets the remembered cookies that apply to it in its Cookie header, and is
marked ``request.stickycookie`` (mitmdump prints "[stickycookie]" before it). This lets a
tool like curl use a session a browser logged into.

Decisions, following 0.18 where it is sound:

- The jar is keyed like 0.18's: (domain, port, path). Without a Domain attribute the
  cookie belongs to the request's host alone; with one it is stored as ".domain" and applies
  to that domain and its subdomains (RFC 6265: a leading dot in the attribute is ignored). A
  Domain that does not cover the host setting it is refused, as browsers do. Without a Path
  attribute the path is "/" (0.18's default, simpler than RFC 6265's directory of the
  request); a cookie applies to the request paths below its path.
- An expired cookie (Expires in the past, or Max-Age=0 or less) deletes the remembered one.
- Cookies are learned from every response (FILTER decides which requests get them, as in
  0.18 and today's mitmproxy): a filter such as ``~q`` describes requests, and a response
  would never match it.
- A request that already carries a Cookie header is left alone: the spec adds cookies to
  "any cookie-less request", and a client that sends its own cookies knows its session.
"""
from __future__ import annotations

from netlib.http import cookies

from libmproxy import filt
from libmproxy.flow.master import Feature
from libmproxy.models import HTTPFlow

__all__ = ["StickyCookie"]

# (domain, port, path); domain is a host name, or ".name" for a name and its subdomains.
JarKey = tuple[str, int, str]


def domain_match(host: str, domain: str) -> bool:
    """Whether a cookie stored for ``domain`` applies to ``host`` (both lower case)."""
    if domain.startswith("."):
        return host == domain[1:] or host.endswith(domain)
    return host == domain


def path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 section 5.1.4: the cookie's path is the request path or a directory of it."""
    if not request_path.startswith(cookie_path):
        return False
    return (len(request_path) == len(cookie_path) or cookie_path.endswith("/")
            or request_path[len(cookie_path)] == "/")


def _request_path(flow: HTTPFlow) -> str:
    return flow.request.path.split("?", 1)[0] or "/"


def jar_key(flow: HTTPFlow, attrs: list[cookies.Pair]) -> JarKey | None:
    """Where a cookie set on ``flow``'s response with ``attrs`` goes; None if its Domain
    attribute does not cover the host that set it."""
    host = (flow.request.host or "").lower()
    domain, path = host, "/"
    for name, value in attrs:
        name = name.lower()
        if name == "domain" and value:
            domain = "." + value.strip().lstrip(".").lower()
        elif name == "path" and value and value.startswith("/"):
            path = value
    if not domain_match(host, domain):
        return None
    return domain, flow.request.port, path


class StickyCookie(Feature):
    """``expression``: the filter of the requests that get remembered cookies; parsed here,
    once (a ValueError names an invalid one)."""

    def __init__(self, expression: str) -> None:
        self.filt = filt.parse(expression)
        self.jar: dict[JarKey, dict[str, str]] = {}

    def response(self, flow: HTTPFlow) -> None:
        for header in flow.response.headers.get_all("set-cookie"):
            try:
                parsed = cookies.parse_set_cookie_header(header)
            except ValueError:
                continue  # a Set-Cookie without a cookie: nothing to remember
            for name, value, attrs in parsed:
                key = jar_key(flow, attrs)
                if key is None:
                    continue
                if cookies.is_expired(attrs):
                    remembered = self.jar.get(key)
                    if remembered is not None:
                        remembered.pop(name, None)
                        if not remembered:
                            del self.jar[key]
                else:
                    self.jar.setdefault(key, {})[name] = value

    def request(self, flow: HTTPFlow) -> None:
        request = flow.request
        if not self.jar or "cookie" in request.headers or not self.filt(flow):
            return
        host = (request.host or "").lower()
        port = request.port
        path = _request_path(flow)
        applicable = [
            (key[2], jarred) for key, jarred in self.jar.items()
            if key[1] == port and domain_match(host, key[0]) and path_match(path, key[2])
        ]
        if not applicable:
            return
        # RFC 6265 section 5.4: cookies with longer paths first.
        applicable.sort(key=lambda item: len(item[0]), reverse=True)
        # A cookie without a name goes back as its bare value, as browsers send it.
        pairs = [(name, value) if name else (value, None)
                 for _, jarred in applicable for name, value in jarred.items()]
        request.headers["cookie"] = cookies.format_cookie_header(pairs)
        request.stickycookie = True

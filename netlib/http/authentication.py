"""Proxy authentication (spec: Proxy Authentication): HTTP Basic credentials in the
``Proxy-Authorization`` header, checked against a password manager.

The names are 0.18's (``netlib.http.authentication``): an authenticator (``NullProxyAuth``
when nothing is required, ``BasicProxyAuth`` otherwise) asks a password manager
(``PassManNonAnon``, ``PassManSingleUser``, ``PassManHtpasswd``) whether a username and
password are good. Unlike 0.18's, an authenticator keeps no per-request state (0.18 stored
the last username on the shared object): one authenticator serves every connection thread
at once, so it is read-only after construction.

Password managers check what they can when they are made (an htpasswd file that cannot be
read or holds an entry passlib cannot verify is a ValueError naming the file), so a bad
file stops the proxy at startup instead of refusing every client later.
"""
from __future__ import annotations

import base64
import binascii
import hmac
from typing import Mapping


__all__ = [
    "parse_http_basic_auth", "assemble_http_basic_auth", "NullProxyAuth", "BasicProxyAuth",
    "PassMan", "PassManNonAnon", "PassManSingleUser", "PassManHtpasswd", "REALM",
]

# The realm the challenge names (0.18's): browsers show it in their login prompt.
REALM = "mitmproxy"


def parse_http_basic_auth(value: str) -> tuple[str, str, str]:
    """``Basic base64(user:password)`` -> (scheme, username, password).

    Credentials are decoded as UTF-8 (RFC 7617's ``charset="UTF-8"``, and what curl and
    browsers send for non-ASCII input), falling back to ISO-8859-1, the older default.
    Anything else is a ValueError that says what is wrong.
    """
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise ValueError(f"unsupported authentication scheme {scheme!r}: only Basic is")
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"invalid base64 in Basic credentials: {token!r}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    username, sep, password = text.partition(":")
    if not sep:
        raise ValueError("Basic credentials without a colon between username and password")
    return scheme, username, password


def assemble_http_basic_auth(scheme: str, username: str, password: str) -> str:
    """The header value for ``username:password`` (the inverse of parse_http_basic_auth)."""
    token = base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")
    return f"{scheme} {token}"


class PassMan:
    """Says whether a username and password are good; the base accepts no one."""

    def test(self, username: str, password_token: str) -> bool:
        return False


class PassManNonAnon(PassMan):
    """``--nonanonymous``: any password, as long as a username is given (0.18's rule)."""

    def test(self, username: str, password_token: str) -> bool:
        return bool(username)


class PassManSingleUser(PassMan):
    """``--singleuser USER:PASS``: exactly one username and password."""

    def __init__(self, username: str, password: str) -> None:
        if not username:
            raise ValueError("--singleuser needs a username (expected username:password)")
        self._username = username.encode("utf-8")
        self._password = password.encode("utf-8")

    @classmethod
    def from_spec(cls, spec: str) -> "PassManSingleUser":
        """``user:pass`` (the password may itself contain colons)."""
        username, sep, password = spec.partition(":")
        if not sep:
            raise ValueError(f"invalid --singleuser {spec!r}: expected username:password")
        return cls(username, password)

    def test(self, username: str, password_token: str) -> bool:
        # Compared in constant time, so response times do not leak the password.
        user_ok = hmac.compare_digest(username.encode("utf-8"), self._username)
        password_ok = hmac.compare_digest(password_token.encode("utf-8"), self._password)
        return user_ok and password_ok


class PassManHtpasswd(PassMan):
    """``--htpasswd PATH``: the users of an Apache htpasswd file, read once at startup,
    with the hash formats passlib verifies (apr1-MD5, bcrypt, {SHA}, crypt, SHA-256/512
    crypt, plaintext)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            # passlib is imported only here: most runs have no htpasswd file, and it
            # costs every mitmdump ~1.5 MiB of memory and 50 ms of startup.
            from passlib.apache import HtpasswdFile
            self._file = HtpasswdFile(path)
            entries = [(user, _text(self._file.get_hash(user))) for user in self._file.users()]
        except OSError as e:
            raise ValueError(f"cannot read htpasswd file {path}: {e.strerror or e}") from None
        except ValueError as e:  # malformed lines, bytes that are not UTF-8
            raise ValueError(f"invalid htpasswd file {path}: {e}") from None
        if not entries:
            raise ValueError(f"invalid htpasswd file {path}: it has no users")
        for user, hashed in entries:
            self._check_entry(user, hashed)

    def _check_entry(self, user: str, hashed: str) -> None:
        """Parse the entry's hash now (without hashing anything, which is slow for bcrypt
        on purpose): an incomplete or unsupported hash would otherwise fail only when
        that user logs in."""
        where = f"invalid htpasswd file {self.path}: user {user!r}"
        handler = self._file.context.identify(hashed, resolve=True)  # plaintext matches all
        if hasattr(handler, "has_backend") and not handler.has_backend():
            raise ValueError(f"{where}: no {handler.name} backend is installed "
                             f"(for bcrypt: pip install bcrypt)")
        if not hasattr(handler, "from_string"):
            return
        try:
            parsed = handler.from_string(hashed)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        if getattr(parsed, "checksum", "") is None:
            raise ValueError(f"{where}: incomplete {handler.name} hash")

    def test(self, username: str, password_token: str) -> bool:
        if not username:
            return False
        return bool(self._file.check_password(username, password_token))


def _text(hashed: bytes | str) -> str:
    """A hash as passlib 1.7 stores it (bytes) or as later versions may (str)."""
    return hashed.decode("utf-8") if isinstance(hashed, bytes) else hashed


class NullProxyAuth:
    """No authentication: every request passes and nothing is removed."""

    def __init__(self, password_manager: PassMan | None = None) -> None:
        self.password_manager = password_manager

    def authenticate(self, headers: Mapping[str, str]) -> bool:
        return True

    def clean(self, headers) -> None:
        """Remove the credentials from ``headers`` (nothing to remove here)."""

    def auth_challenge_headers(self) -> dict[str, str]:
        return {}


class BasicProxyAuth(NullProxyAuth):
    """HTTP Basic proxy authentication (RFC 7235/7617): credentials in
    ``Proxy-Authorization``, a challenge in ``Proxy-Authenticate`` with a 407."""

    CHALLENGE_HEADER = "Proxy-Authenticate"
    AUTH_HEADER = "Proxy-Authorization"

    def __init__(self, password_manager: PassMan, realm: str = REALM) -> None:
        super().__init__(password_manager)
        self.realm = realm

    def authenticate(self, headers: Mapping[str, str]) -> bool:
        """Whether ``headers`` carry good credentials; a missing or malformed header is
        simply not good (the client gets the challenge, not an error)."""
        value = headers.get(self.AUTH_HEADER)
        if not value:
            return False
        try:
            _, username, password = parse_http_basic_auth(value)
        except ValueError:
            return False
        return self.password_manager.test(username, password)

    def clean(self, headers) -> None:
        """The credentials are for this proxy only: they leave the request (spec:
        "Authentication headers are stripped from the flows")."""
        if self.AUTH_HEADER in headers:
            del headers[self.AUTH_HEADER]

    def auth_challenge_headers(self) -> dict[str, str]:
        return {self.CHALLENGE_HEADER: f'Basic realm="{self.realm}"'}

"""netlib.http.authentication: Basic credentials, the authenticators and the password
managers, with htpasswd files written in the test by passlib."""
from __future__ import annotations

import base64

import pytest
from passlib.apache import htpasswd_context
from passlib.hash import apr_md5_crypt, bcrypt, ldap_sha1

from netlib.http import Headers
from netlib.http.authentication import (
    REALM, BasicProxyAuth, NullProxyAuth, PassManHtpasswd, PassManNonAnon,
    PassManSingleUser, assemble_http_basic_auth, parse_http_basic_auth,
)


def basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode("ascii")


# --- the Basic header ---------------------------------------------------------------------

def test_parse_and_assemble_round_trip():
    value = assemble_http_basic_auth("Basic", "user", "pass:with:colons")
    assert value == basic(b"user:pass:with:colons")
    assert parse_http_basic_auth(value) == ("Basic", "user", "pass:with:colons")


def test_parse_is_case_insensitive_on_the_scheme_and_tolerates_spaces():
    assert parse_http_basic_auth("  bAsIc   dTpw ") == ("bAsIc", "u", "p")


def test_parse_decodes_utf8_and_falls_back_to_latin1():
    assert parse_http_basic_auth(basic("j\u00fcrgen:p\u00e4ss".encode("utf-8")))[1:] == \
        ("j\u00fcrgen", "p\u00e4ss")
    assert parse_http_basic_auth(basic("j\u00fcrgen:x".encode("latin-1")))[1] == "j\u00fcrgen"


@pytest.mark.parametrize("value, message", [
    ("Basic !!!notbase64", "invalid base64"),
    ("Basic dXNlcg=", "invalid base64"),  # bad padding
    ("Basic " + base64.b64encode(b"nocolon").decode(), "without a colon"),
    ("Digest username=\"u\"", "unsupported authentication scheme 'Digest'"),
    ("", "unsupported authentication scheme"),
])
def test_parse_rejects_what_is_not_basic_credentials(value, message):
    with pytest.raises(ValueError, match=message):
        parse_http_basic_auth(value)


# --- authenticators ---------------------------------------------------------------------------

def test_null_auth_lets_everything_through_and_removes_nothing():
    auth = NullProxyAuth()
    headers = Headers(Proxy_Authorization="Basic dTpw")
    assert auth.authenticate(Headers())
    auth.clean(headers)
    assert headers["Proxy-Authorization"] == "Basic dTpw"
    assert auth.auth_challenge_headers() == {}


@pytest.mark.parametrize("value, ok", [
    (None, False),
    ("", False),
    ("Basic %%%", False),  # bad base64: refused, not an error
    (basic(b"u:wrong"), False),
    (basic(b"other:p"), False),
    (basic(b"u"), False),
    ("Digest dTpw", False),
    (basic(b"u:p"), True),
    ("basic " + base64.b64encode(b"u:p").decode(), True),
])
def test_basic_auth_checks_the_proxy_authorization_header(value, ok):
    auth = BasicProxyAuth(PassManSingleUser("u", "p"), REALM)
    headers = Headers() if value is None else Headers(Proxy_Authorization=value)
    assert auth.authenticate(headers) is ok


def test_basic_auth_ignores_the_origins_authorization_header():
    auth = BasicProxyAuth(PassManSingleUser("u", "p"))
    assert not auth.authenticate(Headers(Authorization=basic(b"u:p")))


def test_basic_auth_clean_removes_only_the_proxy_credentials():
    auth = BasicProxyAuth(PassManNonAnon())
    headers = Headers(Proxy_Authorization=basic(b"u:p"), Authorization=basic(b"site:pw"))
    auth.clean(headers)
    assert "Proxy-Authorization" not in headers
    assert headers["Authorization"] == basic(b"site:pw")
    auth.clean(headers)  # nothing left to remove: no error


def test_basic_auth_challenge_names_the_realm():
    assert BasicProxyAuth(PassManNonAnon()).auth_challenge_headers() == \
        {"Proxy-Authenticate": 'Basic realm="mitmproxy"'}
    assert BasicProxyAuth(PassManNonAnon(), "corp").auth_challenge_headers() == \
        {"Proxy-Authenticate": 'Basic realm="corp"'}


# --- password managers ------------------------------------------------------------------------

def test_nonanonymous_wants_a_username_and_any_password():
    passman = PassManNonAnon()
    assert passman.test("anyone", "")
    assert passman.test("anyone", "anything")
    assert not passman.test("", "secret")


def test_singleuser():
    passman = PassManSingleUser.from_spec("admin:s3:cr3t")
    assert passman.test("admin", "s3:cr3t")
    assert not passman.test("admin", "s3")
    assert not passman.test("Admin", "s3:cr3t")
    assert not passman.test("", "")
    assert PassManSingleUser.from_spec("u:").test("u", "")


@pytest.mark.parametrize("spec, message", [
    ("nocolon", "invalid --singleuser 'nocolon'"),
    (":pass", "needs a username"),
])
def test_singleuser_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        PassManSingleUser.from_spec(spec)


@pytest.fixture
def htpasswd(tmp_path):
    """An htpasswd file with the three formats Apache's htpasswd writes today:
    -m (apr1 MD5, its default), -B (bcrypt) and -s ({SHA})."""
    path = tmp_path / "users.htpasswd"
    path.write_text(
        f"alice:{apr_md5_crypt.hash('apple')}\n"
        f"bob:{bcrypt.using(rounds=4, ident='2y').hash('banana')}\n"
        f"carol:{ldap_sha1.hash('cherry')}\n")
    return path


@pytest.mark.parametrize("user, password", [
    ("alice", "apple"), ("bob", "banana"), ("carol", "cherry")])
def test_htpasswd_accepts_each_format(htpasswd, user, password):
    passman = PassManHtpasswd(str(htpasswd))
    assert passman.test(user, password)
    assert not passman.test(user, password + "x")
    assert not passman.test(user, "")


def test_htpasswd_refuses_unknown_users_and_other_users_passwords(htpasswd):
    passman = PassManHtpasswd(str(htpasswd))
    assert not passman.test("mallory", "apple")
    assert not passman.test("alice", "banana")
    assert not passman.test("", "apple")


def test_htpasswd_behind_basic_auth(htpasswd):
    auth = BasicProxyAuth(PassManHtpasswd(str(htpasswd)))
    assert auth.authenticate(Headers(Proxy_Authorization=basic(b"bob:banana")))
    assert not auth.authenticate(Headers(Proxy_Authorization=basic(b"bob:apple")))


@pytest.mark.parametrize("content, message", [
    (b"no colon on this line\n", "malformed htpasswd file"),
    (b"", "it has no users"),
    (b"# only a comment\n", "it has no users"),
    (b"dave:$apr1$saltonly\n", "user 'dave': incomplete apr_md5_crypt hash"),
    (b"erin:$2y$04$short\n", "user 'erin': salt too small"),
    (b"\xff\xfe:x\n", "invalid htpasswd file"),
])
def test_bad_htpasswd_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.htpasswd"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        PassManHtpasswd(str(path))
    assert str(path) in str(info.value)


def test_unreadable_htpasswd_file(tmp_path):
    with pytest.raises(ValueError, match=f"cannot read htpasswd file {tmp_path}"):
        PassManHtpasswd(str(tmp_path))  # a directory: root can read any file, not this
    with pytest.raises(ValueError, match="cannot read htpasswd file .*missing"):
        PassManHtpasswd(str(tmp_path / "missing"))


def test_htpasswd_hash_without_a_backend_is_a_startup_error(htpasswd, monkeypatch):
    """On an interpreter without crypt(3) and without the bcrypt package, a bcrypt entry
    could never be verified: say so now rather than refuse that user forever."""
    handler = htpasswd_context.handler("bcrypt")
    monkeypatch.setattr(handler, "has_backend", lambda name="any": False)
    with pytest.raises(ValueError, match="user 'bob': no bcrypt backend is installed"):
        PassManHtpasswd(str(htpasswd))

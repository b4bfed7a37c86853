"""The flow-rewriting features: anticache, anticomp, sticky cookies, sticky auth,
replacements, set headers and response streaming.

First each feature alone with made flows (what it changes, and when it must not), then the
chain ``build_chain`` makes of them, then the real ``python -m libmproxy.main`` with curl
and a loopback origin, asserting what the origin received and what the client got.
"""
from __future__ import annotations

import gzip
import io
import re
from typing import Any

import pytest

from libmproxy import dump, filt
from libmproxy.controller import ASK, TELL
from libmproxy.dump import DumpMaster, Options
from libmproxy.features import (
    anticache, anticomp, build_chain, replace, setheaders, stickyauth, stickycookie,
    streambodies,
)
from libmproxy.models import ClientConnection, HTTPFlow, HTTPRequest, HTTPResponse, \
    ServerConnection

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def make_flow(url: str = "http://example.com/path", headers: list | None = None,
              content: bytes = b"", method: str = "GET") -> HTTPFlow:
    """A flow at its "request" event: a request, no response yet."""
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("example.com", 80)))
    flow.request = HTTPRequest.wrap(HTTPRequest.make(method, url, content))
    for name, value in headers or []:
        flow.request.headers.add(name, value)
    return flow


def respond(flow: HTTPFlow, headers: list | None = None, content: bytes | None = b"",
            status: int = 200) -> HTTPFlow:
    """``flow`` at its "response" event."""
    flow.response = HTTPResponse("HTTP/1.1", status, "OK", headers or [], content)
    return flow


# === anticache, anticomp ======================================================================

def test_anticache_removes_the_conditional_headers_only():
    flow = make_flow(headers=[("If-None-Match", '"abc"'),
                              ("If-Modified-Since", "Wed, 21 Oct 2015 07:28:00 GMT"),
                              ("Cache-Control", "max-age=0")])
    anticache.Anticache().request(flow)
    assert "if-none-match" not in flow.request.headers
    assert "if-modified-since" not in flow.request.headers
    assert flow.request.headers["cache-control"] == "max-age=0"


def test_anticomp_asks_for_identity():
    flow = make_flow(headers=[("Accept-Encoding", "gzip, deflate, br")])
    anticomp.Anticomp().request(flow)
    assert flow.request.headers.get_all("accept-encoding") == ["identity"]
    flow = make_flow()
    anticomp.Anticomp().request(flow)
    assert flow.request.headers["accept-encoding"] == "identity"


# === sticky cookies ===========================================================================

def visit(feature: stickycookie.StickyCookie, url: str, set_cookie: list[str] = (),
          cookie: str | None = None) -> HTTPFlow:
    """One exchange through ``feature``: its request (as sent on), then its response."""
    flow = make_flow(url, [("Cookie", cookie)] if cookie is not None else [])
    feature.request(flow)
    respond(flow, [("Set-Cookie", value) for value in set_cookie])
    feature.response(flow)
    return flow


def sent_cookie(flow: HTTPFlow) -> str | None:
    return flow.request.headers.get("cookie")


def test_cookie_set_by_a_response_goes_on_later_cookieless_requests():
    jar = stickycookie.StickyCookie(".*")
    first = visit(jar, "http://example.com/login", ["session=abc; Path=/; HttpOnly"])
    assert sent_cookie(first) is None and not first.request.stickycookie
    later = visit(jar, "http://example.com/account")
    assert sent_cookie(later) == "session=abc"
    assert later.request.stickycookie


def test_the_most_recently_set_value_wins_and_cookies_are_joined():
    jar = stickycookie.StickyCookie(".*")
    visit(jar, "http://example.com/", ["a=1", "b=2"])
    visit(jar, "http://example.com/", ["a=3"])
    assert sent_cookie(visit(jar, "http://example.com/")) == "a=3; b=2"


def test_requests_with_their_own_cookies_are_left_alone():
    jar = stickycookie.StickyCookie(".*")
    visit(jar, "http://example.com/", ["session=abc"])
    mine = visit(jar, "http://example.com/", cookie="mine=1")
    assert sent_cookie(mine) == "mine=1" and not mine.request.stickycookie


def test_only_requests_matching_the_filter_get_cookies():
    jar = stickycookie.StickyCookie("~u /api")
    visit(jar, "http://example.com/login", ["session=abc"])  # learned from any response
    assert sent_cookie(visit(jar, "http://example.com/page")) is None
    assert sent_cookie(visit(jar, "http://example.com/api/x")) == "session=abc"


def test_a_request_filter_still_learns_from_responses():
    """``-t ~q`` describes requests; cookies are learned from every response anyway."""
    jar = stickycookie.StickyCookie("~q")
    visit(jar, "http://example.com/", ["session=abc"])
    assert sent_cookie(visit(jar, "http://example.com/")) == "session=abc"


def test_host_only_cookies_stay_on_their_host_and_port():
    jar = stickycookie.StickyCookie(".*")
    visit(jar, "http://example.com/", ["session=abc"])
    assert sent_cookie(visit(jar, "http://www.example.com/")) is None
    assert sent_cookie(visit(jar, "http://other.com/")) is None
    assert sent_cookie(visit(jar, "http://example.com:8080/")) is None
    assert sent_cookie(visit(jar, "http://EXAMPLE.com/")) == "session=abc"


@pytest.mark.parametrize("domain", ["example.com", ".example.com", "EXAMPLE.COM"])
def test_domain_cookies_reach_subdomains(domain):
    jar = stickycookie.StickyCookie(".*")
    visit(jar, "http://www.example.com/", [f"session=abc; Domain={domain}"])
    assert sent_cookie(visit(jar, "http://example.com/")) == "session=abc"
    assert sent_cookie(visit(jar, "http://a.b.example.com/")) == "session=abc"
    assert sent_cookie(visit(jar, "http://badexample.com/")) is None


def test_a_domain_not_covering_the_host_is_refused():
    jar = stickycookie.StickyCookie(".*")
    visit(jar, "http://example.com/", ["evil=1; Domain=other.com",
                                       "evil2=1; Domain=www.example.com"])
    assert jar.jar == {}
    assert sent_cookie(visit(jar, "http://other.com/")) is None


def test_cookie_paths():
    jar = stickycookie.StickyCookie(".*")
    visit(jar, "http://example.com/app/login", ["app=1; Path=/app", "root=2"])
    assert sent_cookie(visit(jar, "http://example.com/app")) == "app=1; root=2"
    assert sent_cookie(visit(jar, "http://example.com/app/page?q=/x")) == "app=1; root=2"
    assert sent_cookie(visit(jar, "http://example.com/application")) == "root=2"
    assert sent_cookie(visit(jar, "http://example.com/")) == "root=2"


@pytest.mark.parametrize("deletion", [
    "session=; Max-Age=0",
    "session=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
])
def test_an_expired_cookie_deletes_the_remembered_one(deletion):
    jar = stickycookie.StickyCookie(".*")
    visit(jar, "http://example.com/", ["session=abc", "other=1"])
    visit(jar, "http://example.com/", [deletion])
    assert sent_cookie(visit(jar, "http://example.com/")) == "other=1"
    visit(jar, "http://example.com/", ["other=; Max-Age=0"])
    assert jar.jar == {}
    assert sent_cookie(visit(jar, "http://example.com/")) is None


def test_a_future_expiry_is_kept():
    jar = stickycookie.StickyCookie(".*")
    visit(jar, "http://example.com/", ["session=abc; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
                                       "bare"])
    assert sent_cookie(visit(jar, "http://example.com/")) == "session=abc; bare"


def test_dump_marks_sticky_cookie_requests():
    out = io.StringIO()
    master = DumpMaster(None, Options(stickycookie=".*"), out, io.StringIO())
    first = make_flow()
    master.dispatch("request", first)
    master.dispatch("response", respond(first, [("Set-Cookie", "s=1")]))
    later = make_flow()
    master.dispatch("request", later)
    master.dispatch("response", respond(later))
    assert sent_cookie(later) == "s=1"
    assert out.getvalue().splitlines()[2] == \
        "[stickycookie] 127.0.0.1 GET http://example.com/path"


# === sticky auth ==============================================================================

def test_sticky_auth_replays_the_authorization_of_the_host():
    feature = stickyauth.StickyAuth(".*")
    feature.request(make_flow("http://example.com/a", [("Authorization", "Basic dTpw")]))
    later = make_flow("http://example.com/b")
    feature.request(later)
    assert later.request.headers["authorization"] == "Basic dTpw"
    assert later.request.stickyauth
    elsewhere = make_flow("http://other.com/b")
    feature.request(elsewhere)
    assert "authorization" not in elsewhere.request.headers


def test_sticky_auth_keeps_a_request_own_credentials_and_learns_them():
    feature = stickyauth.StickyAuth(".*")
    feature.request(make_flow(headers=[("Authorization", "Basic old")]))
    own = make_flow(headers=[("Authorization", "Basic new")])
    feature.request(own)
    assert own.request.headers["authorization"] == "Basic new" and not own.request.stickyauth
    later = make_flow()
    feature.request(later)
    assert later.request.headers["authorization"] == "Basic new"


def test_sticky_auth_only_on_requests_matching_the_filter():
    feature = stickyauth.StickyAuth("~m POST")
    feature.request(make_flow(headers=[("Authorization", "Basic dTpw")]))
    get = make_flow()
    feature.request(get)
    assert "authorization" not in get.request.headers
    post = make_flow(method="POST")
    feature.request(post)
    assert post.request.headers["authorization"] == "Basic dTpw"


# === replacements =============================================================================

def run_phases(feature: Any, flow: HTTPFlow, response: list | None = None,
               content: bytes = b"") -> HTTPFlow:
    """The request phase, then the response phase of ``flow`` through ``feature``."""
    feature.request(flow)
    respond(flow, response, content)
    feature.response(flow)
    return flow


def test_replace_on_requests_only_with_q():
    feature = replace.Replace([("~q", "foo", "bar")])
    flow = run_phases(feature, make_flow("http://example.com/foo", [("X-H", "foo")],
                                         b"a foo", "POST"), content=b"foo back")
    assert flow.request.path == "/bar"
    assert flow.request.headers["x-h"] == "bar"
    assert flow.request.content == b"a bar"
    assert flow.request.headers["content-length"] == "5"
    assert flow.response.content == b"foo back"


def test_replace_on_responses_only_with_s():
    feature = replace.Replace([("~s", "foo", "bar")])
    flow = run_phases(feature, make_flow("http://example.com/foo", content=b"foo"),
                      [("X-H", "foo")], b"foo foo")
    assert flow.request.path == "/foo" and flow.request.content == b"foo"
    assert flow.response.content == b"bar bar"
    assert flow.response.headers["x-h"] == "bar"


def test_replace_without_q_or_s_applies_to_both():
    feature = replace.Replace([(".*", "foo", "bar")])
    flow = run_phases(feature, make_flow(content=b"foo", method="POST"), content=b"foo")
    assert flow.request.content == b"bar" and flow.response.content == b"bar"


def test_replace_only_in_flows_matching_the_filter():
    feature = replace.Replace([("~d other.com", "foo", "bar")])
    flow = run_phases(feature, make_flow(content=b"foo", method="POST"), content=b"foo")
    assert flow.request.content == b"foo" and flow.response.content == b"foo"


def test_replace_in_an_encoded_body_reencodes_it():
    feature = replace.Replace([("~s", "plain", "replaced")])
    flow = run_phases(feature, make_flow(), [("Content-Encoding", "gzip")],
                      gzip.compress(b"a plain text"))
    assert gzip.decompress(flow.response.raw_content) == b"a replaced text"
    assert flow.response.headers["content-length"] == str(len(flow.response.raw_content))


def test_replace_leaves_an_undecodable_body_alone():
    feature = replace.Replace([("~s", "plain", "replaced")])
    flow = run_phases(feature, make_flow(), [("Content-Encoding", "gzip")], b"plain, not gzip")
    assert flow.response.raw_content == b"plain, not gzip"


def test_replace_spans_lines_and_uses_groups_in_order():
    feature = replace.Replace([("~s", "<a>.*</a>", "<a/>"), ("~s", r"(\w+)@x", r"\1@y"),
                               ("~s", "@y", "@z")])
    flow = run_phases(feature, make_flow(), content=b"<a>\n1\n</a> me@x")
    assert flow.response.content == b"<a/> me@z"


def test_replace_refuses_bad_regexes_and_templates_at_once():
    with pytest.raises(ValueError, match="invalid regular expression '\\('"):
        replace.Replace([("~q", "(", "x")])
    with pytest.raises(ValueError, match=r"invalid replacement for 'foo': bad escape \\d"):
        replace.Replace([("~q", "foo", r"\d")])
    with pytest.raises(ValueError, match="~nope"):
        replace.Replace([("~nope", "foo", "bar")])
    with pytest.raises(dump.DumpError, match="invalid group reference"):
        DumpMaster(None, Options(replacements=[("~q", "foo", r"\1")]))


# === set headers ==============================================================================

def test_setheader_on_requests_replaces_the_header():
    feature = setheaders.SetHeaders([("~q", "User-Agent", "mitm"), ("~q", "X-New", "1")])
    flow = run_phases(feature, make_flow(headers=[("User-Agent", "curl"),
                                                  ("user-agent", "again")]),
                      [("User-Agent", "server")])
    assert flow.request.headers.get_all("user-agent") == ["mitm"]
    assert flow.request.headers["x-new"] == "1"
    assert flow.response.headers.get_all("user-agent") == ["server"]
    assert "x-new" not in flow.response.headers


def test_setheader_on_responses_only_with_s():
    feature = setheaders.SetHeaders([("~s", "Server", "proxy")])
    flow = run_phases(feature, make_flow(headers=[("Server", "client?")]),
                      [("Server", "origin")])
    assert flow.request.headers["server"] == "client?"
    assert flow.response.headers.get_all("server") == ["proxy"]


def test_several_setheaders_of_one_name_give_several_values():
    feature = setheaders.SetHeaders([("~q", "X-A", "1"), ("~q", "x-a", "2"),
                                     ("~d nomatch", "X-A", "3")])
    flow = make_flow(headers=[("X-A", "old"), ("Accept", "*/*")])
    feature.request(flow)
    assert flow.request.headers.get_all("X-A") == ["1", "2"]
    assert flow.request.headers["accept"] == "*/*"


def test_setheader_filter_without_q_or_s_matches_both_phases():
    feature = setheaders.SetHeaders([("~d example.com", "X-Seen", "yes")])
    flow = run_phases(feature, make_flow())
    assert flow.request.headers["x-seen"] == "yes" and flow.response.headers["x-seen"] == "yes"


# === response streaming =======================================================================

def headers_flow(headers: list, method: str = "GET", status: int = 200) -> HTTPFlow:
    """``flow`` at its "responseheaders" event: the head read, the body not yet."""
    return respond(make_flow(method=method), headers, None, status)


@pytest.mark.parametrize("headers, method, status, streamed", [
    ([("Content-Length", "1025")], "GET", 200, True),
    ([("Content-Length", "1024")], "GET", 200, False),
    ([("Transfer-Encoding", "chunked")], "GET", 200, True),
    ([], "GET", 200, True),  # read until the server closes: length unknown
    ([("Content-Length", "999999")], "HEAD", 200, False),
    ([], "GET", 204, False),
    ([("Content-Length", "5, 6")], "GET", 200, False),  # malformed: reported by the proxy
])
def test_stream_large_and_unknown_lengths(headers, method, status, streamed):
    flow = headers_flow(headers, method, status)
    streambodies.StreamBodies(1024).responseheaders(flow)
    assert flow.response.stream is streamed


def test_stream_keeps_a_script_callable_and_skips_responses_with_bodies():
    def modify(chunks):
        return chunks
    flow = headers_flow([("Content-Length", "5000")])
    flow.response.stream = modify
    streambodies.StreamBodies(1024).responseheaders(flow)
    assert flow.response.stream is modify
    replayed = respond(make_flow(), [("Content-Length", "5000")], b"x" * 5000)
    streambodies.StreamBodies(1024).responseheaders(replayed)
    assert replayed.response.stream is False


# === the chain ================================================================================

def test_build_chain_order_and_what_the_proxy_must_ask():
    options = Options(replacements=[("~q", "a", "b")], setheaders=[("~q", "X", "1")],
                      stickycookie=".*", stickyauth=".*", anticache=True, anticomp=True,
                      stream_large_bodies=1024)
    chain = build_chain(options)
    assert [type(f) for f in chain] == [
        replace.Replace, setheaders.SetHeaders, stickycookie.StickyCookie,
        stickyauth.StickyAuth, anticache.Anticache, anticomp.Anticomp,
        streambodies.StreamBodies]
    assert all(not f.observes for f in chain)
    master = DumpMaster(None, options, io.StringIO(), io.StringIO())
    policy = master.event_policy
    assert [policy.action(e) for e in ("request", "responseheaders", "response")] == \
        [ASK, ASK, ASK]
    assert build_chain(Options()) == []
    assert DumpMaster(None, Options(), io.StringIO()).event_policy.action("request") != ASK
    assert DumpMaster(None, Options(anticache=True), io.StringIO()).event_policy.action(
        "response") == TELL


def test_replace_then_setheaders_on_one_flow_through_the_master():
    """Rewriting runs before the modifiers: a replaced header can be set again, and
    anticache removes what a replacement produced."""
    master = DumpMaster(None, Options(
        replacements=[("~q", "If-Match", "If-None-Match"), ("~q", "old", "new")],
        setheaders=[("~q", "X-Version", "2")], anticache=True, flow_detail=0))
    flow = make_flow(headers=[("If-Match", "x"), ("X-Version", "old")])
    master.dispatch("request", flow)
    assert "if-none-match" not in flow.request.headers
    assert flow.request.headers.get_all("x-version") == ["2"]


def test_filters_and_regexes_are_compiled_once(monkeypatch):
    """The speed rule: no filter parsing and no regex compiling per flow."""
    master = DumpMaster(None, Options(
        replacements=[("~q ~b foo", "f(o)o", r"b\1r"), ("~s", "x+", "y")],
        setheaders=[("~q & ~d example.com", "X-A", "1")], stickycookie="~d example.com",
        stickyauth="~d example.com", flow_detail=0))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("compiled per flow")

    re.purge()  # a pattern compiled per flow would now miss re's cache
    monkeypatch.setattr(re._compiler, "compile", refuse)
    monkeypatch.setattr(filt, "_compile", refuse)
    monkeypatch.setattr(filt._Parser, "parse", refuse)
    monkeypatch.setattr(master, "add_event", refuse)  # a handler's error is logged there
    for _ in range(3):
        flow = make_flow(content=b"foo", method="POST")
        master.dispatch("request", flow)
        master.dispatch("responseheaders", respond(flow, content=None))
        flow.response.content = b"xxx"
        master.dispatch("response", flow)
        assert flow.request.content == b"bor" and flow.request.headers["x-a"] == "1"
        assert flow.response.content == b"y"


# === the real mitmdump ========================================================================

def received(origin: Any, name: str) -> list[str]:
    """The values of header ``name`` in the last request the origin received."""
    return [v for k, v in origin.last()["headers"] if k.lower() == name.lower()]


def test_e2e_anticache(mitmdump, origin):
    proxy = mitmdump("--anticache").started()
    proxy.fetch("-H", 'If-None-Match: "abc"',
               "-H", "If-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT",
               "-H", "X-Kept: 1", f"{origin.url}/page")
    assert received(origin, "If-None-Match") == [] == received(origin, "If-Modified-Since")
    assert received(origin, "X-Kept") == ["1"]


def test_e2e_anticomp(mitmdump, origin):
    proxy = mitmdump("-z").started()
    proxy.fetch("--compressed", f"{origin.url}/page")
    assert received(origin, "Accept-Encoding") == ["identity"]


@pytest.fixture
def cookie_origin(origin: Any) -> Any:
    """The origin, setting a session cookie on /login."""
    class SetsCookie(origin.RequestHandlerClass):
        def end_headers(self) -> None:
            if self.path == "/login":
                self.send_header("Set-Cookie", "session=s3cret; Path=/; HttpOnly")
            super().end_headers()

    origin.RequestHandlerClass = SetsCookie
    return origin


def test_e2e_sticky_cookie(mitmdump, cookie_origin):
    proxy = mitmdump("-t", "~d 127.0.0.1").started()
    proxy.fetch(f"{cookie_origin.url}/login")
    assert received(cookie_origin, "Cookie") == []
    proxy.fetch(f"{cookie_origin.url}/account")
    assert received(cookie_origin, "Cookie") == ["session=s3cret"]
    line = proxy.wait_for("/account")
    assert line.startswith("[stickycookie] 127.0.0.1 GET ")
    proxy.fetch("-b", "own=1", f"{cookie_origin.url}/own")
    assert received(cookie_origin, "Cookie") == ["own=1"]


def test_e2e_sticky_auth(mitmdump, origin):
    proxy = mitmdump("-u", ".").started()
    proxy.fetch("-u", "user:pw", f"{origin.url}/a")
    proxy.fetch(f"{origin.url}/b")
    assert origin.last()["path"] == "/b"
    assert received(origin, "Authorization") == ["Basic dXNlcjpwdw=="]


def test_e2e_replace_in_requests_and_responses(mitmdump, origin):
    proxy = mitmdump("--replace", ":~q:foo:bar", "--replace", "|~s|/one/two|/three").started()
    body = proxy.fetch("--data-binary", "a foo", f"{origin.url}/one/two?foo")
    assert origin.last()["path"] == "/one/two?bar"  # ~q replaced, ~s not yet
    assert origin.last()["body"] == b"a bar"
    assert b'"path": "/three?bar"' in body  # the response, after ~s


def test_e2e_replace_from_file(mitmdump, origin, tmp_path):
    exploit = tmp_path / "xss"
    exploit.write_text("<script>alert(1)</script>")
    proxy = mitmdump("--replace-from-file", f":~s:XSS:{exploit}").started()
    body = proxy.fetch(f"{origin.url}/XSS")
    assert origin.last()["path"] == "/XSS"
    assert b'"path": "/<script>alert(1)</script>"' in body


def test_e2e_bad_replacement_is_one_message_at_startup(mitmdump_once):
    done = mitmdump_once("--replace", r":~q:foo:\d")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        r"mitmdump: error: invalid replacement for 'foo': bad escape \d at position 0 "
        r"(write a backslash as \\)"]


def test_e2e_setheader(mitmdump, origin):
    proxy = mitmdump("--setheader", ":~q:X-Set:one", "--setheader", ":~q:X-Set:two",
                     "--setheader", ":~q:User-Agent:mitm",
                     "--setheader", "/~s/X-Served/proxy").started()
    head = proxy.fetch("-i", "-A", "curl-agent", f"{origin.url}/page")
    assert received(origin, "X-Set") == ["one", "two"]
    assert received(origin, "User-Agent") == ["mitm"]
    assert received(origin, "X-Served") == []
    assert b"\r\nX-Served: proxy\r\n" in head.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def test_e2e_stream_large_bodies(mitmdump, origin):
    proxy = mitmdump("--stream", "1k").started()
    assert proxy.fetch(f"{origin.url}/big/300000") == b"x" * 300000
    assert proxy.wait_for(" << ").strip() == "<< 200 OK 0b"  # streamed: not kept
    assert proxy.fetch(f"{origin.url}/chunked") == b"onetwothree"
    assert proxy.wait_for(" << ").strip() == "<< 200 OK 0b"
    assert proxy.fetch(f"{origin.url}/big/1000") == b"x" * 1000
    assert proxy.wait_for(" << ").strip() == "<< 200 OK 1000b"  # small: read whole

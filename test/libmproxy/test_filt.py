"""Filter expressions (libmproxy.filt) on real flows built from the models.

Each operator is checked on a flow it must match and on one it must not; then the
combinators, quoting, the spec's examples, errors and the API around ``parse``.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from netlib import tnetstring

from libmproxy import filt
from libmproxy.models import (
    ClientConnection, Error, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection, TCPFlow,
    TCPMessage,
)

# A flow recorded by mitmproxy 0.18 (a GET of https://www.example.com/).
# The flow files recorded by real mitmproxy releases, in shared/ beside the repository.
SHARED_FLOWS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flows"
DUMPFILE_018 = SHARED_FLOWS / "dumpfile-018.mitm"

PAGE = b"<html><head><title>Results</title></head>\n<body>hello world</body></html>"


def page_load(**response_overrides) -> HTTPFlow:
    """A completed browser GET of https://www.example.com/search?q=proxy: gzip'd HTML."""
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 51000)),
                    ServerConnection(("www.example.com", 443)))
    flow.request = HTTPRequest(
        "relative", "GET", "https", "www.example.com", 443, "/search?q=proxy", "HTTP/1.1",
        [(b"Host", b"www.example.com"), (b"User-Agent", b"Mozilla/5.0 (X11; Linux)"),
         (b"Accept", b"text/html")],
        b"",
    )
    headers = response_overrides.pop("headers", [
        (b"Content-Type", b"text/html; charset=utf-8"), (b"Content-Encoding", b"gzip"),
        (b"Set-Cookie", b"session=abc; Path=/"),
    ])
    body = response_overrides.pop("body", gzip.compress(PAGE))
    status = response_overrides.pop("status", 200)
    flow.response = HTTPResponse("HTTP/1.1", status, "OK", headers, body)
    return flow


def form_post() -> HTTPFlow:
    """A form POST to http://api.example.org/login, still waiting for its response."""
    flow = HTTPFlow(ClientConnection(("10.1.2.3", 40000)),
                    ServerConnection(("api.example.org", 80)))
    flow.request = HTTPRequest(
        "relative", "POST", "http", "api.example.org", 80, "/login", "HTTP/1.1",
        [(b"Host", b"api.example.org"),
         (b"Content-Type", b"application/x-www-form-urlencoded")],
        b"user=alice&password=test",
    )
    return flow


def failed_flow() -> HTTPFlow:
    """A GET whose server never answered."""
    flow = form_post()
    flow.request.method = "GET"
    flow.request.content = b""
    flow.error = Error("Connection refused")
    return flow


def tcp_flow() -> TCPFlow:
    flow = TCPFlow(ClientConnection(("127.0.0.1", 52000)),
                   ServerConnection(("mail.example.net", 25)))
    flow.messages = [TCPMessage(True, b"EHLO client"), TCPMessage(False, b"250 hello")]
    return flow


def matches(expression: str, flow) -> bool:
    result = filt.parse(expression)(flow)
    assert isinstance(result, bool)
    return result


# --- flow kinds and states -------------------------------------------------------------

def test_q_matches_a_request_without_response_only():
    assert matches("~q", form_post())
    assert not matches("~q", page_load())
    assert not matches("~q", tcp_flow())


def test_s_matches_a_flow_with_a_response_only():
    assert matches("~s", page_load())
    assert not matches("~s", form_post())
    assert not matches("~s", tcp_flow())


def test_e_matches_a_flow_with_an_error_of_any_kind():
    assert matches("~e", failed_flow())
    assert not matches("~e", page_load())
    tcp = tcp_flow()
    assert not matches("~e", tcp)
    tcp.error = Error("reset")
    assert matches("~e", tcp)


def test_http_and_tcp_match_the_flow_type():
    assert matches("~http", page_load()) and not matches("~http", tcp_flow())
    assert matches("~tcp", tcp_flow()) and not matches("~tcp", page_load())


def test_c_matches_the_response_code_exactly():
    assert matches("~c 200", page_load())
    assert not matches("~c 404", page_load())
    assert not matches("~c 20", page_load())
    assert matches("~c 404", page_load(status=404))
    assert not matches("~c 200", form_post())


# --- request line ----------------------------------------------------------------------

def test_d_matches_the_request_host_ignoring_case():
    assert matches(r"~d example\.com$", page_load())
    assert matches("~d WWW.EXAMPLE", page_load())
    assert not matches(r"~d example\.org", page_load())


def test_m_matches_the_method_ignoring_case():
    assert matches("~m POST", form_post())
    assert matches("~m post", form_post())
    assert not matches("~m POST", page_load())
    assert matches("~m ^GET$", page_load())


def test_u_matches_the_full_url_case_sensitively():
    assert matches("~u https://www.example.com/search", page_load())
    assert matches(r"~u q=proxy$", page_load())
    assert not matches("~u http://", page_load())
    assert not matches("~u SEARCH", page_load())
    assert matches("~u ^http://api.example.org/login$", form_post())


def test_a_bare_word_or_string_is_a_url_regex():
    assert matches(r"example\.com", page_load())
    assert not matches(r"example\.org", page_load())
    assert matches(r"'/search\?q=proxy'", page_load())
    assert repr(filt.parse("login").root) == "~u login"


# --- headers ---------------------------------------------------------------------------

def test_h_matches_a_name_value_line_of_either_message():
    assert matches('~h "User-Agent: Mozilla"', page_load())  # request
    assert matches('~h "Set-Cookie: session"', page_load())  # response
    assert not matches('~h "X-Missing: 1"', page_load())


def test_h_anchors_apply_to_each_header_line():
    assert matches('~h "^Accept: text/html$"', page_load())
    assert not matches('~h "^Mozilla"', page_load())


def test_h_is_case_sensitive_unless_the_regex_says_otherwise():
    assert not matches('~h "user-agent"', page_load())
    assert matches('~h "(?i)user-agent"', page_load())


def test_hq_and_hs_see_only_their_own_message():
    assert matches("~hq User-Agent", page_load())
    assert not matches("~hq Set-Cookie", page_load())
    assert matches("~hs Set-Cookie", page_load())
    assert not matches("~hs User-Agent", page_load())
    assert not matches("~hs Host", form_post())  # no response at all


# --- content types ---------------------------------------------------------------------

def test_t_matches_content_type_of_request_or_response():
    assert matches("~t text/html", page_load())  # response
    assert matches("~t urlencoded", form_post())  # request
    assert not matches("~t json", page_load())
    assert not matches("~t html", failed_flow())  # no Content-Type anywhere


def test_tq_and_ts_see_only_their_own_message():
    assert matches("~tq form", form_post())
    assert not matches("~tq html", page_load())
    assert matches("~ts html", page_load())
    assert not matches("~ts form", form_post())


def test_t_does_not_look_at_other_headers():
    flow = page_load(headers=[(b"X-Content-Type", b"text/css")], body=b"")
    assert not matches("~t css", flow)


@pytest.mark.parametrize("content_type", [
    b"text/javascript", b"application/x-javascript", b"application/javascript; charset=utf-8",
    b"text/css", b"image/png", b"image/svg+xml", b"application/x-shockwave-flash",
    b"TEXT/CSS",
])
def test_a_matches_each_asset_content_type_of_the_response(content_type):
    assert matches("~a", page_load(headers=[(b"Content-Type", content_type)], body=b""))


@pytest.mark.parametrize("content_type", [b"text/html", b"application/json",
                                          b"text/plain; note=text/css"])
def test_a_does_not_match_documents(content_type):
    assert not matches("~a", page_load(headers=[(b"Content-Type", content_type)], body=b""))


def test_a_needs_a_response():
    flow = form_post()
    flow.request.headers["Content-Type"] = "image/png"
    assert not matches("~a", flow)


# --- bodies ----------------------------------------------------------------------------

def test_b_matches_the_decoded_body_of_either_message():
    flow = page_load()
    assert b"hello world" not in flow.response.raw_content  # it is gzip-encoded
    assert matches('~b "hello world"', flow)
    assert matches("~b password", form_post())
    assert not matches("~b goodbye", flow)


def test_bq_and_bs_see_only_their_own_body():
    assert matches("~bq alice", form_post())
    assert not matches("~bs alice", form_post())
    assert matches("~bs hello", page_load())
    assert not matches("~bq hello", page_load())


def test_a_body_that_cannot_be_decoded_is_matched_raw():
    flow = page_load(body=b"this is not gzip")
    assert matches('~bs "not gzip"', flow)


def test_dot_matches_newlines_in_bodies():
    assert matches("~b Results.*hello", page_load())
    assert not matches("~h Accept.*Mozilla", page_load())  # but not across header lines


def test_a_non_ascii_regex_matches_utf8_bodies():
    flow = form_post()
    flow.request.content = "name=Grüße".encode("utf-8")
    assert matches("~bq Grüße", flow)
    assert not matches("~bq Grüsse", flow)


def test_body_operators_search_tcp_messages_by_direction():
    flow = tcp_flow()
    assert matches("~b EHLO", flow) and matches("~b 250", flow)
    assert matches("~bq EHLO", flow) and not matches("~bq 250", flow)
    assert matches("~bs 250", flow) and not matches("~bs EHLO", flow)


@pytest.mark.parametrize("expression", [
    "~q", "~s", "~a", "~c 250", "~d example", "~h EHLO", "~hq .", "~hs .", "~m .",
    "~t .", "~tq .", "~ts .", "~u .", "mail", "~http",
])
def test_http_only_operators_are_false_for_tcp_flows(expression):
    assert not matches(expression, tcp_flow())


# --- addresses -------------------------------------------------------------------------

def test_src_matches_the_client_host_and_port():
    assert matches(r"~src 127\.0\.0\.1:51000", page_load())
    assert matches(r"~src ^127\.0\.0\.1", tcp_flow())
    assert not matches(r"~src 10\.1", page_load())


def test_dst_matches_the_server_host_and_port():
    assert matches("~dst www.example.com:443", page_load())
    assert matches(":25$", tcp_flow()) is False  # a bare word is a URL regex, not ~dst
    assert matches("~dst :25$", tcp_flow())
    assert not matches("~dst :80$", page_load())


def test_addresses_are_written_as_host_port_with_ipv6_in_brackets():
    flow = page_load()
    flow.server_conn = ServerConnection(("::1", 8080))
    assert matches(r"~dst '^\[::1\]:8080$'", flow)


def test_address_operators_are_false_without_a_connection():
    flow = HTTPFlow(None, None)
    assert not matches("~src .", flow) and not matches("~dst .", flow)


def test_every_operator_is_false_on_an_empty_http_flow():
    flow = HTTPFlow(None, None)
    for code, _ in filt.help:
        if code.startswith("~") and code not in ("~http",):
            operator = code.replace(" regex", " .").replace(" int", " 200")
            assert not matches(operator, flow), operator


def test_a_flow_of_an_unknown_kind_matches_no_content_operator():
    from libmproxy.models.flow import Flow
    flow = Flow("other", ClientConnection(("127.0.0.1", 1)), None)
    for operator in ("~b .", "~bq .", "~bs .", "~http", "~tcp", "~q", "~u ."):
        assert not matches(operator, flow), operator
    assert matches("~src 127", flow)


# --- combinators -----------------------------------------------------------------------

def test_not_and_or_combine_as_boolean_logic():
    flow = page_load()
    assert matches("!~q", flow) and not matches("!~s", flow)
    assert matches("~s & ~c 200", flow) and not matches("~s & ~c 404", flow)
    assert matches("~q | ~s", flow) and not matches("~q | ~e", flow)
    assert matches("!!~s", flow)


def test_side_by_side_filters_are_joined_with_and():
    assert matches("~s ~c 200 example", page_load())
    assert not matches("~s ~c 200 nowhere", page_load())


def test_and_binds_tighter_than_or():
    flow = page_load()  # ~s true, ~q false, ~e false
    assert matches("~s | ~q & ~e", flow)  # ~s | (~q & ~e)
    assert not matches("~q & ~e | ~e", flow)
    assert repr(filt.parse("~s | ~q & ~e").root) == "(~s | (~q & ~e))"


def test_juxtaposition_has_the_precedence_of_and():
    flow = page_load()
    assert matches("~s | ~q ~e", flow)  # ~s | (~q & ~e)
    assert repr(filt.parse("~a | ~q ~e").root) == "(~a | (~q & ~e))"


def test_not_binds_tighter_than_and():
    assert not matches("!~q & ~e", page_load())  # (!~q) & ~e
    assert matches("!(~q & ~e)", page_load())


def test_parentheses_group():
    flow = page_load()
    assert not matches("(~s | ~q) & ~e", flow)
    assert not matches("(~s | ~q) ~e", flow)
    assert matches("((~s))", flow)
    assert repr(filt.parse("!(~q | ~e) (~c 200)").root) == "(!(~q | ~e) & ~c 200)"


def test_operators_need_no_spaces_around_them():
    assert matches("~s&~c 200|~e", page_load())
    assert matches("!(~q|~e)&~s", page_load())


# --- quoting ---------------------------------------------------------------------------

def test_quoted_regexes_may_hold_spaces_and_operator_characters():
    assert matches('~h "Mozilla/5.0 \\(X11; Linux\\)"', page_load())
    assert matches("~h 'Mozilla/5.0 \\(X11'", page_load())
    assert matches('~u "search|nothing"', page_load())
    assert matches("~b '(hello|bye) world'", page_load())


def test_a_backslash_quote_stands_for_the_quote_in_quoted_strings():
    flow = form_post()
    flow.request.content = b"""say "hi" and it's over"""
    assert matches(r'~b "say \"hi\""', flow)
    assert filt.parse(r'~b "say \"hi\""').root.expr == 'say "hi"'
    assert matches(r"~b 'it\'s'", flow)
    assert matches(r"""~b '"hi"'""", flow)


def test_other_backslashes_reach_the_regex_unchanged():
    assert matches(r'~u "q=\w+$"', page_load())
    assert not matches(r'~u "q=\d+$"', page_load())
    flow = form_post()
    flow.request.content = b"C:\\temp"
    assert matches(r'~b "C:\\temp"', flow)


def test_an_unquoted_argument_may_start_with_an_exclamation_mark():
    flow = form_post()
    flow.request.content = b"wow!yes"
    assert matches("~b !yes", flow)
    assert repr(filt.parse("~b !yes").root) == '~b "!yes"'


@pytest.mark.parametrize("expression", [
    "~q", r"google\.com", '!(~q & ~t "text/html")', r'~h "a \"b\" (c)"', "~b !x",
    "~c 200 | ~d x ~m y", r"~u 'it\'s'", r'~u "\d+ \(x\)"', r"~b 'x\"y z'",
])
def test_the_canonical_form_reads_back_as_the_same_filter(expression):
    canonical = repr(filt.parse(expression).root)
    assert repr(filt.parse(canonical).root) == canonical


# --- the spec's examples ---------------------------------------------------------------

def test_spec_example_url_containing_google_com():
    flow = page_load()
    flow.request.url = "https://www.google.com/search?q=proxy"
    assert matches(r"google\.com", flow)
    assert not matches(r"google\.com", page_load())
    flow.request.url = "https://googlexcom.example/"
    assert not matches(r"google\.com", flow)


def test_spec_example_requests_whose_body_contains_test():
    assert matches("~q ~b test", form_post())  # "password=test"
    other = form_post()
    other.request.content = b"user=alice"
    assert not matches("~q ~b test", other)
    answered = page_load(body=b"a test page", headers=[])
    assert not matches("~q ~b test", answered)  # has a response: not a request


def test_spec_example_anything_but_requests_with_html_content_type():
    expression = '!(~q & ~t "text/html")'
    html_request = form_post()
    html_request.request.headers["Content-Type"] = "text/html"
    assert not matches(expression, html_request)
    assert matches(expression, form_post())  # a request, but a form
    assert matches(expression, page_load())  # HTML, but answered
    assert matches(expression, tcp_flow())


def test_a_flow_recorded_by_mitmproxy_018_can_be_filtered():
    with DUMPFILE_018.open("rb") as f:
        flow = HTTPFlow.from_state(tnetstring.load(f))
    assert matches(r"~d example\.com ~s ~c 200 ~b 'Example Domain' ~ts html", flow)
    assert not matches("~q | ~e | ~a", flow)


# --- invalid expressions ---------------------------------------------------------------

@pytest.mark.parametrize("expression, reason, column", [
    ("~c foo", "~c needs an integer status code, found 'foo'", 4),
    ("~c", "~c needs an integer status code, found the end of the expression", 3),
    ("~x", "unknown operator '~x'", 1),
    ("~q ~qq", "unknown operator '~qq'", 4),
    ("~", "'~' must be followed by an operator name", 1),
    ("(~q", "'(' is never closed", 1),
    ("~q )", "unmatched ')'", 4),
    ("()", "expected a filter after '(', found ')'", 2),
    ("~q &", "expected a filter after '&', found the end of the expression", 5),
    ("~q | | ~s", "expected a filter after '|', found '|'", 6),
    ("& ~q", "expected a filter, found '&'", 1),
    ("!", "expected a filter after '!', found the end of the expression", 2),
    ("", "the expression is empty", 1),
    ("   ", "the expression is empty", 1),
    ("~b 'abc", "unterminated string: the ' is never closed", 4),
    ('~q "abc', 'unterminated string: the " is never closed', 4),
    ("~b", "~b needs a regex, found the end of the expression", 3),
    ("~h (a|b)", "~h needs a regex, found '(' (a regex with ( ) ~ & | in it must be quoted)",
     4),
    ("~u a[", "invalid regex 'a[' for ~u: unterminated character set", 5),
    ("~u 'x(y'", "invalid regex 'x(y' for ~u: missing ), unterminated subpattern", 6),
    ("~bq *", "invalid regex '*' for ~bq: nothing to repeat", 5),
])
def test_an_invalid_expression_raises_a_value_error_with_a_caret(expression, reason, column):
    with pytest.raises(ValueError) as info:
        filt.parse(expression)
    error = info.value
    assert isinstance(error, filt.FilterError)
    assert error.reason.startswith(reason) and error.position + 1 == column
    first, shown, caret = str(error).split("\n")
    assert first == (f"invalid filter expression {expression!r}: {error.reason} "
                     f"(column {column})")
    assert shown == "    " + expression
    assert caret.index("^") - 4 == column - 1


def test_an_unknown_operator_error_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        filt.parse("~ur foo")
    assert info.value.reason == (
        "unknown operator '~ur' (known: ~a, ~b, ~bq, ~bs, ~c, ~d, ~dst, ~e, ~h, ~hq, ~hs, "
        "~http, ~m, ~q, ~s, ~src, ~t, ~tcp, ~tq, ~ts, ~u)"
    )


def test_the_caret_stays_under_its_character_after_a_tab():
    with pytest.raises(ValueError) as info:
        filt.parse("~q\t~zz")
    _, shown, caret = str(info.value).split("\n")
    assert shown[caret.index("^")] == "~"


def test_a_regex_error_inside_an_escaped_string_points_at_the_string():
    with pytest.raises(ValueError) as info:
        filt.parse(r'~b "\"("')
    assert info.value.position == 3


def test_parse_refuses_what_is_not_a_string():
    with pytest.raises(TypeError):
        filt.parse(b"~q")


# --- the API -------------------------------------------------------------------------------

def test_a_filter_is_a_callable_with_its_pattern_and_a_readable_repr():
    f = filt.parse("~q  ~b test")
    assert f.pattern == "~q  ~b test" and str(f) == "~q  ~b test"
    assert repr(f) == "Filter('~q  ~b test')"
    assert repr(f.root) == "(~q & ~b test)"
    assert f(form_post()) is True


def test_parse_compiles_each_expression_once():
    filt._compile.cache_clear()
    flow = page_load()
    assert flow.match("~s") is True
    assert flow.match("~s") is True
    assert filt.parse("~s") is filt.parse("~s")
    info = filt._compile.cache_info()
    assert (info.misses, info.hits) == (1, 3)
    assert info.maxsize == filt.PARSE_CACHE_SIZE


def test_flow_match_takes_an_expression_or_a_compiled_filter():
    flow = form_post()
    assert flow.match("~q") is True
    assert flow.match("~s") is False
    assert flow.match(filt.parse("~m POST")) is True


def test_flow_match_raises_value_error_for_an_invalid_expression():
    with pytest.raises(ValueError, match="unknown operator '~x'"):
        form_post().match("~x")


def test_module_match_takes_an_expression_or_a_filter():
    assert filt.match("~tcp", tcp_flow()) is True
    assert filt.match(filt.parse("~tcp"), page_load()) is False
    with pytest.raises(ValueError):
        filt.match("~q &", tcp_flow())


# The operator table of the spec's "Filter expressions" chapter, in its order.
SPEC_TABLE = [
    ("~a", "Match asset in response: CSS, Javascript, Flash, images."),
    ("~b regex", "Body"), ("~bq regex", "Request body"), ("~bs regex", "Response body"),
    ("~c int", "HTTP response code"), ("~d regex", "Domain"),
    ("~dst regex", "Match destination address"), ("~e", "Match error"),
    ("~h regex", "Header"), ("~hq regex", "Request header"), ("~hs regex", "Response header"),
    ("~http", "Match HTTP flows"), ("~m regex", "Method"),
    ("~q", "Match request with no response"), ("~s", "Match response"),
    ("~src regex", "Match source address"), ("~t regex", "Content-type header"),
    ("~tcp", "Match TCP flows"), ("~tq regex", "Request Content-Type header"),
    ("~ts regex", "Response Content-Type header"), ("~u regex", "URL"),
    ("!", "unary not"), ("&", "and"), ("|", "or"), ("(...)", "grouping"),
]


def test_help_lists_the_spec_table_exactly():
    assert filt.help == SPEC_TABLE


@pytest.mark.parametrize("syntax", [s for s, _ in SPEC_TABLE if s.startswith("~")])
def test_every_operator_of_the_spec_table_parses(syntax):
    expression = syntax.replace(" regex", " x").replace(" int", " 200")
    assert repr(filt.parse(expression).root) == expression


def test_problem_says_what_is_wrong_in_one_line():
    assert filt.problem("~q & ~h foo") is None
    message = filt.problem("~zz")
    assert message is not None and "\n" not in message and "~zz" in message

"""Parsing: values in context, several specs, includes, and errors that point at the mistake."""
import pytest

from libpathod.language import (
    FileAccessDenied, ParseException, PathodError, RenderError, parse_pathoc,
    parse_pathod, parse_websocket_frame,
)
from libpathod.language.actions import DisconnectAt, InjectAt, PauseAt
from libpathod.language.parser import MAX_INCLUDE_DEPTH
from libpathod.language.values import FileValue, GeneratedValue, LiteralValue


def response(text):
    return next(parse_pathod(text))


def body(text):
    return response(f"200:b{text}").body.value


@pytest.mark.parametrize("text,value", [
    ("'foo'", LiteralValue(b"foo")),
    ('"foo"', LiteralValue(b"foo")),
    (r"'fo\'o'", LiteralValue(b"fo'o")),
    (r"'foo\r\nbar'", LiteralValue(b"foo\r\nbar")),
    ("'a:b,c@d'", LiteralValue(b"a:b,c@d")),
    ("@100", GeneratedValue(100)),
    ("@100m", GeneratedValue(100 * 1024 ** 2)),
    ("@1K", GeneratedValue(1024)),
    ("@2b", GeneratedValue(2)),
    ("@1t,ascii", GeneratedValue(1024 ** 4, "ascii")),
    ("@1k,bytes,42", GeneratedValue(1024, "bytes", 42)),
    ("<my/path", FileValue("my/path")),
    ('<"my path"', FileValue("my path")),
])
def test_values(text, value):
    assert body(text) == value


def test_docs_generated_type_typo_is_an_error_listing_types():
    with pytest.raises(ParseException, match="unknown data type 'asci'.*ascii_letters"):
        response("200:b@100m,asci")


@pytest.mark.parametrize("text,action", [
    ("200:d10", DisconnectAt(10)), ("200:dr", DisconnectAt("r")), ("200:da", DisconnectAt("a")),
    ("200:i5,'x'", InjectAt(5, LiteralValue(b"x"))), ("200:ir,@1", InjectAt("r", GeneratedValue(1))),
    ("200:p50,120", PauseAt(50, 120)), ("200:pr,f", PauseAt("r", "f")), ("200:p0,0.5", PauseAt(0, 0.5)),
])
def test_actions(text, action):
    msg = response(text)
    assert msg.actions == [action]
    assert response(msg.spec()) == msg


def test_caret_points_at_the_offending_size():
    with pytest.raises(ParseException) as e:
        next(parse_pathoc("get:/:b@1x"))
    assert e.value.col == 8
    assert e.value.marked() == "get:/:b@1x\n        ^"
    assert str(e.value).endswith("(at column 9):\nget:/:b@1x\n        ^")


def test_caret_is_on_the_line_of_the_error_in_multiline_input():
    with pytest.raises(ParseException) as e:
        list(parse_pathod("200:b'x'\n  200:q"))
    assert e.value.marked() == "  200:q\n      ^"


@pytest.mark.parametrize("text,message,col", [
    ("", "empty spec", 0),
    ("foo", "expected a status code", 0),
    ("200:", "expected a feature after ':'", 4),
    ("200:z", "unknown feature 'z'", 4),
    ("200:b", "expected a VALUE after 'b'", 5),
    ("200:b'abc", "unterminated quoted string", 5),
    (r"200:b'\x4'", "invalid escape", 5),
    ("200:b@", "expected a size", 6),
    ("200:b@1,", "expected a data type", 8),
    ("200:b@1,bytes,", "expected a seed", 14),
    ("200:b<", "expected a file path", 6),
    ("200:h'a'", "expected '='", 8),
    ("200:h'a'=", "expected a VALUE", 9),
    ("200:p10", "expected ','", 7),
    ("200:px,1", "expected an OFFSET", 5),
    ("200:p1,x", "expected the seconds", 7),
    ("200:b@1:b@2", r"more than one b \(body\)", 8),
    ("200:r:r", r"more than one r \(raw\)", 6),
    ("200b@1", "did you mean '200:b@1'", 3),
    ("200:b'x'y", "unexpected 'y' after the body", 8),
    ("wsx", "unexpected 'x' after ws", 2),
    ("200:ua", "unknown feature 'u'", 4),
])
def test_response_errors(text, message, col):
    with pytest.raises(ParseException, match=message) as e:
        list(parse_pathod(text))
    assert e.value.col == col


@pytest.mark.parametrize("text,message,col", [
    ("foo:/", "unknown method 'foo'.*'FOO':/", 0),
    ("get/", "expected ':' between the method and the path", 3),
    ("get:", "expected a path", 4),
    ("get:/:ufoo", "expected a User-Agent", 7),
    ("get:/:s'foo'", "in the embedded response: expected a status code", 8),
    ("get:/:s@1", "expected a quoted response spec", 7),
    ("get:/:x", "expected an integer", 7),
    ("get:/:m'x'", "unknown feature 'm'", 6),
    ("get:/ foo", "unknown method 'foo'", 6),
])
def test_request_errors(text, message, col):
    with pytest.raises(ParseException, match=message) as e:
        list(parse_pathoc(text))
    assert e.value.col == col


@pytest.mark.parametrize("text,message", [
    ("wf:c99", "an opcode is 0-15"), ("wf:cfoo", "unknown opcode 'foo'"), ("wf:q", "unknown feature"),
    ("wf:c", "expected an opcode"), ("wf:k'a':knone", "more than one k"), ("wf:fin:-fin", r"more than one \[-\]fin"),
    ("wf:l", "expected an integer"), ("wfx", "unexpected 'x' after wf"),
])
def test_websocket_frame_errors(text, message):
    with pytest.raises(ParseException, match=message):
        list(parse_websocket_frame(text))


def test_errors_share_one_base_class():
    for cls in (ParseException, RenderError, FileAccessDenied):
        assert issubclass(cls, PathodError)


def test_several_specs_separated_by_whitespace():
    specs = list(parse_pathoc("  get:/a \n\tpost:/b:b'x y'  "))
    assert [s.spec() for s in specs] == ["'GET':/a", "'POST':/b:b'x y'"]


def test_pathod_accepts_frames_and_responses_but_not_requests():
    assert [s.spec() for s in parse_pathod("200 wf:b'x'")] == ["200", "wf:b'x'"]
    with pytest.raises(ParseException):
        list(parse_pathod("get:/"))


def test_websocket_frame_parser_refuses_responses():
    with pytest.raises(ParseException):
        list(parse_websocket_frame("200"))


def test_bytes_input_must_be_ascii():
    assert response(b"200").spec() == "200"
    with pytest.raises(ParseException, match="ASCII"):
        list(parse_pathod(b"200:b'\xff'"))


def test_non_ascii_text_in_literals_is_utf8():
    assert body("'\u00e9'") == LiteralValue("\u00e9".encode())


def test_include_loads_specs_from_staticdir(staticdir, settings):
    (staticdir / "spec").write_text("200:b'from file'\n 404\n")
    specs = list(parse_pathod("+spec", settings=settings))
    assert [s.spec() for s in specs] == ["200:b'from file'", "404"]
    assert [s.spec() for s in parse_pathod("+'spec' 500", settings=settings)] == \
        ["200:b'from file'", "404", "500"]


def test_include_follows_file_access_rules(staticdir, settings):
    with pytest.raises(FileAccessDenied):
        list(parse_pathod("+../secret", settings=settings))
    with pytest.raises(FileAccessDenied, match="disabled"):
        list(parse_pathod("+spec"))


def test_include_errors_name_the_file(staticdir, settings):
    (staticdir / "bad").write_text("200:q")
    with pytest.raises(ParseException, match="in 'bad': unknown feature") as e:
        list(parse_pathod("+bad", settings=settings))
    assert e.value.s == "200:q" and e.value.col == 4


def test_include_loops_are_stopped(staticdir, settings):
    (staticdir / "loop").write_text("+loop")
    with pytest.raises(ParseException, match=f"nested more than {MAX_INCLUDE_DEPTH}"):
        list(parse_pathod("+loop", settings=settings))


def test_include_needs_a_path():
    with pytest.raises(ParseException, match="expected a file path after"):
        list(parse_pathod("+"))

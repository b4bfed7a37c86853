"""Content views: each view on real inputs, the auto view's choices, decoding, fallbacks,
limits and escaping, as the console and ``mitmdump -dd`` show them.

Each test reads what a user would see: the description and the lines as text (styles are
checked where they carry meaning).
"""
from __future__ import annotations

import gc
import gzip
import io
import json
import random
import zlib

import brotli
import pytest
from PIL import Image, PngImagePlugin

from libmproxy import contentviews
from libmproxy.contentviews import ContentViewException, _code
from libmproxy.models import HTTPRequest


def show(view, data: bytes, **kwargs) -> tuple[str, list[str]]:
    """The description and the lines as text."""
    result = contentviews.get_content_view(view, data, **kwargs)
    return result.description, ["".join(text for _, text in line) for line in result.lines]


def json_headers(**more: str) -> dict[str, str]:
    return {"Content-Type": "application/json", **more}


# --- the registry ---------------------------------------------------------------------------

def test_views_are_found_by_name_in_any_case():
    assert contentviews.get("json") is contentviews.get("JSON")
    assert contentviews.get("xml/html").name == "XML/HTML"
    assert sorted(v.prompt[1] for v in contentviews.views) == sorted(
        {v.prompt[1] for v in contentviews.views}), "console keys must differ"
    with pytest.raises(ContentViewException, match="unknown content view 'nope'"):
        contentviews.get("nope")


# --- each view --------------------------------------------------------------------------------

def test_json_nested_and_unicode():
    data = json.dumps({"name": "caf\u00e9 \u2603", "list": [1, {"deep": None}], "empty": {}},
                      ensure_ascii=True).encode()
    description, lines = show("auto", data, headers=json_headers())
    assert description == "JSON"
    assert lines == [
        "{",
        '  "name": "caf\u00e9 \u2603",',
        '  "list": [',
        "    1,",
        "    {",
        '      "deep": null',
        "    }",
        "  ],",
        '  "empty": {}',
        "}",
    ]
    styled = contentviews.get_content_view("json", data).lines[1]
    assert ("key", '"name"') in styled and ("value", '"caf\u00e9 \u2603",') in styled


# Strings that are hard to show: JSON escapes, separators and brackets inside strings,
# control characters, invisible and bidi characters, non-BMP characters.
TRICKY_STRINGS = ["", 'say "hi"', "back\\slash", '{"not": [a, key]}', '": ', "a,b",
                  "tab\tnew\nline\r", "\x1b[2J", "\x7f", "\xa0nbsp", "\u202e\u2028",
                  "caf\u00e9 \u2603 \U0001f600", "[]", "{}"]


def tricky_document() -> object:
    return {
        "strings": TRICKY_STRINGS,
        **{key: len(key) for key in TRICKY_STRINGS},
        "numbers": [0, -1, 10 ** 30, 1.5, -0.0, 1e300, 3e-20, float("nan"), float("inf"),
                    float("-inf")],
        "literals": [True, False, None],
        "empties": {"list": [], "dict": {}, "nested": [[], {}, [[]], [{}]]},
        "deep": [[[[{"x": [1]}]]]],
    }


@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("limit", [None, 1000])
def test_json_lines_are_the_indented_encoding(ensure_ascii, limit):
    """Every line as json.dumps(indent=2) writes it (then escaped): the view makes its
    lines from the parsed document, not from the encoder's text."""
    document = tricky_document()
    data = json.dumps(document, ensure_ascii=ensure_ascii).encode()
    _, lines = show("json", data, limit=limit)
    expected = json.dumps(document, indent=2, ensure_ascii=False).split("\n")
    assert lines == [contentviews._escape_text(line) for line in expected]


def test_json_styles_keys_values_and_brackets():
    data = b'{"k": "v", "list": [1, {}], "o": {"a": null}, "s": "{"}'
    lines = contentviews.get_content_view("json", data).lines
    assert lines == [
        [("text", ""), ("text", "{")],
        [("text", "  "), ("key", '"k"'), ("text", ": "), ("value", '"v",')],
        [("text", "  "), ("key", '"list"'), ("text", ": "), ("text", "[")],
        [("text", "    "), ("value", "1,")],
        [("text", "    "), ("text", "{}")],
        [("text", "  "), ("text", "],")],
        [("text", "  "), ("key", '"o"'), ("text", ": "), ("text", "{")],
        [("text", "    "), ("key", '"a"'), ("text", ": "), ("value", "null")],
        [("text", "  "), ("text", "},")],
        [("text", "  "), ("key", '"s"'), ("text", ": "), ("value", '"{"')],
        [("text", ""), ("text", "}")],
    ]
    assert contentviews.get_content_view("json", b" 5 ").lines == [[("text", ""),
                                                                    ("value", "5")]]


@pytest.mark.parametrize("document", [
    [], {}, [[]], "a string, with [brackets]", [["", ""], ",", "]", "\\", '\\"'],
    {"a": [{}, [], {"b": [[], [[]]]}], "c,": "}{"}, tricky_document(),
])
def test_json_cut_off_counts_the_lines_exactly(document):
    total = len(json.dumps(document, indent=2).split("\n"))
    result = contentviews.get_content_view("json", json.dumps(document).encode(), limit=1)
    if total == 1:
        assert len(result.lines) == 1
    else:
        assert result.lines[-1] == [("highlight", f"(cut off after 1 lines; {total - 1} more)")]


def test_deeply_nested_json_is_shown_without_recursion():
    depth = 900
    data = b"[" * depth + b"]" * depth
    result = contentviews.get_content_view("json", data, limit=3)
    assert result.description == "JSON"
    assert ["".join(t for _, t in line) for line in result.lines] == [
        "[", "  [", "    [", f"(cut off after 3 lines; {2 * depth - 1 - 3} more)"]
    whole = contentviews.get_content_view("json", data).lines
    assert len(whole) == 2 * depth - 1 and whole[depth - 1] == [("text", "  " * (depth - 1)),
                                                                ("text", "[]")]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32-le"])
def test_json_in_any_unicode_encoding_json_reads(encoding):
    data = json.dumps({"name": "caf\u00e9"}, ensure_ascii=False).encode(encoding)
    assert show("json", data) == ("JSON", ["{", '  "name": "caf\u00e9"', "}"])


def test_invalid_json_falls_back_to_raw_with_a_note():
    result = contentviews.get_content_view("auto", b'{"a": 1,,}', headers=json_headers())
    assert result.description == "Couldn't parse: falling back to Raw"
    assert [["".join(t for _, t in line)] for line in result.lines] == [['{"a": 1,,}']]
    assert result.error.startswith("invalid JSON: Expecting")


def test_xml_is_indented():
    data = (b'<?xml version="1.0"?><feed xmlns:a="urn:x"><!-- c --><a:entry id="1">'
            b"<title>One</title><empty/><body>text<b>bold</b></body></a:entry></feed>")
    description, lines = show("auto", data, headers={"Content-Type": "application/xml"})
    assert description == "XML"
    assert lines == [
        '<?xml version="1.0"?>',
        '<feed xmlns:a="urn:x">',
        "  <!-- c -->",
        '  <a:entry id="1">',
        "    <title>One</title>",
        "    <empty/>",
        "    <body>",
        "      text",
        "      <b>bold</b>",
        "    </body>",
        "  </a:entry>",
        "</feed>",
    ]


def test_html_is_indented_tolerantly():
    data = (b"<!DOCTYPE html><html><head><title>T</title><meta charset=utf-8>"
            b"<script>if (a < b) {\n    go();\n}</script></head>"
            b"<body><ul><li>one<li>two</ul><p>x<br>y</p></div></body></html>")
    description, lines = show("auto", data, headers={"Content-Type": "text/html"})
    assert description == "HTML"
    assert lines == [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        "    <title>T</title>",
        "    <meta charset=utf-8>",
        "    <script>",
        "      if (a < b) {",
        "          go();",
        "      }",
        "    </script>",
        "  </head>",
        "  <body>",
        "    <ul>",
        "      <li>",
        "        one",
        "      <li>",
        "        two",
        "    </ul>",
        "    <p>",
        "      x",
        "      <br>",
        "      y",
        "    </p>",
        "    </div>",  # a stray end tag closes nothing
        "  </body>",
        "</html>",
    ]


def test_minified_javascript_is_beautified():
    data = b"function f(a,b){if(a){return b}else{return[1,2]}}var x=f(1,{k:'v'});"
    description, lines = show("auto", data, headers={"Content-Type": "text/javascript"})
    assert description == "JavaScript"
    assert lines == [
        "function f(a, b) {",
        "  if (a) {",
        "    return b",
        "  } else {",
        "    return [1, 2]",
        "  }",
        "}",
        "var x = f(1, {",
        "  k: 'v'",
        "});",
    ]


def test_css_is_beautified():
    data = b"body{margin:0;color:#333}a:hover,a:focus{color:red}"
    description, lines = show("auto", data, headers={"Content-Type": "text/css"})
    assert description == "CSS"
    assert lines == ["body {", "  margin: 0;", "  color: #333", "}", "", "a:hover,",
                     "a:focus {", "  color: red", "}"]


def test_large_code_is_beautified_only_as_far_as_needed(monkeypatch):
    """Beautifying is slow per byte: with a limit only a prefix is beautified; without one
    at most BEAUTIFY_MAX, and a last line says how much was left."""
    data = b"function f(a){return a+1};" * 2000  # 52,000 bytes
    result = contentviews.get_content_view("javascript", data, limit=10, limit_hint="hint")
    text = ["".join(t for _, t in line) for line in result.lines]
    assert text[:3] == ["function f(a) {", "  return a + 1", "};"]
    assert text[-1] == "(cut off after 10 lines; more follow; hint)"
    monkeypatch.setattr(_code, "BEAUTIFY_MAX", 1000)
    _, lines = show("javascript", data)
    assert lines[-1] == "(beautified the first 988b only; 49.82k more not shown here)"
    assert lines[-2] == "};"


def test_urlencoded_form():
    description, lines = show("auto", b"name=J%C3%BCrgen&tags=a&tags=b&empty=&x+y=1%2B1",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert description == "URLEncoded form"
    assert lines == ["name:  J\u00fcrgen", "tags:  a", "tags:  b", "empty: ", "x y:   1+1"]


def test_multipart_form_with_a_file():
    data = (b"--XyZ\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nnice photo\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"cat.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + b"\x89PNG\r\n\x1a\n" + bytes(2040) + b"\r\n"
            b"--XyZ--\r\n")
    description, lines = show("auto", data, headers={
        "Content-Type": "multipart/form-data; boundary=XyZ"})
    assert description == "Multipart form"
    assert lines == [
        "comment",
        "  value: nice photo",
        "photo",
        "  filename: cat.png",
        "  type:     image/png",
        "  content:  (2k)",
    ]


def test_query_of_a_request_without_a_body():
    request = HTTPRequest("relative", "GET", "http", "example.com", 80,
                          "/search?q=proxy+tools&page=2&q=again", "HTTP/1.1", [], b"")
    assert show("auto", b"", query=request.query) == (
        "Query", ["q:    proxy tools", "page: 2", "q:    again"])
    assert show("auto", b"") == ("No content", [])


def make_image(fmt: str, **save) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (32, 16), "red")
    (image.convert("P") if fmt == "GIF" else image).save(out, fmt, **save)
    return out.getvalue()


def test_png_with_text_metadata():
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "A red square")
    description, lines = show("auto", make_image("PNG", pnginfo=info),
                              headers={"Content-Type": "image/png"})
    assert description == "PNG image"
    assert lines == ["Format: Portable network graphics", "Size:   32 x 16 px", "Mode:   RGB",
                     "Title:  A red square"]


def test_jpeg_with_exif_sniffed_without_content_type():
    exif = Image.Exif()
    exif[0x010F] = "Acme Cameras"
    description, lines = show("auto", make_image("JPEG", exif=exif))
    assert description == "JPEG image"
    assert "Size:         32 x 16 px" in lines and "Make:         Acme Cameras" in lines


def test_gif_with_comment():
    description, lines = show("auto", make_image("GIF", comment=b"made in a test"),
                              headers={"Content-Type": "image/gif"})
    assert description == "GIF image"
    assert "comment:    made in a test" in lines and "Mode:       P" in lines


def test_truncated_image_falls_back():
    result = contentviews.get_content_view("auto", make_image("PNG")[:20],
                                           headers={"Content-Type": "image/png"})
    assert result.description == "Couldn't parse: falling back to Raw"
    assert result.error.startswith("not an image Pillow reads")


def varint(n: int) -> bytes:
    out = b""
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def field(number: int, wire_type: int, payload: bytes) -> bytes:
    key = varint(number << 3 | wire_type)
    return key + (varint(len(payload)) + payload if wire_type == 2 else payload)


def test_protobuf_without_a_schema():
    inner = field(1, 0, varint(7)) + field(2, 2, b"inner text")
    data = (field(1, 0, varint(150)) + field(2, 2, b"hello") + field(3, 2, inner)
            + field(4, 0, varint(1)) + field(4, 0, varint(2))  # repeated
            + field(5, 1, bytes.fromhex("000000000000f03f")) + field(6, 5, bytes.fromhex("0000803f"))
            + field(7, 0, varint(2 ** 64 - 1)) + field(8, 2, b"\xff\x00\x01"))
    description, lines = show("auto", data, headers={"Content-Type": "application/x-protobuf"})
    assert description == "Protobuf"
    assert lines == [
        "1: 150",
        '2: "hello"',
        "3 {",
        "  1: 7",
        '  2: "inner text"',
        "}",
        "4: 1",
        "4: 2",
        "5: 0x3ff0000000000000 (double 1.0)",
        "6: 0x3f800000 (float 1.0)",
        "7: 18446744073709551615 (-1)",
        '8: "\\xff\\x00\\x01"',
    ]


def test_protobuf_that_is_not_one_falls_back():
    result = contentviews.get_content_view("protobuf", field(1, 2, b"abc")[:-1])
    assert result.description == "Couldn't parse: falling back to Raw"
    assert result.error == "field 1 runs past the end"


def test_hex_view_offsets():
    description, lines = show("hex", bytes(range(0x41, 0x41 + 20)))
    assert description == "Hex"
    assert lines == [
        "0000000000 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50  ABCDEFGHIJKLMNOP",
        "0000000010 51 52 53 54                                      QRST",
    ]
    assert contentviews.get_content_view("hex", b"x").lines[0][0] == ("offset", "0000000000")


# --- the auto view's choices -------------------------------------------------------------------

@pytest.mark.parametrize("data, content_type, description", [
    (b'{"a": 1}', "application/vnd.api+json", "JSON"),  # structured suffix
    (b"<svg><rect/></svg>", "image/svg+xml", "XML"),  # markup, not an image
    (b'  [1, 2]', "text/plain", "JSON"),  # sniffed
    (b"[1, 2", "text/plain", "Raw"),  # looked like JSON, was not: no fallback note
    (b"<html><body>x</body></html>", None, "HTML"),
    (b"\x00\x01\x02\x03binary\xff\xfe", None, "Hex"),
    (b"just words\n", None, "Raw"),
    (b"a=1", "application/x-www-form-urlencoded; charset=utf-8", "URLEncoded form"),
])
def test_auto_picks_by_content_type_then_by_sniffing(data, content_type, description):
    headers = {"Content-Type": content_type} if content_type else None
    assert show("auto", data, headers=headers)[0] == description


# --- Content-Encoding ---------------------------------------------------------------------------

@pytest.mark.parametrize("coding, encode", [
    ("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress),
])
def test_encoded_bodies_are_decoded_and_the_encoding_noted(coding, encode):
    description, lines = show("auto", encode(b'{"a": [true]}'),
                              headers=json_headers(**{"Content-Encoding": coding}))
    assert description == f"[decoded {coding}] JSON"
    assert lines == ["{", '  "a": [', "    true", "  ]", "}"]


def test_a_wrong_content_encoding_shows_the_encoded_bytes_raw_with_a_note():
    data = b"this is not gzip"
    result = contentviews.get_content_view("json", data,
                                           headers=json_headers(**{"Content-Encoding": "gzip"}))
    assert result.description == "Couldn't decode gzip: falling back to Raw"
    assert result.lines == [[("text", "this is not gzip")]]
    assert "cannot decode 'gzip' content" in result.error


def test_decoded_but_unparseable():
    result = contentviews.get_content_view(
        "auto", gzip.compress(b"{nope"), headers=json_headers(**{"Content-Encoding": "gzip"}))
    assert result.description == "[decoded gzip] Couldn't parse: falling back to Raw"
    assert result.lines == [[("text", "{nope")]]


# --- limits -------------------------------------------------------------------------------------

def test_a_5mb_json_body_is_cut_off_with_a_count():
    document = [{"id": i, "name": f"user {i}", "tags": ["a", "b"], "geo": {"lat": 1.5}}
                for i in range(70_000)]
    data = json.dumps(document).encode()
    assert len(data) > 5_000_000
    result = contentviews.get_content_view("auto", data, headers=json_headers(), limit=70,
                                           limit_hint="use -ddd for all")
    pretty = json.dumps(document, indent=2).split("\n")
    assert ["".join(t for _, t in line) for line in result.lines[:70]] == pretty[:70]
    assert result.lines[70:] == [
        [("highlight", f"(cut off after 70 lines; {len(pretty) - 70} more; use -ddd for all)")]]


def test_lazy_views_cut_off_without_a_count():
    data = b"<a>" + b"<b>x</b>" * 1000 + b"</a>"
    _, lines = show("xml/html", data, limit=3)
    assert lines == ["<a>", "  <b>x</b>", "  <b>x</b>", "(cut off after 3 lines; more follow)"]


def test_a_one_line_body_is_cut_too():
    data = b"x" * 1_000_000 + b"\x1b"
    result = contentviews.get_content_view("raw", data, limit=70, limit_hint="hint")
    assert result.lines == [[
        ("text", "x" * contentviews.LINE_CHARS),
        ("highlight", f" (cut off after {contentviews.LINE_CHARS} characters; "
                      f"{1_000_001 - contentviews.LINE_CHARS} more; hint)"),
    ]]
    assert len(contentviews.get_content_view("raw", data).lines[0][0][1]) == 1_000_004


def test_no_marker_when_everything_fits():
    assert show("raw", b"one\ntwo\n", limit=2) == ("Raw", ["one", "two"])


# --- never a crash, never a control character ------------------------------------------------

def test_every_view_survives_garbage():
    rnd = random.Random(1801)
    headers_choices = [None, {"Content-Type": "multipart/form-data; boundary=b"},
                       {"Content-Type": "text/html; charset=no-such-charset"},
                       {"Content-Type": "image/png"}]
    for view in contentviews.views:
        for _ in range(50):
            data = rnd.randbytes(rnd.randrange(0, 400))
            for headers in headers_choices:
                result = contentviews.get_content_view(view, data, headers=headers, limit=20)
                assert result.description
                assert all(text.isprintable() for line in result.lines for _, text in line)


@pytest.mark.parametrize("limit", [None, 10])
@pytest.mark.parametrize("body, shown", [
    # A \u escape may stand for anything: such a body is checked line by line.
    (b'["\\u202e", "\\u001b", "ok"]', ['"\\u202e",', '"\\u001b",', '"ok"']),
    # Raw invisible characters, no escape in the text.
    ('["a\x7fb", "\xa0"]'.encode(), ['"a\\x7fb",', '"\\xa0"']),
    # Whitespace between tokens is not shown; nothing to escape.
    (b'[\r\n\t"x"\r\n]', ['"x"']),
])
def test_json_lines_are_escaped_on_every_path(body, shown, limit):
    _, lines = show("json", body, limit=limit)
    assert [line.strip() for line in lines[1:-1]] == shown


@pytest.mark.parametrize("limit", [None, 10])
@pytest.mark.parametrize("body, shown", [
    (b"plain\r\nlines\n", ["plain", "lines"]),
    (b"a\r\r\nb\r", ["a\\r", "b"]),  # only the last carriage return ends a line
    (b"x\ty\x00\n\x0c", ["x" + " " * 7 + "y\\x00", "\\x0c"]),
    ("\u2028\n\xe9".encode(), ["\\u2028", "\xe9"]),
])
def test_raw_lines_are_escaped_on_every_path(body, shown, limit):
    assert show("raw", body, limit=limit) == ("Raw", shown)


def test_the_cycle_collector_is_paused_only_while_a_view_runs():
    assert gc.isenabled()
    contentviews.get_content_view("json", b"[1, 2]")
    contentviews.get_content_view("json", b"[1, 2")  # a failing view, too
    assert gc.isenabled()
    gc.disable()
    try:
        contentviews.get_content_view("json", b"[1, 2]")
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()


def test_control_characters_are_escaped():
    data = "x\x1b[2J\ty\rz\u202e\n".encode() + b"\xff"
    assert show("raw", data) == ("Raw", ["x\\x1b[2J" + " " * 8 + "y\\rz\\u202e", "\\xff"])
    _, lines = show("json", json.dumps(["\u202e\u2028"], ensure_ascii=False).encode())
    assert lines[1] == '  "\\u202e\\u2028"'
    description, _ = show("auto", b"x", headers={"Content-Encoding": "x\x1b[2J"})
    assert description == "Couldn't decode x\\x1b[2J: falling back to Raw"

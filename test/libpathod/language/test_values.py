"""VALUEs: literals and their escapes, generated data, file values and their confinement."""
import os

import pytest

from libpathod.language import FileAccessDenied, Settings, generators
from libpathod.language.values import (
    FileValue, GeneratedValue, LiteralValue, RESOLVE_INLINE_LIMIT, quote, size_spec, static_path,
    unescape,
)


def test_unescape_applies_python_escapes():
    assert unescape(r"foo\r\nbar") == b"foo\r\nbar"
    assert unescape(r"fo\'o") == b"fo'o"
    assert unescape(r"\x00\xff") == b"\x00\xff"


def test_unescape_keeps_unknown_escapes_like_python():
    assert unescape(r"\q") == b"\\q"


def test_unescape_refuses_truncated_hex_escape():
    with pytest.raises(ValueError):
        unescape(r"\x4")


@pytest.mark.parametrize("data", [b"", b"foo", b"'\"\\", bytes(range(256)), b"a\r\nb\tc"])
def test_quote_round_trips_every_byte(data):
    assert unescape(quote(data)[1:-1]) == data


def test_quote_escapes_quotes_as_hex_so_specs_nest():
    assert quote(b"it's") == r"'it\x27s'"
    assert quote(b'"') == r"'\x22'"


@pytest.mark.parametrize("size,text", [
    (0, "0"), (100, "100"), (1024, "1k"), (1536, "1536"), (3 * 1024 ** 2, "3m"),
    (1024 ** 3, "1g"), (2 * 1024 ** 4, "2t"),
])
def test_size_spec_uses_largest_exact_unit(size, text):
    assert size_spec(size) == text


def test_generated_spec_omits_default_type_unless_seeded():
    assert GeneratedValue(100).spec() == "@100"
    assert GeneratedValue(1024, "ascii").spec() == "@1k,ascii"
    assert GeneratedValue(100, "bytes", 7).spec() == "@100,bytes,7"


def test_generated_value_has_its_size_and_alphabet():
    gen = GeneratedValue(5000, "digits").get_generator(Settings())
    data = generators.source_bytes(gen)
    assert len(data) == 5000
    assert set(data) <= set(b"0123456789")


def test_unseeded_generated_value_draws_fresh_data():
    value = GeneratedValue(1000)
    first = generators.source_bytes(value.get_generator(Settings()))
    second = generators.source_bytes(value.get_generator(Settings()))
    assert first != second


def test_resolve_inlines_small_generated_values_as_literals():
    resolved = GeneratedValue(RESOLVE_INLINE_LIMIT, "ascii").resolve(Settings())
    assert isinstance(resolved, LiteralValue)
    assert len(resolved.data) == RESOLVE_INLINE_LIMIT


def test_resolve_seeds_large_generated_values_reproducibly():
    resolved = GeneratedValue(RESOLVE_INLINE_LIMIT + 1).resolve(Settings())
    assert resolved.seed is not None
    assert resolved.resolve(Settings()) == resolved
    one = generators.source_bytes(resolved.get_generator(Settings()))
    two = generators.source_bytes(resolved.get_generator(Settings()))
    assert one == two


def test_file_value_reads_inside_staticdir(settings):
    assert generators.source_bytes(FileValue("file").get_generator(settings)) == b"testfile"
    assert generators.source_bytes(FileValue("sub/nested").get_generator(settings)) == b"nested contents"


def test_file_value_allows_dotdot_that_stays_inside(settings):
    assert generators.source_bytes(FileValue("sub/../file").get_generator(settings)) == b"testfile"


@pytest.mark.parametrize("path", ["../secret", "sub/../../secret", "/etc/passwd"])
def test_file_value_refuses_paths_leaving_staticdir(settings, path):
    with pytest.raises(FileAccessDenied):
        FileValue(path).get_generator(settings)


def test_file_value_refuses_absolute_path_even_inside_staticdir(settings, staticdir):
    with pytest.raises(FileAccessDenied, match="relative"):
        FileValue(str(staticdir / "file")).get_generator(settings)


def test_file_value_refuses_symlink_escaping_staticdir(settings, staticdir):
    os.symlink(staticdir.parent / "secret", staticdir / "link")
    with pytest.raises(FileAccessDenied, match="outside"):
        FileValue("link").get_generator(settings)


def test_file_value_refuses_without_staticdir():
    with pytest.raises(FileAccessDenied, match="disabled"):
        FileValue("file").get_generator(Settings())


def test_file_value_refuses_missing_file_and_directories(settings):
    with pytest.raises(FileAccessDenied, match="no such file"):
        FileValue("nonexistent").get_generator(settings)
    with pytest.raises(FileAccessDenied):
        FileValue("sub").get_generator(settings)


def test_unconstrained_access_may_leave_staticdir(staticdir):
    settings = Settings(staticdir=str(staticdir), unconstrained_file_access=True)
    assert open(static_path("../secret", settings), "rb").read() == b"outside"


def test_file_spec_quotes_paths_that_need_it():
    assert FileValue("my/path").spec() == "<my/path"
    assert FileValue("my path").spec() == "<'my path'"
    assert FileValue("a:b").spec() == "<'a:b'"

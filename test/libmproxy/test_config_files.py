"""Config files (spec: Configuration): the syntax, line by line, then which file wins, then
the real mitmdump reading ``~/.mitmproxy`` (HOME points at a temporary directory).

Every example line of the spec's chapter is a test of ``parse``. Errors are asserted as the
user sees them: one message naming the file and the line.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from libmproxy import cmdline, config_files
from libmproxy.config_files import ConfigError, Setting

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def parse_line(line: str) -> list[tuple[str, object]]:
    return [(s.key, s.value) for s in config_files.parse(line, "test.conf")]


def parse_error(text: str) -> str:
    with pytest.raises(ConfigError) as e:
        config_files.parse(text, "test.conf")
    return str(e.value)


# === syntax: the spec's examples =============================================================

@pytest.mark.parametrize("line", [
    "# this is a comment",
    "; this is also a comment (.ini style)",
    "--- and this is a comment too (yaml style)",
])
def test_spec_comment_examples_are_skipped(line):
    assert parse_line(line) == []


@pytest.mark.parametrize("line", [
    "name = value      # (.ini style)",
    "name: value       # (yaml style)",
    "--name value      # (command-line option style)",
])
def test_spec_key_value_examples(line):
    assert parse_line(line) == [("name", "value")]


def test_spec_list_examples():
    assert parse_line("fruit = [apple, orange, lemon]") == [
        ("fruit", ["apple", "orange", "lemon"])]
    assert parse_line("indexes = [1, 12, 35 , 40]") == [("indexes", ["1", "12", "35", "40"])]


@pytest.mark.parametrize("line, value", [
    ("name = true       # (.ini style)", "true"),
    ("name", None),
    ("--name            # (command-line option style)", None),
])
def test_spec_flag_examples(line, value):
    assert parse_line(line) == [("name", value)]


def test_spec_option_examples():
    assert parse_line("port = 8080") == [("port", "8080")]
    assert parse_line("palette = light") == [("palette", "light")]


# === syntax: the loose places ===================================================================

def test_settings_keep_file_order_and_line_numbers():
    text = "# header\n\nport = 1\n  ; note\n\tanticache\n"
    assert config_files.parse(text, "a.conf") == [
        Setting("a.conf", 3, "port", "1"), Setting("a.conf", 5, "anticache", None)]


def test_whitespace_is_ignored_and_case_kept():
    assert parse_line("   Name=Value   ") == [("Name", "Value")]
    assert parse_line("name:value") == [("name", "value")]
    assert parse_line("--name=value") == [("name", "value")]
    assert parse_line("name  =   two words  ") == [("name", "two words")]


def test_trailing_comment_needs_whitespace_before_it():
    assert parse_line("name = value ; ini comment") == [("name", "value")]
    assert parse_line("name = a#b;c") == [("name", "a#b;c")]
    assert parse_line("name # just a flag") == [("name", None)]


def test_quoted_values():
    assert parse_line('name = "a # b ; c"  # comment') == [("name", "a # b ; c")]
    assert parse_line("name = 'say \"hi\"'") == [("name", 'say "hi"')]
    assert parse_line('name = ""') == [("name", "")]
    assert parse_line('name = "[not, a, list]"') == [("name", "[not, a, list]")]
    assert parse_line("name = don't # an apostrophe is no quote") == [("name", "don't")]


def test_lists_with_quotes_and_empty_lists():
    assert parse_line('l = ["a, b", \'c # d\', e]  # comment') == [("l", ["a, b", "c # d", "e"])]
    assert parse_line("l = []") == [("l", [])]
    assert parse_line(r"ignore = [0-9]+\.example\.com") == [("ignore", r"[0-9]+\.example\.com")]


def test_section_headers_are_ignored():
    assert parse_line("[mitmdump]") == []


@pytest.mark.parametrize("text, message", [
    ("port = 1\n= 8080", "test.conf:2: expected a setting (name = value), got '= 8080'"),
    ("\nname =", "test.conf:2: no value after '=' for 'name'"),
    ("name: # comment", "test.conf:1: no value after ':' for 'name'"),
    ('name = "open', "test.conf:1: unbalanced quotes in \"open"),
    ('name = "a" "b"', "test.conf:1: unbalanced quotes in \"a\" \"b\""),
    ("l = [a, , b]", "test.conf:1: empty item in list [a, , b]"),
])
def test_syntax_errors_name_file_and_line(text, message):
    assert parse_error(text) == message


def test_read_errors(tmp_path):
    missing = tmp_path / "missing.conf"
    with pytest.raises(ConfigError, match=f"cannot read config file {missing}: No such file"):
        config_files.read(str(missing))
    latin = tmp_path / "latin.conf"
    latin.write_bytes(b"port = 1\napp-host = caf\xe9\n")
    with pytest.raises(ConfigError, match=f"^{latin}:2: not UTF-8 text$"):
        config_files.read(str(latin))


# === from files to arguments =====================================================================

@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A HOME whose ~/.mitmproxy holds the test's config files."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".mitmproxy").mkdir()
    return tmp_path


def write(home: Path, name: str, text: str) -> str:
    path = home / ".mitmproxy" / name
    path.write_text(text)
    return str(path)


def parsed(*argv: str):
    """mitmdump's parsed arguments for ``argv`` after the config files."""
    parser = cmdline.mitmdump()
    return parser.parse_args(config_files.argv_with_config("mitmdump", parser, argv))


def config_error(*argv: str) -> str:
    with pytest.raises(ConfigError) as e:
        parsed(*argv)
    return str(e.value)


def test_no_files_changes_nothing(home):
    parser = cmdline.mitmdump()
    assert config_files.argv_with_config("mitmdump", parser, ["-p", "1"]) == ["-p", "1"]


def test_settings_go_before_the_command_line_in_file_order(home):
    write(home, "common.conf", "port = 8081\nanticache\n")
    write(home, "mitmdump.conf", "anticomp\n")
    parser = cmdline.mitmdump()
    assert config_files.argv_with_config("mitmdump", parser, ["-q"]) == [
        "--port=8081", "--anticache", "--anticomp", "-q"]


def test_options_sharing_a_list_keep_file_order(home, tmp_path):
    """--replace and --replace-from-file fill one list: common.conf's entries come first."""
    body = tmp_path / "body.txt"
    body.write_text("from file")
    write(home, "common.conf", "replace = /~q/a/b\n")
    write(home, "mitmdump.conf", f"replace-from-file = :~s:c:{body}\n")
    assert parsed().replacements == [("~q", "a", "b"), ("~s", "c", "from file")]


def test_the_three_key_value_styles_set_options(home):
    write(home, "common.conf", "port = 8081\nbind-address: 127.0.0.2\n--app-host other.it\n")
    args = parsed()
    assert (args.port, args.addr, args.app_host) == (8081, "127.0.0.2", "other.it")


def test_flags(home):
    write(home, "mitmdump.conf", "anticache\nanticomp = true\n--no-upstream-cert\n"
                                 "insecure = false\nnoapp = yes\nnorefresh = false\n")
    args = parsed()
    assert args.anticache and args.anticomp and args.no_upstream_cert
    assert not args.ssl_insecure
    assert args.app is False  # noapp = yes gives --noapp
    assert args.refresh_server_playback is True  # false: no --norefresh, not its opposite


def test_counting_flags_take_a_number(home):
    write(home, "mitmdump.conf", "detail = 2\nverbose = true\n")
    args = parsed()
    assert (args.flow_detail, args.verbose) == (cmdline.DEFAULT_FLOW_DETAIL + 2, 1)


def test_lists_give_a_repeatable_option_once_per_item(home):
    write(home, "mitmdump.conf", "setheader = [/~q/X-One/1, /~q/X-Two/2]\n"
                                 "ignore = [a\\.com, 'b\\.com']\n")
    args = parsed()
    assert args.setheaders == [("~q", "X-One", "1"), ("~q", "X-Two", "2")]
    assert args.ignore_hosts == [r"a\.com", r"b\.com"]


def test_repeated_lines_collect_or_replace_as_repeated_flags_do(home):
    write(home, "mitmdump.conf", "ignore = a\nignore = b\nport = 1\nport = 2\n")
    args = parsed()
    assert (args.ignore_hosts, args.port) == (["a", "b"], 2)


def test_values_starting_with_a_dash_are_values(home):
    write(home, "mitmdump.conf", "replace = -~q-foo-bar\n")
    assert parsed().replacements == [("~q", "foo", "bar")]


def test_long_aliases_are_keys_too(home):
    write(home, "common.conf", "ca-dir = /tmp/a\n")
    write(home, "mitmdump.conf", "server-replay-use-header = X-A\n")
    args = parsed()
    assert (args.cadir, args.rheaders) == ("/tmp/a", ["X-A"])


@pytest.mark.parametrize("file, text, message", [
    ("common.conf", "port = 1\nnosuch = 3\n", "common.conf:2: unknown option 'nosuch'"),
    ("mitmdump.conf", "--nosuch\n", "mitmdump.conf:1: unknown option 'nosuch'"),
    ("mitmdump.conf", "p = 8080\n", "mitmdump.conf:1: unknown option 'p'"),
    ("mitmdump.conf", "-p 8080\n",
     "mitmdump.conf:1: '-p' is a short option; config files use long names (port)"),
    ("mitmdump.conf", "palette = light\n",
     "mitmdump.conf:1: 'palette' is an option of mitmproxy, not of mitmdump"),
    ("common.conf", "\npalette = light\n",
     "common.conf:2: 'palette' is an option of mitmproxy only; common.conf takes only the "
     "options all tools share (put it in mitmproxy.conf)"),
    ("common.conf", "keepserving\n",
     "common.conf:1: 'keepserving' is an option of mitmdump only; common.conf takes only "
     "the options all tools share (put it in mitmdump.conf)"),
    ("common.conf", "detail = 2\n", "common.conf:1: 'detail' is an option of mitmdump only"),
    ("mitmdump.conf", "conf = other.conf\n",
     "mitmdump.conf:1: 'conf' cannot be set in a config file"),
    ("mitmdump.conf", "version\n", "mitmdump.conf:1: 'version' cannot be set in a config file"),
    ("mitmdump.conf", "port = abc\n",
     "mitmdump.conf:1: argument -p/--port: invalid port 'abc'"),
    ("mitmdump.conf", "stickycookie = ~zz\n", "mitmdump.conf:1: argument -t/--stickycookie: "),
    ("mitmdump.conf", "port = [1, 2]\n", "mitmdump.conf:1: 'port' takes one value, not a list"),
    ("mitmdump.conf", "port\n", "mitmdump.conf:1: 'port' needs a value"),
    ("mitmdump.conf", "anticache = maybe\n",
     "mitmdump.conf:1: 'anticache' is a flag: expected true or false, got 'maybe'"),
    ("mitmdump.conf", "anticache = [true]\n",
     "mitmdump.conf:1: 'anticache' is a flag: expected true or false, got ['true']"),
    ("mitmdump.conf", "detail = lots\n",
     "mitmdump.conf:1: 'detail' is a flag: expected true, false or a number, got 'lots'"),
    ("mitmdump.conf", "wfile = a\nport = 1\nafile = b\n",
     "mitmdump.conf:3: 'afile' cannot be combined with 'wfile' (line 1)"),
])
def test_errors_name_file_and_line(home, file, text, message):
    write(home, file, text)
    assert config_error().startswith(f"{home / '.mitmproxy'}/{message}")


def test_the_mitmdump_only_names_are_mitmdump_options():
    """ONLY_IN must name real options: mitmdump's own, and none of the console's yet."""
    longs = {s[2:] for s in cmdline.mitmdump()._option_string_actions if s.startswith("--")}
    assert config_files.ONLY_IN["mitmdump"] <= longs
    assert not config_files.ONLY_IN["mitmproxy"] & longs


# === which source wins ============================================================================

def test_tool_file_overrides_common_conf(home):
    write(home, "common.conf", "port = 1\nanticache\n")
    write(home, "mitmdump.conf", "port = 2\n")
    args = parsed()
    assert (args.port, args.anticache) == (2, True)


def test_command_line_overrides_files(home):
    write(home, "common.conf", "port = 1\n")
    write(home, "mitmdump.conf", "port = 2\n")
    assert parsed("-p", "3").port == 3


def test_an_overriding_source_replaces_lists_not_extends_them(home):
    write(home, "common.conf", "setheader = [/~q/A/1, /~q/B/2]\nignore = a\ntcp = t\n")
    write(home, "mitmdump.conf", "setheader = /~q/C/3\ntcp = []\n")
    args = parsed("-I", "b")
    assert args.setheaders == [("~q", "C", "3")]
    assert args.ignore_hosts == ["b"]
    assert args.tcp_hosts == []  # [] in mitmdump.conf clears common.conf's list


@pytest.mark.parametrize("argv", [
    ["--ignore=b"], ["--ign", "b"], ["-qIb"], ["-q", "-I", "b"],
])
def test_command_line_options_are_recognised_in_every_spelling(home, argv):
    write(home, "common.conf", "ignore = a\n")
    assert parsed(*argv).ignore_hosts == ["b"]


def test_exclusive_options_override_each_other(home):
    write(home, "common.conf", "wfile = /tmp/w\nno-http2\nraw-tcp\n")
    write(home, "mitmdump.conf", "afile = /tmp/a\nhttp2 = true\n")
    args = parsed("--no-raw-tcp")
    assert args.outfile == ("/tmp/a", "ab")
    assert (args.http2, args.rawtcp) == (True, False)
    assert parsed("-w", "/tmp/c", "--no-raw-tcp").outfile == ("/tmp/c", "wb")


def test_false_in_a_later_file_still_overrides(home):
    write(home, "common.conf", "anticache\n")
    write(home, "mitmdump.conf", "anticache = false\n")
    assert parsed().anticache is False


def test_conf_file_overrides_the_default_files(home, tmp_path):
    write(home, "common.conf", "port = 1\nanticache\n")
    write(home, "mitmdump.conf", "port = 2\n")
    extra = tmp_path / "extra.conf"
    extra.write_text("port = 3\n")
    more = tmp_path / "more.conf"
    more.write_text("anticomp\n")
    args = parsed("--conf", str(extra), f"--conf={more}")
    assert (args.port, args.anticache, args.anticomp) == (3, True, True)
    assert parsed("--conf", str(extra), "-p", "4").port == 4


def test_conf_file_must_exist(home, tmp_path):
    missing = tmp_path / "missing.conf"
    assert config_error("--conf", str(missing)) == (
        f"cannot read config file {missing}: No such file or directory")


def test_conf_file_takes_tool_options(home, tmp_path):
    extra = tmp_path / "extra.conf"
    extra.write_text("keepserving\n")
    assert parsed("--conf", str(extra)).keepserving is True


def test_help_and_version_do_not_read_the_files(home):
    write(home, "common.conf", "nosuch\n")
    parser = cmdline.mitmdump()
    for argv in (["--help"], ["-h"], ["--version"], ["-p", "1", "--shortversion"]):
        assert config_files.argv_with_config("mitmdump", parser, argv) == argv


# === the real mitmdump ==============================================================================
# conftest's mitmdump subprocesses inherit this process's environment: HOME is ``home``.


def test_mitmdump_listens_on_the_port_of_common_conf(home, mitmdump, origin, free_port):
    write(home, "common.conf",
          f"# shared settings\nport = {free_port}\nbind-address = 127.0.0.1\n")
    m = mitmdump(port=None).started()
    assert m.port == free_port
    m.fetch(f"{origin.url}/via-config")
    assert origin.last()["path"] == "/via-config"


def test_mitmdump_conf_overrides_common_conf(home, mitmdump, free_port):
    write(home, "common.conf", "port = 1\nbind-address = 127.0.0.1\n")
    write(home, "mitmdump.conf", f"port: {free_port}\n")
    assert mitmdump(port=None).started().port == free_port


def test_command_line_overrides_both_files(home, mitmdump, free_port):
    write(home, "common.conf", "port = 1\nbind-address = 127.0.0.1\n")
    write(home, "mitmdump.conf", "port = 2\n")
    assert mitmdump("-p", str(free_port), port=None).started().port == free_port


def test_conf_file_with_a_list_reaches_the_origin(home, mitmdump, origin, free_port, tmp_path):
    write(home, "common.conf", "port = 1\nbind-address = 127.0.0.1\n")
    extra = tmp_path / "extra.conf"
    extra.write_text(f"--port {free_port}\n"
                     f"setheader = [/~q/X-One/1, \"/~q/X-Two/two # words\"]\n")
    m = mitmdump("--conf", str(extra), port=None).started()
    assert m.port == free_port
    m.fetch(f"{origin.url}/headers")
    headers = dict(origin.last()["headers"])
    assert (headers["X-One"], headers["X-Two"]) == ("1", "two # words")


@pytest.mark.parametrize("text, message", [
    ("port = 8080\npalette = light\n",
     "common.conf:2: 'palette' is an option of mitmproxy only;"),
    ("nosuch = 1\n", "common.conf:1: unknown option 'nosuch'"),
    ("\n\nport = abc\n", "common.conf:3: argument -p/--port: invalid port 'abc'"),
])
def test_bad_common_conf_stops_mitmdump_with_file_and_line(home, mitmdump_once, text, message):
    write(home, "common.conf", text)
    result = mitmdump_once()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    expected = f"mitmdump: error: {home / '.mitmproxy'}/{message}"
    assert result.stderr.startswith(expected), result.stderr

"""mitmdump's flags: names, what they become, and one clear line for every bad value."""
from __future__ import annotations

import argparse
import os
import re

import pytest

from netlib import certutils

from libmproxy import cmdline
from libmproxy.proxy.config import ProxyConfig, ServerSpec
from libmproxy.version import VERSION

# Every flag mitmdump advertises (long and short spellings), as 0.18 named them.
FLAGS = [
    "--version", "--shortversion", "-q", "--quiet", "-v", "--verbose", "--host", "-w",
    "--wfile", "-a", "--afile", "-R", "--reverse", "-U", "--upstream", "-b",
    "--bind-address", "-p", "--port", "-n", "--no-server", "-I", "--ignore", "--tcp", "-Z",
    "--body-size-limit", "--upstream-auth", "--no-http2", "--http2", "--raw-tcp",
    "--no-raw-tcp", "--cadir", "--ca-dir", "--cert", "--client-certs", "--no-upstream-cert",
    "--insecure", "--upstream-trusted-ca", "--upstream-trusted-cadir", "--ciphers-client",
    "--ciphers-server", "--ssl-version-client", "--ssl-version-server", "--noapp",
    "--app-host", "--app-port", "-d", "--detail",
]


@pytest.fixture(scope="module")
def certdir(tmp_path_factory):
    """A CA directory and a custom certificate file (key + certificate)."""
    path = tmp_path_factory.mktemp("certs")
    store = certutils.CertStore.from_store(str(path))
    # The CA file holds a key and its certificate: a valid --cert file.
    (path / "custom.pem").write_bytes((path / "mitmproxy-ca.pem").read_bytes())
    (path / "nokey.pem").write_bytes(store.default_ca.to_pem())
    return path


def parse(*argv: str) -> argparse.Namespace:
    return cmdline.mitmdump().parse_args(list(argv))


def parse_error(capsys, *argv: str) -> str:
    """The message of a refused command line, checked to be one line with exit status 2."""
    with pytest.raises(SystemExit) as excinfo:
        parse(*argv)
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("mitmdump: error: ")
    return err


# --- defaults -----------------------------------------------------------------------------

def test_defaults():
    args = parse()
    options = cmdline.get_common_options(args)
    assert {k: options[k] for k in (
        "flow_detail", "verbosity", "outfile", "showhost", "no_server", "app", "app_host",
        "app_port", "filtstr", "rfile", "scripts", "replacements", "setheaders",
        "client_replay", "server_replay", "refresh_server_playback")} == dict(
        flow_detail=1, verbosity=1, outfile=None, showhost=False, no_server=False,
        app=True, app_host="mitm.it", app_port=80, filtstr=None, rfile=None, scripts=[],
        replacements=[], setheaders=[], client_replay=[], server_replay=[],
        refresh_server_playback=True)
    kwargs = cmdline.get_proxy_kwargs(args)
    assert kwargs["host"] == "" and kwargs["port"] == 8080
    assert kwargs["cadir"] == os.path.expanduser("~/.mitmproxy")
    assert kwargs["mode"] == "regular" and kwargs["upstream_server"] is None
    assert kwargs["http2"] is True and kwargs["rawtcp"] is False
    assert kwargs["ssl_version_client"] == kwargs["ssl_version_server"] == "secure"
    assert kwargs["certs"] == [] and kwargs["ignore_hosts"] == [] and kwargs["tcp_hosts"] == []


def test_proxy_kwargs_are_all_proxyconfig_fields():
    from libmproxy.proxy import config
    assert set(cmdline.get_proxy_kwargs(parse())) <= config.FIELDS


# --- output options -----------------------------------------------------------------------

@pytest.mark.parametrize("argv, detail, verbosity", [
    ([], 1, 1), (["-d"], 2, 1), (["-dd"], 3, 1), (["-ddd"], 4, 1), (["--detail"], 2, 1),
    (["-v"], 1, 2), (["-vv"], 1, 3), (["-v", "--verbose"], 1, 3),
    (["-q"], 0, 0), (["-q", "-dd", "-v"], 0, 0),
])
def test_detail_and_verbosity(argv, detail, verbosity):
    options = cmdline.get_common_options(parse(*argv))
    assert (options["flow_detail"], options["verbosity"]) == (detail, verbosity)


def test_write_and_append(tmp_path):
    assert parse("-w", str(tmp_path / "f")).outfile == (str(tmp_path / "f"), "wb")
    assert parse("--afile", "~/f").outfile == (os.path.expanduser("~/f"), "ab")


def test_write_and_append_exclude_each_other(capsys):
    err = parse_error(capsys, "-w", "a", "-a", "b")
    assert "-a/--afile" in err and "not allowed with" in err


def test_showhost_and_no_server():
    options = cmdline.get_common_options(parse("--host", "-n"))
    assert options["showhost"] and options["no_server"]


# --- proxy options ------------------------------------------------------------------------

def test_bind_and_port():
    kwargs = cmdline.get_proxy_kwargs(parse("-b", "127.0.0.1", "-p", "0"))
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 0)
    assert cmdline.get_proxy_kwargs(parse("--bind-address", "::1", "--port", "9"))["port"] == 9


@pytest.mark.parametrize("value", ["x", "-1", "65536", "80.5"])
def test_bad_port(capsys, value):
    assert "argument -p/--port" in parse_error(capsys, "-p", value)


def test_reverse_mode():
    kwargs = cmdline.get_proxy_kwargs(parse("-R", "https://example.com/"))
    assert kwargs["mode"] == "reverse"
    spec = kwargs["upstream_server"]
    assert spec.scheme == "https" and spec.address.host == "example.com"
    assert spec.address.port == 443


def test_upstream_mode():
    kwargs = cmdline.get_proxy_kwargs(
        parse("--upstream", "http://proxy.local:3128", "--upstream-auth", "u:p"))
    assert kwargs["mode"] == "upstream"
    assert kwargs["upstream_server"] == ServerSpec("http", ("proxy.local", 3128))
    assert kwargs["upstream_auth"] == "u:p"


@pytest.mark.parametrize("argv, flag", [
    (["-R", "ftp://example.com"], "-R/--reverse"),
    (["-R", "example.com"], "-R/--reverse"),
    (["-R", "http://example.com/path"], "-R/--reverse"),
    (["-R", "http://example.com:99999"], "-R/--reverse"),
    (["-U", "https://proxy"], "-U/--upstream"),
    (["--upstream-auth", "nocolon"], "--upstream-auth"),
])
def test_bad_server_specs(capsys, argv, flag):
    assert f"argument {flag}: " in parse_error(capsys, *argv)


def test_modes_exclude_each_other(capsys):
    assert "not allowed with" in parse_error(capsys, "-R", "http://a", "-U", "http://b")


def test_ignore_and_tcp_patterns():
    kwargs = cmdline.get_proxy_kwargs(
        parse("-I", r"^example\.com:443$", "--ignore", "apple", "--tcp", "ssh"))
    assert kwargs["ignore_hosts"] == [r"^example\.com:443$", "apple"]
    assert kwargs["tcp_hosts"] == ["ssh"]


@pytest.mark.parametrize("flag", ["-I", "--ignore", "--tcp"])
def test_bad_regex(capsys, flag):
    err = parse_error(capsys, flag, "(unclosed")
    assert "invalid regular expression '(unclosed'" in err


def test_body_size_limit():
    assert cmdline.get_proxy_kwargs(parse("-Z", "3m"))["body_size_limit"] == 3 * 1024 ** 2
    assert cmdline.get_proxy_kwargs(parse("--body-size-limit", "100"))["body_size_limit"] == 100


def test_bad_body_size_limit(capsys):
    assert "argument -Z/--body-size-limit: invalid size 'lots'" in \
        parse_error(capsys, "-Z", "lots")


def test_http2_and_raw_tcp_switches(capsys):
    assert cmdline.get_proxy_kwargs(parse("--no-http2"))["http2"] is False
    assert cmdline.get_proxy_kwargs(parse("--http2"))["http2"] is True
    assert cmdline.get_proxy_kwargs(parse("--raw-tcp"))["rawtcp"] is True
    assert cmdline.get_proxy_kwargs(parse("--no-raw-tcp"))["rawtcp"] is False
    parse_error(capsys, "--http2", "--no-http2")


# --- TLS options --------------------------------------------------------------------------

def test_cadir_both_spellings(tmp_path):
    assert cmdline.get_proxy_kwargs(parse("--cadir", str(tmp_path)))["cadir"] == str(tmp_path)
    assert cmdline.get_proxy_kwargs(parse("--ca-dir", "~/ca"))["cadir"] == \
        os.path.expanduser("~/ca")


def test_cert_specs(certdir):
    custom = str(certdir / "custom.pem")
    kwargs = cmdline.get_proxy_kwargs(parse("--cert", custom, "--cert", f"*.a.com={custom}"))
    assert kwargs["certs"] == [f"*={custom}", f"*.a.com={custom}"]


def test_cert_file_missing(capsys, tmp_path):
    err = parse_error(capsys, "--cert", f"example.com={tmp_path}/missing.pem")
    assert "argument --cert: " in err and "cannot read certificate file" in err


def test_cert_file_without_key(capsys, certdir):
    err = parse_error(capsys, "--cert", str(certdir / "nokey.pem"))
    assert "argument --cert: " in err and "no private key" in err


def test_bad_cert_spec(capsys, certdir):
    assert "expected [domain=]path" in parse_error(capsys, "--cert", "example.com=")


def test_tls_switches(certdir):
    kwargs = cmdline.get_proxy_kwargs(parse(
        "--no-upstream-cert", "--insecure", "--client-certs", str(certdir),
        "--upstream-trusted-ca", str(certdir / "mitmproxy-ca-cert.pem"),
        "--upstream-trusted-cadir", str(certdir), "--ciphers-client", "HIGH",
        "--ciphers-server", "ECDHE+AESGCM", "--ssl-version-client", "all",
        "--ssl-version-server", "TLSv1_2"))
    assert kwargs["no_upstream_cert"] and kwargs["ssl_insecure"]
    assert kwargs["clientcerts"] == str(certdir)
    assert kwargs["upstream_trusted_ca"] == str(certdir / "mitmproxy-ca-cert.pem")
    assert kwargs["upstream_trusted_cadir"] == str(certdir)
    assert (kwargs["ciphers_client"], kwargs["ciphers_server"]) == ("HIGH", "ECDHE+AESGCM")
    assert (kwargs["ssl_version_client"], kwargs["ssl_version_server"]) == ("all", "TLSv1_2")


@pytest.mark.parametrize("argv, flag, message", [
    (["--client-certs", "/nonexistent/certs"], "--client-certs", "no such file or directory"),
    (["--upstream-trusted-ca", "/nonexistent/ca.pem"], "--upstream-trusted-ca",
     "no such file"),
    (["--upstream-trusted-cadir", "/nonexistent"], "--upstream-trusted-cadir",
     "no such directory"),
    (["--ciphers-client", "NOT-A-CIPHER"], "--ciphers-client", "no cipher of"),
    (["--ciphers-server", "NOPE"], "--ciphers-server", "no cipher of"),
    (["--ssl-version-client", "SSLv2"], "--ssl-version-client", "invalid choice"),
    (["--app-port", "0"], "--app-port", "port out of range"),
])
def test_bad_tls_and_app_values(capsys, argv, flag, message):
    err = parse_error(capsys, *argv)
    assert f"argument {flag}: " in err and message in err


# --- onboarding ---------------------------------------------------------------------------

def test_onboarding_options():
    options = cmdline.get_common_options(
        parse("--noapp", "--app-host", "setup.test", "--app-port", "8081"))
    assert (options["app"], options["app_host"], options["app_port"]) == \
        (False, "setup.test", 8081)
    kwargs = cmdline.get_proxy_kwargs(parse("--app-host", "setup.test", "--app-port", "81"))
    assert (kwargs["app_host"], kwargs["app_port"]) == ("setup.test", 81)


# --- help, version, unknown flags ---------------------------------------------------------

def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit) as excinfo:
        parse("--help")
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    listed = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", out))
    missing = [flag for flag in FLAGS if flag not in listed]
    assert not missing
    for group in ("Proxy modes", "Proxy options", "TLS", "Onboarding app", "Output"):
        assert f"\n{group}:\n" in out


@pytest.mark.parametrize("flag, expected", [("--version", f"mitmdump {VERSION}\n"),
                                            ("--shortversion", f"{VERSION}\n")])
def test_version(capsys, flag, expected):
    with pytest.raises(SystemExit) as excinfo:
        parse(flag)
    assert excinfo.value.code == 0
    assert capsys.readouterr().out == expected


def test_filter_words_are_joined():
    options = cmdline.get_common_options(parse("~m", "post", "&", "~d", "example.com"))
    assert options["filtstr"] == "~m post & ~d example.com"


@pytest.mark.parametrize("argv, expected", [
    (["--replace", "/~q/foo/bar"], [("~q", "foo", "bar")]),
    (["--replace", ":~s:a/b:c/d"], [("~s", "a/b", "c/d")]),
    (["--replace", "/~q/foo/"], [("~q", "foo", "")]),
])
def test_replace_patterns(argv, expected):
    assert cmdline.get_common_options(parse(*argv))["replacements"] == expected


def test_replace_from_file_reads_the_file(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("new text")
    options = cmdline.get_common_options(parse("--replace-from-file", f"|~s|old|{path}"))
    assert options["replacements"] == [("~s", "old", "new text")]


def test_setheader_pattern():
    options = cmdline.get_common_options(parse("--setheader", "/~q/Host/example.org"))
    assert options["setheaders"] == [("~q", "Host", "example.org")]


@pytest.mark.parametrize("argv, message", [
    (["--replace", "/~q/foo"], "argument --replace: invalid replacement pattern '/~q/foo'"),
    (["--replace", "/~bogus/a/b"], "argument --replace: "),
    (["--replace", "/~q/(/b"], "invalid regular expression '('"),
    (["--replace-from-file", "/~q/a/no-such-file"], "cannot read replacement file"),
    (["--setheader", "/~q//v"], "argument --setheader: invalid set-header pattern"),
    (["-t", "~q &"], "argument -t/--stickycookie: "),
    (["-u", "~nope"], "argument -u/--stickyauth: "),
    (["--stream", "lots"], "argument --stream: "),
    (["-r", "no-such-file"], "argument -r/--read-flows: no such file: no-such-file"),
    (["-c", "no-such-file"], "argument -c/--client-replay: no such file"),
    (["-S", "no-such-file"], "argument -S/--server-replay: no such file"),
    (["--singleuser", "nocolon"], "argument --singleuser: expected username:password"),
    (["--nonanonymous", "--singleuser", "a:b"], "not allowed with argument"),
])
def test_bad_feature_flags_are_one_line_errors(capsys, argv, message):
    assert message in parse_error(capsys, *argv)


# --- ProxyConfig ----------------------------------------------------------------------------

def test_process_proxy_options_builds_the_config(tmp_path, certdir):
    parser = cmdline.mitmdump()
    args = parser.parse_args([
        "--cadir", str(tmp_path / "new" / "ca"), "-p", "0", "-b", "127.0.0.1",
        "-R", "http://localhost:8000", "-Z", "1k", "-I", "ignored", "--tcp", "raw",
        "--no-http2", "--cert", f"example.com={certdir / 'custom.pem'}",
        "--app-host", "MiTM.it", "--app-port", "81"])
    app = object()
    config = cmdline.process_proxy_options(parser, args, apps={("mitm.it", 81): app})
    assert isinstance(config, ProxyConfig)
    assert os.path.exists(tmp_path / "new" / "ca" / "mitmproxy-ca-cert.p12")
    assert (config.host, config.port, config.mode) == ("127.0.0.1", 0, "reverse")
    assert config.upstream_server.address.port == 8000
    assert config.body_size_limit == 1024 and config.http2 is False
    assert config.ignore_hosts(("ignored.com", 443)) and config.tcp_hosts(("raw", 1))
    assert config.find_app("mitm.it", 81) is app
    assert config.app_port == 81


def test_process_proxy_options_reports_a_bad_cadir(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    parser = cmdline.mitmdump()
    args = parser.parse_args(["--cadir", str(blocker / "ca")])
    with pytest.raises(SystemExit) as excinfo:
        cmdline.process_proxy_options(parser, args)
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "certificate directory" in err


def test_keepserving_is_mitmdumps_flag_only(capsys):
    """The console always keeps serving; --keepserving belongs to mitmdump (and to
    mitmdump.conf only, as config_files.ONLY_IN says)."""
    args = cmdline.mitmdump().parse_args(["--keepserving"])
    assert cmdline.get_common_options(args)["keepserving"] is True
    assert cmdline.get_common_options(cmdline.mitmdump().parse_args([]))["keepserving"] is False
    with pytest.raises(SystemExit):
        cmdline.mitmproxy().parse_args(["--keepserving"])
    assert "--keepserving" in capsys.readouterr().err
    console = cmdline.get_console_options(cmdline.mitmproxy().parse_args([]))
    assert console["keepserving"] is True

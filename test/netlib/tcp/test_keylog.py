"""Key logging: NSS key log lines from both sides of a real handshake, and where they go."""
import re

import pytest
from OpenSSL import SSL

from netlib.tcp import TCPClient, keylog
from netlib.tcp.tls import create_client_context

from .test_tls import TlsEchoHandler, echo

# "<LABEL> <client random, 64 hex digits> <secret, hex>" (NSS key log format).
NSS_LINE = re.compile(rb"^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{32,}$")


def handshake(serve, server_cert, **client_kwargs):
    server = serve(TlsEchoHandler, tls=dict(cert=server_cert.cert, key=server_cert.privatekey))
    client = TCPClient(server.address)
    client.connect()
    client.convert_to_ssl(sni="example.com", **client_kwargs)
    assert echo(client, b"x") == b"x"
    client.finish()
    server.next_done()


@pytest.fixture
def server_cert(certstore):
    return certstore.get_cert("example.com", ["example.com"])


@pytest.mark.parametrize("max_version, label", [
    (SSL.TLS1_2_VERSION, b"CLIENT_RANDOM"),
    (None, b"CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
])
def test_both_sides_log_nss_lines(serve, server_cert, keylog_file, max_version, label):
    handshake(serve, server_cert, max_version=max_version)
    lines = keylog_file.read_bytes().splitlines()
    assert lines and all(NSS_LINE.match(line) for line in lines), lines
    labelled = [line for line in lines if line.startswith(label + b" ")]
    # Client and server each log the same secret: the line appears twice.
    assert len(labelled) == 2 and labelled[0] == labelled[1]


def test_lines_are_appended(serve, server_cert, keylog_file):
    keylog_file.write_bytes(b"# existing\n")
    handshake(serve, server_cert)
    assert keylog_file.read_bytes().startswith(b"# existing\n")
    assert len(keylog_file.read_bytes().splitlines()) > 1


def test_sslkeylogfile_is_the_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv("MITMPROXY_SSLKEYLOGFILE", raising=False)
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "b.log"))
    assert keylog.keylog_path() == str(tmp_path / "b.log")
    monkeypatch.setenv("MITMPROXY_SSLKEYLOGFILE", str(tmp_path / "a.log"))
    assert keylog.keylog_path() == str(tmp_path / "a.log")
    assert keylog.keylog_path({"SSLKEYLOGFILE": "~/k.log"}).endswith("/k.log")
    assert keylog.keylog_path({}) is None


def test_no_variable_means_no_logging(monkeypatch):
    for name in keylog.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(keylog, "_IMPORT_TIME_PATH", None)
    assert keylog.install(SSL.Context(SSL.TLS_METHOD)) is None


def test_the_import_time_value_is_the_fallback(tmp_path, monkeypatch):
    for name in keylog.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(keylog, "_IMPORT_TIME_PATH", str(tmp_path / "early.log"))
    assert keylog.install(SSL.Context(SSL.TLS_METHOD)) == str(tmp_path / "early.log")
    keylog.close_all()


def test_an_unwritable_file_is_reported_once_and_does_not_break_tls(
        serve, server_cert, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MITMPROXY_SSLKEYLOGFILE", str(tmp_path / "no-such-dir" / "keys.log"))
    handshake(serve, server_cert)
    handshake(serve, server_cert)
    assert caplog.text.count("cannot write the TLS key log") == 1
    keylog.close_all()


def test_one_file_object_per_path(keylog_file):
    create_client_context()
    create_client_context()
    assert list(keylog._files) == [str(keylog_file)]

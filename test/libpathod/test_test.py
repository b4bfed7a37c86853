"""test.Daemon as the documentation's "pathod.test" chapter uses it, and its own contract:
free ports, logs, waiting, clean shutdown."""
from __future__ import annotations

import threading

import pytest
import requests

from libpathod import pathod, test

CLIENT_TIMEOUT = 10


def test_simple():
    """The context-manager example of the docs, as written there."""
    with test.Daemon() as d:
        url = d.p("200:b@100")
        r = requests.put(url)

        assert r.status_code == 200
        assert len(r.content) == 100

        log = d.last_log()["request"]
        assert log["method"] == "PUT"


class TestPerTest:
    """The one-instance-per-test example of the docs (pytest spells setup/teardown
    setup_method/teardown_method)."""

    def setup_method(self):
        self.d = test.Daemon()

    def teardown_method(self):
        self.d.shutdown()

    def test_simple(self):
        url = self.d.p("200:b@100")
        r = requests.put(url)
        assert r.status_code == 200
        assert len(r.content) == 100

    def test_log_is_per_daemon(self):
        assert self.d.log() == []
        assert self.d.last_log() is None


class TestDaemon:
    def test_urls(self):
        with test.Daemon() as d:
            assert d.port > 0
            assert d.urlbase == f"http://127.0.0.1:{d.port}"
            # Spec characters that a URL cannot carry as they are get percent-encoded.
            assert d.p("200:b'a b'") == f"{d.urlbase}/p/200%3Ab%27a%20b%27"
            assert requests.get(d.p("200:b'a b'"), timeout=CLIENT_TIMEOUT).text == "a b"

    def test_logs(self):
        with test.Daemon() as d:
            for spec in ("200", "201", "202"):
                requests.get(d.p(spec), timeout=CLIENT_TIMEOUT)
            entries = d.expect_log(3)
            assert [e["response"]["code"] for e in entries] == [200, 201, 202]
            assert d.log() == entries
            assert d.last_log() is entries[-1]
            assert d.server.log_by_id(entries[0]["id"]) is entries[0]
            assert "GET /p/201" in d.text_log()
            d.clear_log()
            assert d.log() == [] and d.last_log() is None
            assert d.expect_log(1, timeout=0) is None

    def test_daemon_args_reach_pathod(self, tmp_path):
        (tmp_path / "file").write_bytes(b"x" * 200)  # over the size limit
        with test.Daemon(staticdir=str(tmp_path), anchors=[("/anchor", "204")],
                         sizelimit=100) as d:
            assert requests.get(d.urlbase + "/anchor", timeout=CLIENT_TIMEOUT).status_code == 204
            assert requests.get(d.p("200:b<file"), timeout=CLIENT_TIMEOUT).status_code == 800
            assert d.server.sizelimit == 100

    def test_ssl(self):
        with test.Daemon(ssl=True) as d:
            assert d.urlbase.startswith("https://127.0.0.1:")
            r = requests.get(d.p("200:b'tls'"), verify=d.ca_cert, timeout=CLIENT_TIMEOUT)
            assert r.text == "tls"
            assert d.last_log()["cipher"] is not None

    def test_own_ssloptions(self, tmp_path):
        opts = pathod.SSLOptions(confdir=str(tmp_path))
        with test.Daemon(ssl=True, ssloptions=opts) as d:
            assert d.confdir == str(tmp_path)
            assert d.ca_cert.startswith(str(tmp_path))
            requests.get(d.p("200"), verify=d.ca_cert, timeout=CLIENT_TIMEOUT)

    def test_plain_daemon_makes_no_certificates(self):
        with test.Daemon() as d:
            assert d.server.ssloptions._certstore is None

    def test_console_output_can_be_redirected(self):
        with test.Daemon(logfp=None) as d:
            requests.get(d.p("200"), timeout=CLIENT_TIMEOUT)
            assert d.text_log() == ""

    def test_shutdown_joins_every_thread(self):
        before = set(threading.enumerate())
        d = test.Daemon()
        # A keep-alive connection left open by the client still ends with the daemon.
        session = requests.Session()
        session.get(d.p("200"), timeout=CLIENT_TIMEOUT)
        assert d.server.connection_count == 1
        d.shutdown()
        d.shutdown()
        assert not d.thread.is_alive()
        assert set(threading.enumerate()) <= before
        session.close()

    def test_shutdown_in_exit_even_on_error(self):
        with pytest.raises(RuntimeError):
            with test.Daemon() as d:
                raise RuntimeError("the test failed")
        assert not d.thread.is_alive()

    def test_many_daemons_at_once(self):
        daemons = [test.Daemon() for _ in range(3)]
        try:
            assert len({d.port for d in daemons}) == 3
            for d in daemons:
                assert requests.get(d.p("200"), timeout=CLIENT_TIMEOUT).status_code == 200
        finally:
            for d in daemons:
                d.shutdown()

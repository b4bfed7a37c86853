"""Every example script the docs name runs as written (the pytest-style examples under
examples/ are collected by the suite directly)."""
import pathlib
import subprocess
import sys

from libpathod import test

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def test_pathoc_library_example_talks_to_pathod():
    with test.Daemon() as d:
        out = subprocess.run(
            [sys.executable, str(EXAMPLES / "pathod" / "libpathod_pathoc.py"), "127.0.0.1",
             str(d.port)],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
        lines = out.splitlines()
        assert len(lines) == 2
        assert "200" in lines[0]
        assert "404" in lines[1]
        assert [e["request"]["path"] for e in d.log()][-2:] == ["/p/200", "/foo"]

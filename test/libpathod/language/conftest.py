"""Shared fixtures for the crafting-language tests."""
import pytest

from libpathod.language import Settings


@pytest.fixture
def staticdir(tmp_path):
    """A static directory with a file, a subdirectory, and a file outside it."""
    root = tmp_path / "static"
    (root / "sub").mkdir(parents=True)
    (root / "file").write_bytes(b"testfile")
    (root / "sub" / "nested").write_bytes(b"nested contents")
    (tmp_path / "secret").write_bytes(b"outside")
    return root


@pytest.fixture
def settings(staticdir):
    return Settings(staticdir=str(staticdir), request_host="example.com")

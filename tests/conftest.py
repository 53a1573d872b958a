import glob
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from slim.workspace import Workspace  # noqa: E402


@pytest.fixture
def ws(tmp_path):
    with Workspace(str(tmp_path / "work")) as w:
        yield w


@pytest.fixture(autouse=True)
def no_work_directory_left():
    """Every slim run removes its work directory, whatever happened: a test that leaves one fails."""
    pattern = os.path.join(tempfile.gettempdir(), "slim-*")
    before = set(glob.glob(pattern))
    yield
    left = set(glob.glob(pattern)) - before
    assert not left, f"work directories left behind: {sorted(left)}"


@pytest.fixture(scope="session", autouse=True)
def fresh_scan_cache():
    """Every test run starts with an empty import scan cache (the first Python build scans cold, later ones
    reuse it), whatever earlier runs on this machine left in the user's cache."""
    directory = tempfile.mkdtemp(prefix="slimtest-cache-")
    os.environ["SLIM_CACHE_DIR"] = directory
    yield directory
    os.environ.pop("SLIM_CACHE_DIR", None)
    shutil.rmtree(directory, ignore_errors=True)

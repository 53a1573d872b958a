import glob
import json
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from slim.workspace import OWNER_FILE, Workspace, stale_workspaces


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
    new = set(glob.glob(pattern)) - before
    # another slim process still running on this machine (a second test run) owns its directories; this
    # test left a directory when it is this process's own or its owner has ended without removing it
    left = {d for d in new if os.path.exists(d) and (_owner_pid(d) == os.getpid() or d in stale_workspaces())}
    assert not left, f"work directories left behind: {sorted(left)}"


def _owner_pid(directory: str):
    try:
        with open(os.path.join(directory, OWNER_FILE)) as fh:
            return json.load(fh).get("pid")
    except (OSError, ValueError, AttributeError):
        return None


@pytest.fixture(scope="session", autouse=True)
def fresh_scan_cache():
    """Every test run starts with an empty import scan cache (the first Python build scans cold, later ones
    reuse it), whatever earlier runs on this machine left in the user's cache."""
    directory = tempfile.mkdtemp(prefix="slimtest-cache-")
    os.environ["SLIM_CACHE_DIR"] = directory
    yield directory
    os.environ.pop("SLIM_CACHE_DIR", None)
    shutil.rmtree(directory, ignore_errors=True)

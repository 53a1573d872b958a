import glob
import os
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

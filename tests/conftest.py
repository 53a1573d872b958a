import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from slim.workspace import Workspace  # noqa: E402


@pytest.fixture
def ws(tmp_path):
    with Workspace(str(tmp_path / "work")) as w:
        yield w

"""The one scratch directory a slim run writes into, removed when the run ends, however it ends."""

from __future__ import annotations

import os
import shutil
import tempfile


class Workspace:
    """A private temporary directory. Use as a context manager; `path()` names places inside it."""

    def __init__(self, base: str | None = None):
        base = base or os.environ.get("SLIM_WORK_DIR") or None
        if base:
            os.makedirs(base, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="slim-", dir=base)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def mkdir(self, *parts: str) -> str:
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        return p

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""The one scratch directory a slim run writes into, removed when the run ends, however it ends.

The directory is named after the run and holds a small owner file, so the next run (or `slim cleanup`) can
remove the directory of a run that was killed (SIGKILL gives no chance to clean up). It also bounds how much
one run may unpack into it: images come from anyone, and a small archive can claim terabytes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time

from slim import identity
from slim.errors import ImageFormatError

PREFIX = "slim-"
OWNER_FILE = ".slim-owner.json"
OUTSIDE_FILE = ".slim-outside"  # paths outside the directory that a killed run may have left (one a line)
DEFAULT_MAX_UNPACKED = 32 << 30  # far above real images (the biggest common ones unpack to a few GiB)
_ORPHAN_AGE = 600  # seconds: an ownerless directory older than this was left by a run killed at birth


class Cancelled(Exception):
    """The workspace was closed while a thread still wrote into it (the run is being torn down)."""


class Workspace:
    """A private temporary directory. Use as a context manager; `path()` names places inside it."""

    def __init__(self, base: str | None = None, max_unpacked: int = DEFAULT_MAX_UNPACKED):
        base = base or os.environ.get("SLIM_WORK_DIR") or None
        if base:
            os.makedirs(base, exist_ok=True)
        me = identity.current()
        self.root = tempfile.mkdtemp(prefix=f"{PREFIX}{me.run_id}-", dir=base)
        with open(os.path.join(self.root, OWNER_FILE), "w") as fh:
            json.dump({"run": me.run_id, "pid": me.pid, "host": me.host, "started": me.started}, fh)
        self.max_unpacked = max_unpacked
        self.unpacked = 0
        self.closed = False

    def path(self, *parts: str) -> str:
        """A path inside the workspace (nothing is created)."""
        return os.path.join(self.root, *parts)

    def mkdir(self, *parts: str) -> str:
        """Create a directory inside the workspace; Cancelled once the workspace is closed."""
        self.check_open()
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        return p

    def note_outside(self, path: str) -> None:
        """Record a temporary file this run makes outside the work directory (a `.partial` beside the user's
        output): if the run is killed before it is renamed or removed, the sweep of dead runs removes it."""
        with open(self.path(OUTSIDE_FILE), "a") as fh:
            fh.write(os.path.abspath(path) + "\n")

    def check_open(self) -> None:
        """Raise Cancelled when the workspace was closed, so a reader thread still running stops instead of writing
        into a directory being removed."""
        if self.closed:
            raise Cancelled(self.root)

    def charge(self, nbytes: int, what: str) -> None:
        """Count `nbytes` more unpacked into the workspace; one ImageFormatError once the cap is passed."""
        self.check_open()
        self.unpacked += nbytes
        if self.unpacked > self.max_unpacked:
            raise ImageFormatError(f"{what}: the image unpacks to more than {self.max_unpacked} bytes "
                                   f"(--max-unpacked-size)")

    def close(self) -> None:
        """Remove the directory and everything in it, with SIGTERM and SIGINT held until it is gone, so an interrupt
        cannot leave half of it behind."""
        self.closed = True  # a reader thread still running stops at its next write
        # A SIGTERM/SIGINT arriving now is held until the directory is gone, not allowed to cut removal short.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            shutil.rmtree(self.root, ignore_errors=True)
            if os.path.exists(self.root):  # that thread made a file between the flag and the removal
                time.sleep(0.2)
                shutil.rmtree(self.root, ignore_errors=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stale_workspaces(base: str | None = None) -> list[str]:
    """Work directories under `base` (default: the system temp dir) whose run is dead."""
    base = base or os.environ.get("SLIM_WORK_DIR") or tempfile.gettempdir()
    out: list[str] = []
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for name in names:
        path = os.path.join(base, name)
        if not name.startswith(PREFIX) or not os.path.isdir(path) or os.path.islink(path):
            continue
        owner = _owner(path)
        if owner is None:
            if _is_orphan(name, path):
                out.append(path)
            continue
        if identity.is_alive(owner.get("host", ""), owner.get("pid", 0), str(owner.get("started", ""))) is False:
            out.append(path)
    return sorted(out)


def left_outside(work_dir: str) -> list[str]:
    """The temporary files a dead run recorded outside its work directory that still exist (partial outputs)."""
    try:
        with open(os.path.join(work_dir, OUTSIDE_FILE)) as fh:
            paths = [line.rstrip("\n") for line in fh if line.strip()]
    except OSError:
        return []
    # only what slim names temporary: a line in this file must never make the sweep remove a user's file
    return sorted({p for p in paths if p.endswith(".partial") and os.path.isfile(p) and not os.path.islink(p)})


def _owner(path: str) -> dict | None:
    try:
        with open(os.path.join(path, OWNER_FILE)) as fh:
            owner = json.load(fh)
        return owner if isinstance(owner, dict) else None
    except (OSError, ValueError):
        return None


def _is_orphan(name: str, path: str) -> bool:
    """slim's own name pattern ("slim-<12 hex>-..."), empty, and old: killed between mkdtemp and the owner file."""
    run = name[len(PREFIX):].split("-", 1)[0]
    if len(run) != 12 or any(c not in "0123456789abcdef" for c in run):
        return False
    try:
        return not os.listdir(path) and time.time() - os.stat(path).st_mtime > _ORPHAN_AGE
    except OSError:
        return False

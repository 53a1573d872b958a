"""Nothing stray at the repository root: scripts, samples and tests write their outputs (seccomp profiles,
reports, half-written `.partial` files) into temporary directories, never into the clone. Whatever appears at
the root that is not on this list, tracked or not, fails the suite."""

from __future__ import annotations

import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What the repository holds at its root.
PROJECT = {".ci", ".git", ".gitignore", "README.md", "bench", "docs", "pyproject.toml", "samples", "scripts", "slim",
           "tests", "tracers"}
# What setup, pip and the test tools (pytest, hypothesis, ruff and mypy in test_static_checks) make there; .gitignore
# covers each of them.
IGNORED_BY_DESIGN = {".venv", "slim.egg-info", ".pytest_cache", ".hypothesis", ".ruff_cache", ".mypy_cache", "build",
                     "dist", ".slim-work"}


def test_the_root_holds_only_what_is_listed():
    stray = sorted(set(os.listdir(ROOT)) - PROJECT - IGNORED_BY_DESIGN)
    assert not stray, (f"unexpected at the repository root: {stray} (a script or test wrote into the clone? "
                       "write into a temporary directory; or add a real new top-level entry to this list)")


def test_git_tracks_nothing_else_at_the_root():
    if shutil.which("git") is None or not os.path.isdir(os.path.join(ROOT, ".git")):
        assert os.path.isdir(os.path.join(ROOT, "slim")), "neither a git clone nor the source tree"
        return  # an unpacked source archive: the listing test above covers it
    tracked = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True, check=True).stdout
    top = {line.split("/", 1)[0] for line in tracked.splitlines() if line}
    assert top, "git ls-files listed nothing"
    assert not top - PROJECT, f"tracked at the root but not on the list: {sorted(top - PROJECT)}"


def test_the_allowed_caches_are_ignored_by_git():
    with open(os.path.join(ROOT, ".gitignore")) as fh:
        patterns = {line.strip().strip("/") for line in fh if line.strip() and not line.startswith("#")}
    patterns = {p.replace("*", "slim") for p in patterns}  # *.egg-info: the one egg-info pip makes here
    assert IGNORED_BY_DESIGN <= patterns, f"allowed at the root but not ignored: {IGNORED_BY_DESIGN - patterns}"

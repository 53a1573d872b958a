"""Style and types are checked by the test command, not by memory: `ruff check` with the rule set stated in
pyproject.toml ([tool.ruff]) over slim/, tracers/ and tests/, and `mypy` over slim/ and tracers/ ([tool.mypy]).
Both run from this venv (the `test` extra installs them); a finding fails the suite with the tool's own lines."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*argv: str) -> subprocess.CompletedProcess:
    """`python -m TOOL ...` at the repository root, so the tool reads pyproject.toml; its cache stays in
    .mypy_cache / .ruff_cache there (ignored by git), which makes a second run take about a second."""
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    done = _run("ruff", "check", "--no-fix", "--output-format", "concise", "slim", "tracers", "tests")
    assert "No module named ruff" not in done.stderr, "ruff is missing: pip install -e '.[test]'"
    assert done.returncode == 0, f"ruff check failed:\n{done.stdout}{done.stderr}"


def test_mypy_finds_nothing():
    done = _run("mypy")  # what it checks, and how, is [tool.mypy] in pyproject.toml
    assert "No module named mypy" not in done.stderr, "mypy is missing: pip install -e '.[test]'"
    assert done.returncode == 0, f"mypy failed:\n{done.stdout}{done.stderr}"


def test_the_checks_cover_every_package():
    """A new top-level package must not slip out of the checks: mypy's `files` names every package setuptools
    installs, and ruff is given the same folders above."""
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert set(project["tool"]["mypy"]["files"]) == packages

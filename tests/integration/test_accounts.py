"""A batch job that prints account files, against the real engine: slim keeps /etc/passwd whole when a command
line names the file a process reads, and when the app's own code reads it, the failed verification names
--keep-accounts, with which the build is verified."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.conftest import run_output

pytestmark = pytest.mark.docker

BASE = "slim-base/debian:bookworm"
NAMED = "sh -c 'sort /etc/passwd | head -3; date -u +%Y'"
UNNAMED = "perl -e 'open F, \"/etc/pass\" . \"wd\"; print sort <F>'"  # no command line names the file


def slim(*args: str, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slim", *args], capture_output=True, text=True, cwd=cwd, timeout=900)


def test_a_job_that_sorts_passwd_is_verified(engine, tmp_path, scratch_tags, no_leftovers):
    """Before: exit 8, the slim image's /etc/passwd held root alone (stdout differs from character 0)."""
    out = "slim-test/accounts-named:slim"
    scratch_tags.append(out)
    done = slim("build", BASE, "--cmd", NAMED, "-t", out, "--report", "r.json", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verification"]["passed"] is True
    kept = {p["path"]: p["reasons"] for p in report["keep"]["paths"]}
    assert kept["/etc/passwd"] == ["essential: accounts kept as they are: sort read /etc/passwd as data "
                                   "(a command line names it)"]
    assert "/etc/passwd" not in {g["path"] for g in report["keep"]["generated"]}
    assert run_output(engine, out, "sort", "/etc/passwd") == run_output(engine, BASE, "sort", "/etc/passwd")


def test_a_read_no_command_line_names_fails_naming_the_option_that_passes(engine, tmp_path, scratch_tags,
                                                                           no_leftovers):
    """Before: the error said only that the image does not behave like the original, and --keep-accounts was no
    option (exit 2)."""
    out = "slim-test/accounts-unnamed:slim"
    scratch_tags.append(out)
    failed = slim("build", BASE, "--cmd", UNNAMED, "-t", out, "--no-harden", cwd=str(tmp_path))
    assert failed.returncode == 8, failed.stderr
    assert ("the app read /etc/passwd (reduced to the accounts in use), which the slim image holds changed: "
            "--keep-accounts keeps /etc/passwd and /etc/group as they are; removed tag " + out) in failed.stderr
    assert subprocess.run(["docker", "image", "inspect", out], capture_output=True).returncode != 0
    done = slim("build", BASE, "--cmd", UNNAMED, "-t", out, "--no-harden", "--keep-accounts", "--report", "r.json",
                cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert "nobody" in report["accounts"] and report["verification"]["passed"] is True

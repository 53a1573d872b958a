"""`slim cleanup` and the sweep at the start of a build say what they did: "removed" only for what is gone,
"could not remove X: reason" for the rest, and `slim cleanup` then exits 15. Driven through the command line
with an in-memory engine (the removal against the real engines is in tests/integration/test_reliability.py)."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import socket

import docker.errors
import pytest
from click.testing import CliRunner

from fake_engine import Behaviour, FakeEngine, _Container
from slim import cleanup, identity, pipeline
from slim.cli import main
from slim.engine import ContainerSpec
from slim.engine.docker import DockerEngine
from slim.errors import CleanupIncomplete
from slim.image.sink import TEMPORARY_REPOSITORY
from slim.progress import Phases
from slim.workspace import OWNER_FILE, PREFIX

HOST = socket.gethostname()
DEAD_START = "1"  # this process's ID with another start time: a process that is gone


def dead_labels(run: str = "0123456789ab") -> dict[str, str]:
    return {identity.RUN: run, identity.PID: str(os.getpid()), identity.HOST: HOST, identity.STARTED: DEAD_START}


@pytest.fixture
def engine(monkeypatch):
    """A fake engine holding what a killed run left: container c1, volume v1, a temporary tag."""
    fake = FakeEngine()
    fake.containers["c1"] = _Container(ContainerSpec("gone:1", ("/app",)), Behaviour(), dead_labels())
    fake.volumes["v1"], fake.volume_labels["v1"] = set(), dead_labels()
    fake.tags[dead_tag()] = "sha256:" + "0" * 64
    monkeypatch.setattr("slim.engine.connect", lambda kind=None: fake)
    return fake


def dead_tag() -> str:
    return f"{TEMPORARY_REPOSITORY}/0123456789ab-1:{identity.host_hash(HOST)}-{os.getpid()}-{DEAD_START}"


def dead_work_dir(base) -> str:
    path = base / f"{PREFIX}0123456789ab-x"
    path.mkdir(parents=True)
    (path / OWNER_FILE).write_text(json.dumps({"run": "0123456789ab", "pid": os.getpid(), "host": HOST,
                                               "started": DEAD_START}))
    return str(path)


def cleanup_cli(work, *args):
    return CliRunner().invoke(main, ["--work-dir", str(work), "cleanup", *args])


def test_everything_removed_is_said_removed_and_exits_0(engine, tmp_path):
    work = dead_work_dir(tmp_path / "work")
    result = cleanup_cli(tmp_path / "work")
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == sorted(
        ["removed container c1", "removed volume v1", f"removed tag {dead_tag()}", f"removed work directory {work}"])
    assert engine.containers == {} and engine.volumes == {} and engine.tags == {} and not os.path.exists(work)


def test_what_the_engine_refuses_to_remove_is_named_and_exits_15(engine, tmp_path):
    """Before: every engine failure was swallowed; the output said "removed container c1" and slim exited 0."""
    engine.refused.update({"c1": "conflict: container is being removed", dead_tag(): "image is in use"})
    result = cleanup_cli(tmp_path / "work")
    assert result.exit_code == CleanupIncomplete.exit_code == 15, result.output
    lines = result.stdout.splitlines()
    assert "could not remove container c1: conflict: container is being removed" in lines
    assert f"could not remove tag {dead_tag()}: image is in use" in lines
    assert "removed volume v1" in lines
    assert not [line for line in lines if line.startswith("removed ") and ("c1" in line or "tag" in line)]
    assert result.stderr == "slim: error: 2 of 3 leftovers could not be removed (listed above)\n"
    assert "c1" in engine.containers and dead_tag() in engine.tags and "v1" not in engine.volumes


def test_an_engine_that_goes_away_mid_cleanup_is_reported(engine, tmp_path):
    """An adapter raising instead of answering (the engine went away) is reported, never a traceback."""
    def gone(name):
        raise ConnectionError("the engine closed the connection")
    engine.remove_volume = gone
    result = cleanup_cli(tmp_path / "work")
    assert result.exit_code == 15 and "Traceback" not in result.output
    assert "could not remove volume v1: the engine closed the connection" in result.stdout.splitlines()


@pytest.fixture
def read_only_dirs(monkeypatch):
    """Directories whose write bits are off refuse to have entries unlinked, as the kernel does for any user
    but root; as root (CI here runs as root) unlink is made to answer what the kernel answers everyone else."""
    if os.geteuid() == 0:
        real = os.unlink

        def unlink(path, *, dir_fd=None):
            parent = os.stat(dir_fd) if dir_fd is not None else os.stat(os.path.dirname(os.path.abspath(path)))
            if not parent.st_mode & 0o200:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
            return real(path, dir_fd=dir_fd)
        monkeypatch.setattr(os, "unlink", unlink)
    locked = []
    yield locked.append
    for path in locked:
        os.chmod(path, 0o755)


def test_a_work_directory_that_cannot_be_removed_is_reported(engine, tmp_path, read_only_dirs):
    """Before: shutil.rmtree(ignore_errors=True) hid the failure and "removed work directory" was printed."""
    work = dead_work_dir(tmp_path / "work")
    stuck = os.path.join(work, "layers")
    os.mkdir(stuck)
    with open(os.path.join(stuck, "0.pack"), "wb") as fh:
        fh.write(b"x")
    os.chmod(stuck, 0o555)
    read_only_dirs(stuck)
    result = cleanup_cli(tmp_path / "work")
    assert result.exit_code == 15, result.output
    assert f"could not remove work directory {work}: Permission denied: {stuck}/0.pack" in result.stdout.splitlines()
    assert f"removed work directory {work}" not in result.stdout
    assert "removed container c1" in result.stdout.splitlines()
    # what could go went; the owner file stays, so the next cleanup still knows the directory as a dead run's
    assert os.path.exists(os.path.join(stuck, "0.pack")) and os.path.exists(os.path.join(work, OWNER_FILE))
    assert cleanup.find_work_dirs(str(tmp_path / "work")).work_dirs == [work]


def test_a_dry_run_removes_nothing(engine, tmp_path):
    work = dead_work_dir(tmp_path / "work")
    result = cleanup_cli(tmp_path / "work", "--dry-run")
    assert result.exit_code == 0 and "would remove container c1" in result.stdout.splitlines()
    assert "c1" in engine.containers and os.path.isdir(work)
    assert "removed" not in result.stdout.replace("would remove", "")


class _Warnings(Phases):
    def __init__(self):
        super().__init__()
        self.warnings = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)


def test_the_build_sweep_counts_only_what_it_removed(engine, tmp_path):
    """Before: "removed 3 leftovers" whatever the engine did with them, and no word of what stayed."""
    engine.refused["c1"] = "device or resource busy"
    phases = _Warnings()
    pipeline.sweep(engine, str(tmp_path / "work"), phases)
    assert phases.warnings[0].startswith("removed 2 leftovers")
    assert phases.warnings[1].startswith("could not remove container c1, left by a slim run that was killed: "
                                         "device or resource busy")
    assert len(phases.warnings) == 2


def test_the_leftover_kinds_are_one_table():
    """Each kind of leftover is a field, named in KINDS: what `remove` walks and what the lines say."""
    found = cleanup.Leftovers(containers=["c" * 64], work_dirs=["/nonexistent/slim-x"])
    assert {kind for kind, _ in cleanup.Leftovers.KINDS} == {f.name for f in dataclasses.fields(cleanup.Leftovers)}
    assert found.lines() == ["container cccccccccccc", "work directory /nonexistent/slim-x"] and len(found) == 2
    done = cleanup.remove(None, found)
    assert done.failed == [("container cccccccccccc", "no engine answers")]
    assert done.removed == ["work directory /nonexistent/slim-x"]  # already gone: nothing of it is left


class _RefusingApi:
    """The few Docker API calls the removals make, answering as the engine does when it refuses or has nothing."""

    def __init__(self, error):
        self.error = error

    def remove_container(self, *args, **kwargs):
        raise self.error

    remove_volume = remove_image = remove_container


@pytest.mark.parametrize("error, reason", [
    (docker.errors.APIError("409 Conflict", explanation="conflict: unable to remove repository reference"),
     "conflict: unable to remove repository reference"),
    (docker.errors.NotFound("404", explanation="no such container"), None),  # gone already: nothing left
    (docker.errors.DockerException("Error while fetching server API version"),
     "Error while fetching server API version"),
])
def test_the_docker_adapter_says_why_a_removal_failed(error, reason):
    """Before: remove_container and remove_volume swallowed every error, so a cleanup could not know."""
    adapter = DockerEngine.__new__(DockerEngine)
    adapter.api = _RefusingApi(error)
    assert adapter.remove_container("c1") == reason
    assert adapter.remove_volume("v1") == reason
    assert adapter.remove_image("t:1") == reason

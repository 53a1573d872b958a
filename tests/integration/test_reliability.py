"""Killed runs, a vanishing engine, parallel runs, against the real engine: after `slim cleanup` (or the next
build's sweep) nothing of slim's is left: no container, volume, temporary tag or work directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.integration.conftest import sample_spec

pytestmark = pytest.mark.docker
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SAMPLE = "python-web"


def slim_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "slim", *args]


def slim_state(engine, work: str) -> dict[str, list[str]]:
    """Everything of slim's in the engine and the work directory (the shared tracer cache aside)."""
    return {
        # the low-level listing: no inspect per container, which races with removals in progress
        "containers": [c["Names"][0] for c in engine.api.containers(all=True, filters={"label": "slim.run"})],
        "volumes": [v.name for v in engine.volumes.list(filters={"label": "slim.run"})],
        "tags": [t for i in engine.images.list() for t in i.tags if t.startswith("slim-verify/")],
        "work_dirs": os.listdir(work),
    }


EMPTY = {"containers": [], "volumes": [], "tags": [], "work_dirs": []}


_started: list[Build] = []


@pytest.fixture(autouse=True)
def no_orphan_builds():
    """A test that fails before it stops its build must not leave that build running on its own."""
    yield
    while _started:
        build = _started.pop()
        if build.proc.poll() is None:
            os.killpg(build.proc.pid, signal.SIGKILL)
            build.proc.wait()


class Build:
    """`slim build` in its own process group, its stderr read line by line as it comes."""

    def __init__(self, image: str, work: str, out: str, *extra: str):
        args = sample_spec(SAMPLE)["args"]
        self.proc = subprocess.Popen(
            slim_argv("--work-dir", work, "build", image, "-t", "reliability:x", "-o", f"docker-archive:{out}",
                      "--seccomp-profile", os.path.join(work, "..", "seccomp.json"), *args, *extra),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _started.append(self)

    def _read(self) -> None:
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace"))

    def wait_for(self, test, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not test():
            assert self.proc.poll() is None, f"slim ended before the moment to kill it: {''.join(self.lines)}"
            assert time.monotonic() < deadline, f"timed out waiting; stderr so far: {''.join(self.lines)}"
            time.sleep(0.05)

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def has_container(engine, pid: int, image_part: str = "") -> bool:
    found = engine.api.containers(all=True, filters={"label": f"slim.pid={pid}"})
    return any(image_part in c.get("Image", "") for c in found)


# the moment to kill, per phase: each waits for something only that phase has
PHASES = {
    "trace": lambda b, e, w: has_container(e, b.proc.pid, "slim-sample"),
    "read": lambda b, e, w: any(os.path.isdir(os.path.join(w, d, "layers")) for d in os.listdir(w)),
    "plan": lambda b, e, w: b.saw("✓ tracing"),
    "write": lambda b, e, w: b.saw("✓ assembling"),
    "verify": lambda b, e, w: b.saw("✓ writing") and has_container(e, b.proc.pid, "slim-verify"),
}


def build_in(phase: str, engine, image: str, tmp_path) -> tuple[Build, str]:
    """A build in its own work directory, once it has reached `phase` (see PHASES); the build and that directory."""
    work = tmp_path / "work"
    work.mkdir()
    build = Build(image, str(work), str(tmp_path / "out.tar"))
    build.wait_for(lambda: PHASES[phase](build, engine, str(work)))
    return build, str(work)


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_sigkill_at_each_phase_then_cleanup_leaves_nothing(phase, engine, build_sample, tmp_path, scratch_tags):
    build, work = build_in(phase, engine, build_sample(SAMPLE), tmp_path)
    build.kill()
    left = slim_state(engine, work)
    assert left["work_dirs"], "a SIGKILLed run cannot remove its work directory: the test killed it too late"
    done = subprocess.run(slim_argv("--work-dir", work, "cleanup"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert slim_state(engine, work) == EMPTY, (phase, left, done.stdout)


def test_next_build_sweeps_what_a_killed_run_left(engine, build_sample, tmp_path, scratch_tags):
    image = build_sample(SAMPLE)
    scratch_tags.append("reliability:x")
    killed, work = build_in("trace", engine, image, tmp_path)
    killed.kill()
    assert slim_state(engine, str(work))["containers"]
    args = sample_spec(SAMPLE)["args"]
    done = subprocess.run(slim_argv("--work-dir", str(work), "build", image, "-t", "reliability:x", "--no-harden",
                                    *args), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "leftovers of slim runs that were killed" in done.stderr
    assert slim_state(engine, str(work)) == EMPTY


def test_four_parallel_builds_of_one_image_all_verify(engine, build_sample, tmp_path, scratch_tags):
    image = build_sample(SAMPLE)
    work = tmp_path / "work"
    work.mkdir()
    args = sample_spec(SAMPLE)["args"]
    tags = [f"reliability:p{n}" for n in range(4)]
    scratch_tags.extend(tags)
    procs = [subprocess.Popen(slim_argv("--work-dir", str(work), "build", image, "-t", tag, "--json",
                                        "--seccomp-profile", str(tmp_path / f"{n}.json"), *args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n, tag in enumerate(tags)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [e[-800:] for _, e in results]
    for out, _ in results:
        assert b'"passed": true' in out
    assert all(engine.images.get(t) for t in tags)
    assert slim_state(engine, str(work)) == EMPTY


MAIN_PIDFILE = "/var/run/docker.pid"  # the main engine's: the TLS engine of the remote-engine tests runs alongside


def _main_daemon() -> int | None:
    try:
        with open(MAIN_PIDFILE) as fh:
            pid = int(fh.read().strip())
        return pid if os.path.exists(f"/proc/{pid}") else None
    except (OSError, ValueError):
        return None


def _daemon_running() -> bool:
    return _main_daemon() is not None


def _start_engine() -> None:
    subprocess.run(["bash", "-c", f"source {ROOT}/scripts/lib.sh && ensure_docker"], check=True,
                   stdout=subprocess.DEVNULL)


def test_engine_stopping_mid_build_is_exit_5_and_cleanup_recovers(engine, build_sample, tmp_path):
    build, work = build_in("trace", engine, build_sample(SAMPLE), tmp_path)
    try:
        os.kill(_main_daemon(), signal.SIGTERM)
        code = build.proc.wait(timeout=180)
        build._reader.join(timeout=10)
    finally:
        deadline = time.monotonic() + 90
        while _daemon_running() and time.monotonic() < deadline:  # the old daemon is still shutting down
            time.sleep(0.5)
        _start_engine()
    errors = [line for line in build.lines if line.startswith("slim: ")]
    assert code == 5, "".join(build.lines)
    assert len(errors) == 1 and "slim: error: " in errors[0], errors
    done = subprocess.run(slim_argv("--work-dir", str(work), "cleanup"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert slim_state(engine, str(work)) == EMPTY


IGNORES_TERM_AND_FORKS = ("python3 -c \"import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                          "os.fork() or os.setsid(); time.sleep(1000)\"")
NEVER_ANSWERS = ("python3 -c \"import socket; s = socket.socket(); "
                 "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('', 8000)); s.listen(); "
                 "held = [s.accept() for _ in iter(int, 1)]\"")


@pytest.mark.parametrize("cmd, extra, bound", [
    # stopped with the stop signal, then SIGKILL after the stop timeout (10 s)
    (IGNORES_TERM_AND_FORKS, ["--continue-after", "timeout:1", "--no-http-probe"], 45),
    # the request times out (15 s, not retried), then the app is stopped the same way
    (NEVER_ANSWERS, ["--http-probe-port", "8000"], 45),
], ids=["ignores-sigterm-and-forks-a-daemon", "probe-never-answered"])
def test_stubborn_apps_are_bounded_by_the_documented_timeouts(cmd, extra, bound, engine, build_sample, tmp_path):
    image = build_sample(SAMPLE)
    started = time.monotonic()
    done = subprocess.run(slim_argv("--work-dir", str(tmp_path), "trace", image, "--cmd", cmd, "--json", *extra),
                          capture_output=True, text=True, timeout=bound + 60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < bound
    if "8000" in extra:
        assert '"ok": false' in done.stdout
    assert slim_state(engine, str(tmp_path))["containers"] == []


@pytest.mark.parametrize("phase", ["trace", "write", "verify"])
def test_two_sigterms_leave_nothing_without_any_cleanup(phase, engine, build_sample, tmp_path, scratch_tags):
    """What `timeout` and CI runners do: SIGTERM to the process group, and again right after."""
    build, work = build_in(phase, engine, build_sample(SAMPLE), tmp_path)
    os.killpg(build.proc.pid, signal.SIGTERM)
    time.sleep(0.05)
    os.killpg(build.proc.pid, signal.SIGTERM)
    assert build.proc.wait(timeout=60) == 130
    assert slim_state(engine, str(work)) == EMPTY

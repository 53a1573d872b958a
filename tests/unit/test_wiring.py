"""The wiring, driven by an in-memory engine: the runner's probes and stop rules, the tracer's hooks, and the
whole build pipeline (trace, plan, write, verify, tag bookkeeping). The same paths run against the real
engine in tests/integration; these pin down the logic without a daemon."""

from __future__ import annotations

import pytest

from fake_engine import Behaviour, FakeEngine
from slim import pipeline
from slim.errors import TraceError, UsageError
from slim.image.reference import parse_reference
from slim.image.sink import TEMPORARY_REPOSITORY, Output
from slim.plan.keep import PlanOptions
from slim.results import TRACED
from slim.progress import Phases
from slim.run.options import RunOptions
from slim.run.probes import ContinueAfter, ProbePlan
from slim.run.runner import run
from schemas import checked
from tarbuild import layer

APP = layer(("app", "dir"), ("app/run", "file", (b"not ELF: the fake engine never runs it", 0o755)),
            ("etc/data.txt", "file", b"used"), ("etc/unused.txt", "file", b"never read"),
            ("etc/os-release", "file", b"ID=debian\n"), ("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\n"),
            ("bin/sh", "file", (b"a shell", 0o755)), ("usr/bin/apt-get", "file", (b"apt", 0o755)))
TRACE = """1     execve("/app/run", ["/app/run"], 0x7ffc8a0e9c58 /* 1 vars */) = 0
1     openat(AT_FDCWD</>, "/etc/data.txt", O_RDONLY) = 3</etc/data.txt>
1     exit_group(0)                     = ?
1     +++ exited with 0 +++
"""


@pytest.fixture
def engine():
    return FakeEngine()


def test_a_batch_job_runs_to_its_end_and_leaves_nothing(engine):
    engine.add_image("job:1", [APP], Behaviour(exit_code=3, stdout=b"done\n"))
    result = run(engine, RunOptions("job:1"))
    assert (result.mode, result.exit_code, result.stdout, result.argv) == ("exit", 3, "done\n", ["/bin/sh"])
    assert engine.containers == {} and not any(c.startswith("stop") for c in engine.calls)


@pytest.mark.parametrize("options, mode", [
    (RunOptions("srv:1", probes=ProbePlan(execs=("check",))), "probe"),  # something to probe: stop after it
    (RunOptions("srv:1", continue_after=ContinueAfter("timeout", 0.01)), "timeout"),
    (RunOptions("srv:1", continue_after=ContinueAfter("signal"), wait_for_user=lambda: None), "signal"),
])
def test_a_server_is_probed_then_stopped(engine, options, mode):
    engine.add_image("srv:1", [APP], Behaviour(exit_code=None, execs={"check": (4, b"ok")}))
    result = run(engine, options)
    assert result.mode == mode and result.exit_code == 143  # stopped: SIGTERM's exit code
    assert [(p.kind, p.target, p.status) for p in result.probes] == ([("exec", "check", 4)] if options.probes.execs else [])
    assert engine.containers == {}


def test_a_batch_job_that_never_ends_is_stopped_with_a_warning(engine):
    engine.add_image("hang:1", [APP], Behaviour(exit_code=None))
    result = run(engine, RunOptions("hang:1", exit_timeout=0))
    assert result.exit_code == 143 and [w.code for w in result.warnings] == ["run.exit-timeout"]


def test_signal_mode_needs_someone_to_say_stop(engine):
    engine.add_image("srv:1", [APP], Behaviour(exit_code=None))
    with pytest.raises(TraceError):
        run(engine, RunOptions("srv:1", continue_after=ContinueAfter("signal")))
    assert engine.containers == {}  # removed even though the run failed


def test_overrides_apply_as_docker_run_does(engine):
    engine.add_image("job:1", [APP], Behaviour())
    assert run(engine, RunOptions("job:1", entrypoint=("/app/run",))).argv == ["/app/run"]  # Cmd dropped
    assert run(engine, RunOptions("job:1", cmd=("/app/run", "x"))).argv == ["/app/run", "x"]


def build(engine, output=Output("docker"), tags=("job:1-slim",), **run_options):
    from slim.workspace import Workspace

    with Workspace() as ws:
        options = pipeline.BuildOptions(run=RunOptions("job:1", cmd=("/app/run",), **run_options), plan=PlanOptions(),
                                        output=output, tags=tags, seccomp_file=ws.path("seccomp.json"))
        return checked(pipeline.build(parse_reference("job:1"), options, ws, engine, Phases()))


def test_build_keeps_what_the_trace_used_and_verifies(engine):
    engine.add_image("job:1", [APP], Behaviour(exit_code=0, stdout=b"ok\n", trace=TRACE))
    report = build(engine)
    doc = report.to_json()
    assert report.passed is True and doc["verification"]["ran"] is True
    assert report.facts.keep.category("/etc/data.txt") == TRACED
    assert "/etc/unused.txt" not in report.facts.keep.reasons
    assert doc["removed"]["shells"] == ["/bin/sh"] and doc["removed"]["package_managers"] == ["/usr/bin/apt-get"]
    assert "job:1-slim" in engine.tags  # the output stays
    assert not engine.volumes.keys() - {n for n in engine.volumes if n.startswith("slim-tracer-bundle-")}
    assert report.facts.trace.argv == ("/app/run",) and report.facts.trace.mode == "exit"


def test_a_slim_image_that_behaves_differently_fails_and_is_removed(engine):
    engine.add_image("job:1", [APP], Behaviour(exit_code=0, stdout=b"ok\n", trace=TRACE))
    engine.behaviours["job:1-slim"] = Behaviour(exit_code=1, stdout=b"")
    report = build(engine)
    assert report.passed is False
    assert any(d.startswith("exit code: original 0, slim 1") for d in report.facts.verification.differences)
    assert "job:1-slim" not in engine.tags


def test_file_outputs_are_verified_through_a_temporary_tag_that_goes_away(engine, tmp_path):
    engine.add_image("job:1", [APP], Behaviour(exit_code=0, trace=TRACE))
    report = build(engine, Output("docker-archive", str(tmp_path / "out.tar")), tags=("out:1",))
    assert report.passed is True and (tmp_path / "out.tar").is_file()
    assert not [t for t in engine.tags if t.startswith(TEMPORARY_REPOSITORY)]
    assert any(c.startswith(f"remove_image {TEMPORARY_REPOSITORY}/") for c in engine.calls)


def test_a_rebuild_under_the_same_tag_removes_the_image_it_replaced(engine):
    engine.add_image("job:1", [APP], Behaviour(exit_code=0, trace=TRACE))
    first = build(engine).facts.image_id
    engine.add_image("job:1", [APP, layer(("etc/new.txt", "file", b"new"))], Behaviour(exit_code=0, trace=TRACE))
    second = build(engine).facts.image_id
    assert first != second and first not in engine.archives and engine.tags["job:1-slim"] == second


def test_only_images_in_the_engine_can_be_built_or_traced():
    with pytest.raises(UsageError):
        pipeline.engine_image(parse_reference("oci:/nonexistent"), "build")
    assert pipeline.engine_image(parse_reference("docker://web:1"), "trace") == "web:1"  # no transport prefix


def test_a_profile_the_engine_cannot_run_is_an_unverified_profile_not_a_crash(engine, monkeypatch):
    """A runtime other than the measured one may refuse (or time out) a start under the seccomp profile."""
    from slim.errors import EngineError
    from slim.harden.profile import RunProfile
    from slim.model import Trace
    from slim.run.hardened import verify_under

    engine.add_image("job:1", [APP], Behaviour(exit_code=0))
    profile = RunProfile(True, (), (), True, frozenset({"read", "exit_group"}))

    def refuse(container):
        raise EngineError("OCI runtime start failed: timed out")

    monkeypatch.setattr(engine, "start", refuse)
    proof = verify_under(engine, RunOptions("job:1"), "job:1", Trace(exit_code=0, mode="exit"), profile)
    assert not proof.passed and "timed out" in proof.differences[0]
    assert "runtime may need system calls" in proof.diagnosis[0]
    assert engine.containers == {}  # the container was removed all the same


def test_a_partial_trace_gives_a_verified_profile_without_seccomp(engine):
    from slim.workspace import Workspace

    engine.add_image("job:1", [APP], Behaviour(exit_code=0, stdout=b"ok\n", trace=TRACE))
    with Workspace() as ws:
        opts = pipeline.BuildOptions(RunOptions("job:1", cmd=("/app/run",)), PlanOptions(), Output("docker"),
                                     ("job:1-slim",), tracing=pipeline.TraceOptions(syscall_profile=False),
                                     seccomp_file=ws.path("seccomp.json"))
        report = checked(pipeline.build(parse_reference("job:1"), opts, ws, engine, Phases()))
    profile = report.to_json()["hardening"]["run_profile"]
    assert profile["verified"] is True and profile["syscalls"] is None and profile["seccomp_profile"] is None
    assert not any(a.startswith("seccomp=") for a in profile["docker_args"])
    assert engine.calls.count("create job:1-slim") == 2  # verified as it is, then under the profile


@pytest.mark.parametrize("url, host", [
    ("unix:///var/run/docker.sock", None), ("tcp://127.0.0.1:2375", "127.0.0.1"), ("tcp://docker:2376", "docker"),
    ("ssh://ci@build-host", "build-host"), ("tcp://[::1]:2375", "::1"), ("http://10.0.0.5:2375", "10.0.0.5"),
])
def test_which_engines_are_remote_and_where_their_ports_are(url, host):
    from slim.engine.docker import remote_host

    assert remote_host(url) == host

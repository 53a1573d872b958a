"""Every claim slim prints is one it proved: gates that cannot be evaluated fail, contradictory flags are refused,
malformed run options are usage errors, failed outputs are taken back, and an original that fails its own probes
stops the build. Wiring through the in-memory engine; the same paths run for real in tests/integration."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest
from click.testing import CliRunner

from fake_engine import Behaviour, FakeEngine
from slim import pipeline
from slim.cli import main
from slim.cli.ci import push
from slim.errors import GateNotEvaluated, OriginalFailsProbes, VerificationFailed
from slim.image.reference import parse_reference
from slim.image.sink import Output
from slim.model import ProbeResult, RunOutcome
from slim.plan.keep import PlanOptions
from slim.progress import Phases
from slim.report.ci import junit_xml
from slim.report.gates import Gates, evaluate, first_failure
from slim.run.options import RunOptions
from slim.run.probes import ProbePlan
from slim.run.verify import differences, require_passing
from slim.workspace import Workspace
from schemas import checked
from tarbuild import layer
from test_wiring import APP, TRACE


def _doc(passed=True, ran=True, sizes=(50, 100, 40, 90)) -> dict:
    slim_docker, original_docker, slim_layer, original_layer = sizes
    return {"image": "web:1", "verification": {"ran": ran, "passed": passed if ran else None, "differences": [],
                                              "probes": []},
            "size": {"slim_docker_bytes": slim_docker, "original_docker_bytes": original_docker,
                     "slim_layer_bytes": slim_layer, "original_layer_bytes": original_layer}}


# 2. a gate asked for is a gate evaluated (before: passed None counted as a pass, and JUnit said "skipped")

def test_a_size_gate_with_no_size_to_measure_fails_with_its_own_code():
    verdicts = evaluate(_doc(sizes=(None, None, None, None)), Gates(max_size=10 << 20), None)
    failed = first_failure(verdicts)
    assert failed is not None and failed.name == "max-size" and failed.exit_code == GateNotEvaluated.exit_code == 16
    assert "could not be evaluated" in failed.reason


def test_min_reduction_without_an_original_size_fails_and_junit_says_failure_not_skipped():
    verdicts = evaluate(_doc(sizes=(50, None, 40, None)), Gates(min_reduction=30), None)
    assert first_failure(verdicts).exit_code == 16
    xml = junit_xml(_doc(), verdicts, 1.0).decode()
    assert 'name="gate min-reduction"' in xml and "<skipped" not in xml and "could not be evaluated" in xml


@pytest.mark.parametrize("minimum, passes", [(50, True), (51, False)])
def test_min_reduction_passes_and_fails_on_the_measured_figure(minimum, passes):
    verdict = evaluate(_doc(sizes=(50, 100, 40, 90)), Gates(min_reduction=minimum), None)[1]
    assert verdict.passed is passes and verdict.exit_code == 12


def test_a_hardening_gate_without_a_hardened_run_fails():
    verdict = evaluate(_doc(), Gates(fail_on=("hardening",)), None)[1]
    assert (verdict.passed, verdict.exit_code) == (False, 16) and "not run under its run profile" in verdict.reason


def test_push_refuses_what_was_not_verified_and_passed():
    engine = FakeEngine()
    doc = {**_doc(ran=False), "output": {"tags": ["reg/web:1"]}}
    with pytest.raises(VerificationFailed):
        push(doc, evaluate(doc, Gates(), None), engine)
    assert not [c for c in engine.calls if c.startswith("push")]


# 1, 8: contradictions and malformed values are exit 2, before any engine is asked

@pytest.mark.parametrize("args, says", [
    (["--no-verify", "--push"], "--push with --no-verify"),
    (["--fail-on", "hardening", "--no-harden"], "--no-harden"),
    (["--fail-on", "hardening", "--no-verify"], "--no-verify"),
    (["--mount", "/data"], "--mount '/data'"),  # before: exit 7 (TraceError) from inside the run
    (["--mount", "vol:relative"], "absolute TARGET"),
    (["--env", "NOVALUE"], "--env 'NOVALUE'"),
    (["--env", "=x"], "--env '=x'"),
    (["--exec", "date", "--varying-probe", "dat"], "--varying-probe 'dat'"),
])
def test_contradictory_or_malformed_options_are_usage_errors(args, says, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")  # proves no engine is needed to refuse
    result = CliRunner().invoke(main, ["build", "web:1", *args])
    assert result.exit_code == 2, result.output + result.stderr
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_help_says_what_options_do_today():
    text = CliRunner().invoke(main, ["build", "--help"], terminal_width=200).output
    flat = " ".join(text.split())
    assert "Node files that kept code can import or require" in flat  # not "Node packages whole" any more
    assert "the docker-archive file or the OCI directory" in flat  # --keep-failed: all three outputs
    assert "beside --report, else in the current directory" in flat  # where the seccomp profile goes
    assert "It is the one check that is not a gate of its own" in flat  # --fail-on's single choice, explained
    assert "--allow-failing-probes" in flat and "--probe-port" in flat and "--varying-probe" in flat


# 5: a verification that proved nothing is not a pass

def _probe(kind, target, ok=True, status=0, sha="a", detail="", varies=False) -> ProbeResult:
    return ProbeResult(kind, target, ok, status, sha, 1, detail, varies=varies)


@pytest.mark.parametrize("probe, fails", [
    (_probe("http", "http://10.0.0.2:80/", status=200), False),
    (_probe("http", "http://10.0.0.2:80/missing", status=404), False),  # a 404 is an answer
    (_probe("http", "http://10.0.0.2:80/", status=502), True),
    (_probe("http", "http://10.0.0.2:80/", ok=False, status=None), True),  # no answer
    (_probe("host", "check", status=1), True),  # before: any exit code counted as ok
    (_probe("exec", "check", status=0), False),
    (_probe("exec", "check", ok=False, status=None, detail="timed out after 120s"), True),
])
def test_which_answers_are_failures(probe, fails):
    assert probe.failed() is fails


def test_an_original_that_fails_its_probe_stops_with_the_probe_output():
    outcome = RunOutcome("probe", 0, "", (_probe("host", "redis-ping", status=1, detail="ConnectionRefused"),))
    with pytest.raises(OriginalFailsProbes) as caught:
        require_passing(outcome)
    assert caught.value.exit_code == 17 and "host redis-ping: exit code 1" in str(caught.value)
    assert "ConnectionRefused" in str(caught.value)


def test_command_output_is_compared_unless_marked_varying():
    before = RunOutcome("probe", 0, "", (_probe("exec", "cat /etc/motd", sha="a", detail="hello"),))
    after = RunOutcome("probe", 0, "", (_probe("exec", "cat /etc/motd", sha="b", detail="hellp"),))
    assert [d for d in differences(before, after) if "output differs" in d]  # before: exit codes only
    varying = RunOutcome("probe", 0, "", (_probe("exec", "date", sha="a", varies=True),))
    assert differences(varying, RunOutcome("probe", 0, "", (_probe("exec", "date", sha="b", varies=True),))) == []


def _build(engine, tmp_path, output=Output("docker"), tags=("job:1-slim",), **kw):
    with Workspace() as ws:
        options = pipeline.BuildOptions(run=RunOptions("job:1", cmd=("/app/run",), probes=kw.pop("probes", ProbePlan())),
                                        plan=PlanOptions(), output=output, tags=tags,
                                        seccomp_file=str(tmp_path / "seccomp.json"), **kw)
        return checked(pipeline.build(parse_reference("job:1"), options, ws, engine, Phases()))


def test_a_failing_original_probe_stops_the_build_before_anything_is_written(tmp_path):
    engine = FakeEngine()
    engine.add_image("job:1", [APP], Behaviour(exit_code=None, trace=TRACE, execs={"check": (3, b"down")}))
    with pytest.raises(OriginalFailsProbes):
        _build(engine, tmp_path, output=Output("docker-archive", str(tmp_path / "out.tar")),
               probes=ProbePlan(execs=("check",)))
    assert not (tmp_path / "out.tar").exists() and not (tmp_path / "seccomp.json").exists()
    assert not [c for c in engine.calls if c.startswith("load")]
    # an expected failure, said so: built, and the slim image must fail the same way
    report = _build(engine, tmp_path, probes=ProbePlan(execs=("check",)), allow_failing_probes=True)
    assert report.passed is True


def test_host_probes_get_the_exposed_port_without_http_probing(tmp_path):
    """--no-http-probe used to leave SLIM_TARGET_PORT empty, so a Redis PING probe failed on both images."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    threading.Thread(target=lambda: [listener.accept()[0].close() for _ in range(4)], daemon=True).start()
    engine = FakeEngine()
    exposing = layer(("app", "dir"), ("app/run", "file", (b"x", 0o755)))
    engine.add_image("job:1", [exposing], Behaviour(exit_code=None))
    engine.configs[engine.tags["job:1"]]["config"]["ExposedPorts"] = {f"{port}/tcp": {}}
    from slim.run.runner import run

    result = run(engine, RunOptions("job:1", cmd=("/app/run",), probes=ProbePlan(
        http=False, host_cmds=('echo "$SLIM_TARGET_HOST:$SLIM_TARGET_PORT"',))))
    listener.close()
    assert [(p.kind, p.status, p.detail.strip()) for p in result.probes] == [("host", 0, f"127.0.0.1:{port}")]


# 3: failed output is removed, as the message says; --keep-failed keeps all three kinds

def _slim_images_fail(engine: FakeEngine) -> None:
    """Every image but the original exits 1 (file outputs are verified through a temporary tag)."""
    real = engine._behaviour
    engine._behaviour = lambda ref: real(ref) if ref == "job:1" else Behaviour(exit_code=1)


@pytest.mark.parametrize("kind", ["docker", "docker-archive", "oci"])
@pytest.mark.parametrize("keep_failed", [False, True])
def test_a_failed_output_of_every_kind_is_removed_or_kept_as_said(kind, keep_failed, tmp_path):
    engine = FakeEngine()
    engine.add_image("job:1", [APP], Behaviour(exit_code=0, stdout=b"ok\n", trace=TRACE))
    target = tmp_path / ("out.tar" if kind == "docker-archive" else "layout")
    output = Output(kind, "" if kind == "docker" else str(target))
    _slim_images_fail(engine)
    report = _build(engine, tmp_path, output=output, keep_failed=keep_failed)
    out = report.to_json()["output"]
    assert report.passed is False
    where = "tag job:1-slim" if kind == "docker" else \
        (f"file {target}" if kind == "docker-archive" else f"directory {target}")
    if keep_failed:
        assert out["kept_failed"] == [where] and out["removed"] == []
        assert ("job:1-slim" in engine.tags) if kind == "docker" else target.exists()
    else:
        assert out["removed"] == [where] and out["kept_failed"] == [] and out["not_removed"] == []
        assert ("job:1-slim" not in engine.tags) if kind == "docker" else not target.exists()


def test_a_failed_oci_output_into_an_existing_layout_restores_it(tmp_path):
    engine = FakeEngine()
    engine.add_image("job:1", [APP], Behaviour(exit_code=0, stdout=b"ok\n", trace=TRACE))
    layout = tmp_path / "layout"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "blobs" / "sha256" / ("a" * 64)).write_text("someone else's blob")
    _slim_images_fail(engine)
    _build(engine, tmp_path, output=Output("oci", str(layout)))
    assert json.loads((layout / "index.json").read_text()) == {"schemaVersion": 2, "manifests": []}
    assert os.listdir(layout / "blobs" / "sha256") == ["a" * 64]


def test_the_failure_message_names_what_was_removed(tmp_path, monkeypatch):
    from slim.cli.ci import Outputs, finish_build

    engine = FakeEngine()
    engine.add_image("job:1", [APP], Behaviour(exit_code=0, stdout=b"ok\n", trace=TRACE))
    engine.behaviours["job:1-slim"] = Behaviour(exit_code=1)
    report = _build(engine, tmp_path)
    with pytest.raises(VerificationFailed) as caught:
        finish_build(report, Outputs(push=True), Gates(), engine, show=False)
    assert "removed tag job:1-slim" in str(caught.value)
    assert not [c for c in engine.calls if c.startswith("push")]


def test_a_partial_file_a_killed_run_left_beside_the_output_is_swept(tmp_path):
    """SIGKILL while writing docker-archive:FILE leaves FILE.partial; the dead run's work directory names it."""
    from slim import cleanup
    from slim.workspace import OUTSIDE_FILE, OWNER_FILE

    work = tmp_path / "work" / "slim-0123456789ab-dead"
    work.mkdir(parents=True)
    (work / OWNER_FILE).write_text(json.dumps({"run": "0123456789ab", "pid": 2 ** 22 + 7,
                                               "host": socket.gethostname(), "started": "1"}))
    partial, users = tmp_path / "out.tar.partial", tmp_path / "important.txt"
    partial.write_bytes(b"half an archive")
    users.write_text("not slim's")
    (work / OUTSIDE_FILE).write_text(f"{partial}\n{users}\n")  # a line that names no partial file is ignored
    found = cleanup.find_work_dirs(str(tmp_path / "work"))
    assert found.partial_files == [str(partial)] and found.work_dirs == [str(work)]
    done = cleanup.remove(None, found)
    assert f"partial file {partial}" in done.removed and not done.failed
    assert not partial.exists() and users.exists() and not work.exists()


def test_a_server_that_cannot_start_in_the_slim_image_fails_without_any_probe(tmp_path):
    """Before: with --continue-after probe|timeout and no probe, nothing was compared and it "passed"."""
    from slim.run.probes import ContinueAfter

    engine = FakeEngine()
    engine.add_image("job:1", [APP], Behaviour(exit_code=None, trace=TRACE))  # serves until stopped
    _slim_images_fail(engine)  # the slim image exits at once (1)
    with Workspace() as ws:
        options = pipeline.BuildOptions(run=RunOptions("job:1", cmd=("/app/run",),
                                                       continue_after=ContinueAfter("timeout", 0.1)),
                                        plan=PlanOptions(), output=Output("docker"), tags=("job:1-slim",),
                                        seccomp_file=str(tmp_path / "seccomp.json"))
        report = pipeline.build(parse_reference("job:1"), options, ws, engine, Phases())
    assert report.passed is False
    assert report.facts.verification.differences == (
        "the original was still running when it was stopped, the slim image had exited by itself (exit code 1)",)


def test_a_batch_job_that_fails_on_the_original_stops_the_build(tmp_path):
    """Before: a job exiting 1 on the original "passed" when the slim image exited 1 too: nothing was proven."""
    engine = FakeEngine()
    engine.add_image("job:1", [APP], Behaviour(exit_code=1, stdout=b"no such file\n", trace=TRACE))
    with pytest.raises(OriginalFailsProbes, match="the run: exit code 1, output 'no such file'"):
        _build(engine, tmp_path)
    assert _build(engine, tmp_path, allow_failing_probes=True).passed is True  # expected, and said so


def test_push_names_the_digest_and_refuses_a_tag_that_moved(tmp_path, capsys):
    from slim.cli.ci import Outputs, finish_build

    engine = FakeEngine()
    engine.add_image("job:1", [APP], Behaviour(exit_code=0, stdout=b"ok\n", trace=TRACE))
    report = _build(engine, tmp_path)
    finish_build(report, Outputs(push=True), Gates(), engine, show=False)
    assert "pushed job:1-slim@sha256:" in capsys.readouterr().err
    engine.tags["job:1-slim"] = engine.tags["job:1"]  # someone moved the tag after the build
    with pytest.raises(VerificationFailed, match="no longer names the verified image"):
        finish_build(report, Outputs(push=True), Gates(), engine, show=False)
    assert [c for c in engine.calls if c.startswith("push")] == ["push job:1-slim"]


def test_a_build_that_fails_early_leaves_no_stale_pass_and_says_so(tmp_path, monkeypatch):
    """Before: a failing rerun (exit 17) left the earlier run's report, JUnit and summary saying "passed"."""
    from slim.cli.ci import Outputs, failure_recorded

    outs = Outputs(str(tmp_path / "r.json"), str(tmp_path / "j.xml"), str(tmp_path / "s.md"))
    for name in ("r.json", "j.xml", "s.md"):
        (tmp_path / name).write_text("passed")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    with pytest.raises(OriginalFailsProbes), failure_recorded(outs, "web:1"):
        raise OriginalFailsProbes("the original image does not pass its own probes: http :80/: no answer")
    assert not (tmp_path / "r.json").exists()
    junit = (tmp_path / "j.xml").read_text()
    assert 'failures="1"' in junit and "exit 17: the original image does not pass" in junit
    assert "**FAILED**" in (tmp_path / "s.md").read_text()

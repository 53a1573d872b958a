"""The run profile against the real engine: the runtime's measured seccomp list starts and stops containers,
a root image rebased on nonroot still works, a profile missing a call the app needs is caught and the call
named, and the compose and Kubernetes renderings have the shape their tools read. (Every sample passing under
its own profile is asserted by test_build's per-sample test.)"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time

import pytest
import yaml
from click.testing import CliRunner

from slim import pipeline
from slim.cli import main
from slim.engine.docker import DockerEngine
from slim.harden.profile import derive
from slim.harden.runtime import RUNTIME_SYSCALLS
from slim.harden.seccomp import write_seccomp_profile
from slim.image.reference import parse_reference
from slim.image.source import read_image
from slim.progress import Phases
from slim.run.hardened import verify_under
from slim.run.options import RunOptions
from slim.run.probes import ProbePlan
from slim.workspace import Workspace
from tests.integration.conftest import sample_spec
from tests.noop import build_noop_image

NOOP = "slim-test/noop:1"
HARDENED = ["--read-only", "--tmpfs", "/run:rw,mode=0755", "--cap-drop", "ALL", "--security-opt",
            "no-new-privileges"]


@pytest.fixture(scope="module")
def noop(engine):
    build_noop_image(NOOP)
    yield NOOP
    engine.images.remove(NOOP, force=True)


def docker_run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("options", [["--init"], ["--init", "--user", "65532:65532", *HARDENED], []],
                         ids=["init", "init-nonroot-hardened", "no-init"])
def test_the_runtime_list_alone_starts_a_container(noop, tmp_path, options, no_leftovers):
    path = str(tmp_path / "runtime.json")
    write_seccomp_profile(path, RUNTIME_SYSCALLS)
    for _ in range(4):  # the runtime makes some calls only now and then: one start proves little
        result = docker_run("--security-opt", f"seccomp={path}", *options, noop)
        assert result.returncode == 0, result.stderr
    # and the filter does apply: without execve the runtime cannot even start the init
    write_seccomp_profile(path, RUNTIME_SYSCALLS - {"execve"})
    result = docker_run("--security-opt", f"seccomp={path}", "--init", noop)
    assert result.returncode != 0 and "operation not permitted" in result.stderr


def test_the_runtime_list_lets_the_init_forward_a_stop(noop, engine, tmp_path, no_leftovers):
    path = str(tmp_path / "runtime.json")
    write_seccomp_profile(path, RUNTIME_SYSCALLS)
    name = f"slim-test-wait-{time.monotonic_ns()}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--init", "--security-opt", f"seccomp={path}", noop,
                    "/wait"], check=True, capture_output=True, timeout=30)
    try:
        time.sleep(0.5)
        began = time.monotonic()
        subprocess.run(["docker", "stop", "-t", "8", name], check=True, capture_output=True, timeout=30)
        assert time.monotonic() - began < 5  # the init passed SIGTERM on: no wait for the engine's SIGKILL
        assert engine.containers.get(name).attrs["State"]["ExitCode"] == 143
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def build(*args: str):
    return CliRunner().invoke(main, ["-q", "build", *args])


def test_a_root_image_rebased_on_nonroot_passes(build_sample, engine, scratch_tags, tmp_path, no_leftovers):
    image, out = build_sample("busybox-httpd"), "slim-test/busybox-httpd:nonroot"
    scratch_tags.append(out)
    report_file = tmp_path / "report.json"
    result = build(image, "-t", out, "--run-as", "nonroot", "--report", str(report_file),
                   *sample_spec("busybox-httpd")["args"])
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads(report_file.read_text())
    assert report["verification"]["passed"] is True
    hardening = report["hardening"]
    assert hardening["user"] == "nonroot" and hardening["runs_as_root"] is False
    assert hardening["run_as"]["user"] == "nonroot"
    assert hardening["run_profile"]["verified"] is True
    context = hardening["run_profile"]["kubernetes"]["spec"]["containers"][0]["securityContext"]
    assert context["runAsUser"] == 65532 and context["runAsNonRoot"] is True
    assert engine.images.get(out).attrs["Config"]["User"] == "nonroot"
    passwd = subprocess.run(["docker", "run", "--rm", "--entrypoint", "/bin/busybox", out, "cat", "/etc/passwd"],
                            capture_output=True, text=True, check=True).stdout
    assert "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin" in passwd.splitlines()
    whoami = subprocess.run(["docker", "run", "--rm", "--entrypoint", "/bin/busybox", out, "id", "-u"],
                            capture_output=True, text=True, check=True).stdout
    assert whoami.strip() == "65532"


def test_a_bad_run_as_is_a_usage_error():
    result = build("slim-sample/busybox-httpd:1", "--run-as", "root")
    assert result.exit_code == 2 and "--run-as" in result.stderr


def test_a_missing_syscall_is_caught_and_named(build_sample, engine, no_leftovers):
    """The profile of the Python server without `bind`: the hardened run fails, and the diagnosis finds the call."""
    image = build_sample("python-web")
    docker = DockerEngine(engine)
    options = RunOptions(image=image, probes=ProbePlan(http_paths=("/api/notes", "/api/health")))
    traced = pipeline.trace(options, pipeline.TraceOptions(), docker, Phases())
    with Workspace() as ws:
        rootfs = read_image(parse_reference(image), ws, docker).rootfs()
        profile = derive(traced, rootfs, traced.config, {e.path for e in rootfs.walk()})
    assert verify_under(docker, options, image, traced, profile).passed  # whole, it works
    broken = dataclasses.replace(profile, syscalls=profile.syscalls - {"bind"})
    proof = verify_under(docker, options, image, traced, broken)
    assert not proof.passed and proof.differences
    assert proof.diagnosis[0] == "seccomp: the app needs bind", proof.diagnosis


def test_compose_and_kubernetes_fragments_have_their_tools_shape(build_sample, scratch_tags, tmp_path,
                                                                 no_leftovers):
    image, out = build_sample("nginx-static"), "slim-test/nginx-static:frag"
    scratch_tags.append(out)
    report_file = tmp_path / "report.json"
    result = build(image, "-t", out, "--report", str(report_file), *sample_spec("nginx-static")["args"])
    assert result.exit_code == 0, result.output + result.stderr
    profile = json.loads(report_file.read_text())["hardening"]["run_profile"]
    seccomp = profile["seccomp_profile"]
    assert seccomp == str(tmp_path / "slim-test-nginx-static-frag-seccomp.json")
    with open(seccomp) as fh:
        assert json.load(fh)["defaultErrnoRet"] == 38
    # compose: a service that `docker compose config` would accept (the plugin is not packaged here: the
    # keys and value kinds of the compose specification's service schema are checked instead)
    service = yaml.safe_load(yaml.safe_dump({"services": {"app": {"image": out, **profile["compose"]}}}))
    app = service["services"]["app"]
    assert app["read_only"] is True and app["init"] is True and app["cap_drop"] == ["ALL"]
    assert all(isinstance(x, str) for key in ("tmpfs", "cap_add", "security_opt") for x in app[key])
    assert f"seccomp={seccomp}" in app["security_opt"] and "no-new-privileges:true" in app["security_opt"]
    assert {t.split(":")[0] for t in app["tmpfs"]} == {"/run", "/var/lib/nginx", "/var/log/nginx"}
    # kubernetes: a Pod manifest that round-trips through YAML with the API's field names (podman kube play runs
    # one in test_run_line.py)
    pod = yaml.safe_load(yaml.safe_dump(profile["kubernetes"]))
    assert (pod["apiVersion"], pod["kind"], pod["spec"]["containers"][0]["image"]) == ("v1", "Pod", out)
    ctx = pod["spec"]["containers"][0]["securityContext"]
    assert set(ctx) <= {"readOnlyRootFilesystem", "allowPrivilegeEscalation", "capabilities", "seccompProfile",
                        "runAsNonRoot", "runAsUser", "runAsGroup"}
    assert ctx["seccompProfile"]["type"] == "Localhost" and ctx["capabilities"]["drop"] == ["ALL"]
    mounts = {m["name"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert mounts == {v["name"] for v in pod["spec"]["volumes"]} and all("emptyDir" in v for v in pod["spec"]["volumes"])


def test_without_a_complete_syscall_list_the_profile_has_no_seccomp(build_sample, scratch_tags, tmp_path,
                                                                    no_leftovers):
    image, out = build_sample("batch-job"), "slim-test/batch-job:partial"
    scratch_tags.append(out)
    result = CliRunner().invoke(main, ["build", image, "-t", out, "--no-syscall-profile", "--report",
                                       str(tmp_path / "r.json"), *sample_spec("batch-job")["args"]])
    assert result.exit_code == 0, result.output + result.stderr
    assert "run profile: verified; no seccomp profile" in result.output
    profile = json.loads((tmp_path / "r.json").read_text())["hardening"]["run_profile"]
    assert profile["syscalls"] is None and not list(tmp_path.glob("*seccomp.json"))


def test_fail_on_hardening_exits_10_and_names_the_part(build_sample, scratch_tags, tmp_path, no_leftovers):
    """An app that reports its own no-new-privileges flag: the same as the original when verified plainly,
    different under the profile, and the diagnosis says which part made the difference."""
    image, out = build_sample("alpine-script"), "slim-test/alpine-script:nnp"
    scratch_tags.append(out)
    result = CliRunner().invoke(main, ["-q", "build", image, "-t", out, "--entrypoint", "/bin/sh", "--cmd",
                                       "-c 'grep NoNewPrivs /proc/self/status'", "--continue-after", "exit",
                                       "--fail-on", "hardening", "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 10, result.output + result.stderr
    assert "least-privilege run profile" in result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verification"]["passed"] is True
    profile = report["hardening"]["run_profile"]
    assert profile["verified"] is False and "NoNewPrivs" in profile["differences"][0]
    assert [d.split(":")[0] for d in profile["diagnosis"]] == ["no-new-privileges"]

"""slim on Podman through its Docker-compatible API, rootful (/run/podman/podman.sock) and rootless (the
slim-rootless user's service, with subordinate IDs, slirp4netns networking and no routable container address):
the Python web app, nginx (a root master whose workers switch to www-data) and the batch job slim, verify and
pass under their least-privilege profile on each, as on Docker (tests/integration/test_build.py). scripts/test
sets both services up (scripts/setup --podman); when one does not answer, these tests fail and say so."""

from __future__ import annotations

import json
import os
import subprocess

import docker
import pytest
from click.testing import CliRunner

from slim.cli import main
from schemas import validate
from tests.integration.conftest import sample_spec

pytestmark = pytest.mark.docker

ROOTLESS_USER = os.environ.get("SLIM_PODMAN_USER", "slim-rootless")
SAMPLES = ("python-web", "nginx-static", "batch-job")
BASE = "slim-base/alpine:3.20"  # what slim doctor starts its listener in


def rootless_socket() -> str:
    import pwd

    try:
        uid = pwd.getpwnam(ROOTLESS_USER).pw_uid
    except KeyError:
        pytest.fail(f"no user {ROOTLESS_USER}: scripts/setup --podman creates it and its rootless Podman service")
    return f"unix:///run/user/{uid}/podman/podman.sock"


def as_rootless(argv: list[str]) -> list[str]:
    uid = rootless_socket().split("/")[4]
    return ["runuser", "-u", ROOTLESS_USER, "--", "env", f"XDG_RUNTIME_DIR=/run/user/{uid}",
            f"HOME=/home/{ROOTLESS_USER}", *argv]


ENGINES = {"podman-rootful": ("unix:///run/podman/podman.sock", lambda argv: argv),
           "podman-rootless": (None, as_rootless)}


@pytest.fixture(scope="session", params=sorted(ENGINES))
def podman(request, build_sample):
    """(name, socket, SDK client, how to run the podman CLI as the service's user) of one Podman service that
    answers, with the samples loaded into its store (Podman's store is its own: images are copied over)."""
    name = request.param
    socket, wrap = ENGINES[name]
    socket = socket or rootless_socket()
    client = docker.DockerClient(base_url=socket, timeout=300)
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(f"{name}: no Podman service answers at {socket} (scripts/setup --podman starts it): {exc}")
    for tag in [build_sample(sample) for sample in SAMPLES] + [BASE]:
        save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
        loaded = subprocess.run(wrap(["podman", "load", "-q"]), stdin=save.stdout, capture_output=True, cwd="/tmp")
        save.wait()
        assert loaded.returncode == 0 and save.returncode == 0, loaded.stderr.decode()
    yield name, socket, client, wrap
    client.close()


def podman_leftovers(client) -> tuple[set, set]:
    return ({c.id for c in client.containers.list(all=True)},
            {v.name for v in client.volumes.list() if not v.name.startswith("slim-tracer-bundle-")})


@pytest.mark.parametrize("sample", SAMPLES)
def test_samples_slim_and_verify_on_podman(sample, podman, tmp_path):
    name, socket, client, _ = podman
    before = podman_leftovers(client)
    out = f"slim-test/{sample}:{name}"
    report_file = tmp_path / "report.json"
    env = {"CONTAINER_HOST": socket, "DOCKER_HOST": None}
    try:
        result = CliRunner().invoke(main, ["-q", "--engine", "podman", "build", sample_spec(sample)["tag"], "-t", out,
                                           "--report", str(report_file), *sample_spec(sample)["args"]], env=env)
        assert result.exit_code == 0, result.output + result.stderr
        report = validate("build", json.loads(report_file.read_text()))  # Podman's report: the same schema
        assert report["engine"]["name"] == "podman" and report["engine"]["rootless"] == (name == "podman-rootless")
        assert any("nofile" in line for line in report["engine"]["adjustments"])  # said, not silently changed
        assert report["verification"]["passed"] is True and report["verification"]["differences"] == []
        profile = report["hardening"]["run_profile"]
        assert profile["verified"] is True and profile["diagnosis"] == []
        assert report["size"]["slim_content_bytes"] < report["size"]["original_content_bytes"] / 2
        if sample == "nginx-static":  # the master as root, the workers as www-data: the trace saw the switch
            assert report["accounts"] == ["root", "www-data"]
        if report["trace"]["probes"]:  # rootless: through a port published on the loopback
            target = report["trace"]["probes"][0]["target"]
            assert target.startswith("http://127.0.0.1:") == (name == "podman-rootless"), target
        assert client.images.get(out).attrs["Config"]["Cmd"] == client.images.get(sample_spec(sample)["tag"]).attrs[
            "Config"]["Cmd"]
    finally:
        try:
            client.images.remove(out, force=True)
        except docker.errors.NotFound:
            pass  # not made: the build failed before writing it
    assert podman_leftovers(client) == before  # no container or volume of the run is left in Podman
    assert not [t for i in client.images.list() for t in i.tags if "slim-verify/" in t]


def test_doctor_and_inspect_on_podman(podman):
    name, socket, _, _ = podman
    env = {"CONTAINER_HOST": socket, "DOCKER_HOST": None}
    result = CliRunner().invoke(main, ["-q", "--engine", "podman", "doctor", "--json"], env=env)
    assert result.exit_code == 0, result.output + result.stderr
    found = json.loads(result.stdout)
    assert found["engine"]["name"] == "podman" and found["engine"]["runtime"] == "runc"
    assert found["engine"]["rootless"] == (name == "podman-rootless") and found["tracing"]["works"] is True
    # rootless Podman's containers are reached through published ports: the probe must go that way
    assert found["probes"]["works"] is True, found["probes"]
    assert ("published at http://127.0.0.1:" in found["probes"]["detail"]) == (name == "podman-rootless")
    result = CliRunner().invoke(main, ["-q", "--engine", "podman", "sbom", sample_spec("batch-job")["tag"]], env=env)
    assert result.exit_code == 0 and json.loads(result.stdout)["components"]


def test_an_engine_that_does_not_answer_is_one_line_and_exit_5(tmp_path):
    dead = f"unix://{tmp_path}/nothing.sock"
    for args, env in ((["--engine", "podman"], {"CONTAINER_HOST": dead, "DOCKER_HOST": None}),
                      ([], {"DOCKER_HOST": dead})):
        result = CliRunner().invoke(main, ["-q", *args, "inspect", "slim-base/alpine:3.20"], env=env)
        assert result.exit_code == 5, result.output
        assert result.stderr.count("\n") == 1 and dead in result.stderr


def test_asking_for_podman_where_docker_answers_is_refused():
    result = CliRunner().invoke(main, ["-q", "--engine", "podman", "inspect", "slim-base/alpine:3.20"],
                                env={"CONTAINER_HOST": "unix:///var/run/docker.sock", "DOCKER_HOST": None})
    assert result.exit_code == 5 and "is a Docker engine, not podman" in result.stderr

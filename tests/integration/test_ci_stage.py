"""slim build as a CI stage against the real engine and a real registry (Debian's docker-registry, the
reference implementation, on 127.0.0.1): file inputs, gates, JUnit, push only after every gate passed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import xmlschema

from tests.integration.conftest import free_port as _free_port, registry_tags

pytestmark = pytest.mark.docker
SCHEMA = os.path.join(os.path.dirname(__file__), "..", "fixtures", "schemas", "junit.xsd")


def slim(*args: str, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slim", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture
def saved_batch_job(engine, build_sample, tmp_path):
    tag = build_sample("batch-job")
    path = tmp_path / "batch-job.tar"
    subprocess.run(["docker", "save", "-o", str(path), tag], check=True)
    return str(path)


def test_archive_input_is_slimmed_pushed_pulled_back_and_runs(engine, registry, saved_batch_job, tmp_path,
                                                              no_leftovers):
    target = f"{registry}/slim/batch-job:1"
    junit = tmp_path / "junit.xml"
    done = slim("build", f"docker-archive:{saved_batch_job}", "-t", target, "--continue-after", "exit", "--push",
                "--junit", str(junit), "--summary", str(tmp_path / "summary.md"), "--report", str(tmp_path / "r.json"),
                cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"pushed {target}" in done.stderr
    assert registry_tags(registry, "slim/batch-job") == ["1"]
    assert not [t for i in engine.images.list() for t in i.tags if t.startswith("slim-verify/")]
    xmlschema.XMLSchema(SCHEMA).validate(str(junit))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["image"] == f"docker-archive:{saved_batch_job}"
    assert "| size (Docker) |" in (tmp_path / "summary.md").read_text()
    original_output = engine.containers.run("slim-sample/batch-job:1", remove=True)
    engine.images.remove(target)
    try:
        engine.images.pull(target)
        assert engine.containers.run(target, remove=True) == original_output
    finally:
        engine.images.remove(target, force=True)


def test_a_failing_gate_prevents_the_push_and_junit_lists_every_probe(engine, registry, build_sample, tmp_path,
                                                                      scratch_tags, no_leftovers):
    image = build_sample("python-web")
    target = f"{registry}/slim/gated:1"
    scratch_tags.append(target)
    junit = tmp_path / "junit.xml"
    done = slim("build", image, "-t", target, "--http-probe-path", "/api/notes", "--http-probe-path", "/api/health",
                "--max-size", "1KB", "--push", "--junit", str(junit), cwd=str(tmp_path))
    assert done.returncode == 11, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("slim: error: max-size: slim image is ")
    assert registry_tags(registry, "slim/gated") == []
    xmlschema.XMLSchema(SCHEMA).validate(str(junit))
    cases = xmlschema.XMLSchema(SCHEMA).to_dict(str(junit))["testsuite"][0]["testcase"]
    names = [c["@name"] for c in cases]
    probes = [n for n in names if n.startswith("verify http")]
    assert len(probes) == 3 and any(n.endswith("/api/notes") for n in probes)  # GET /, and each probe path
    failed = [c for c in cases if "failure" in c]
    assert [c["@name"] for c in failed] == ["gate max-size"]


def test_an_unreachable_registry_is_exit_13_in_one_line(engine, build_sample, tmp_path, scratch_tags, no_leftovers):
    image = build_sample("batch-job")
    target = f"127.0.0.1:{_free_port()}/slim/nowhere:1"
    scratch_tags.append(target)
    done = slim("build", image, "-t", target, "--continue-after", "exit", "--push", cwd=str(tmp_path))
    assert done.returncode == 13, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"slim: error: pushing {target}: ")


def test_a_remote_engine_is_probed_through_published_ports(tls_engine, build_sample, tmp_path):
    # the remote engine: a second dockerd reached over mutual TLS, as a CI job reaches docker-in-docker
    image = build_sample("python-web")
    tls_engine.load(image)
    env = dict(os.environ, **tls_engine.env())
    done = subprocess.run([sys.executable, "-m", "slim", "build", image, "-t", "remote:slim", "--json",
                           "--http-probe-path", "/api/notes"], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    targets = [p["target"] for p in report["verification"]["probes"]]
    assert len(targets) == 2 and all(t.startswith("http://127.0.0.1:") for t in targets), targets
    assert not any(t.startswith("http://127.0.0.1:8080/") for t in targets)  # a published port, not the app's
    assert report["hardening"]["run_profile"]["verified"] is True
    assert not tls_engine.leftovers()


def test_a_remote_engine_refuses_host_path_mounts(tls_engine, build_sample, tmp_path):
    image = build_sample("batch-job")
    tls_engine.load(image)
    env = dict(os.environ, **tls_engine.env())
    done = subprocess.run([sys.executable, "-m", "slim", "build", image, "--mount",
                           f"{tmp_path}:/data", "--continue-after", "exit"], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=600)
    assert done.returncode == 2 and "cannot see this host's paths" in done.stderr
    assert not tls_engine.leftovers()


def test_three_samples_built_three_at_a_time(engine, build_sample, tmp_path, no_leftovers):
    images = [build_sample(name) for name in ("python-web", "batch-job", "alpine-script")]
    (tmp_path / "list.txt").write_text(f"# the rest\n{images[2]}\n\n")
    outs = [f"{image}-slim" for image in images]
    try:
        done = slim("build", images[0], images[1], "--from-file", "list.txt", "--jobs", "3",
                    "--continue-after", "timeout:3", "--junit", "junit", cwd=str(tmp_path))
        assert done.returncode == 0, done.stderr
        for image in images:
            name = "".join(c if c.isalnum() or c in "._-" else "-" for c in image)
            report = json.loads((tmp_path / "slim-reports" / f"{name}.json").read_text())
            assert report["verification"]["passed"] is True and report["output"]["tags"] == [f"{image}-slim"]
            xmlschema.XMLSchema(SCHEMA).validate(str(tmp_path / "junit" / f"{name}.xml"))
            assert engine.images.get(f"{image}-slim")
        assert all(image in done.stdout for image in images) and done.stdout.count("passed") == 3
        assert not [t for i in engine.images.list() for t in i.tags if t.startswith("slim-verify/")]
    finally:
        for tag in outs:
            try:
                engine.images.remove(tag)
            except Exception:
                pass


def test_several_images_refuse_what_names_one(tmp_path):
    done = slim("build", "a:1", "b:1", "-t", "x:1", cwd=str(tmp_path))
    assert done.returncode == 2 and "about one image" in done.stderr
    assert slim("build", cwd=str(tmp_path)).returncode == 2

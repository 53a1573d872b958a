"""Read real images from the engine, write them back FROM scratch, and run both."""

from __future__ import annotations

import hashlib
import json
import subprocess

import docker
import pytest
from click.testing import CliRunner

from slim.cli import main
from schemas import validate
from tests.integration.conftest import run_output


def slim(*args: str) -> str:
    result = CliRunner().invoke(main, ["-q", *args])
    assert result.exit_code == 0, f"slim {' '.join(args)} failed: {result.output}{result.stderr}"
    return result.stdout


def file_sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_full_rootfs_written_from_scratch_runs_like_the_original(engine, build_sample, scratch_tags, no_leftovers):
    original = build_sample("batch-job")
    scratch_tags.append("slim-test/roundtrip:1")
    slim("squash", original, "-t", "slim-test/roundtrip:1")
    assert run_output(engine, "slim-test/roundtrip:1") == run_output(engine, original)
    new = engine.images.get("slim-test/roundtrip:1")
    assert len(new.attrs["RootFS"]["Layers"]) == 1
    old_cfg, new_cfg = engine.images.get(original).attrs["Config"], new.attrs["Config"]
    for key in ("Entrypoint", "Cmd", "Env", "WorkingDir", "User"):
        assert new_cfg[key] == old_cfg[key], key
    assert new_cfg["Labels"]["slim.source.image"] == original


def test_squash_prints_the_id_the_engine_gives_its_tag(engine, build_sample, scratch_tags):
    original = build_sample("batch-job")
    scratch_tags.append("slim-test/readback:1")
    printed = slim("squash", original, "-t", "slim-test/readback:1").split()
    assert printed == [engine.images.get("slim-test/readback:1").id, "slim-test/readback:1"]


def test_squash_fails_when_its_tag_names_another_image_after_loading(engine, build_sample, scratch_tags, tmp_path,
                                                                    monkeypatch):
    """Another run moves the tag between slim's load and its read-back: slim must not print the ID it computed
    as if the tag named it, and must not leave the image it loaded behind untagged."""
    from slim.engine.docker import DockerEngine

    original = build_sample("batch-job")
    ours = slim("squash", original, "-t", "slim-test/moved:1", "-o", f"docker-archive:{tmp_path}/a.tar").split()[0]
    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(ours)  # else the engine could not show whether this run left it behind
    other = engine.images.get("slim-base/alpine:3.20")
    scratch_tags.append("slim-test/moved:1")
    real_load = DockerEngine.load

    def load_then_move(self, archive_path: str) -> None:
        real_load(self, archive_path)
        other.tag("slim-test/moved", "1")  # the other run, in the real engine

    monkeypatch.setattr(DockerEngine, "load", load_then_move)
    result = CliRunner().invoke(main, ["-q", "squash", original, "-t", "slim-test/moved:1"])
    assert result.exit_code == 5, result.output
    assert result.stderr.count("\n") == 1 and f"names the image {other.id[:19]}" in result.stderr
    assert ours[:19] in result.stderr and not result.stdout
    assert engine.images.get("slim-test/moved:1").id == other.id  # the other run's tag stays as it set it
    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(ours)


def test_writing_twice_gives_byte_identical_archives(build_sample, tmp_path):
    original = build_sample("batch-job")
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    id1 = slim("squash", original, "-t", "x:1", "-o", f"docker-archive:{first}").split()[0]
    id2 = slim("squash", original, "-t", "x:1", "-o", f"docker-archive:{second}").split()[0]
    assert id1 == id2
    assert file_sha(first) == file_sha(second)


def test_inspect_agrees_across_daemon_archive_and_oci(engine, build_sample, tmp_path, scratch_tags):
    original = build_sample("python-web")
    saved = tmp_path / "saved.tar"
    subprocess.run(["docker", "save", "-o", str(saved), original], check=True)
    from_daemon = validate("inspect", json.loads(slim("inspect", "--json", original)))
    from_archive = validate("inspect", json.loads(slim("inspect", "--json", f"docker-archive:{saved}")))
    assert from_daemon["file_count"] == from_archive["file_count"] > 1000
    assert from_daemon["image_id"] == from_archive["image_id"] == engine.images.get(original).id
    assert from_daemon["os"]["ID"] == "debian" and len(from_daemon["layers"]) >= 2
    assert from_daemon["packages"]["database"] == "dpkg" and from_daemon["packages"]["count"] > 100
    layout = tmp_path / "layout"
    slim("squash", f"docker-archive:{saved}", "-t", "py:oci", "-o", f"oci:{layout}")
    from_oci = validate("inspect", json.loads(slim("inspect", "--json", f"oci:{layout}:py:oci")))
    assert from_oci["file_count"] == from_daemon["file_count"]
    assert from_oci["content_bytes"] == from_daemon["content_bytes"]
    # and from the OCI layout back into the engine, where it runs
    scratch_tags.append("slim-test/from-oci:1")
    slim("squash", f"oci:{layout}", "-t", "slim-test/from-oci:1")
    out = run_output(engine, "slim-test/from-oci:1", "python3", "-c", "import sqlite3, json; print(json.dumps(sqlite3.sqlite_version_info[:1]))")
    assert out.strip() == b"[3]"


def test_docker_loads_the_archive_slim_writes(engine, build_sample, tmp_path, scratch_tags):
    original = build_sample("batch-job")
    archive = tmp_path / "out.tar"
    slim("squash", original, "-t", "slim-test/loaded:1", "-o", f"docker-archive:{archive}")
    scratch_tags.append("slim-test/loaded:1")
    subprocess.run(["docker", "load", "-q", "-i", str(archive)], check=True, stdout=subprocess.DEVNULL)
    assert run_output(engine, "slim-test/loaded:1") == run_output(engine, original)


def test_unknown_image_is_exit_code_3(engine):
    result = CliRunner().invoke(main, ["-q", "inspect", "slim-test/does-not-exist:0"])
    assert result.exit_code == 3 and "no such image" in result.stderr

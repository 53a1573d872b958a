"""Read real images from the engine, write them back FROM scratch, and run both."""

from __future__ import annotations

import hashlib
import json
import subprocess

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

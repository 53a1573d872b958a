"""What slim says it did, it did, against the real engine and a real registry (Debian's docker-registry on
127.0.0.1): a probe that fails on the original stops the build; a server that speaks no HTTP is probed through
its exposed port and its printed run line serves; failed outputs of every kind are removed (or kept, and said
where); a killed run's partial archive is swept; several images push only what passed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.integration.conftest import registry_tags, sample_spec

pytestmark = pytest.mark.docker
BREAKS_EVERY_BINARY = ("--exclude-pattern", "*/libc.so.6")  # the slim image's programs cannot start


def slim(*args: str, cwd: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slim", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def _ping(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64).decode().strip()


def test_a_server_without_http_is_probed_on_its_port_and_its_printed_line_serves(engine, build_sample, tmp_path,
                                                                               scratch_tags, no_leftovers):
    """Before: with --no-http-probe, SLIM_TARGET_PORT was empty, the PING probe failed on both images with a
    Python error, any exit code counted as an answer, and the profile was derived from a Redis that never
    accepted a connection (no accept in the seccomp list: the printed line gave a server refusing clients)."""
    image = build_sample("redis-server")
    out = "slim-test/redis:slim"
    scratch_tags.append(out)
    done = slim("build", image, "-t", out, "--report", "r.json", *sample_spec("redis-server")["args"], cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    probe = report["verification"]["probes"][0]
    assert (probe["kind"], probe["detail"].strip(), probe["original"]["detail"].strip()) == ("host", "+PONG", "+PONG")
    profile = report["hardening"]["run_profile"]
    assert profile["verified"] is True
    assert {"accept", "accept4"} & set(profile["syscalls"]["names"])
    argv = profile["command"]  # the printed line, as argv: run it detached, then PING it
    assert argv[:2] == ["docker", "run"] and out in argv
    name = f"slim-test-redis-{os.getpid()}"
    cid = subprocess.run(["docker", "run", "-d", "--name", name, *argv[2:]], capture_output=True, text=True, check=True,
                         cwd=str(tmp_path)).stdout.strip()
    try:
        host = engine.containers.get(cid).attrs["NetworkSettings"]["IPAddress"]
        deadline = time.monotonic() + 30
        while True:
            try:
                assert _ping(host, 6379) == "+PONG"
                break
            except OSError:
                assert time.monotonic() < deadline, engine.containers.get(cid).logs().decode()
                time.sleep(0.2)
    finally:
        engine.containers.get(cid).remove(force=True)


def test_an_original_that_fails_its_probe_stops_the_build_before_anything_is_written(engine, build_sample, tmp_path,
                                                                                   no_leftovers):
    image = build_sample("redis-server")
    tags_before = {t for i in engine.images.list() for t in i.tags}
    done = slim("build", image, "-t", "slim-test/never:1", "--no-http-probe", "--probe-cmd", "echo down >&2; exit 3",
                "--report", "r.json", cwd=str(tmp_path))
    assert done.returncode == 17, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("slim: error: the original image does not pass its own probes: host echo down")
    assert "exit code 3" in last and "down" in last
    assert os.listdir(tmp_path) == []  # no report, no seccomp profile
    assert {t for i in engine.images.list() for t in i.tags} == tags_before
    # expected, and said so: the slim image must then fail it the same way, and it does
    done = slim("build", image, "-o", f"docker-archive:{tmp_path / 'ok.tar'}", "--no-http-probe", "--probe-cmd",
                "exit 3", "--allow-failing-probes", "--report", "r.json", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["verification"]["passed"] is True


@pytest.mark.parametrize("kind", ["docker", "docker-archive", "oci"])
def test_a_failed_output_is_removed_or_kept_where_the_message_says(kind, engine, build_sample, tmp_path, no_leftovers):
    """Before: for docker-archive and oci outputs the message said "the output was removed" and the file and
    directory stayed; --keep-failed named nothing."""
    image = build_sample("batch-job")
    target = {"docker": "slim-test/failed:1", "docker-archive": str(tmp_path / "out" / "slim.tar"),
              "oci": str(tmp_path / "out" / "layout")}[kind]
    output = ["-t", target] if kind == "docker" else ["-o", f"{kind}:{target}"]
    where = {"docker": f"tag {target}", "docker-archive": f"file {target}", "oci": f"directory {target}"}[kind]
    present = (lambda: bool(engine.images.list(name=target))) if kind == "docker" else (lambda: os.path.exists(target))
    try:
        done = slim("build", image, *output, *BREAKS_EVERY_BINARY, "--continue-after", "exit", cwd=str(tmp_path))
        assert done.returncode == 8, done.stderr
        assert done.stderr.strip().splitlines()[-1].endswith(f"; removed {where}")
        assert not present()
        done = slim("build", image, *output, *BREAKS_EVERY_BINARY, "--continue-after", "exit", "--keep-failed",
                    cwd=str(tmp_path))
        assert done.returncode == 8, done.stderr
        assert done.stderr.strip().splitlines()[-1].endswith(f"; kept (--keep-failed): {where}")
        assert present()
    finally:
        if kind == "docker":
            for found in engine.images.list(name=target):
                engine.images.remove(found.id, force=True)
    assert not _dead_temporary_tags(engine)


def _dead_temporary_tags(engine) -> list[str]:
    """Temporary tags whose run has ended, as slim cleanup finds them (a slim process still running elsewhere may
    hold its own)."""
    from slim.cleanup import find_dead
    from slim.engine.docker import DockerEngine

    return find_dead(DockerEngine(engine), None).tags


def test_a_run_killed_while_writing_leaves_its_partial_archive_to_the_next_cleanup(engine, build_sample, tmp_path):
    image = build_sample("batch-job")
    target = tmp_path / "slim.tar"
    partial = tmp_path / "slim.tar.partial"
    # /usr kept whole makes the archive big enough that its writing can be caught
    proc = subprocess.Popen([sys.executable, "-m", "slim", "-q", "build", image, "-o", f"docker-archive:{target}",
                             "--include-path", "/usr", "--continue-after", "exit", "--no-harden"],
                            cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert partial.exists(), "the build ended before its archive was written: nothing to kill mid-write"
    done = slim("cleanup", cwd=str(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"removed partial file {partial}" in done.stdout
    assert not partial.exists() and not target.exists()


def test_several_images_push_only_what_passed(engine, registry, build_sample, tmp_path, no_leftovers):
    """A gate that one image fails keeps that image out of the registry, whatever the others did."""
    small, big = f"{registry}/src/alpine-script:1", f"{registry}/src/batch-job:1"
    engine.images.get(build_sample("alpine-script")).tag(small)  # about 1.5 MB slimmed
    engine.images.get(build_sample("batch-job")).tag(big)  # about 9.5 MB slimmed
    made = [small, big, f"{small}-slim", f"{big}-slim"]
    try:
        done = slim("build", small, big, "--jobs", "2", "--max-size", "5MB", "--push", "--continue-after", "exit",
                    cwd=str(tmp_path))
        assert done.returncode == 11, done.stdout + done.stderr
        assert registry_tags(registry, "src/alpine-script") == ["1-slim"]
        assert registry_tags(registry, "src/batch-job") == []
        assert f"pushed {small}-slim" in done.stderr and f"pushed {big}-slim" not in done.stderr
    finally:
        for tag in made:
            try:
                engine.images.remove(tag, force=True)
            except Exception:
                pass


def test_an_archive_the_engine_refuses_to_load_is_an_engine_error(engine, tmp_path):
    """Before: the SDK's answer stream was never read, so a refused load passed silently and the next step
    failed with "no such image in the Docker engine" instead of the engine's reason."""
    from slim.engine.docker import DockerEngine
    from slim.errors import EngineError

    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar archive")
    with pytest.raises(EngineError, match=r"refused to load the image: .*(EOF|tar)"):
        DockerEngine(engine).load(str(junk))

"""slim trace against real images: what it sees, that probes ran, that failures are results, that nothing is left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from slim.cli import main
from slim.model import EXEC, READ, STAT
from schemas import validate
from tests.integration.conftest import built_image

def trace(*args: str) -> dict:
    result = CliRunner().invoke(main, ["-q", "trace", "--json", *args])
    assert result.exit_code == 0, result.output + result.stderr
    return validate("trace", json.loads(result.stdout))


def kinds_of(doc: dict, path: str) -> set[str]:
    return {a["kind"] for a in doc["accesses"] if a["path"] == path and a["ok"]}


def test_python_web_app_as_non_root_user(build_sample, no_leftovers):
    doc = trace(build_sample("python-web"), "--http-probe-path", "/api/notes", "--exec", "id -u")
    http = [p for p in doc["probes"] if p["kind"] == "http"]
    assert [(p["target"].split(":8080")[1], p["status"]) for p in http] == [("/", 200), ("/api/notes", 200)]
    assert {"exec"} <= kinds_of(doc, "/usr/bin/python3")
    # imported modules Python only looked at (their .pyc was read instead): keeping them is what keeps import working
    assert kinds_of(doc, "/usr/lib/python3.11/sqlite3/__init__.py") == {STAT}
    assert READ in kinds_of(doc, "/srv/app/notes/store.py")
    assert any("libsqlite3.so" in p for p in doc["files"]["read"])
    exec_probe = next(p for p in doc["probes"] if p["kind"] == "exec")
    assert exec_probe["status"] == 0 and exec_probe["detail"].strip() == "10001"  # the image's USER
    assert EXEC in kinds_of(doc, "/usr/bin/id")  # --exec commands are traced too
    assert not any(a["path"].startswith("/slim-trace") for a in doc["accesses"])


def test_nginx_workers_switch_user_and_are_traced(build_sample, no_leftovers):
    doc = trace(build_sample("nginx-static"), "--http-probe-crawl")
    master = next(p for p in doc["processes"] if p["ppid"] is None)
    workers = {p["pid"] for p in doc["processes"] if p["ppid"] == master["pid"]}
    assert workers  # worker_processes auto: one per core
    pages = {a["path"]: set(a["pids"]) for a in doc["accesses"] if a["path"].startswith("/var/www/site/") and a["kind"] == READ}
    assert set(pages) == {"/var/www/site/index.html", "/var/www/site/about.html", "/var/www/site/css/site.css"}
    assert all(pids <= workers for pids in pages.values())  # served by the workers, after they became www-data
    assert {p["status"] for p in doc["probes"]} == {200}
    assert len(doc["probes"]) == 3  # /, and what the crawl found: /css/site.css, /about.html


def test_shell_batch_job_tools_and_their_libraries(build_sample, no_leftovers):
    doc = trace(build_sample("batch-job"))
    assert doc["exit_code"] == 0 and "== digest" in doc["stdout"] and doc["probes"] == []
    for tool in ("/app/run.sh", "/usr/bin/gawk", "/usr/bin/jq", "/usr/bin/bzip2", "/usr/bin/sort", "/usr/bin/sha256sum"):
        assert EXEC in kinds_of(doc, tool), tool
    assert any(p.endswith("/libjq.so.1") for p in doc["files"]["read"])
    assert any(p.endswith("/libonig.so.5") for p in doc["files"]["read"])  # jq's own dependency
    argvs = [p["argv"] for p in doc["processes"]]
    assert ["/app/run.sh", "/data/input.csv"] in argvs


@pytest.fixture(scope="module")
def busybox_scratch(engine, build_sample):
    build_sample("busybox-httpd")
    with built_image("busybox-scratch") as tag:
        yield tag


def test_static_binary_in_an_image_without_libc(busybox_scratch, no_leftovers):
    doc = trace(busybox_scratch)
    assert doc["exit_code"] == 0 and "static hello" in doc["stdout"] and "busybox" in doc["stdout"]
    assert EXEC in kinds_of(doc, "/bin/busybox")
    assert {"/bin"} <= set(doc["files"].get("listdir", []))


def test_failures_are_results(build_sample, no_leftovers):
    doc = trace(build_sample("batch-job"), "--entrypoint", "/bin/sh -c 'echo partial; exit 3'")
    assert doc["exit_code"] == 3 and doc["stdout"].strip() == "partial"
    doc = trace(build_sample("python-web"), "--cmd", "python3 -c 'import sys; sys.exit(5)'", "--port-wait", "20")
    assert doc["exit_code"] == 5
    assert [p["ok"] for p in doc["probes"]] == [False]
    assert "exited before the port opened" in doc["probes"][0]["detail"]


def test_image_without_entrypoint_or_cmd_is_a_clear_error(engine, busybox_scratch, scratch_tags, no_leftovers):
    tag = "slim-test/no-cmd:1"
    scratch_tags.append(tag)
    subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=b"FROM slim-test/busybox-scratch:1\nENTRYPOINT []\nCMD []\n",
                   check=True, stdout=subprocess.DEVNULL)
    result = CliRunner().invoke(main, ["-q", "trace", tag])
    assert result.exit_code == 7 and "neither Entrypoint nor Cmd" in result.stderr


def test_ctrl_c_removes_everything(build_sample, engine):
    image = build_sample("python-web")
    before = ({c.id for c in engine.containers.list(all=True)}, {v.name for v in engine.volumes.list()})
    # -X faulthandler: should it ever hang after the interrupt, SIGABRT makes it print every thread's stack.
    # SIGINT as a terminal gives it: a suite started in the background (`scripts/test &`) passes it on ignored,
    # and a program that inherits an ignored SIGINT rightly keeps ignoring it
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "slim.cli", "-q", "trace", image,
                             "--continue-after", "timeout:60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not engine.containers.list(filters={"label": "slim.run"}):
        time.sleep(0.2)
    assert engine.containers.list(filters={"label": "slim.run"}), "the traced container never started"
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=30)
        pytest.fail("slim trace did not end within 90 s of Ctrl-C; where it was:\n" + err.decode(errors="replace"))
    assert proc.returncode == 130, err
    after = ({c.id for c in engine.containers.list(all=True)}, {v.name for v in engine.volumes.list()})
    assert after[0] == before[0]
    assert {v for v in after[1] - before[1] if not v.startswith("slim-tracer-bundle-")} == set()


def test_missing_host_strace_names_the_package(monkeypatch):
    from slim.errors import HostToolMissing
    from tracers import bundle

    monkeypatch.setattr(bundle, "STRACE", "/nonexistent/strace")
    with pytest.raises(HostToolMissing, match="apt-get install strace"):
        bundle.host_bundle()


def test_mounts_and_env_apply_to_the_traced_run(build_sample, tmp_path, no_leftovers):
    (tmp_path / "input.txt").write_text("from the host\n")
    doc = trace(build_sample("batch-job"), "--mount", f"{tmp_path}:/mnt/in:ro", "--env", "GREETING=hi",
                "--entrypoint", "/bin/sh -c 'cat /mnt/in/input.txt; echo $GREETING'")
    assert doc["stdout"] == "from the host\nhi\n"
    assert READ in kinds_of(doc, "/mnt/in/input.txt")


def test_continue_after_a_fixed_time(build_sample, no_leftovers):
    start = time.monotonic()
    doc = trace(build_sample("python-web"), "--no-http-probe", "--continue-after", "timeout:3")
    assert 3 <= time.monotonic() - start < 30
    assert doc["probes"] == [] and doc["exit_code"] == 143  # stopped by SIGTERM after the time was up
    assert "listening on 8080" in doc["stdout"]


def test_a_batch_job_outliving_exit_timeout_is_stopped_with_a_warning(build_sample, no_leftovers):
    doc = trace(build_sample("batch-job"), "--entrypoint", "sleep 30", "--exit-timeout", "2")
    assert doc["exit_code"] == 143
    assert "the app did not exit within 2s; stopped it" in doc["warnings"]


def test_a_docker_transport_prefix_names_the_image_in_the_engine(build_sample, no_leftovers):
    image = build_sample("batch-job")
    doc = trace(f"docker://{image}", "--continue-after", "exit")
    assert doc["exit_code"] == 0 and doc["image"] == f"docker://{image}"


def test_only_images_in_the_engine_can_be_traced(tmp_path):
    result = CliRunner().invoke(main, ["-q", "trace", f"oci:{tmp_path}"])
    assert result.exit_code == 2 and "load it first" in result.stderr

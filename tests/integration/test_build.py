"""slim build on every sample against the real engine: slim, verified, scanner-visible, reproducible."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from slim.cli import main
from slim.engine.docker import DockerEngine
from slim.image.reference import parse_reference
from slim.image.source import read_image
from slim.packages.catalog import read_catalog
from slim.workspace import Workspace
from schemas import validate
from tests.integration.conftest import SAMPLES, run_output, sample_spec

BUILT_SAMPLES = sorted(d for d in os.listdir(SAMPLES)
                       if os.path.isfile(os.path.join(SAMPLES, d, "sample.json")) and sample_spec(d)["kind"] != "test-only")
NEEDS_SH = {"alpine-script", "tomcat-jsp"}  # their entrypoints are #!/bin/sh scripts (catalina.sh)
PRESENT = {"nginx-static": ["/var/lib/nginx", "/etc/nginx/mime.types", "/var/www/site/about.html"],
           "python-web": ["/home/app", "/usr/lib/python3.11/decimal.py", "/srv/app/notes/store.py"],
           "python-requests": ["/usr/lib/python3.11/queue.py", "/usr/lib/python3/dist-packages/requests/__init__.py"],
           "node-server": ["/opt/app/node_modules/greeter/lib/format.js", "/opt/app/package.json"],
           "ruby-sinatra": ["/usr/lib/ruby/3.1.0/csv.rb", "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/digest/sha2.so"],
           "php-app": ["/usr/share/php/Parsedown/Parsedown.php", "/usr/share/zoneinfo/Europe/Paris"]}
# what each sample's run profile must hold back (tmpfs dirs, capabilities), from what its traced run did
PROFILES = {"nginx-static": {"tmpfs": ["/run", "/var/lib/nginx", "/var/log/nginx"],
                             "capabilities": ["CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"]},
            "python-web": {"tmpfs": [], "capabilities": [], "user": "app"},
            "python-requests": {"tmpfs": [], "capabilities": [], "user": "app"},
            "node-server": {"tmpfs": [], "capabilities": [], "user": "nobody"},
            "go-static": {"tmpfs": [], "capabilities": [], "user": "nobody"},
            # Tomcat writes its deployed contexts, compiled JSPs and logs (work/ is a link into /var/cache/tomcat10)
            "tomcat-jsp": {"tmpfs": ["/etc/tomcat10/Catalina", "/tmp", "/var/cache/tomcat10",
                                     "/var/lib/tomcat10/work/Catalina/localhost", "/var/log/tomcat10"],
                           "capabilities": [], "user": "tomcat"},
            "ruby-sinatra": {"tmpfs": [], "capabilities": [], "user": "app"},
            "php-app": {"tmpfs": ["/tmp"], "capabilities": [], "user": "app"},
            "alpine-script": {"tmpfs": [], "capabilities": []}}
ABSENT = {"nginx-static": ["/run/nginx.pid", "/var/lib/nginx/body"],  # made by the traced run, not baked in
          "python-web": ["/usr/lib/python3.11/test", "/usr/lib/python3.11/idlelib"]}


RECORDED_SHAPES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "reports")


def shape(value):
    """The JSON shape of a value: keys in order, value kinds, the shape of a list's first element."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else "str"


def shape_differences(got, want, where="report") -> list[str]:
    """Where `got` departs from the recorded shape `want`. An empty list fits any list: what a list holds
    depends on the run (no warnings this time), its kind of element does not. New keys may follow the
    recorded ones (slim.build/1 promises that existing keys keep their place and meaning, not that none come)."""
    if isinstance(want, dict) and isinstance(got, dict):
        if list(got)[:len(want)] != list(want):
            return [f"{where}: keys {list(got)} do not start with {list(want)}"]
        return [d for k in want for d in shape_differences(got[k], want[k], f"{where}.{k}")]
    if isinstance(want, list) and isinstance(got, list):
        return shape_differences(got[0], want[0], f"{where}[0]") if got and want else []
    return [] if got == want else [f"{where}: {got} != {want}"]


def build(*args: str):
    return CliRunner().invoke(main, ["-q", "build", *args])


@pytest.mark.parametrize("name", BUILT_SAMPLES)
def test_every_sample_slims_verifies_and_keeps_a_true_package_database(name, engine, build_sample, scratch_tags,
                                                                        tmp_path, no_leftovers):
    image = build_sample(name)
    out = f"slim-test/{name}:slim"
    scratch_tags.append(out)
    report_file = tmp_path / "report.json"
    result = build(image, "-t", out, "--report", str(report_file), *sample_spec(name)["args"])
    assert result.exit_code == 0, result.output + result.stderr
    report = validate("build", json.loads(report_file.read_text()))  # docs/schemas/slim.build-1.schema.json
    assert report["verification"] == {**report["verification"], "ran": True, "passed": True, "differences": []}
    profile = report["hardening"]["run_profile"]  # on by default, and proven by a run under exactly it
    assert profile["verified"] is True and profile["diagnosis"] == [] and profile["read_only"] is True
    assert profile["docker_args"][-1] == f"seccomp={profile['seccomp_profile']}"
    assert os.path.dirname(profile["seccomp_profile"]) == str(tmp_path)  # beside the report by default
    assert 40 < profile["syscalls"]["allowed"] < profile["syscalls"]["known"] / 3  # most calls are denied
    expected = PROFILES.get(name, {"tmpfs": [], "capabilities": []})
    assert (profile["tmpfs"], profile["capabilities"]) == (expected["tmpfs"], expected["capabilities"])
    assert report["hardening"]["user"] == expected.get("user", "root")  # the image's own USER, kept
    with open(os.path.join(RECORDED_SHAPES, f"{name}.shape.json")) as fh:  # slim.build/1 as recorded before
        assert shape_differences(shape(report), json.load(fh)) == []
    slim_attrs = engine.images.get(out).attrs
    assert report["size"]["slim_docker_bytes"] == slim_attrs["Size"]  # the figure `docker images` shows
    assert report["size"]["original_docker_bytes"] == engine.images.get(image).attrs["Size"]
    assert report["size"]["slim_content_bytes"] < report["size"]["original_content_bytes"] / 2
    assert slim_attrs["Config"]["Cmd"] == engine.images.get(image).attrs["Config"]["Cmd"]
    with Workspace() as ws:
        rootfs = read_image(parse_reference(out), ws, DockerEngine(engine)).rootfs()
        assert rootfs.exists("/bin/sh") == (name in NEEDS_SH)
        assert [p for p in PRESENT.get(name, []) if not rootfs.exists(p)] == []
        assert [p for p in ABSENT.get(name, []) if rootfs.exists(p)] == []
        assert not any(rootfs.exists(p) for p in ("/usr/bin/apt-get", "/usr/bin/dpkg", "/sbin/apk"))
        assert rootfs.stat("/tmp").mode == 0o1777
        catalog = read_catalog(rootfs)  # parse the trimmed database back, as a scanner would
        assert catalog.kind in ("dpkg", "apk")
        assert sorted(p.name for p in catalog.packages) == report["packages"]["kept"]
        assert 0 < report["packages"]["slim"] < report["packages"]["original"]
        assert not any(e.mode & 0o6000 for e in rootfs.walk() if e.kind == "file")


def test_verification_catches_a_missing_library(build_sample, engine, no_leftovers):
    image = build_sample("python-web")
    out = "slim-test/broken:slim"
    result = build(image, "-t", out, "--exclude-pattern", "*/libsqlite3.so*", *sample_spec("python-web")["args"])
    assert result.exit_code == 8
    assert "does not behave like the original" in result.stderr
    assert "verification: FAILED" in result.stdout or "FAILED" in result.stdout
    assert not engine.images.list(name="slim-test/broken")  # the failed output is not left behind


def test_builds_are_reproducible(build_sample, engine, scratch_tags, no_leftovers):
    image = build_sample("batch-job")
    digests = []
    for n in range(2):
        tag = f"slim-test/repro:{n}"
        scratch_tags.append(tag)
        result = CliRunner().invoke(main, ["-q", "build", image, "-t", tag, "--json"])
        assert result.exit_code == 0, result.stderr
        digests.append(json.loads(result.stdout)["output"]["layer_digest"])
    assert digests[0] == digests[1]
    assert engine.images.get("slim-test/repro:0").id == engine.images.get("slim-test/repro:1").id
    assert run_output(engine, "slim-test/repro:0") == run_output(engine, image)


def test_build_to_archive_verifies_through_a_temporary_tag(build_sample, engine, tmp_path, no_leftovers):
    image = build_sample("batch-job")
    archive = tmp_path / "slim.tar"
    before = {t for i in engine.images.list() for t in i.tags}
    result = build(image, "-o", f"docker-archive:{archive}")
    assert result.exit_code == 0, result.stderr
    assert archive.stat().st_size > 0
    assert {t for i in engine.images.list() for t in i.tags} == before  # nothing tagged, nothing left


def test_rebuilding_under_the_same_tag_leaves_no_orphan(build_sample, engine, scratch_tags, no_leftovers):
    image = build_sample("batch-job")
    tag = "slim-test/rebuilt:1"
    scratch_tags.append(tag)
    assert build(image, "-t", tag, "--include-path", "/etc/issue").exit_code == 0  # an image only this test makes
    first = engine.images.get(tag).id
    # a different result under the same tag: the first one must not stay behind untagged
    assert build(image, "-t", tag, "--include-path", "/etc/debconf.conf").exit_code == 0
    assert engine.images.get(tag).id != first
    assert first not in {i.id for i in engine.images.list(all=True)}


def test_sigterm_during_build_leaves_nothing(build_sample, engine):
    import signal
    import subprocess
    import sys
    import time

    image = build_sample("python-web")
    before_c = {c.id for c in engine.containers.list(all=True)}
    before_v = {v.name for v in engine.volumes.list()}
    proc = subprocess.Popen([sys.executable, "-m", "slim.cli", "-q", "build", image, "-t", "slim-test/term:1",
                             "--continue-after", "timeout:60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not engine.containers.list(filters={"label": "slim.run"}):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert {c.id for c in engine.containers.list(all=True)} == before_c
    assert {v for v in {v.name for v in engine.volumes.list()} - before_v if not v.startswith("slim-tracer-bundle-")} == set()
    assert not engine.images.list(name="slim-test/term")

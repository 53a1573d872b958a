"""Runtimes that load late, on routes the probes never take: a static Go server loads a time zone and the
system roots only when asked (data its binary names, slim.closure.data_paths), and Tomcat compiles a JSP page
on its first request (the JVM's class path and the webapp, slim.langs.jvm). The probes request only / (Go) and
a static page (Tomcat); the slim images must still answer the other routes as the originals do."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from slim.cli import main
from tests.integration.conftest import sample_spec
from tests.integration.test_lang_imports import get

pytestmark = pytest.mark.docker


def slim(image: str, out: str, report, *extra: str) -> dict:
    result = CliRunner().invoke(main, ["-q", "build", image, "-t", out, "--report", str(report), "--no-harden",
                                       *sample_spec(image.split("/")[1].split(":")[0])["args"], *extra])
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(report.read_text())


def reasons(report: dict) -> dict[str, list[str]]:
    return {p["path"]: p["reasons"] for p in report["keep"]["paths"]}


def test_a_static_go_server_loads_zones_and_roots_its_binary_names(engine, build_sample, scratch_tags, tmp_path,
                                                                   no_leftovers):
    image = build_sample("go-static")
    scratch_tags.extend(["slim-test/go-static:late", "slim-test/go-static:no-zones"])
    original = get(engine, image, 8080, "/", "/roots")
    assert original[0] == 200 and int(original[1]) > 100  # Debian's ca-certificates: some 140 roots
    report = slim(image, "slim-test/go-static:late", tmp_path / "r.json")
    assert get(engine, "slim-test/go-static:late", 8080, "/", "/tz") == (200, b"2024-07-01 14:00 CEST\n")
    assert get(engine, "slim-test/go-static:late", 8080, "/", "/roots") == original
    why = reasons(report)
    assert why["/usr/share/zoneinfo/Europe/Paris"] == ["closure: data named by /usr/local/bin/server (zoneinfo)"]
    assert why["/etc/ssl/certs/ca-certificates.crt"] == ["closure: data named by /usr/local/bin/server (ca-bundle)"]
    named = report["keep"]["data_named"]
    assert 500_000 < named["zoneinfo"] < 16 << 20 and 100_000 < named["ca-bundle"] < 4 << 20, named
    assert "ca-directory" not in named  # the bundle holds the same roots
    # without the zone files the route fails as it did before binaries' data was kept: the test can fail
    slim(image, "slim-test/go-static:no-zones", tmp_path / "n.json", "--exclude-pattern", "/usr/share/zoneinfo/*")
    status, _ = get(engine, "slim-test/go-static:no-zones", 8080, "/", "/tz")
    assert status != 200  # 500: unknown time zone Europe/Paris


def test_tomcat_compiles_a_jsp_page_no_probe_requested(engine, build_sample, scratch_tags, tmp_path, no_leftovers):
    image = build_sample("tomcat-jsp")
    scratch_tags.append("slim-test/tomcat-jsp:late")
    report = slim(image, "slim-test/tomcat-jsp:late", tmp_path / "r.json")
    status, body = get(engine, "slim-test/tomcat-jsp:late", 8080, "/app/", "/app/hello.jsp")
    assert (status, body.strip()) == (200, b"hello from JSP: 55"), body
    why = reasons(report)
    assert why["/var/lib/tomcat10/webapps/app/hello.jsp"][0].startswith(
        "language: Tomcat webapp /var/lib/tomcat10/webapps/app: pages compiled and served on request")
    jdk = "/usr/lib/jvm/java-17-openjdk-amd64"
    # AWT's native library: loaded by System.loadLibrary only when a class needs it, kept with the runtime
    assert why[f"{jdk}/lib/libawt.so"][0] == f"closure: part of the Java runtime {jdk}, loaded lazily"
    assert f"{jdk}/lib/ct.sym" not in why
    # the JSP compiler: on the class path through jasper's manifest, behind Debian's /usr/share/java link
    assert "/usr/share/java/eclipse-jdt-core-3.32.0.jar" in why

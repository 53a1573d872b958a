"""Grype and Trivy reports of slim-sample/python-web:1 (tests/fixtures/vulns) mapped onto what slim keeps of it."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest

from slim.errors import UsageError
from slim.vulns import grype, match, report, trivy

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "vulns")
LIBZ = "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"
# what slim keeps of python-web (its build report's packages.kept and a few of its kept paths)
KEPT_PACKAGES = {"base-files": (), "libc6": ("/usr/lib/x86_64-linux-gnu/libc.so.6",), "libexpat1": (),
                 "libpython3.11-minimal": (), "libpython3.11-stdlib": ("/usr/lib/python3.11/json/__init__.py",),
                 "libsqlite3-0": ("/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6",), "libssl3": (), "python3-minimal": (),
                 "python3.11-minimal": ("/usr/bin/python3.11",), "tzdata": (),
                 "zlib1g": (LIBZ, "/usr/share/doc/zlib1g/copyright")}
KEPT_PATHS = {"/usr/bin/python3.11", "/usr/bin/python3", LIBZ, "/usr/lib/x86_64-linux-gnu/libc.so.6",
              "/usr/lib/python3.11/json/__init__.py", "/var/lib/dpkg/status.d/zlib1g"}


def components(extra=()):
    out = [SimpleNamespace(kind="deb", name=name, version="", location=f"/var/lib/dpkg/status.d/{name}",
                           files=files) for name, files in KEPT_PACKAGES.items()]
    return out + list(extra)


def slim(extra=(), paths=()):
    return match.contents_of(components(extra), KEPT_PATHS | set(paths))


def load(name):
    with open(os.path.join(FIXTURES, name)) as fh:
        return json.load(fh)


def test_grype_findings_are_read_once_each_with_their_fix_and_paths():
    found = {(f.id, f.package): f for f in grype.findings(load("python-web.grype.json"))}
    assert len(found) == 15  # 16 matches: one listed twice by two matchers
    zlib = found[("CVE-2023-45853", "zlib1g")]
    assert (zlib.severity, zlib.version, zlib.fixed, zlib.type) == ("critical", "1:1.2.13.dfsg-1", None, "deb")
    binary = found[("CVE-2025-8194", "python")]
    assert (binary.type, binary.paths, binary.fixed) == ("binary", ("/usr/bin/python3.11",), "3.13.6")


def test_trivy_findings_get_absolute_paths_and_grypes_type_names():
    found = {(f.id, f.package): f for f in trivy.findings(load("python-web.trivy.json"))}
    assert len(found) == 13
    six = found[("SLIM-FIXTURE-0001", "six")]
    assert six.type == "python" and six.paths == ("/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO",)
    assert found[("CVE-2011-3374", "apt")].severity == "low" and found[("CVE-2011-3374", "apt")].fixed is None


def test_the_grype_mapping_keeps_the_findings_of_kept_packages_and_files_only():
    findings, scanner = report.read(os.path.join(FIXTURES, "python-web.grype.json"))
    mapped = match.mapping(findings, slim(), scanner)
    assert mapped["before"] == {"critical": 1, "high": 6, "medium": 4, "low": 1, "negligible": 3, "unknown": 0}
    assert mapped["after"] == {"critical": 1, "high": 3, "medium": 0, "low": 0, "negligible": 1, "unknown": 0}
    remaining = {(r["id"], r["package"]): r["kept_path"] for r in mapped["remaining"]}
    assert remaining[("CVE-2023-45853", "zlib1g")] == LIBZ  # a package kept: the file that carries it
    assert remaining[("CVE-2025-8194", "python3.11-minimal")] == "/usr/bin/python3.11"
    assert remaining[("CVE-2025-8194", "python")] == "/usr/bin/python3.11"  # a file kept
    assert remaining[("CVE-2019-1010022", "libc6")] == "/usr/lib/x86_64-linux-gnu/libc.so.6"
    removed = {(r["id"], r["package"]) for r in mapped["removed"]}
    assert ("CVE-2025-8194", "python3.11") in removed  # the same advisory, on a package slim removed
    assert ("CVE-2023-31484", "perl-base") in removed and ("CVE-2023-47038", "perl") in removed  # package, file
    assert ("SLIM-FIXTURE-0001", "six") in removed  # a language package whose metadata went
    assert mapped["remaining"][0]["severity"] == "critical"  # worst first
    assert set(mapped["removed"][0]) == {"id", "severity", "package", "version", "fixed_version", "type"}


def test_trivy_and_grype_reports_of_the_same_image_map_alike():
    g = match.mapping(*_read("python-web.grype.json"))
    t = match.mapping(*_read("python-web.trivy.json"))
    assert {(r["id"], r["package"]) for r in t["remaining"]} == {
        (r["id"], r["package"]) for r in g["remaining"] if r["type"] == "deb"}


def _read(name):
    findings, scanner = report.read(os.path.join(FIXTURES, name))
    return findings, slim(), scanner


def test_a_kept_language_package_is_found_by_name_or_by_its_metadata_path():
    findings, scanner = report.read(os.path.join(FIXTURES, "python-web.grype.json"))
    meta = "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO"
    by_name = match.mapping(findings, slim([SimpleNamespace(kind="pypi", name="Six", version="1.16.0",
                                                           location=meta, files=())]), scanner)
    assert ("SLIM-FIXTURE-0001", meta) in {(r["id"], r["kept_path"]) for r in by_name["remaining"]}
    by_path = match.mapping(findings, slim(paths=[meta]), scanner)
    assert ("SLIM-FIXTURE-0001", meta) in {(r["id"], r["kept_path"]) for r in by_path["remaining"]}


def test_a_finding_on_a_directory_stays_when_a_file_below_it_was_kept():
    doc = {"SchemaVersion": 2, "Results": [{"Target": "usr/local/lib/app", "Class": "lang-pkgs", "Type": "jar",
                                            "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "lib",
                                                                 "InstalledVersion": "1", "Severity": "HIGH"}]}]}
    [finding] = trivy.findings(doc)
    assert match.carrier(finding, slim(paths=["/usr/local/lib/app/lib.jar"])) == "/usr/local/lib/app"
    assert match.carrier(finding, slim()) is None


def test_a_merged_usr_path_is_found_under_usr():
    doc = {"matches": [{"vulnerability": {"id": "CVE-3", "severity": "Low"},
                        "artifact": {"name": "z", "version": "1", "type": "binary",
                                     "locations": [{"path": "/lib/x86_64-linux-gnu/libz.so.1.2.13"}]}}]}
    [finding] = grype.findings(doc)
    assert match.carrier(finding, slim()) == "/lib/x86_64-linux-gnu/libz.so.1.2.13"


def test_a_finding_that_names_nothing_to_look_for_counts_as_remaining():
    doc = {"matches": [{"vulnerability": {"id": "CVE-2", "severity": "High"},
                        "artifact": {"name": "thing", "version": "1", "type": "unknown-kind", "locations": []}}]}
    mapped = match.mapping(grype.findings(doc), slim(), {"name": "grype"})
    assert mapped["after"]["high"] == 1 and mapped["remaining"][0]["kept_path"] is None


def test_the_gate_counts_a_severity_and_worse():
    after = {"critical": 1, "high": 3, "medium": 0, "low": 0, "negligible": 1, "unknown": 0}
    assert match.over_limits(after, match.parse_limits(["critical=1", "high=4"])) == []
    assert match.over_limits(after, match.parse_limits(["critical=0"])) == [
        "findings of severity critical: 1 remaining, at most 0 allowed"]
    assert match.over_limits(after, match.parse_limits(["HIGH=3"])) == [
        "findings of severity high or worse: 4 remaining, at most 3 allowed"]
    for bad in ("severe=1", "critical", "critical=-1", "high=x"):
        with pytest.raises(ValueError):
            match.parse_limits([bad])


def test_a_report_of_neither_scanner_is_a_usage_error(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"bomFormat": "CycloneDX"}')
    with pytest.raises(UsageError, match="neither a Grype"):
        report.read(str(path))
    path.write_text("{")
    with pytest.raises(UsageError, match="not JSON"):
        report.read(str(path))


def _fake_scanner(tmp_path, monkeypatch, script: str) -> None:
    """A `grype` on PATH that answers as the real one does, from the fixture report (its database cannot be
    downloaded here)."""
    tool = tmp_path / "grype"
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


def test_scan_runs_the_scanner_on_path_and_reads_its_report(tmp_path, monkeypatch):
    from slim.vulns import scan

    _fake_scanner(tmp_path, monkeypatch, f'echo "$@" > {tmp_path}/argv\ncat {FIXTURES}/python-web.grype.json\n')
    findings, scanner = scan.scan("slim-sample/python-web:1")
    assert len(findings) == 15 and scanner["name"] == "grype"
    assert (tmp_path / "argv").read_text().split() == ["docker:slim-sample/python-web:1", "-o", "json", "-q"]
    assert scan.command("grype", "oci:/out:1")[1] == "oci-dir:/out"
    assert scan.command("trivy", "docker-archive:/x.tar")[-2:] == ["--input", "/x.tar"]


def test_a_scanner_that_fails_is_a_one_line_usage_error(tmp_path, monkeypatch):
    from slim.vulns import scan

    _fake_scanner(tmp_path, monkeypatch, 'echo "failed to load vulnerability db: no network" >&2\nexit 1\n')
    with pytest.raises(UsageError, match="grype could not scan img: failed to load vulnerability db: no network"):
        scan.scan("img")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="--scan needs grype or trivy"):
        scan.scan("img")


def test_the_mapping_fits_the_published_report_schema():
    """The `vulnerabilities` object as docs/schemas/slim.build-1.schema.json publishes it."""
    import jsonschema

    with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "schemas", "slim.build-1.schema.json")) as fh:
        schema = json.load(fh)
    part = {**schema["properties"]["vulnerabilities"], "$defs": schema.get("$defs", {})}
    for name in ("python-web.grype.json", "python-web.trivy.json"):
        mapped = match.mapping(*_read(name))
        mapped["scanned_slim"] = mapped["after"]  # what --scan adds
        jsonschema.Draft202012Validator(part).validate(mapped)


# what slim keeps of tomcat-jsp (its SBOM of the slim image): the Java packages of two archives it kept; the German
# messages' archive (tomcat10-i18n-de) is removed
CATALINA = "/usr/share/java/tomcat10-catalina-10.1.55.jar"
JDT = "/usr/share/java/eclipse-jdt-core-3.32.0.jar"
TOMCAT_KEPT = [SimpleNamespace(kind="maven", name="tomcat10-catalina", version="10.1.55", location=CATALINA,
                               files=(CATALINA,), namespace="org.apache.tomcat-catalina"),
               SimpleNamespace(kind="maven", name="eclipse-jdt-core", version="3.32.0", location=JDT, files=(JDT,),
                               namespace="org.eclipse.jdt.core")]


def _without_paths(doc: dict) -> dict:
    """The report as a scanner writes it when it gives no path (Trivy leaves out an empty PkgPath; Grype's
    artifacts have no locations when it scanned a list of purls rather than the image)."""
    for found in doc.get("matches", []):
        found["artifact"]["locations"] = []
    for result in doc.get("Results", []):
        for vuln in result.get("Vulnerabilities") or []:
            vuln.pop("PkgPath", None)
    return doc


@pytest.mark.parametrize("name", ["tomcat-jsp.grype.json", "tomcat-jsp.trivy.json"])
@pytest.mark.parametrize("paths", [True, False])
def test_java_findings_match_the_kept_archives_by_name_and_version(name, paths):
    """Handwritten in each scanner's real JSON shape (no vulnerability database can be downloaded here):
    Grype's `java-archive` artifacts named by artifact id, Trivy's `jar` packages named GROUP:ARTIFACT."""
    doc = load(name) if paths else _without_paths(load(name))
    reader = grype if name.endswith("grype.json") else trivy
    mapped = match.mapping(reader.findings(doc), slim(TOMCAT_KEPT, [CATALINA, JDT]), reader.scanner(doc))
    assert {r["id"]: r["kept_path"] for r in mapped["remaining"]} == {"SLIM-FIXTURE-0002": CATALINA,
                                                                      "SLIM-FIXTURE-0003": JDT}
    assert [(r["id"], r["type"]) for r in mapped["removed"]] == [("SLIM-FIXTURE-0004", "java-archive")]


def test_a_java_package_inside_a_kept_archive_stays():
    war = "/var/lib/tomcat10/webapps/app.war"
    doc = {"SchemaVersion": 2, "Results": [{"Target": "Java", "Class": "lang-pkgs", "Type": "jar", "Vulnerabilities": [
        {"VulnerabilityID": "SLIM-FIXTURE-0005", "PkgName": "org.example:helper", "InstalledVersion": "1.0",
         "PkgPath": "var/lib/tomcat10/webapps/app.war/WEB-INF/lib/helper-1.0.jar", "Severity": "HIGH"}]}]}
    [finding] = trivy.findings(doc)
    assert match.carrier(finding, slim(paths=[war])) == war  # Trivy joins an inner archive's path with "/"
    assert match.carrier(finding, slim()) is None


def test_another_version_of_a_kept_name_does_not_hold_a_finding():
    meta = "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO"
    kept = slim([SimpleNamespace(kind="pypi", name="six", version="1.16.0", location=meta, files=())])
    doc = {"matches": [{"vulnerability": {"id": "SLIM-FIXTURE-0006", "severity": "High"},
                        "artifact": {"name": "six", "version": v, "type": "python",
                                     "locations": [{"path": f"/opt/venv/lib/six-{v}.dist-info/METADATA"}]}}
                       for v in ("1.16.0", "1.15.0")]}
    carriers = {f.version: match.carrier(f, kept) for f in grype.findings(doc)}
    assert carriers == {"1.16.0": meta, "1.15.0": None}  # the old copy's metadata went, and nothing else holds it

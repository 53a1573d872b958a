"""What CI dashboards read from a build: JUnit XML (each probe of the verification and each gate a test case)
and a markdown summary (sizes, packages, verification, hardening, gates)."""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET

from slim.report.shapes import answer_json, probe_of_json
from slim.report.gates import Verdict
from slim.sizes import human
from slim.vulns.finding import before_after


PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


def junit_xml(doc: dict, verdicts: list[Verdict], seconds: float) -> bytes:
    """One <testsuite> named after the image: a case per verification probe and per gate."""
    cases = []  # (name, seconds, outcome, message)
    for probe in doc["verification"]["probes"]:
        # a case per probe, named by what identifies it across runs, passed when the slim image answered as the
        # original did (an answer is not a pass: a 404 where the original said 200 is a failure)
        original = probe.get("original") or {}
        cases.append((f"verify {probe.get('key') or probe['kind'] + ' ' + probe['target']}", probe.get("seconds", 0.0),
                      PASSED if probe.get("same") else FAILED,
                      f"original {answer_json(original)}, slim {answer_json(probe)}"))
    for verdict in verdicts:
        outcome = {True: PASSED, False: FAILED, None: SKIPPED}[verdict.passed]
        cases.append((f"gate {verdict.name}", 0.0, outcome, verdict.reason))
    counts = {o: str(sum(1 for c in cases if c[2] == o)) for o in (FAILED, SKIPPED)}
    totals = dict(tests=str(len(cases)), failures=counts[FAILED], errors="0", skipped=counts[SKIPPED],
                  time=f"{seconds:.3f}")
    suites = ET.Element("testsuites", {"name": "slim build", **totals})
    suite = ET.SubElement(suites, "testsuite", {"name": f"slim build {doc['image']}", **totals})
    if doc.get("vulnerabilities"):  # the scanner's findings before and after, per severity, for dashboards
        found = ET.SubElement(suite, "properties")
        for when in ("before", "after"):
            for severity, count in doc["vulnerabilities"][when].items():
                ET.SubElement(found, "property", name=f"vulnerabilities.{when}.{severity}", value=str(count))
    for name, secs, outcome, message in cases:
        case = ET.SubElement(suite, "testcase", classname="slim.build", name=name, time=f"{secs:.3f}")
        if outcome == SKIPPED:
            ET.SubElement(case, "skipped", message=message)
        elif outcome == FAILED:
            ET.SubElement(case, "failure", message=message[:1000], type="slim").text = message
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def _original_failed(probe: dict | None) -> bool:
    """Whether the original's answer (a report's probe) was a failure, by the one rule ProbeResult.failed holds."""
    return probe_of_json(probe).failed() if probe else False


def error_junit(image: str, message: str) -> bytes:
    """JUnit for a build that failed before it had a report: one failed case that says why."""
    totals = {"tests": "1", "failures": "1", "errors": "0", "skipped": "0", "time": "0.000"}
    suites = ET.Element("testsuites", {"name": "slim build", **totals})
    suite = ET.SubElement(suites, "testsuite", {"name": f"slim build {image}", **totals})
    case = ET.SubElement(suite, "testcase", classname="slim.build", name="build", time="0.000")
    ET.SubElement(case, "failure", message=message[:1000], type="slim").text = message
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def summary_markdown(doc: dict, verdicts: list[Verdict]) -> str:
    """The build as a short markdown summary for a CI job's page: sizes and packages before and after, verification,
    vulnerabilities, the verified run line and each gate's verdict."""
    s, p, v = doc["size"], doc["packages"], doc["verification"]
    tags = ", ".join(f"`{t}`" for t in doc["output"]["tags"]) or doc["output"]["kind"]
    rows = [("size (Docker)", human(s["original_docker_bytes"]), human(s["slim_docker_bytes"])),
            ("file content", human(s["original_content_bytes"]), human(s["slim_content_bytes"])),
            ("files", str(doc["files"]["original"]), str(doc["files"]["slim"]))]
    if p["database"]:
        rows.append((f"packages ({p['database']})", str(p["original"]), str(p["slim"])))
    lines = [f"### slim: `{doc['image']}` → {tags}", "", "| | original | slim |", "| --- | ---: | ---: |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    verification = "not run (--no-verify)" if not v["ran"] else "passed" if v["passed"] else "**FAILED**"
    lines += ["", f"- verification: {verification} ({len(v['probes'])} probes)"]
    accepted = [p.get("key") or p["target"] for p in v["probes"] if _original_failed(p.get("original"))]
    if accepted:  # --allow-failing-probes: the slim image failed these the same way, and that was all it proved
        lines.append(f"- failed on the original too (accepted: --allow-failing-probes): {', '.join(accepted)}")
    if doc.get("vulnerabilities"):  # before -> after, as the scanner's report of the original says
        lines.append(f"- vulnerabilities: {before_after(doc['vulnerabilities'])}")
    profile = (doc.get("hardening") or {}).get("run_profile")
    if profile and v["ran"] and v["passed"] is False:  # no line: it would start an image that failed
        lines.append("- run profile: not run (the slim image did not pass verification)")
    elif profile:
        state = {True: "verified", False: "**not verified**", None: "not run"}[profile["verified"]]
        runner = (doc.get("engine") or {}).get("name") or "docker"  # a report from before "command" existed
        line = profile.get("command") or [runner, "run", *profile["docker_args"], "IMAGE"]
        lines.append(f"- run profile: {state}; `{shlex.join(line)}`")
    for verdict in verdicts[1:]:
        mark = {True: "passed", False: "**FAILED**", None: "not evaluated"}[verdict.passed]
        lines.append(f"- gate {verdict.name}: {mark} ({verdict.reason})")
    return "\n".join(lines) + "\n"

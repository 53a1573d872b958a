"""`slim lint` results as JSON (slim.lint/1), as SARIF 2.1.0 (what code-scanning dashboards import), as the
summary the build report carries for the original and the slim image, and as a verdict against --fail-on."""

from __future__ import annotations

from slim import __version__
from slim.checks.lint_rules import RULES, SEVERITIES, Finding

SCHEMA = "slim.lint/1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"low": "note", "medium": "warning", "high": "error", "critical": "error"}
# GitHub code scanning ranks security results by this property (CVSS-like: 9+ critical, 7+ high, 4+ medium)
_SECURITY_SEVERITY = {"low": "3.0", "medium": "5.0", "high": "7.5", "critical": "9.5"}


def ordered(findings: list[Finding]) -> list[Finding]:
    """Worst first, then by rule and place: the order every output uses."""
    return sorted(findings, key=lambda f: (-SEVERITIES.index(f.severity), f.rule, f.location, f.line or 0))


def counts(findings: list[Finding]) -> dict[str, int]:
    """How many findings of each severity, for summaries."""
    return {severity: sum(1 for f in findings if f.severity == severity) for severity in SEVERITIES}


def at_or_above(findings: list[Finding], threshold: str) -> list[Finding]:
    """The findings at `threshold` severity or above: what `--fail-on` fails on."""
    floor = SEVERITIES.index(threshold)
    return [f for f in findings if SEVERITIES.index(f.severity) >= floor]


def finding_json(f: Finding) -> dict:
    """One finding as slim.lint/1 writes it, with its rule's benchmark, severity, title and help."""
    rule = RULES[f.rule]
    return {"rule": f.rule, "benchmark": rule.benchmark or None, "severity": rule.severity, "title": rule.title,
            "message": f.message, "location": f.location or None, "line": f.line, "help": rule.help}


def lint_json(findings: list[Finding], target: str) -> dict:
    """The findings for `target` as the documented JSON (slim.lint/1), in a stable order."""
    return {"schema": SCHEMA, "target": target, "counts": counts(findings),
            "findings": [finding_json(f) for f in ordered(findings)]}


def summary(findings: list[Finding]) -> dict:
    """What the build report says of one image's lint: counts by severity and the rules that fired."""
    return {"counts": counts(findings), "rules": sorted({f.rule for f in findings})}


def sarif(findings: list[Finding], target: str, dockerfile: str | None = None) -> dict:
    """One run of the tool `slim`. A Dockerfile finding points at its file and line; an image finding names its
    place in the image (a path, a config field) as a logical location, since no source file holds it."""
    used = sorted({f.rule for f in findings})
    rules = [{"id": rid, "name": rid.replace("/", "-"), "shortDescription": {"text": RULES[rid].title},
              "help": {"text": RULES[rid].help},
              "defaultConfiguration": {"level": _SARIF_LEVEL[RULES[rid].severity]},
              "properties": {"security-severity": _SECURITY_SEVERITY[RULES[rid].severity],
                             "tags": ["security", "container"] + ([RULES[rid].benchmark] if RULES[rid].benchmark
                                                                   else [])}}
             for rid in used]
    results = []
    for f in ordered(findings):
        result = {"ruleId": f.rule, "ruleIndex": used.index(f.rule), "level": _SARIF_LEVEL[f.severity],
                  "message": {"text": f.message}}
        if dockerfile and f.line:
            result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": dockerfile},
                                                         "region": {"startLine": f.line}}}]
        else:
            result["locations"] = [{"logicalLocations": [{"name": f.location or target,
                                                          "fullyQualifiedName": f"{target}:{f.location}"
                                                          if f.location else target}]}]
        results.append(result)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "slim", "version": __version__, "semanticVersion": __version__,
                            "rules": rules}},
        "automationDetails": {"id": f"slim-lint/{target}"},
        "results": results}]}

"""Grype's JSON report (`grype IMAGE -o json`) as findings. Pure: parsed JSON in, findings out.

Read: `matches[].vulnerability` (`id`, `severity`, `fix.versions`), `matches[].artifact` (`name`, `version`,
`type`, `locations[].path`), and `descriptor` (`name`, `version`) for the record of which scanner it was.
"""

from __future__ import annotations

from slim.vulns.finding import Finding, absolute, severity_of, unique


def is_grype(doc: dict) -> bool:
    """Whether a parsed report has Grype's shape, to pick the reader for a report file of either scanner."""
    return isinstance(doc, dict) and isinstance(doc.get("matches"), list)


def findings(doc: dict) -> list[Finding]:
    """Grype's matches as findings, one per vulnerability and package; matches naming no vulnerability or no package
    are skipped."""
    out = []
    for match in doc.get("matches") or []:
        vuln, artifact = match.get("vulnerability") or {}, match.get("artifact") or {}
        if not vuln.get("id") or not artifact.get("name"):
            continue  # a match without a vulnerability or a package says nothing to map
        fixed = [v for v in (vuln.get("fix") or {}).get("versions") or [] if v]
        paths = tuple(absolute(loc["path"]) for loc in artifact.get("locations") or [] if loc.get("path"))
        out.append(Finding(vuln["id"], severity_of(vuln.get("severity")), artifact["name"],
                           artifact.get("version", ""), fixed[0] if fixed else None, artifact.get("type") or "",
                           paths))
    return unique(out)


def scanner(doc: dict) -> dict:
    """Which scanner and version made the report, for the build report's record of it."""
    d = doc.get("descriptor") or {}
    return {"name": d.get("name") or "grype", "version": d.get("version")}

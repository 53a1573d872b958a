"""Grype's JSON report (`grype IMAGE -o json`) as findings. Pure: parsed JSON in, findings out.

Read: `matches[].vulnerability` (`id`, `severity`, `fix.versions`), `matches[].artifact` (`name`, `version`,
`type`, `locations[].path`), and `descriptor` (`name`, `version`) for the record of which scanner it was.
"""

from __future__ import annotations

from slim.vulns.finding import Finding, absolute, severity_of, unique


def is_grype(doc: dict) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("matches"), list)


def findings(doc: dict) -> list[Finding]:
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
    d = doc.get("descriptor") or {}
    return {"name": d.get("name") or "grype", "version": d.get("version")}

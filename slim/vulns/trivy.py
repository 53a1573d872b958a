"""Trivy's JSON report (`trivy image --format json IMAGE`, SchemaVersion 2) as findings. Pure.

Read: `Results[]` (`Class`, `Type`, `Target`) and their `Vulnerabilities[]` (`VulnerabilityID`, `PkgName`,
`InstalledVersion`, `FixedVersion`, `Severity`, `PkgPath`), and `SchemaVersion`. Trivy writes image paths
without the leading slash; a language package's path is its `PkgPath`, a binary's is the result's `Target`.
"""

from __future__ import annotations

from slim.vulns.finding import Finding, absolute, severity_of, unique

# Trivy's result Type -> the package type names Grype uses (and the report shows)
_TYPES = {"debian": "deb", "ubuntu": "deb", "alpine": "apk", "wolfi": "apk", "chainguard": "apk",
          "redhat": "rpm", "centos": "rpm", "rocky": "rpm", "alma": "rpm", "amazon": "rpm", "oracle": "rpm",
          "python-pkg": "python", "pip": "python", "pipenv": "python", "poetry": "python",
          "node-pkg": "npm", "npm": "npm", "yarn": "npm", "pnpm": "npm", "jar": "java-archive",
          "gobinary": "go-module", "gomod": "go-module", "rustbinary": "rust-crate", "cargo": "rust-crate",
          "gemspec": "gem", "bundler": "gem", "composer": "php-composer", "nuget": "dotnet"}


def is_trivy(doc: dict) -> bool:
    """Whether a parsed report has Trivy's shape, to pick the reader for a report file of either scanner."""
    return isinstance(doc, dict) and "SchemaVersion" in doc and isinstance(doc.get("Results", []), list)


def findings(doc: dict) -> list[Finding]:
    """Trivy's vulnerabilities as findings, with the image path each was found at (none for OS packages, which the
    package database decides)."""
    out = []
    for result in doc.get("Results") or []:
        kind = _TYPES.get(result.get("Type", ""), result.get("Type", ""))
        target = result.get("Target", "")
        os_packages = result.get("Class") == "os-pkgs"
        for vuln in result.get("Vulnerabilities") or []:
            if not vuln.get("VulnerabilityID") or not vuln.get("PkgName"):
                continue
            path = vuln.get("PkgPath") or ("" if os_packages or "/" not in target else target)
            fixed = (vuln.get("FixedVersion") or "").split(",")[0].strip() or None
            out.append(Finding(vuln["VulnerabilityID"], severity_of(vuln.get("Severity")), vuln["PkgName"],
                               vuln.get("InstalledVersion", ""), fixed, kind, (absolute(path),) if path else ()))
    return unique(out)


def scanner(doc: dict) -> dict:
    """Which scanner made the report and its schema version (Trivy's report does not carry its own version)."""
    return {"name": "trivy", "version": None, "schema": doc.get("SchemaVersion")}

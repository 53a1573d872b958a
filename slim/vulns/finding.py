"""One scanner finding, whatever scanner reported it, and the severity scale the gate and the counts use."""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")  # worst first
OS_TYPES = ("deb", "apk", "rpm")


@dataclass(frozen=True)
class Finding:
    """One vulnerability a scanner reported in one package, with the image paths that hold it: what the mapping
    decides kept or removed."""

    id: str  # CVE-2024-1234, GHSA-..., ...
    severity: str  # one of SEVERITIES
    package: str
    version: str
    fixed: str | None  # the first fixed version, when the scanner knows one
    type: str  # deb, apk, python, npm, java-archive, go-module, binary, ...
    paths: tuple[str, ...] = ()  # absolute paths in the image that hold the package or the file

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two findings the same one: a scanner listing a package at several paths reports it once per
        path."""
        return self.id, self.type, self.package, self.version


def severity_of(text: str | None) -> str:
    """A scanner's severity word on slim's scale; anything else (negligible, empty) is "unknown"."""
    word = (text or "").strip().lower()
    return word if word in SEVERITIES else "unknown"


def counts(findings) -> dict[str, int]:
    """How many findings of each severity, every severity present (zero included) so reports line up."""
    out = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        out[finding.severity] += 1
    return out


def unique(findings) -> list[Finding]:
    """One finding per (id, package type, package, version): scanners list a package once per place it is."""
    seen: dict[tuple, Finding] = {}
    for f in findings:
        if f.key in seen:
            paths = tuple(dict.fromkeys(seen[f.key].paths + f.paths))
            seen[f.key] = Finding(f.id, f.severity, f.package, f.version, f.fixed, f.type, paths)
        else:
            seen[f.key] = f
    return list(seen.values())


def absolute(path: str) -> str:
    """Trivy writes image paths without the leading slash; Grype with it."""
    return "/" + path.lstrip("/")


def before_after(vulns: dict) -> str:
    """"critical 2 → 0, high 5 → 1 (6 of 7 findings removed)": the counts a summary shows."""
    before, after = vulns["before"], vulns["after"]
    shown = [f"{s} {before[s]} → {after[s]}" for s in SEVERITIES if before.get(s) or after.get(s)]
    total, left = sum(before.values()), sum(after.values())
    return f"{', '.join(shown) or 'none'} ({total - left} of {total} findings removed)"

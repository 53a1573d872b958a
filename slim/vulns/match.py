"""Which findings the slim image still carries. Pure: findings and what the slim image holds in, a mapping out.

A finding on an OS package (deb, apk) stays when the slim image's trimmed package database still lists the
package (slim keeps an entry for every package that keeps a file); a language package's (Python, npm, gem, Java
archive) when the slim image's inventory still lists that name at that version, else when the path the scanner
gave was kept; any other finding (a binary, an archive, a file) when a path it names, or a file below it, or the
archive it lies in was kept. A finding that names neither a known package nor a path cannot be decided and is
counted as remaining.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slim.vulns.finding import OS_TYPES, SEVERITIES, Finding, counts

_MERGED = ("/bin/", "/sbin/", "/lib/", "/lib64/")
# slim's inventory kinds -> the package types scanners write (Grype's; Trivy's are mapped to them on reading)
_INVENTORY_TYPES = {"pypi": "python", "npm": "npm", "deb": "deb", "apk": "apk", "maven": "java-archive"}
_SAME_AS = {"jenkins-plugin": "java-archive"}  # Grype's type for .hpi/.jpi archives, which slim lists as maven
# types whose every package the slim image's inventory lists: a name it does not list is gone
_LISTED_WHOLE = ("python", "npm", "gem", "java-archive")
# what a Java archive inside another is named by: `app.war/WEB-INF/lib/x.jar` (Trivy), `app.war:WEB-INF/...`
_ARCHIVE_IN_PATH = re.compile(r"\.(?:jar|war|ear|par|sar|nar|jpi|hpi|kar|lpkg|zip)(?=[/:])")


@dataclass(frozen=True)
class LangPackage:
    """A language package the slim image lists: its version and the kept path it was read from."""

    version: str
    location: str


@dataclass(frozen=True)
class SlimContents:
    """What the slim image still carries, indexed the ways findings name things: OS packages, language packages by
    normalized name, and paths."""

    os_packages: dict[str, str]  # name -> the kept path that carries it (a file it owns, else its database entry)
    lang_packages: dict[tuple[str, str], tuple[LangPackage, ...]]  # (type, normalized name) -> each version kept
    paths: frozenset[str]  # every kept file, link and directory
    parents: frozenset[str]  # every directory above a kept path


def normalized(kind: str, name: str) -> str:
    """A package name as its ecosystem compares names, so a scanner's spelling and the metadata's match."""
    # Python distribution names compare case-insensitively with runs of -_. as one "-" (PEP 503)
    if kind == "python":
        return re.sub(r"[-_.]+", "-", name).lower()
    # Trivy names a Java package GROUP:ARTIFACT, Grype and slim's inventory by its artifact id
    return name.rsplit(":", 1)[-1] if kind == "java-archive" else name


def contents_of(components, paths) -> SlimContents:
    """From the slim image's inventory (components with kind, name, location, files) and its kept paths."""
    kept = frozenset(paths)
    os_packages: dict[str, str] = {}
    lang: dict[tuple[str, str], tuple[LangPackage, ...]] = {}
    for c in components:
        kind = _INVENTORY_TYPES.get(c.kind, c.kind)
        if kind in OS_TYPES:
            # the slim image's package database lists only the files slim kept: any of them carries the package
            entry = f"{c.location}/status.d/{c.name}"
            os_packages[c.name] = c.files[0] if c.files else entry if entry in kept else c.location
        else:
            key = (kind, normalized(kind, c.name))
            lang[key] = lang.get(key, ()) + (LangPackage(c.version, c.location),)
    parents = {p.rsplit("/", i)[0] or "/" for p in kept for i in range(1, p.count("/") + 1)}
    return SlimContents(os_packages, lang, kept, frozenset(parents))


def carrier(finding: Finding, slim: SlimContents) -> str | None:
    """The kept path that carries the finding, None when the slim image no longer has it. Undecidable findings
    (no known package type, no path) return "" and count as remaining."""
    if finding.type in OS_TYPES:
        return slim.os_packages.get(finding.package)
    kind = _SAME_AS.get(finding.type, finding.type)
    named = slim.lang_packages.get((kind, normalized(kind, finding.package)), ())
    exact = next((p.location for p in named if p.version == finding.version), None)
    if exact:
        return exact
    for path in finding.paths:
        found = _kept(path, slim)
        if found:
            return found
    if named and not finding.paths:  # that name at another version, and nothing says where the finding's was
        return named[0].location
    return None if finding.paths or kind in _LISTED_WHOLE else ""


def _kept(path: str, slim: SlimContents) -> str | None:
    """`path` when it, a file below it, or the archive it lies inside was kept (None otherwise)."""
    # merged /usr: a scanner may name /lib/x for what the image holds as /usr/lib/x (conservative: when the image
    # is not merged, this can only count a removed file as remaining, never the other way round)
    for alias in (path, "/usr" + path) if path.startswith(_MERGED) else (path,):
        if alias in slim.paths or alias in slim.parents:
            return path
        for m in _ARCHIVE_IN_PATH.finditer(alias):  # a package inside an archive that was kept whole
            if alias[:m.end()] in slim.paths:
                return alias[:m.end()]
    return None


def _row(finding: Finding, kept_path: str | None = None) -> dict:
    row = {"id": finding.id, "severity": finding.severity, "package": finding.package, "version": finding.version,
           "fixed_version": finding.fixed, "type": finding.type}
    if kept_path is not None:
        row["kept_path"] = kept_path or None  # None: the finding names nothing to look for, so it stays
    return row


def mapping(findings: list[Finding], slim: SlimContents, scanner: dict) -> dict:
    """The report's `vulnerabilities` object: counts before and after, the findings removed and remaining."""
    removed: list[tuple[Finding, str | None]] = []
    remaining: list[tuple[Finding, str | None]] = []
    for finding in sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.id, f.package)):
        path = carrier(finding, slim)
        (remaining if path is not None else removed).append((finding, path))
    return {"scanner": scanner, "before": counts(findings), "after": counts(f for f, _ in remaining),
            "removed": [_row(f) for f, _ in removed], "remaining": [_row(f, p) for f, p in remaining]}


def parse_limits(specs) -> dict[str, int]:
    """--max-vulns critical=0 high=5 -> {"critical": 0, "high": 5}; ValueError names the bad one."""
    out = {}
    for spec in specs:
        name, _, number = spec.partition("=")
        if name.lower() not in SEVERITIES or not number.isdigit():
            raise ValueError(f"{spec!r}: expected SEVERITY=N with SEVERITY one of {', '.join(SEVERITIES)}")
        out[name.lower()] = int(number)
    return out


def over_limits(after: dict[str, int], limits: dict[str, int]) -> list[str]:
    """Each limit exceeded, as text. A limit counts findings of its severity or worse."""
    out = []
    for name, limit in limits.items():
        worse = SEVERITIES[:SEVERITIES.index(name) + 1]
        found = sum(after.get(s, 0) for s in worse)
        if found > limit:
            out.append(f"findings of severity {name}{' or worse' if len(worse) > 1 else ''}: {found} remaining, "
                       f"at most {limit} allowed")
    return out

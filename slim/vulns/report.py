"""A scanner report read from a file or from a scanner's output, whichever scanner wrote it."""

from __future__ import annotations

import json

from slim.errors import UsageError
from slim.vulns import grype, trivy
from slim.vulns.finding import Finding


def parse(text: str, where: str) -> tuple[list[Finding], dict]:
    """(findings, {"name", "version"} of the scanner) of a Grype or Trivy JSON report."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where}: not JSON ({exc})") from exc
    for recognise, reader in ((grype.is_grype, grype), (trivy.is_trivy, trivy)):
        if recognise(doc):
            return reader.findings(doc), {**reader.scanner(doc), "report": where}
    raise UsageError(f"{where}: neither a Grype (`-o json`) nor a Trivy (`--format json`) report")


def read(path: str) -> tuple[list[Finding], dict]:
    """The findings and the scanner of the report in the file at `path`; a usage error when it cannot be read or is
    no report slim knows."""
    try:
        with open(path, encoding="utf-8") as fh:
            return parse(fh.read(), path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from exc

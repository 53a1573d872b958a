"""--scan: run Grype or Trivy, whichever is on PATH, on an image, and read its JSON report.

Neither tool can download its vulnerability database on a machine without network access to its feeds: then
the scanner fails and so does the build, saying so (use --vulns with a report made elsewhere).
"""

from __future__ import annotations

import shutil
import subprocess

from slim.errors import UsageError
from slim.vulns.finding import Finding
from slim.vulns.report import parse

SCANNERS = ("grype", "trivy")


def available() -> str | None:
    """The scanner `--scan` runs: the first of grype and trivy on PATH, or None."""
    return next((name for name in SCANNERS if shutil.which(name)), None)


def command(tool: str, image: str) -> list[str]:
    """The scanner's command line for a slim image reference (the engine's NAME[:TAG], docker-archive:FILE,
    oci:DIR), JSON on standard output."""
    kind, _, rest = image.partition(":")
    if tool == "grype":
        source = {"docker-archive": f"docker-archive:{rest}", "oci": f"oci-dir:{rest.split(':')[0]}"}.get(
            kind, f"docker:{image}")
        return ["grype", source, "-o", "json", "-q"]
    if kind in ("docker-archive", "oci"):
        return ["trivy", "image", "--quiet", "--format", "json", "--input", rest.split(":")[0]]
    return ["trivy", "image", "--quiet", "--format", "json", image]


def scan(image: str, timeout: float = 1800) -> tuple[list[Finding], dict]:
    """Scan `image` with the available scanner and read its report; a usage error with the scanner's last line
    when it fails (no database, no network) or does not finish in `timeout` seconds."""
    tool = available()
    if tool is None:
        raise UsageError("--scan needs grype or trivy on PATH (or give a report with --vulns)")
    try:
        done = subprocess.run(command(tool, image), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise UsageError(f"{tool} did not finish scanning {image} in {timeout:.0f} s") from exc
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no reason given"])[-1]
        raise UsageError(f"{tool} could not scan {image}: {last}")
    return parse(done.stdout.decode(errors="replace"), f"{tool} {image}")

"""What `slim build` does for content trust: the vulnerability mapping and its gate before anything is decided,
and the signatures once the push succeeded. Options are parsed and keys unlocked before the build starts, so a
wrong password or a missing report fails in a second, not after the build."""

from __future__ import annotations

import datetime
import json
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from slim.errors import SigningFailed, UsageError, VulnerabilityGateFailed
from slim.files import write_file
from slim.report.gates import Verdict

if TYPE_CHECKING:
    from slim.engine import Images
    from slim.sign.push import SignPlan

BUILD_OPTIONS = [
    click.option("--sign-key", metavar="FILE.key", type=click.Path(dir_okay=False, exists=True),
                 help="After the push, sign each pushed tag with this cosign-format key (`slim keygen`, `cosign "
                      "generate-key-pair`; password from SLIM_KEY_PASSWORD or COSIGN_PASSWORD) as cosign does, "
                      "and attach signed SBOM and SLSA provenance attestations. Exit 19 when signing fails."),
    click.option("--sign-by", metavar="FINGERPRINT",
                 help="After the push, sign each pushed tag with this GPG key (containers simple signing, as "
                      "`skopeo copy --sign-by`), written to the registries.d signature store or --signature-dir."),
    click.option("--signature-dir", type=click.Path(file_okay=False), metavar="DIR",
                 help="With --sign-by: the lookaside signature store to write to (default: lookaside-staging of "
                      "registries.d for the registry)."),
    click.option("--registries.d", "registries_d", type=click.Path(file_okay=False), metavar="DIR",
                 help="With --sign-by: read registries.d from DIR instead of the containers tools' places."),
    click.option("--vulns", "vulns_file", type=click.Path(dir_okay=False, exists=True), metavar="REPORT",
                 help="A Grype (-o json) or Trivy (--format json) report of the original image: the build report "
                      "gets each finding as removed or remaining in the slim image, with counts before and after."),
    click.option("--scan", is_flag=True, help="Run grype or trivy (whichever is on PATH) on the original image "
                                              "instead of reading --vulns."),
    click.option("--max-vulns", "max_vulns", multiple=True, metavar="SEVERITY=N",
                 help="Fail (exit 18) when more than N findings of SEVERITY or worse remain in the slim image "
                      "(critical=0; repeatable). Needs --vulns or --scan."),
]


def build_options(command):
    """Add the content trust options of `slim build` (signing, vulnerability report and scan, --max-vulns) to
    `command`."""
    for option in reversed(BUILD_OPTIONS):
        command = option(command)
    return command


@dataclass(frozen=True)
class Trust:
    """What the build was asked to do for content trust, prepared before the build starts: the signing plan with its
    keys unlocked, where the vulnerabilities come from and their limits."""

    plan: SignPlan | None = None  # made only when signing was asked for
    vulns_file: str | None = None
    scan: bool = False
    limits: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # the build's options, for the provenance
    started: str = ""


def trust_options(kw: dict, push: bool, several: bool, params: dict) -> Trust:
    """Take the trust options out of `kw` and check them against each other before anything runs."""
    from slim.vulns.match import parse_limits

    sign_key, sign_by = kw.pop("sign_key", None), kw.pop("sign_by", None)
    signature_dir, registries_d = kw.pop("signature_dir", None), kw.pop("registries_d", None)
    vulns_file, scan, max_vulns = kw.pop("vulns_file", None), kw.pop("scan", False), kw.pop("max_vulns", ())
    if (sign_key or sign_by) and not push:
        raise UsageError("--sign-key/--sign-by sign what --push pushed: add --push")
    if signature_dir and not sign_by:
        raise UsageError("--signature-dir is where --sign-by writes: add --sign-by")
    if max_vulns and not (vulns_file or scan):
        raise UsageError("--max-vulns needs findings to count: add --vulns REPORT or --scan")
    if vulns_file and scan:
        raise UsageError("--vulns and --scan both give the findings: give one")
    if vulns_file and several:
        raise UsageError("--vulns is the report of one original image: with several images use --scan")
    try:
        limits = parse_limits(max_vulns)
    except ValueError as exc:
        raise UsageError(f"--max-vulns {exc}") from exc
    plan = None
    if sign_key or sign_by:
        from slim.sign.push import SignPlan

        plan = SignPlan(_unlock(sign_key) if sign_key else None, sign_by, signature_dir, registries_d)
    options = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    # the provenance is published beside the image: environment values (tokens, passwords) stay out of it
    options["env"] = [item.split("=", 1)[0] + "=..." for item in options.get("env") or []]
    return Trust(plan, vulns_file, scan, limits, options, _now())


def _unlock(path: str):
    from slim.sign import keys
    from slim.sign.cosign import KeySigner

    with open(path, "rb") as fh:
        data = fh.read()

    def ask(confirm: bool) -> str:
        return click.prompt(f"password of {path}", hide_input=True, err=True)

    password = keys.read_password(ask if sys.stdin.isatty() else None)  # no terminal (CI): the variable or an error
    return KeySigner(keys.decrypt_private(data, password, path))


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_vulnerabilities(report, trust: Trust):
    """The build report with its `vulnerabilities`: each finding of the original mapped onto what the slim
    image kept (unchanged when no findings were asked for)."""
    if not (trust.vulns_file or trust.scan):
        return report
    import dataclasses

    return dataclasses.replace(report, vulnerabilities=_mapping(trust, report))


def _mapping(trust: Trust, report) -> dict:
    from slim.vulns import match, report as reports, scan
    from slim.vulns.finding import counts

    if trust.scan:
        findings, scanner = scan.scan(report.facts.image)
    else:
        findings, scanner = reports.read(trust.vulns_file or "")
    kept = report.facts.rewrites.paths(report.facts.keep)
    mapped = match.mapping(findings, match.contents_of(report.slim_inventory.components, kept), scanner)
    out = report.facts.output
    if trust.scan and report.passed and out.tags:  # the scanner's own view of the slim image, to cross-check
        slim_image = out.tags[0] if out.kind == "docker" else f"{out.kind}:{out.path}"
        mapped["scanned_slim"] = counts(scan.scan(slim_image)[0])
    return mapped


def verdicts(trust: Trust, doc: dict) -> list[Verdict]:
    """The --max-vulns gate's verdict on the slim image's vulnerabilities; none when no limit was asked for."""
    if not trust.limits:
        return []
    from slim.vulns.match import over_limits

    found = doc.get("vulnerabilities") or {}
    over = over_limits(found.get("after") or {}, trust.limits)
    limits = ", ".join(f"{k}={v}" for k, v in trust.limits.items())
    return [Verdict("max-vulns", not over, "; ".join(over) or f"within {limits}", VulnerabilityGateFailed.exit_code)]


def sign_after_push(trust: Trust, doc: dict, report, outputs, engine: Images | None) -> None:
    """Sign every pushed tag; record the outcome in the report file and the summary, signed or not."""
    if trust.plan is None or not trust.plan.wanted:
        return
    from slim.sign.push import Signed, sign_pushed

    results: list = []
    failure = None
    for tag in doc["output"]["tags"]:
        try:
            results.append(sign_pushed(tag, doc["image_id"], trust.plan, _predicates(trust, doc, report, engine)))
            click.echo(f"signed {tag}", err=True)
        except SigningFailed as exc:
            results.append(Signed(tag, error=str(exc)))
            failure = failure or exc
    doc["signatures"] = [r.to_json() for r in results]
    if outputs.report_file:
        write_file(outputs.report_file, json.dumps(doc, indent=2))
    lines = "".join(f"- signature of `{r.tag}`: " + ("signed" if r.error is None else f"**unsigned** ({r.error})")
                    + "\n" for r in results)
    for path in filter(None, (outputs.summary_file, os.environ.get("GITHUB_STEP_SUMMARY"))):
        with open(path, "a") as fh:
            fh.write(lines)
    if failure is not None:
        raise failure


def _predicates(trust: Trust, doc: dict, report, engine: Images | None):
    def chosen(ref, digest):
        from slim.report.sbom import cyclonedx_json
        from slim.sign import attest

        original = engine.find_image(doc["image"]) if engine is not None else None
        sbom = json.loads(cyclonedx_json(report.slim_inventory, str(ref), doc["image_id"]))
        return [(attest.CYCLONEDX, sbom),
                (attest.SLSA_V1, attest.provenance(doc, trust.options, original.id if original else None,
                                                   trust.started, _now()))]
    return chosen

"""What makes `slim build` a CI stage: gates, JUnit and markdown reports, and pushing only what passed."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import click

from slim.engine import Images
from slim.files import write_file
from slim.image.sink import names_image
from slim.errors import SlimError, UsageError, VerificationFailed
from slim.plan.accounts import advice, changed_files_read
from slim.report.build import BuildReport
from slim.report.ci import error_junit, junit_xml, summary_markdown
from slim.report.gates import Gates, evaluate, first_failure, raise_for
from slim.sizes import parse_size
from slim.cli import trust_build
from slim.cli.trust_build import Trust, build_options as trust_build_options, trust_options  # noqa: F401


def _use_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--config (or slim.yaml/.slim.yaml here): its settings become the defaults the flags override."""
    from slim import config_file

    path = config_file.find(value)
    if path is not None:
        ctx.default_map = {**(ctx.default_map or {}), **config_file.load(path)}
        if not (ctx.find_root().obj or {}).get("quiet"):
            click.echo(f"slim: using settings from {path}", err=True)
    return path


def ci_options(command):
    """Add the CI options of `slim build` (config file, gates, JUnit, SBOM, summary, push) and the content trust ones
    to `command`, so the build command's own definition stays short."""
    for option in reversed([
        click.option("--config", "config_file", type=click.Path(dir_okay=False), metavar="FILE", is_eager=True,
                     expose_value=False, callback=_use_config,
                     help="Read build settings from FILE (YAML, documented in docs/ci.md); flags override them. "
                          "Default: slim.yaml or .slim.yaml in the current directory, when there is one."),
        click.option("--max-size", metavar="SIZE",
                     help="Fail (exit 11) when the slim image is bigger than SIZE (80MB, 1.5GiB; as `docker "
                          "images` shows it); exit 16 when no size could be measured."),
        click.option("--min-reduction", type=click.FloatRange(0, 100), metavar="PERCENT",
                     help="Fail (exit 12) when the slim image is not at least PERCENT smaller than the original."),
        click.option("--junit", "junit_file", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Write JUnit XML: each verification probe and each gate is a test case."),
        click.option("--sbom", "sbom_file", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Write the slim image's SBOM (CycloneDX 1.5 JSON, as `slim sbom` prints it) to FILE."),
        click.option("--summary", "summary_file", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Write a markdown summary (also appended to $GITHUB_STEP_SUMMARY when that is set)."),
        click.option("--push", is_flag=True,
                     help="Push the output tags through the engine once verification ran and passed and every "
                          "gate passed (exit 13 when the registry fails); refused with --no-verify."),
    ]):
        command = option(command)
    return trust_build_options(command)  # signing and vulnerabilities: slim/cli/trust_build.py


_summary_lock = threading.Lock()


@dataclass(frozen=True)
class Outputs:
    """Where a build's results go besides the terminal, and whether to push: gathered once from the options and
    handed to the code that writes and pushes after the build."""

    report_file: str | None = None
    junit_file: str | None = None
    summary_file: str | None = None
    as_json: bool = False
    push: bool = False
    keep_failed: bool = False
    sbom_file: str | None = None
    trust: Trust | None = None  # --sign-key, --sign-by, --vulns, --scan, --max-vulns


def image_list(images: Sequence[str], from_file: str | None) -> list[str]:
    """The images named on the command line, then those in the --from-file list; at least one."""
    out = list(images)
    if from_file:
        with open(from_file) as fh:
            out += [line.strip() for line in fh if line.strip() and not line.lstrip().startswith("#")]
    if not out:
        raise UsageError("name an IMAGE to build (or a --from-file list)")
    return list(dict.fromkeys(out))


def gates_of(max_size: str | None, min_reduction: float | None, fail_on: tuple[str, ...]) -> Gates:
    """The gates as the report's evaluation takes them, with `--max-size` parsed (a usage error when it is no size)."""
    return Gates(parse_size(max_size, "--max-size") if max_size else None, min_reduction, tuple(fail_on))


@contextmanager
def failure_recorded(outputs: Outputs, image: str) -> Iterator[None]:
    """Around a build: the files an earlier run left at the report, JUnit, summary and SBOM paths go first
    (a stale "passed" must not outlive a failed build), and a build that fails with an error writes a JUnit
    file and a summary that say so, for the CI job's page."""
    for path in (outputs.report_file, outputs.junit_file, outputs.summary_file, outputs.sbom_file):
        if path and os.path.isfile(path):
            os.remove(path)
    try:
        yield
    except SlimError as exc:
        message = f"exit {exc.exit_code}: {exc}"
        if outputs.junit_file:
            write_file(outputs.junit_file, error_junit(image, message).decode())
        _write_summary(outputs, f"### slim: `{image}`\n\n- **FAILED** before a report was made: {message}\n")
        raise


def _write_summary(outputs: Outputs, summary: str) -> None:
    """The markdown summary to --summary, and appended to $GITHUB_STEP_SUMMARY when that is set."""
    if outputs.summary_file:
        write_file(outputs.summary_file, summary)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with _summary_lock, open(os.environ["GITHUB_STEP_SUMMARY"], "a") as fh:  # parallel builds append too
            fh.write(summary)


def finish_build(report: BuildReport, outputs: Outputs, gates: Gates, engine: Images, show: bool = True) -> None:
    """Write every report, show the result, then fail on the first failed gate, else push (and sign)."""
    trust = outputs.trust or Trust()
    report = trust_build.with_vulnerabilities(report, trust)
    doc = report.to_json()
    hardened = report.facts.run_profile
    verdicts = evaluate(doc, gates, hardened.verified if hardened is not None else None) + trust_build.verdicts(
        trust, doc)
    if outputs.report_file:
        write_file(outputs.report_file, json.dumps(doc, indent=2))
    if outputs.junit_file:
        write_file(outputs.junit_file, junit_xml(doc, verdicts, report.facts.seconds.get("total", 0.0)).decode())
    if outputs.sbom_file:
        from slim.report.sbom import cyclonedx_json

        tags = doc["output"]["tags"]
        write_file(outputs.sbom_file, cyclonedx_json(report.slim_inventory, tags[0] if tags else doc["image"],
                                                       doc["image_id"]))
    _write_summary(outputs, summary_markdown(doc, verdicts))
    if show and outputs.as_json:
        click.echo(json.dumps(doc, indent=2))
    elif show:
        from slim.cli.render import print_build

        print_build(report)
    failed = first_failure(verdicts)
    if failed is not None and failed.name == "verification":
        raise VerificationFailed(f"the slim image does not behave like the original; {_changed_read(report)}"
                                 f"{_fate(report)}")
    if failed is not None:
        raise_for(failed)
    if outputs.push:
        push(doc, verdicts, engine)
        trust_build.sign_after_push(trust, doc, report, outputs, engine)


def _changed_read(report: BuildReport) -> str:
    """Files the app read that slim changed (a reduced /etc/passwd), and the option that keeps them: "" if none."""
    said = advice(changed_files_read(report.facts.trace, report.facts.rewrites))
    return f"{said}; " if said else ""


def _fate(report: BuildReport) -> str:
    """What became of a failed output, as it is on disk and in the engine now."""
    out = report.facts.output
    parts = []
    if out.removed:
        parts.append("removed " + ", ".join(out.removed))
    if out.kept_failed:
        parts.append("kept (--keep-failed): " + ", ".join(out.kept_failed))
    if out.not_removed:
        parts.append("could not remove " + ", ".join(out.not_removed))
    return "; ".join(parts) or "nothing was written"


def push(doc: dict, verdicts, engine: Images) -> None:
    """Push the output tags; only a build whose verification ran and passed, and whose every gate passed,
    ever gets here, and this checks it once more rather than trust the caller."""
    if not verdicts or verdicts[0].passed is not True or any(v.passed is not True for v in verdicts[1:]):
        raise VerificationFailed("not pushed: the slim image was not verified and passed by every gate")
    for tag in doc["output"]["tags"]:
        # the tag must still name the image that was verified: another build or a user may have moved it
        found = engine.find_image(tag)
        if not names_image(found, doc["image_id"]):
            raise VerificationFailed(f"not pushed: {tag} no longer names the verified image {doc['image_id'][:19]}")
        digest = engine.push(tag)
        click.echo(f"pushed {tag}@{digest}" if digest else f"pushed {tag} (the engine named no digest)", err=True)

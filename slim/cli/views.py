"""Read-only views of images, none of which runs them: `slim sbom` (what software is inside, as CycloneDX),
`slim compare` (images side by side) and `slim lint` (practices, as findings with stable rule IDs)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from slim import pipeline
from slim.cli.context import run_context, workspace
from slim.cli.render import TERMINAL_WARNINGS
from slim.files import write_file
from slim.cli.text import console, safe, visible
from slim.checks.lint_rules import SEVERITIES
from slim.errors import LintFailed
from slim.image.reference import parse_reference
from slim.model import warning_texts
from slim.report.compare import comparison_json, markdown_table, only_in, rows


@click.command()
@click.argument("image")
@click.option("-o", "--format", "fmt", type=click.Choice(["cyclonedx-json"]), default="cyclonedx-json",
              show_default=True, help="SBOM format (CycloneDX 1.5 JSON).")
@click.option("--output-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the SBOM to FILE instead of standard output.")
@click.pass_context
def sbom(ctx: click.Context, image: str, fmt: str, output_file: str | None) -> None:
    """Print a Software Bill of Materials of IMAGE, without running it.

    Lists the distribution (os-release), OS packages from the dpkg database (status and distroless-style
    status.d/) or the apk database with versions, architectures and the files each owns, Python
    distributions (*.dist-info, *.egg-info), Node packages (package.json with a name and version), Go modules
    (the build information in binaries), Ruby gems (installed .gemspec files) and Java packages (jar, war, ear
    and the archives inside them), each with the package URL scanners match advisories on
    (pkg:deb/debian/NAME@VERSION?arch=...&distro=debian-12, pkg:apk/alpine/..., pkg:pypi/..., pkg:npm/...,
    pkg:golang/..., pkg:gem/..., pkg:maven/GROUP/...).
    """
    from slim.report.sbom import cyclonedx_json

    phases, engine = run_context(ctx)
    ref = parse_reference(image)
    with workspace(ctx) as ws:
        loaded, listed = pipeline.inventory(ref, ws, engine, phases)
    for warning in warning_texts(listed.warnings, TERMINAL_WARNINGS):  # what could not be read, one line each
        phases.warn(warning)
    document = cyclonedx_json(listed, ref.text, loaded.image.image_id)
    if output_file:
        write_file(output_file, document)
        click.echo(visible(f"wrote {output_file}: {len(listed.components)} packages"), err=True)
    else:
        click.echo(document)


@click.command()
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--json", "as_json", is_flag=True,
              help="Print the comparison as JSON (slim.compare/1, see docs/commands.md).")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (for a pull request or a CI step summary).")
@click.option("--chart", type=click.Path(dir_okay=False), metavar="FILE.svg|FILE.png",
              help="Also draw size and package count per image into FILE (needs the chart extra: matplotlib).")
@click.option("--packages", "list_packages", is_flag=True,
              help="Also list the packages (name and version) each image has that none of the others has.")
@click.pass_context
def compare(ctx: click.Context, images: tuple[str, ...], as_json: bool, markdown: bool, chart: str | None,
            list_packages: bool) -> None:
    """Show IMAGEs side by side, without running them: sizes (as Docker shows them, the uncompressed layers,
    and the layers gzip-compressed, which is what a registry stores and a node pulls), layers, files, packages
    by database (dpkg/apk, Python, Node), distribution, user, the shells and package managers an attacker
    would find, setuid/setgid and world-writable files, HEALTHCHECK, and each size as a ratio to the first
    image."""
    from slim.report.chart import chart_format, draw_chart

    if as_json and markdown:
        raise click.UsageError("--json and --markdown: choose one")
    if chart:
        chart_format(chart)  # a wrong extension fails before any image is read
    refs = [parse_reference(image) for image in images]
    phases, engine = run_context(ctx)
    summaries = pipeline.compare(refs, lambda: workspace(ctx), engine, phases)
    if chart:
        draw_chart(summaries, chart)
    extra = only_in(summaries) if list_packages else None
    if as_json:
        doc = comparison_json(summaries)
        if extra is not None:
            for image in doc["images"]:
                image["only_here"] = extra[image["reference"]]
        click.echo(json.dumps(doc, indent=2))
        return
    if markdown:
        click.echo(markdown_table(summaries), nl=False)
        for reference, packages in (extra or {}).items():
            click.echo(f"\n**Only in `{reference}`** ({len(packages)}): " + (", ".join(packages) or "none"))
        return
    out = console()
    table = Table("", *(safe(s.reference) for s in summaries))
    for label, cells in rows(summaries):
        table.add_row(label, *(safe(c) for c in cells))
    out.print(table)
    for reference, packages in (extra or {}).items():
        out.print(f"only in {safe(reference)} ({len(packages)}): " + safe(", ".join(packages) or "none"))
    if chart:
        click.echo(visible(f"wrote {chart}"), err=True)


@click.command()
@click.argument("image", required=False)
@click.option("--dockerfile", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="Also (or, without IMAGE, only) check FILE for what only a Dockerfile shows: no USER, "
                   "compilers in the shipped stage, unpinned or latest base images, ADD of URLs, secrets in ENV/ARG.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON (slim.lint/1, see docs/commands.md).")
@click.option("--sarif", is_flag=True, help="Print SARIF 2.1.0 (for code-scanning dashboards).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), metavar="|".join(SEVERITIES),
              help="Exit 14 when a finding is at least this severe.")
@click.pass_context
def lint(ctx: click.Context, image: str | None, dockerfile: str | None, as_json: bool, sarif: bool,
         fail_on: str | None) -> None:
    """Check IMAGE against the container practices slim stands for, without running it.

    Each finding has a stable rule ID, mapped to the CIS Docker Benchmark or dockle checkpoint where one exists:
    runs as root, secrets in ENV or labels (by name and by value shape: private keys, cloud and forge tokens,
    passwords in URLs; names are printed, values never), no HEALTHCHECK, setuid/setgid files, ADD in the
    history, a package index update alone in a layer, the latest tag, shells and package managers, credential
    files (SSH keys, cloud, git, npm, PyPI and Docker credentials), .git and cache directories, empty
    passwords, duplicate UIDs/GIDs, world-writable files outside the temp directories.
    """
    from slim.checks.dockerfile_lint import lint_dockerfile
    from slim.report.lint import at_or_above, lint_json, ordered, sarif as sarif_doc

    if not image and not dockerfile:
        raise click.UsageError("name an IMAGE, a --dockerfile FILE, or both")
    if as_json and sarif:
        raise click.UsageError("--json and --sarif: choose one")
    findings = []
    if dockerfile:
        with open(dockerfile, encoding="utf-8", errors="replace") as fh:
            findings += lint_dockerfile(fh.read(), dockerfile)
    if image:
        phases, engine = run_context(ctx)
        with workspace(ctx) as ws:
            findings += pipeline.lint(parse_reference(image), ws, engine, phases)
    target = image or dockerfile or ""  # one of them is given (checked above)
    if as_json:
        click.echo(json.dumps(lint_json(findings, target), indent=2))
    elif sarif:
        click.echo(json.dumps(sarif_doc(findings, target, dockerfile), indent=2))
    else:
        _print_findings(ordered(findings), target)
    if fail_on and at_or_above(findings, fail_on):
        raise LintFailed(f"{len(at_or_above(findings, fail_on))} findings at or above {fail_on}")


def _print_findings(findings: list, target: str) -> None:
    from slim.checks.lint_rules import RULES

    out = console()
    if not findings:
        out.print(f"{safe(target)}: no findings")
        return
    for f in findings:
        benchmark = f" {RULES[f.rule].benchmark}" if RULES[f.rule].benchmark else ""
        where = f" [{f.location}:{f.line}]" if f.line else f" [{f.location}]" if f.location else ""
        out.print(f"[bold]{f.severity:8}[/bold] {safe(f.rule)}{benchmark}: {safe(f.message)}{safe(where)}",
                  highlight=False)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as one JSON object.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check that slim can work here: which engine answers (Docker or Podman, rootful or rootless), its version,
    runtime and cgroup version, what slim adjusts for it, whether the tracer bundle is cached, whether probes
    reach a container (a listener in a base image the engine holds, probed as builds probe) and whether tracing
    works (a static program traced in an empty image). Exit 5 when no engine answers, 7 when probing or tracing
    does not work."""
    from slim.errors import TraceError

    phases, engine = run_context(ctx)
    with workspace(ctx) as ws:
        found = pipeline.doctor(engine, ws, phases)
    if as_json:
        click.echo(json.dumps(found, indent=2))
    else:
        e = found["engine"]
        out = console()
        out.print(f"engine: {safe(e['name'])} {safe(e['version'])} (API {safe(e['api_version'])}) at "
                  f"{safe(e['endpoint'])}{', rootless' if e['rootless'] else ''}", highlight=False)
        out.print(f"runtime: {safe(e['runtime'] or 'unknown')}; cgroup version: {safe(e['cgroup_version'] or '?')}",
                  highlight=False)
        for line in e["adjustments"]:
            out.print(f"adjusted: {safe(line)}", highlight=False)
        bundle = found["tracer_bundle"]
        if bundle:
            out.print(f"tracer bundle: {safe(bundle['volume'])} ({'cached' if bundle['cached'] else 'made on first use'})",
                      highlight=False)
        for check, said in _DOCTOR_CHECKS.items():
            out.print(f"{check}: {said[found[check]['works']]} ({safe(found[check]['detail'])})", highlight=False)
    failed = [f"{check} {said[False].lower()} with this engine: {found[check]['detail']}"
              for check, said in _DOCTOR_CHECKS.items() if not found[check]["works"]]
    if failed:
        raise TraceError("; ".join(failed))


_DOCTOR_CHECKS = {"probes": {True: "reach a container", False: "DO NOT REACH a container"},
                  "tracing": {True: "works", False: "DOES NOT WORK"}}

"""Terminal rendering of slim's results (tables via rich). The JSON shapes are in slim.report.shapes."""

from __future__ import annotations

import shlex

from rich.console import Console
from rich.table import Table

from slim.cli.text import console as new_console, safe
from slim.sizes import human
from slim.model import ImageInfo, Trace, warning_texts
from slim.harden.render import unpublished
from slim.report.build import BuildReport
from slim.report.shapes import answer_json, files_by_kind


human_bytes = human  # the name the renderers use


def print_inspect(info: ImageInfo, console: Console | None = None) -> None:
    """`slim inspect` for people: the image's size, files, packages and a table of its layers."""
    console = console or new_console()
    os_name = info.os.get("PRETTY_NAME") or info.os.get("ID") or "unknown (no os-release)"
    console.print(f"[bold]{safe(info.reference)}[/bold]  {info.image_id[:19]}")
    console.print(f"os: {safe(os_name)}")
    console.print(f"size: {human_bytes(info.size_bytes)} in layers, {human_bytes(info.content_bytes)} of file content")
    console.print(f"files: {info.file_count} (plus {info.dir_count} directories)")
    if info.package_db:
        console.print(f"packages: {info.packages} ({safe(info.package_db)})")
    table = Table("#", "layer", "size", "entries", "whiteouts", "created by")
    for n, layer in enumerate(info.layers):
        table.add_row(str(n), safe(layer.digest[7:19]), human_bytes(layer.size_bytes), str(layer.entries),
                      str(layer.whiteouts), safe((layer.created_by or "")[-60:]))
    console.print(table)
    print_warnings(console, info.warnings)


def print_trace(image: str, trace: Trace, console: Console | None = None) -> None:
    """`slim trace` for people: the files the run used by kind, the processes, the most used calls and the probes."""
    console = console or new_console()
    console.print(f"[bold]{safe(image)}[/bold]: exit code {trace.exit_code}")
    for kind, paths in files_by_kind(trace).items():
        console.print(f"\n[bold]{kind}[/bold] ({len(paths)})")
        for path in paths:
            console.print(f"  {safe(path)}", highlight=False)
    failed = sorted({a.path for a in trace.accesses if not a.ok})
    console.print(f"\n[bold]failed lookups[/bold]: {len(failed)} (listed with --json)")
    console.print("\n[bold]processes[/bold]")
    for p in trace.processes:
        console.print(f"  {p.pid} (parent {p.ppid}): {safe(' '.join(p.argv))}", highlight=False)
    top = sorted(trace.syscalls, key=lambda kv: -kv[1])
    console.print(f"\n[bold]syscalls[/bold]: {len(top)} distinct, {sum(n for _, n in top)} calls; most used: "
                  + safe(", ".join(f"{name} {n}" for name, n in top[:10])))
    if trace.probes:
        table = Table("probe", "target", "result", "time")
        for probe in trace.probes:
            outcome = (safe(probe.status) if probe.ok else f"[red]failed[/red]: {safe(probe.detail)}")
            table.add_row(probe.kind, safe(probe.target), outcome, f"{probe.seconds:.2f}s")
        console.print(table)
    print_warnings(console, trace.warnings)

TERMINAL_WARNINGS = 20


def print_warnings(console: Console, warnings) -> None:
    """Print the warnings, one line each: the first ones and a count of the rest, so a long list does not bury
    the result."""
    # Warnings quote names from the image: attacker-controlled text, never to be read as markup.
    for text in warning_texts(warnings, TERMINAL_WARNINGS):
        console.print(f"[yellow]warning:[/yellow] {safe(text)}", highlight=False)


def print_build(report: BuildReport, console: Console | None = None) -> None:
    """`slim build` for people: sizes, files and packages before and after, what was kept and removed, the hardening
    outcome with its run line, and the vulnerabilities before and after."""
    console = console or new_console()
    doc = report.to_json()
    size, files, pkgs = doc["size"], doc["files"], doc["packages"]
    title = f"{doc['image']} -> {', '.join(doc['output']['tags']) or doc['output']['kind']}"
    table = Table("", "original", "slim", title=safe(title))

    def b(n):
        return human_bytes(n) if n is not None else "-"

    table.add_row("size (Docker)", b(size["original_docker_bytes"]), b(size["slim_docker_bytes"]))
    table.add_row("file content", b(size["original_content_bytes"]), b(size["slim_content_bytes"]))
    table.add_row("files", str(files["original"]), str(files["slim"]))
    if pkgs["database"]:
        table.add_row(f"packages ({safe(pkgs['database'])})", str(pkgs["original"]), str(pkgs["slim"]))
    console.print(table)
    usage = doc["keep"]["by_category"]
    console.print("kept: " + safe(", ".join(f"{c} {u['files']} files / {human_bytes(u['bytes'])}"
                                            for c, u in usage.items() if u["files"])))
    removed = doc["removed"]
    console.print(f"removed: {len(removed['shells'])} shells, {len(removed['package_managers'])} package managers, "
                  f"{len(removed['setuid_bits'])} setuid/setgid bits")
    for warning in report.warnings:
        if warning.code == "hardening":
            console.print(f"[yellow]hardening:[/yellow] {safe(str(warning))}", highlight=False)
    _print_run_profile(console, report)
    if doc.get("vulnerabilities"):
        from slim.vulns.finding import before_after

        console.print(f"vulnerabilities: {safe(before_after(doc['vulnerabilities']))}", highlight=False,
                      soft_wrap=True)
    v = doc["verification"]
    if not v["ran"]:
        console.print("verification: [yellow]skipped[/yellow]")
    elif v["passed"]:
        console.print(f"verification: [green]passed[/green] ({len(v['probes'])} probes"
                      f"{', exit code ' + str(v['exit_code']) if not v['probes'] else ''})")
    else:
        console.print("verification: [red]FAILED[/red]")
        for d in v["differences"]:
            console.print(f"  {safe(d)}", highlight=False)
    for probe in v["probes"][:PROBE_LINES]:  # what each image answered: the proof, not only the verdict
        console.print(f"  {safe(probe.get('key') or probe['kind'] + ' ' + probe['target'])}: original "
                      f"{safe(_answer(probe['original']))}, slim {safe(_answer(probe))}", highlight=False,
                      soft_wrap=True)  # a reason may hold brackets: "[Errno 111]" is no markup
    if len(v["probes"]) > PROBE_LINES:
        console.print(f"  ... {len(v['probes']) - PROBE_LINES} more probes in the report", highlight=False)


PROBE_LINES = 12


def _answer(probe: dict | None) -> str:
    """The probe's answer; on the terminal with the size of what came back, the proof that something did."""
    return answer_json(probe) + (f", {probe['body_bytes']} bytes" if probe and probe["ok"] else "")


def _print_run_profile(console: Console, report: BuildReport) -> None:
    hardened = report.facts.run_profile
    if hardened is None:
        return
    if report.facts.verification.passed is False:  # no line to copy: it would start an image that failed
        console.print("run profile: [yellow]not run[/yellow] (the slim image did not pass verification)")
        return
    doc = hardened.to_json()
    verdict = {True: "[green]verified[/green]", False: "[red]NOT verified[/red]", None: "[yellow]not run[/yellow]"}
    allowed = doc["syscalls"]
    seccomp = f"{allowed['allowed']} of {allowed['known']} syscalls allowed" if allowed else "no seccomp profile"
    console.print(f"run profile: {verdict[hardened.verified]}; {seccomp}, capabilities: "
                  f"{safe(', '.join(doc['capabilities']) or 'none')}")
    for line in doc["diagnosis"]:
        console.print(f"  {safe(line)}", highlight=False)
    # the container the hardened verification ran, with the output's tag: copied whole, it starts the same
    console.print("  " + safe(shlex.join(doc["command"])), highlight=False, soft_wrap=True)
    for port in unpublished(hardened.line):
        console.print(f"  # the probes reached port {port} on the container's own address; add -p {port}:{port} "
                      "to publish it", highlight=False, soft_wrap=True)
    if doc["seccomp_profile"]:
        console.print(f"  # seccomp profile: {safe(doc['seccomp_profile'])} (--seccomp-profile; by default beside "
                      "--report, else in the current directory)", highlight=False, soft_wrap=True)

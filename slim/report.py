"""The build report: before/after sizes, files and packages, what kept each file, what was removed, the
verification, time per phase. `build_report` makes the documented JSON shape; `print_build` the terminal summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from slim import hardening
from slim.model import DIR, FILE, Trace
from slim.plan import CATEGORIES, CLOSURE, TRACED, KeepSet
from slim.render import human_bytes, probe_json

SCHEMA = "slim.build/1"


@dataclass
class Measured:
    """One image's figures: Docker's own size (None when not in the engine), its layers, its files."""

    docker_bytes: int | None
    layer_bytes: int
    content_bytes: int
    files: int


@dataclass
class Verification:
    ran: bool
    passed: bool | None = None
    differences: list[str] = field(default_factory=list)
    exit_code: int | None = None
    probes: list = field(default_factory=list)


def category_usage(rootfs, keep: KeepSet) -> dict[str, dict[str, int]]:
    """Files and bytes per primary category (each file counted once, in its first category)."""
    out = {c: {"files": 0, "bytes": 0} for c in CATEGORIES}
    seen = set()
    for path in keep.reasons:
        entry = rootfs.lstat(path)
        if entry is None or entry.kind == DIR:
            continue
        bucket = out[keep.category(path)]
        bucket["files"] += 1
        if entry.kind == FILE and entry.content_key not in seen:
            seen.add(entry.content_key)
            bucket["bytes"] += entry.size
    return out


def build_report(*, image: str, image_id: str, output: dict, before: Measured, after: Measured, keep: KeepSet,
                 rootfs, trace: Trace, verification: Verification, lang_level: str, package_kind: str | None,
                 seconds: dict[str, float], warnings: list[str], config: dict) -> dict:
    usage = category_usage(rootfs, keep)
    found = hardening.findings(config)
    traced_closure = usage[TRACED]["bytes"] + usage[CLOSURE]["bytes"]
    return {
        "schema": SCHEMA,
        "image": image,
        "image_id": image_id,
        "output": output,
        "size": {
            "original_docker_bytes": before.docker_bytes,
            "slim_docker_bytes": after.docker_bytes,
            "original_layer_bytes": before.layer_bytes,
            "slim_layer_bytes": after.layer_bytes,
            "original_content_bytes": before.content_bytes,
            "slim_content_bytes": after.content_bytes,
            "traced_and_closure_bytes": traced_closure,
            "reduction": round(1 - after.content_bytes / before.content_bytes, 4) if before.content_bytes else 0,
        },
        "files": {"original": before.files, "slim": after.files},
        "packages": {"database": package_kind, "original": len(keep.packages_before), "slim": len(keep.packages_after),
                     "kept": keep.packages_after},
        "removed": {"shells": keep.shells_removed, "package_managers": keep.package_managers_removed,
                    "setuid_bits": keep.setuid_dropped, "excluded": keep.excluded},
        "accounts": keep.accounts_kept,
        "hardening": found,
        "keep": {
            "by_category": usage,
            "paths": [{"path": p, "category": keep.category(p), "reasons": [f"{c}: {d}" for c, d in keep.reasons[p]]}
                      for p in sorted(keep.reasons)],
            "generated": [{"path": g.path, "why": g.why} for g in sorted(keep.generated.values(), key=lambda g: g.path)],
        },
        "language_completion": {"level": lang_level, "bytes_by_level": keep.language_cost},
        "trace": {"exit_code": trace.exit_code, "probes": [probe_json(p) for p in trace.probes],
                  "syscalls": [name for name, _ in trace.syscalls], "files_touched": len(trace.paths())},
        "verification": {"ran": verification.ran, "passed": verification.passed,
                         "differences": verification.differences, "exit_code": verification.exit_code,
                         "probes": [probe_json(p) for p in verification.probes]},
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "warnings": warnings + hardening.warnings(found),
    }


def print_build(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    size, files, pkgs = report["size"], report["files"], report["packages"]
    table = Table("", "original", "slim", title=f"{report['image']} -> {', '.join(report['output']['tags']) or report['output']['kind']}")

    def b(n):
        return human_bytes(n) if n is not None else "-"

    table.add_row("size (Docker)", b(size["original_docker_bytes"]), b(size["slim_docker_bytes"]))
    table.add_row("file content", b(size["original_content_bytes"]), b(size["slim_content_bytes"]))
    table.add_row("files", str(files["original"]), str(files["slim"]))
    if pkgs["database"]:
        table.add_row(f"packages ({pkgs['database']})", str(pkgs["original"]), str(pkgs["slim"]))
    console.print(table)
    usage = report["keep"]["by_category"]
    console.print("kept: " + ", ".join(f"{c} {u['files']} files / {human_bytes(u['bytes'])}"
                                       for c, u in usage.items() if u["files"]))
    removed = report["removed"]
    console.print(f"removed: {len(removed['shells'])} shells, {len(removed['package_managers'])} package managers, "
                  f"{len(removed['setuid_bits'])} setuid/setgid bits")
    for warning in report["warnings"]:
        if "root" in warning or "secret" in warning:
            console.print(f"[yellow]hardening:[/yellow] {warning}")
    v = report["verification"]
    if not v["ran"]:
        console.print("verification: [yellow]skipped[/yellow]")
    elif v["passed"]:
        console.print(f"verification: [green]passed[/green] ({len(v['probes'])} probes"
                      f"{', exit code ' + str(v['exit_code']) if not v['probes'] else ''})")
    else:
        console.print("verification: [red]FAILED[/red]")
        for d in v["differences"]:
            console.print(f"  {d}", highlight=False)

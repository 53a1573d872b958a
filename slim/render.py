"""Terminal rendering of slim's results (tables via rich). JSON shapes live beside the values they describe."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from slim.closure import Closure
from slim.model import ACCESS_KINDS, ImageInfo, Trace


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def print_inspect(info: ImageInfo, console: Console | None = None) -> None:
    console = console or Console()
    os_name = info.os.get("PRETTY_NAME") or info.os.get("ID") or "unknown (no os-release)"
    console.print(f"[bold]{info.reference}[/bold]  {info.image_id[:19]}")
    console.print(f"os: {os_name}")
    console.print(f"size: {human_bytes(info.size_bytes)} in layers, {human_bytes(info.content_bytes)} of file content")
    console.print(f"files: {info.file_count} (plus {info.dir_count} directories)")
    if info.package_db:
        console.print(f"packages: {info.packages} ({info.package_db})")
    table = Table("#", "layer", "size", "entries", "whiteouts", "created by")
    for n, layer in enumerate(info.layers):
        table.add_row(str(n), layer.digest[7:19], human_bytes(layer.size_bytes), str(layer.entries),
                      str(layer.whiteouts), (layer.created_by or "")[-60:])
    console.print(table)
    for warning in info.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def closure_json(closure: Closure) -> dict:
    """The documented `slim deps --json` shape (see README)."""
    return {
        "paths": [
            {"path": path, "reasons": [{"kind": r.kind, "of": r.of} for r in sorted(closure.keep[path])]}
            for path in closure.paths()
        ],
        "missing_libraries": [{"name": n, "needed_by": by} for n, by in closure.missing_libraries],
        "missing_paths": [{"path": p, "kind": r.kind, "of": r.of} for p, r in closure.missing_paths],
        "warnings": list(closure.warnings),
    }


def files_by_kind(trace: Trace) -> dict[str, list[str]]:
    """Successful accesses: kind -> sorted unique paths."""
    out: dict[str, set[str]] = {k: set() for k in ACCESS_KINDS}
    for a in trace.accesses:
        if a.ok:
            out[a.kind].add(a.path)
    return {k: sorted(v) for k, v in out.items() if v}


def trace_json(image: str, trace: Trace) -> dict:
    """The documented `slim trace --json` shape (see README)."""
    return {
        "image": image,
        "exit_code": trace.exit_code,
        "files": files_by_kind(trace),
        "failed_lookups": sorted({a.path for a in trace.accesses if not a.ok}),
        "accesses": [{"path": a.path, "kind": a.kind, "ok": a.ok, "resolved": a.resolved, "count": a.count,
                      "pids": list(a.pids)} for a in trace.accesses],
        "processes": [{"pid": p.pid, "ppid": p.ppid, "argv": list(p.argv), "exe": p.exe} for p in trace.processes],
        "syscalls": dict(trace.syscalls),
        "uids": list(trace.uids),
        "gids": list(trace.gids),
        "probes": [probe_json(p) for p in trace.probes],
        "stdout": trace.stdout,
        "stderr": trace.stderr,
        "seconds": dict(trace.seconds),
        "warnings": list(trace.warnings),
    }


def probe_json(p) -> dict:
    return {"kind": p.kind, "target": p.target, "ok": p.ok, "status": p.status, "body_sha256": p.body_sha256,
            "body_bytes": p.body_bytes, "detail": p.detail, "seconds": round(p.seconds, 3)}


def print_trace(image: str, trace: Trace, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]{image}[/bold]: exit code {trace.exit_code}")
    for kind, paths in files_by_kind(trace).items():
        console.print(f"\n[bold]{kind}[/bold] ({len(paths)})")
        for path in paths:
            console.print(f"  {path}", highlight=False)
    failed = sorted({a.path for a in trace.accesses if not a.ok})
    console.print(f"\n[bold]failed lookups[/bold]: {len(failed)} (listed with --json)")
    console.print("\n[bold]processes[/bold]")
    for p in trace.processes:
        console.print(f"  {p.pid} (parent {p.ppid}): {' '.join(p.argv)}", highlight=False)
    top = sorted(trace.syscalls, key=lambda kv: -kv[1])
    console.print(f"\n[bold]syscalls[/bold]: {len(top)} distinct, {sum(n for _, n in top)} calls; most used: "
                  + ", ".join(f"{name} {n}" for name, n in top[:10]))
    if trace.probes:
        table = Table("probe", "target", "result", "time")
        for p in trace.probes:
            outcome = (str(p.status) if p.ok else f"[red]failed[/red]: {p.detail}")
            table.add_row(p.kind, p.target, outcome, f"{p.seconds:.2f}s")
        console.print(table)
    for w in trace.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")

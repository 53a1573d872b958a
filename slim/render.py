"""Terminal rendering of slim's results (tables via rich). JSON shapes live beside the values they describe."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from slim.closure import Closure
from slim.model import ImageInfo


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

"""`slim build IMAGE IMAGE...`: several builds, --jobs at a time, one report per image and a combined table.

Each build has its own work directory, containers, volumes and temporary tags (all named after this run and
numbered), so builds in one process, or in several processes, never collide. Progress lines carry the
image's name. The exit code is the first failing image's (in the order given), 0 when all passed.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from dataclasses import dataclass
from collections.abc import Callable, Sequence

import click

from slim import pipeline
from slim.cli.ci import Outputs, failure_recorded, finish_build
from slim.cli.text import console, file_name, safe
from slim.errors import SlimError
from slim.progress import Phases
from slim.report.gates import Gates
from slim.sizes import human
from slim.workspace import Workspace


class _PrefixedPhases(Phases):
    """Plain progress lines, each prefixed with the image: several builds print at once."""

    def __init__(self, name: str, out) -> None:
        super().__init__()
        self.name, self.out = name, out

    def finished(self, text: str, elapsed: float) -> None:
        self.out.print(f"[bold]{safe(self.name)}[/bold] ✓ {safe(text)} [dim]({elapsed:.1f}s)[/dim]")

    def warn(self, text: str) -> None:
        self.out.print(f"[bold]{safe(self.name)}[/bold] [yellow]warning:[/yellow] {safe(text)}")


@dataclass
class _Result:
    image: str
    code: int | None = None  # None: not finished
    message: str = ""
    doc: dict | None = None
    seconds: float = 0.0


def build_many(ctx: click.Context, images: Sequence[str], jobs: int, options_for: Callable, outputs: Outputs,
               gates: Gates) -> None:
    """Build every image, `jobs` at a time, each with its own work directory and report file; print the combined
    table and exit with the first failing image's code. One build's crash is that image's result, not the end of the
    others."""
    obj = ctx.find_root().obj
    err = console(stderr=True, quiet=obj["quiet"])
    engine = obj.setdefault("engine", None) or _connect(obj)
    reports = outputs.report_file
    if not reports:  # the caller names the directory (slim-reports by default)
        raise ValueError("build_many needs a report directory")
    os.makedirs(reports, exist_ok=True)
    results = [_Result(image) for image in images]
    workspaces: list[Workspace] = []
    slots = threading.Semaphore(jobs)

    def one(result: _Result) -> None:
        with slots:
            started = time.monotonic()
            try:
                name = file_name(result.image)
                ref, opts = options_for(result.image, os.path.join(reports, name + ".json"))
                mine = _per_image(outputs, name)
                with failure_recorded(mine, result.image), Workspace(obj["work_dir"], obj["max_unpacked"]) as ws:
                    workspaces.append(ws)
                    report = pipeline.build(ref, opts, ws, engine, _PrefixedPhases(result.image, err))
                result.doc = report.to_json()
                finish_build(report, mine, gates, engine, show=False)
                result.code, result.message = 0, _verdict(result.doc)
            except SlimError as exc:
                result.code, result.message = exc.exit_code, str(exc)
            except Exception as exc:  # one build's bug must not hide the others' results
                result.code, result.message = 1, f"{type(exc).__name__}: {exc}"
            result.seconds = time.monotonic() - started

    threads = [threading.Thread(target=one, args=(r,), name=f"slim-build-{n}", daemon=True)
               for n, r in enumerate(results)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:
        for ws in workspaces:
            ws.close()  # the builds still running stop at their next write into it
        raise
    _print_table(results)
    failed = next((r for r in results if r.code), None)
    if failed is not None:
        error = SlimError(f"{failed.image}: {failed.message}")
        error.exit_code = failed.code or 1  # failed.code is set: that is how it was found
        raise error


def _verdict(doc: dict) -> str:
    """What a build that exited 0 proved: "passed" only when its verification ran and passed and its run
    profile (when one was made) was verified too."""
    if not doc["verification"]["ran"]:
        return "written, not verified (--no-verify)"
    profile = (doc.get("hardening") or {}).get("run_profile")
    if profile is not None and profile.get("verified") is not True:
        return "passed; run profile NOT verified"
    return "passed"


def _connect(obj: dict):
    from slim.engine import LazyEngine

    obj["engine"] = LazyEngine(obj.get("engine_kind"))
    return obj["engine"].get()  # once, before the threads start


def _per_image(outputs: Outputs, name: str) -> Outputs:
    """Each image's own files: --report/--junit/--summary/--sbom name directories when several images are built."""
    def inside(directory: str | None, suffix: str) -> str | None:
        return os.path.join(directory, name + suffix) if directory else None
    return dataclasses.replace(outputs, report_file=inside(outputs.report_file, ".json"),
                               junit_file=inside(outputs.junit_file, ".xml"),
                               summary_file=inside(outputs.summary_file, ".md"),
                               sbom_file=inside(outputs.sbom_file, ".cdx.json"))


def _print_table(results: list[_Result]) -> None:
    from rich.table import Table

    table = Table("image", "result", "original", "slim", "reduction", "time")
    for r in results:
        size = (r.doc or {}).get("size") or {}
        before, after = size.get("original_docker_bytes"), size.get("slim_docker_bytes")
        reduction = f"{100 * (1 - after / before):.1f}%" if before and after else "-"
        verdict = (f"[green]{safe(r.message)}[/green]" if r.message == "passed" else f"[yellow]{safe(r.message)}[/yellow]")\
            if r.code == 0 else f"[red]exit {r.code}[/red]: {safe(r.message[:200])}"
        table.add_row(safe(r.image), verdict, human(before) if before else "-", human(after) if after else "-",
                      reduction, f"{r.seconds:.0f}s")
    console().print(table)

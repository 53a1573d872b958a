"""What every command needs from the click context: the progress display, the lazily connected engine, the
scratch directory, and writing an output file the user named."""

from __future__ import annotations

import os

import click

from slim.cli.progress import ConsolePhases
from slim.engine import LazyEngine
from slim.workspace import Workspace


def run_context(ctx: click.Context):
    """Progress display and a lazily connected engine for one command."""
    root = ctx.find_root()
    root.obj["engine"] = LazyEngine(root.obj.get("engine_kind"))
    return ConsolePhases(quiet=root.obj["quiet"]), root.obj["engine"]


def workspace(ctx: click.Context) -> Workspace:
    """The command's scratch directory: made here, so use it at once in a `with` that removes it."""
    root = ctx.find_root()
    return Workspace(root.obj["work_dir"], root.obj["max_unpacked"])


def write_output(path: str, text: str | bytes) -> None:
    """Write a file the user named: made with its directory, replaced whole, never left half-written."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    partial = f"{path}.partial"
    try:
        with open(partial, "wb") as fh:
            fh.write(text.encode() if isinstance(text, str) else text)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)

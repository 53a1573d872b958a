"""What every command needs from the click context: the progress display, the lazily connected engine, the
scratch directory."""

from __future__ import annotations

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

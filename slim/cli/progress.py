"""Progress on stderr for the command line: a spinner while a phase runs, a one-line result when it ends."""

from __future__ import annotations

from contextlib import AbstractContextManager

from slim.cli.text import console, safe
from slim.progress import Phases


class ConsolePhases(Phases):
    """The `Phases` the command line uses: a spinner on stderr while a phase runs, a timed tick when it ends, nothing
    at all with --quiet."""

    def __init__(self, quiet: bool = False):
        super().__init__()
        self.console = console(stderr=True, quiet=quiet)

    def showing(self, text: str) -> AbstractContextManager:
        return self.console.status(f"{safe(text)}...")

    def finished(self, text: str, elapsed: float) -> None:
        self.console.print(f"[green]✓[/green] {safe(text)} [dim]({elapsed:.1f}s)[/dim]")

    def warn(self, text: str) -> None:
        self.console.print(f"[yellow]warning:[/yellow] {safe(text)}")

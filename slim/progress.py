"""Phase-by-phase progress on stderr, with wall time per phase kept for reports."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console


class Phases:
    """Shows a spinner while a phase runs and a one-line result when it ends; records seconds per phase."""

    def __init__(self, quiet: bool = False):
        self.console = Console(stderr=True, quiet=quiet, highlight=False)
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str, text: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            with self.console.status(f"{text}..."):
                yield
        finally:
            elapsed = time.monotonic() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
        self.console.print(f"[green]✓[/green] {text} [dim]({elapsed:.1f}s)[/dim]")

    def warn(self, text: str) -> None:
        self.console.print(f"[yellow]warning:[/yellow] {text}", markup=True)

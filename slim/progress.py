"""Phases of a long command: wall time per phase, kept for reports. Shows nothing itself: the command line's
subclass displays progress, so library code never writes to the terminal."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


class Phases:
    """Times the phases of a command and gives the command line's display its hooks (`showing`, `finished`, `warn`),
    so library code reports progress without writing to the terminal."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str, text: str) -> Iterator[None]:
        """Time the `with` block as phase `name` (adding up when it runs again), shown as `text` while it runs; the
        time is kept even when the block fails, `finished` is called only when it did not."""
        start = time.monotonic()
        try:
            with self.showing(text):
                yield
        finally:
            elapsed = time.monotonic() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
        self.finished(text, elapsed)

    def showing(self, text: str) -> AbstractContextManager:
        """What to display while a phase runs (nothing here)."""
        return contextlib.nullcontext()

    def finished(self, text: str, elapsed: float) -> None:
        """Called when a phase ended without an error."""

    def warn(self, text: str) -> None:
        """A warning worth showing while the command still runs."""

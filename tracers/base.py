"""The small interface every tracing backend implements."""

from __future__ import annotations

from typing import Protocol

from slim.model import Trace
from slim.run.options import RunOptions


class Tracer(Protocol):
    """A tracing backend: run the image with the options and probes, return what it saw and what it ran."""

    name: str

    def trace(self, options: RunOptions) -> Trace:
        """Run the image as `options` say, probes included, and return every file access, process and system call
        seen, with the run's outcome for verification to compare against."""

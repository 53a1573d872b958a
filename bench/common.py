"""Helpers for slim's benchmarks: medians of repeated runs, child-process wall time and peak memory."""

from __future__ import annotations

import os
import statistics
import subprocess
import time


def run_measured(argv: list[str], stdout=subprocess.DEVNULL) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process; raises if it fails."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed")
    return elapsed, usage.ru_maxrss * 1024


def median_of(n: int, fn) -> float:
    return statistics.median(fn() for _ in range(n))


def shell_seconds(command: str) -> float:
    start = time.monotonic()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start

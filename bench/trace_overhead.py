"""Benchmark: traced vs untraced wall time of the same probe run, and time to the first probe answer.

Run: .venv/bin/python bench/trace_overhead.py [IMAGE] [--runs N] [probe paths...]
Default: the Python web sample with its probes. Targets: overhead ratio at most 1.5x (issue 25; 2.5x before); time from the
start of `slim trace` to the first probe answer under 2 s beyond the app's own start-up (the untraced run's).
Reports medians; --no-syscall-profile is measured too.
"""

from __future__ import annotations

import argparse
import statistics
import time

from slim.engine import connect
from slim.run.probes import ProbePlan
from slim.run.options import RunOptions
from slim.run.runner import run
from tracers.strace import StraceTracer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("image", nargs="?", default="slim-sample/python-web:1")
    ap.add_argument("paths", nargs="*", default=["/api/notes", "/api/health"])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    engine = connect()
    options = RunOptions(args.image, probes=ProbePlan(http_paths=tuple(args.paths)))

    def timed(fn):
        start = time.monotonic()
        out = fn()
        return time.monotonic() - start, out

    plain, plain_first, traced, traced_first, light, light_first = [], [], [], [], [], []
    for _ in range(args.runs):
        t, r = timed(lambda: run(engine, options))
        plain.append(t)
        plain_first.append(r.seconds["first_probe"])
        t, tr = timed(lambda: StraceTracer(engine).trace(options))
        traced.append(t)
        traced_first.append(dict(tr.seconds)["first_probe"])
        t, tr = timed(lambda: StraceTracer(engine, syscall_profile=False).trace(options))
        light.append(t)
        light_first.append(dict(tr.seconds)["first_probe"])
    m = statistics.median
    print(f"image {args.image}, probes / {' '.join(args.paths)}, {args.runs} runs, medians")
    print(f"untraced run                 {m(plain):.2f} s (first probe answered at {m(plain_first):.2f} s)")
    print(f"traced, all syscalls         {m(traced):.2f} s (first probe at {m(traced_first):.2f} s)  "
          f"ratio {m(traced) / m(plain):.2f}x (target <= 1.5x)")
    print(f"traced, --no-syscall-profile {m(light):.2f} s (first probe at {m(light_first):.2f} s)  "
          f"ratio {m(light) / m(plain):.2f}x")
    print(f"time to first probe beyond the app's own start-up: {m(traced_first) - m(plain_first):.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()

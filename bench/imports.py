"""Benchmark: the static import closure of a Python app with thousands of reachable modules (issue 13: 3,000
reachable modules in under 2 s). The app is a generated main.py that imports every top-level module of this
host's Python 3.11 installation (standard library, Debian's dist-packages, the project's virtual environment),
read through the same RootFS interface as an image. Reports the median of N runs and the module count, three
ways: one process with no cache (the plain scan), worker processes with an empty cache (a first build), and
with the cache the first way filled (every later build of an image sharing those files).

Run: .venv/bin/python bench/imports.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from slim.langs import pyimports, pyscan
from slim.langs.pypath import PythonPath, search_path
from slim.closure.hostfs import HostFS

SITE = os.path.join(sys.prefix, "lib", "python3.11", "site-packages")


def top_level_modules(directories: list[str]) -> list[str]:
    names = set()
    for directory in directories:
        for entry in os.listdir(directory):
            name = entry[:-3] if entry.endswith(".py") else entry
            if name.isidentifier() and not name.startswith("_") and (
                    entry.endswith(".py") or os.path.isfile(f"{directory}/{entry}/__init__.py")):
                names.add(name)
    return sorted(names)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as app:
        names = top_level_modules(["/usr/lib/python3.11", "/usr/lib/python3/dist-packages", SITE])
        with open(f"{app}/main.py", "w") as fh:
            fh.write("".join(f"import {n}\n" for n in names))
        rootfs = HostFS()
        dirs = search_path(rootfs, "3.11", {"PYTHONPATH": SITE}, [app])
        count = 0

        def closure(scan_many) -> float:
            nonlocal count
            pypath = PythonPath(HostFS(), dirs)  # cold lookup caches each run
            start = time.perf_counter()
            found = pyimports.import_closure(pypath.rootfs, pypath, [f"{app}/main.py"], scan_many=scan_many)
            count = sum(1 for p in found.keep if p.endswith((".py", ".so")))
            return time.perf_counter() - start

        def timed(label: str, make_scanner) -> None:
            times = []
            for run in range(args.runs):
                with make_scanner(run) as scanner:
                    times.append(closure(scanner))
            print(f"{label}: median {statistics.median(times):.2f} s of {args.runs} runs "
                  f"(min {min(times):.2f}, max {max(times):.2f})")

        timed("one process, no cache", lambda run: pyscan.ModuleScanner(workers=1))
        with tempfile.TemporaryDirectory(prefix="bench-imports-cache-") as cache:
            timed(f"{len(os.sched_getaffinity(0))} workers, empty cache",
                  lambda run: pyscan.ModuleScanner(pyscan.ScanCache(f"{cache}/{run}.sqlite")))
            timed("cache filled", lambda run: pyscan.ModuleScanner(pyscan.ScanCache(f"{cache}/0.sqlite")))
        print(f"modules reached: {count}; target < 2 s for 3,000")


if __name__ == "__main__":
    main()

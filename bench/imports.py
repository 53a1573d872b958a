"""Benchmark: the static import closure of a Python app with thousands of reachable modules (issue 13: 3,000
reachable modules in under 2 s). The app is a generated main.py that imports every top-level module of this
host's Python 3.11 installation (standard library, Debian's dist-packages, the project's virtual environment),
read through the same RootFS interface as an image. Reports the median of N runs and the module count.

Run: .venv/bin/python bench/imports.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from slim.analysis import pyimports
from slim.analysis.hostfs import HostFS

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
        dirs = pyimports.search_path(rootfs, "3.11", {"PYTHONPATH": SITE}, [app])
        times, count = [], 0
        for _ in range(args.runs):
            pypath = pyimports.PythonPath(HostFS(), dirs)  # cold caches each run
            start = time.perf_counter()
            found = pyimports.import_closure(pypath.rootfs, pypath, [f"{app}/main.py"])
            times.append(time.perf_counter() - start)
            count = sum(1 for p in found.keep if p.endswith((".py", ".so")))
        print(f"modules reached: {count}; closure: median {statistics.median(times):.2f} s of {args.runs} runs "
              f"(min {min(times):.2f}, max {max(times):.2f}); target < 2 s for 3,000")


if __name__ == "__main__":
    main()

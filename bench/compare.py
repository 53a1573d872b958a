"""Benchmark: `slim compare` of three images against reading each of them once (`slim inspect`), medians of N
runs (issue 10: under 2x). The comparison also measures every layer gzip-compressed, in threads that run while
the next image is read.

Run: .venv/bin/python bench/compare.py [--runs N] [IMAGE IMAGE IMAGE]   (default: the three largest samples)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import shell_seconds  # noqa: E402

SLIM = os.path.join(os.path.dirname(sys.executable), "slim")
DEFAULT = ["slim-sample/many-libs:1", "slim-sample/node-server:1", "slim-sample/python-web:1"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="*", default=DEFAULT)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    reads, compares = [], []
    for _ in range(args.runs):
        reads.append(sum(shell_seconds(f"{SLIM} -q inspect {image} > /dev/null") for image in args.images))
        compares.append(shell_seconds(f"{SLIM} -q compare {' '.join(args.images)} --json > /dev/null"))
    read, compare = statistics.median(reads), statistics.median(compares)
    print(f"read each once: {read:.1f} s; compare: {compare:.1f} s; ratio {compare / read:.2f}x "
          f"(median of {args.runs}; target < 2x)")


if __name__ == "__main__":
    main()

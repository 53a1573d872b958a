"""Benchmark the run profile on the samples: what it holds back, and what proving it costs. Medians of N runs.

Run: .venv/bin/python bench/hardening.py [--runs N] [SAMPLE...]
- per sample: syscalls allowed of the kernel table's, capabilities kept, tmpfs paths, user, verified;
- cost: the `harden` phase (one untraced run of the slim image under the profile, when it passes) against the
  `verify` phase (the same run without the profile): the target is a ratio of at most about 1x, i.e. hardening
  adds at most one untraced run; and `slim build` with and without `--no-harden`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import run_measured  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLIM = os.path.join(os.path.dirname(sys.executable), "slim")
OUT = "slim-bench/hardened:1"


def build(image: str, args: list[str], tmp: str, *extra: str) -> tuple[float, dict]:
    seconds, _ = run_measured([SLIM, "-q", "build", image, "-t", OUT, "--report", f"{tmp}/r.json", *extra, *args])
    with open(f"{tmp}/r.json") as fh:
        return seconds, json.load(fh)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="*")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    names = args.samples or sorted(d for d in os.listdir(f"{ROOT}/samples")
                                   if os.path.isfile(f"{ROOT}/samples/{d}/sample.json"))
    print("| sample | user | allowed syscalls | capabilities kept | tmpfs | verified | verify s | harden s "
          "| harden/verify | build s | --no-harden s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        with open(f"{ROOT}/samples/{name}/sample.json") as fh:
            spec = json.load(fh)
        if spec["kind"] == "test-only":
            continue
        hardened, plain, verify, harden, report = [], [], [], [], None
        with tempfile.TemporaryDirectory(prefix="slim-bench-") as tmp:
            for _ in range(args.runs):
                seconds, report = build(spec["tag"], spec["args"], tmp)
                hardened.append(seconds)
                verify.append(report["seconds"]["verify"])
                harden.append(report["seconds"]["harden"])
                plain.append(build(spec["tag"], spec["args"], tmp, "--no-harden")[0])
        os.system(f"docker rmi {OUT} >/dev/null 2>&1")
        p, h = report["hardening"]["run_profile"], report["hardening"]
        v, hs = statistics.median(verify), statistics.median(harden)
        print(f"| {name} | {h['user']} | {p['syscalls']['allowed']} of {p['syscalls']['known']} "
              f"| {', '.join(p['capabilities']) or 'none'} | {', '.join(p['tmpfs']) or 'none'} "
              f"| {'yes' if p['verified'] else 'NO'} | {v:.2f} | {hs:.2f} | {hs / v:.2f}x "
              f"| {statistics.median(hardened):.2f} | {statistics.median(plain):.2f} |", flush=True)


if __name__ == "__main__":
    main()

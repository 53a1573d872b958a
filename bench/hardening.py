"""Benchmark the run profile on the samples: what it holds back, and what proving it costs. Medians of N runs.

Run: .venv/bin/python bench/hardening.py [--runs N] [--readme] [SAMPLE...]
(--readme: also write the profile columns into docs/hardening.md's table, between its markers)
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
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples"))
from common import run_measured  # noqa: E402
from readme_section import page, replace_section  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLIM = os.path.join(os.path.dirname(sys.executable), "slim")
OUT = "slim-bench/hardened:1"


def build(image: str, args: list[str], tmp: str, *extra: str) -> tuple[float, dict]:
    seconds, _ = run_measured([SLIM, "-q", "build", image, "-t", OUT, "--report", f"{tmp}/r.json", *extra, *args])
    with open(f"{tmp}/r.json") as fh:
        return seconds, json.load(fh)


def user_of(report: dict) -> str:
    """The image's user, and the users its processes switched to (the accounts kept besides root and it)."""
    user = report["hardening"]["user"]
    others = [a for a in report["accounts"] if a not in ("root", user)]
    return f"{user} (switches to {', '.join(others)})" if others else user


def profile_row(name: str, report: dict) -> str:
    p = report["hardening"]["run_profile"]
    return (f"| {name} | {user_of(report)} | {p['syscalls']['allowed']} of {p['syscalls']['known']} "
            f"| {', '.join(p['capabilities']) or 'none'} | {', '.join(p['tmpfs']) or 'none'} "
            f"| {'yes' if p['verified'] else 'NO'} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="*")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--readme", action="store_true", help="write the profile table into docs/hardening.md")
    args = ap.parse_args()
    rows = []
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
        subprocess.run(["docker", "build", "-q", "-t", spec["tag"], f"{ROOT}/samples/{name}"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # the sample as its Dockerfile says
        hardened, plain, verify, harden, report = [], [], [], [], None
        with tempfile.TemporaryDirectory(prefix="bench-hardening-") as tmp:
            for _ in range(args.runs):
                seconds, report = build(spec["tag"], spec["args"], tmp)
                hardened.append(seconds)
                verify.append(report["seconds"]["verify"])
                harden.append(report["seconds"]["harden"])
                plain.append(build(spec["tag"], spec["args"], tmp, "--no-harden")[0])
        os.system(f"docker rmi {OUT} >/dev/null 2>&1")
        v, hs = statistics.median(verify), statistics.median(harden)
        rows.append(profile_row(name, report))
        print(f"{rows[-1]} {v:.2f} | {hs:.2f} | {hs / v:.2f}x "
              f"| {statistics.median(hardened):.2f} | {statistics.median(plain):.2f} |", flush=True)
    if args.readme:
        replace_section("hardening-table", "\n".join([
            "| sample | user | allowed syscalls | capabilities kept | tmpfs | verified |",
            "| --- | --- | --- | --- | --- | --- |", *rows, "",
            "(`.venv/bin/python bench/hardening.py --readme` writes this table; it also times the hardened "
            "verification.)"]), page("hardening.md"))


if __name__ == "__main__":
    main()

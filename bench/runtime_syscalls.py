"""Measure which system calls the container runtime itself makes after it installs a container's seccomp
filter: the part of every profile that is not the app's.

Method: a static no-op (its only call is exit_group) runs in a container with the engine's init in front
(as slim's verification runs it), under a profile that allows a candidate list and denies everything else.
Starting from every call of the table, the list is shrunk by delta debugging (drop halves, then quarters, ...,
then single calls, keeping a drop whenever the container still starts and exits 0). What remains is what
runc + docker-init need on this machine. Usage: .venv/bin/python bench/runtime_syscalls.py [--no-init]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from slim.harden.seccomp import profile  # noqa: E402
from slim.harden.syscalls import X86_64  # noqa: E402

IMAGE = "slim-measure/noop:1"
NOOP_C = 'void _start(void) { __asm__ volatile("mov $231, %eax\\n xor %edi, %edi\\n syscall"); }\n'


def build_noop_image(tmp: str) -> None:
    with open(os.path.join(tmp, "noop.c"), "w") as fh:
        fh.write(NOOP_C)
    subprocess.run(["gcc", "-static", "-nostdlib", "-O2", "-o", os.path.join(tmp, "noop"), os.path.join(tmp, "noop.c")],
                   check=True)
    subprocess.run(f"tar -C {tmp} -c noop | docker import --change 'CMD [\"/noop\"]' - {IMAGE}", shell=True,
                   check=True, stdout=subprocess.DEVNULL)


def starts(allowed: list[str], tmp: str, init: bool) -> bool:
    path = os.path.join(tmp, "profile.json")
    with open(path, "w") as fh:
        json.dump(profile(set(allowed)), fh)
    args = ["docker", "run", "--rm", "--security-opt", f"seccomp={path}"] + (["--init"] if init else []) + [IMAGE]
    return subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60).returncode == 0


def minimize(candidates: list[str], works) -> list[str]:
    needed, chunk = list(candidates), max(1, len(candidates) // 2)
    while True:
        i = 0
        while i < len(needed):
            trial = needed[:i] + needed[i + chunk:]
            if works(trial):
                needed = trial
            else:
                i += chunk
        if chunk == 1:
            return needed
        chunk = max(1, chunk // 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-init", action="store_true", help="measure without the engine's init (docker run --init)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        build_noop_image(tmp)
        try:
            start, runs = time.monotonic(), [0]

            def works(allowed):
                runs[0] += 1
                return starts(allowed, tmp, not args.no_init)

            assert works(list(X86_64)), "the no-op does not even start with every call allowed"
            needed = minimize(list(X86_64), works)
            assert works(needed)
            print(json.dumps({"init": not args.no_init, "syscalls": sorted(needed), "runs": runs[0],
                              "seconds": round(time.monotonic() - start, 1)}))
        finally:
            subprocess.run(["docker", "rmi", "-f", IMAGE], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()

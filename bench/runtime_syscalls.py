"""Measure which system calls the container runtime itself makes after it installs a container's seccomp
filter: the part of every profile that is not the app's (slim/harden/runtime.py holds the result).

A static no-op (its only call is exit_group) runs in a container with the engine's init in front, as slim's
verification and the generated `docker run` line run it. Two phases:

1. Shrink: under a profile that allows a candidate list and denies everything else, the list is shrunk from
   the whole table by delta debugging (drop halves, then quarters, ..., then single calls, keeping a drop
   whenever the container still starts and exits 0). This finds what every start needs; each call it kept is
   then confirmed by two more starts without it.
2. Settle: the runtime (runc is written in Go) makes some calls only now and then, so a start under the
   shrunk list fails once in a few tries. The no-op is started many more times, in every way slim runs
   containers (with and without --init, no-new-privileges, a non-root user, a read-only root with a tmpfs,
   all capabilities dropped), under a profile whose default action is SCMP_ACT_LOG: every call outside the
   list is allowed and written to the kernel's audit log (type=1326 records, read with dmesg). Each logged
   call joins the list; rounds repeat until a whole round logs nothing new.

Usage: .venv/bin/python bench/runtime_syscalls.py [--settle-runs N]   (about 3 minutes; needs dmesg)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from slim.harden.seccomp import profile  # noqa: E402
from slim.harden.syscalls import X86_64  # noqa: E402
from tests.noop import build_noop_image  # noqa: E402

IMAGE = "slim-measure/noop:1"
# the ways slim and its users run a slim image: each may make the runtime call something the others do not
VARIANTS = (
    ["--init"],
    [],
    ["--init", "--security-opt", "no-new-privileges"],
    ["--init", "--user", "65532:65532", "--security-opt", "no-new-privileges"],
    ["--init", "--read-only", "--tmpfs", "/run:rw,mode=0755", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE",
     "--security-opt", "no-new-privileges"],
    ["--init", "--user", "65532", "--read-only", "--tmpfs", "/tmp:rw,mode=1777", "--cap-drop", "ALL"],
)


def write_profile(allowed: list[str], tmp: str, log: bool) -> str:
    doc = profile(set(allowed))
    if log:  # allow and log what is not on the list, instead of denying it
        doc = {**doc, "defaultAction": "SCMP_ACT_LOG", "syscalls": doc["syscalls"][:1]}
        doc.pop("defaultErrnoRet")
    path = os.path.join(tmp, "profile.json")
    with open(path, "w") as fh:
        json.dump(doc, fh)
    return path


def stops(allowed: list[str], tmp: str, log: bool = False) -> bool:
    """Start /wait and stop it: the init forwards the stop signal, and the container ends well before the
    engine's grace period would have it killed."""
    path, name = write_profile(allowed, tmp, log), f"slim-measure-{uuid.uuid4().hex[:12]}"
    try:
        subprocess.run(["docker", "run", "-d", "--name", name, "--init", "--security-opt", f"seccomp={path}", IMAGE,
                        "/wait"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        time.sleep(0.3)
        began = time.monotonic()
        subprocess.run(["docker", "stop", "-t", "5", name], check=True, stdout=subprocess.DEVNULL, timeout=30)
        return time.monotonic() - began < 4
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        _end_hung_start(name)
        return False
    finally:
        _remove(name)


def starts(allowed: list[str], tmp: str, variant: list[str], log: bool = False) -> bool:
    path, name = write_profile(allowed, tmp, log), f"slim-measure-{uuid.uuid4().hex[:12]}"
    args = ["docker", "run", "--rm", "--name", name, "--security-opt", f"seccomp={path}", *variant, IMAGE]
    try:
        # a start the filter breaks can hang in the runtime: a no-op that works is done in well under a second
        return subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        _end_hung_start(name)
        return False


def _end_hung_start(name: str) -> None:
    """runc's init hangs when the filter denies what it needs, and `runc create` waits on it for ever, holding
    the container: the engine can neither start nor remove it. End both (nothing else runs containers while
    this measures), then remove the container."""
    for pattern in ("^runc init", "^runc .* create "):
        subprocess.run(["pkill", "-9", "-f", pattern], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _remove(name)


def _remove(name: str) -> None:
    subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


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


def audit_records() -> dict[str, int]:
    """Seccomp audit records in the kernel log: record id -> syscall number."""
    out = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
    records = {}
    for line in out.splitlines():
        m = re.search(r"type=1326 audit\((\d+\.\d+:\d+)\): .* arch=c000003e syscall=(\d+) compat=0 ", line)
        if m:
            records[m.group(1)] = int(m.group(2))
    return records


def settle(needed: list[str], tmp: str, runs_per_round: int) -> dict[str, str]:
    """Calls the runtime makes only sometimes: logged (not denied) while the no-op starts again and again."""
    found: dict[str, str] = {}
    while True:
        seen = audit_records()
        new = set()
        for n in range(runs_per_round):
            variant = VARIANTS[n % len(VARIANTS)] if n % (len(VARIANTS) + 1) else ["--init", "(stopped)"]
            if "(stopped)" in variant:
                stops(needed + sorted(found), tmp, log=True)
            else:
                starts(needed + sorted(found), tmp, variant, log=True)
            for record, number in audit_records().items():
                if record not in seen and number < len(X86_64) and X86_64[number] not in found:
                    found[X86_64[number]] = " ".join(variant) or "(no options)"
                    new.add(X86_64[number])
            seen = audit_records()
        print(f"settle round: {sorted(new) or 'nothing new'}", file=sys.stderr, flush=True)
        if not new:
            return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle-runs", type=int, default=60, help="starts per settle round (default 60)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slim-measure-") as tmp:
        build_noop_image(IMAGE)
        try:
            start, runs = time.monotonic(), [0]

            def works(allowed):
                runs[0] += 1
                ok = starts(allowed, tmp, VARIANTS[0])
                print(f"run {runs[0]}: {len(allowed)} calls {'start' if ok else 'do not start'} "
                      f"({time.monotonic() - start:.0f} s)", file=sys.stderr, flush=True)
                return ok

            assert works(list(X86_64)), "the no-op does not even start with every call allowed"
            needed = minimize(list(X86_64), works)
            # a start that failed for the machine's reasons keeps a call by mistake: what every start needs never
            # starts without it, so a call the no-op twice starts without is dropped (settle finds it if it is
            # needed now and then)
            needed = [c for c in needed if not all(works([n for n in needed if n != c]) for _ in range(2))]
            sometimes = settle(needed, tmp, args.settle_runs)
            final = sorted(set(needed) | set(sometimes))
            checks = [starts(final, tmp, v) for v in VARIANTS for _ in range(5)] + [stops(final, tmp) for _ in range(5)]
            print(json.dumps({"every_start": sorted(needed), "sometimes": sometimes, "syscalls": final,
                              "starts_under_final_list": f"{sum(checks)}/{len(checks)}", "shrink_runs": runs[0],
                              "seconds": round(time.monotonic() - start, 1)}, indent=1))
        finally:
            subprocess.run(["docker", "rmi", "-f", IMAGE], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()

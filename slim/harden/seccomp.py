"""A seccomp profile (Docker/OCI JSON) that allows only the given system calls.

Denied calls the table knows fail with EPERM; calls a C library has a fallback for, and calls newer than the
table, fail with ENOSYS, so glibc falls back (clone3 -> clone, statx -> fstatat, faccessat2 -> faccessat)
instead of failing. The x86 and x32 variants of x86_64 are covered, as Docker's default profile does.
"""

from __future__ import annotations

import json

from slim.files import write_file
from slim.harden.syscalls import X86_64

EPERM, ENOSYS = 1, 38
# Calls that glibc (or Go's runtime) tries first and replaces by an older one on ENOSYS, never on EPERM.
WITH_FALLBACK = frozenset({"clone3", "close_range", "epoll_pwait2", "faccessat2", "fchmodat2", "openat2",
                           "pidfd_open", "pidfd_send_signal", "rseq", "statx"})


def profile(allowed: set[str] | frozenset[str]) -> dict:
    """A seccomp profile allowing `allowed` and nothing else: known calls fail with EPERM, calls with a C library
    fallback and calls newer than the table with ENOSYS."""
    known = set(X86_64)
    denied = known - set(allowed)
    rules: list[dict[str, object]] = [{"names": sorted(allowed), "action": "SCMP_ACT_ALLOW"}]
    if denied - WITH_FALLBACK:
        rules.append({"names": sorted(denied - WITH_FALLBACK), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": ENOSYS,  # what is not listed: newer than the table, or a call with a fallback
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": rules,
    }


def profile_json(allowed: set[str] | frozenset[str]) -> str:
    """The profile as written to a file: stable, so the same image gives the same bytes."""
    return json.dumps(profile(allowed), indent=1, sort_keys=True) + "\n"


def write_seccomp_profile(path: str, allowed) -> None:
    """Write the profile where the user (or the default) said; replaced whole, never half-written."""
    write_file(path, profile_json(allowed))


def allowed_count(allowed) -> tuple[int, int]:
    """(allowed calls the table knows, calls the table has): the figure the report gives."""
    return len(set(allowed) & set(X86_64)), len(X86_64)

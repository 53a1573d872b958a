"""Whether the slim image keeps /etc/passwd and /etc/group as they are, rather than reduced to the accounts in use.

Reduced is the default: lookups through NSS (getpwuid, getgrnam...) of the accounts the app runs as still
answer the same, and verification proves the rest. Kept whole when asked (`--keep-accounts`, or either file
kept by `--include-path`), and when the trace shows a process reading an account file as data: a process that
opened the file while its command line, or that of a process it descends from, names it (`sort /etc/passwd`,
`cat /etc/group`, `getent passwd`, `python3 -c "open('/etc/passwd')"`). NSS never takes the file from a command
line, so such a read is the app's own (a program named on one that also looks users up, `ls -l /etc/passwd`,
keeps the files whole for nothing worse than a few hundred bytes).

What the trace cannot tell apart is not guessed at: the open flags do not (glibc's NSS, coreutils' sort,
Perl and Python all open with O_CLOEXEC; cat and grep do not), nor does how much was read (NSS reads a small
passwd file whole). A program that reads an account file its command line does not name (an app's own code)
leaves the files reduced; when verification then fails, the error says the app read a file slim changed, and
names `--keep-accounts` (`changed_files_read` below).
"""

from __future__ import annotations

import posixpath
from collections.abc import Container
from dataclasses import dataclass

from slim.model import READ, ProcessInfo, Trace
from slim.results import Rewrites

ACCOUNT_FILES = ("/etc/passwd", "/etc/group")
REDUCED = "reduced to the accounts in use"  # the why of a reduced account file (Generated.why starts with it)
KEEP_OPTION = "--keep-accounts"
_KEEP_ADVICE = f"{KEEP_OPTION} keeps {' and '.join(ACCOUNT_FILES)} as they are"


def kept_whole(trace: Trace, asked: bool, included: Container[str]) -> str | None:
    """Why the account files stay as they are, or None when they are reduced. `asked`: --keep-accounts;
    `included`: what the plan keeps so far (an account file among it, by --include-path, keeps the pair)."""
    if asked:
        return KEEP_OPTION
    if any(path in included for path in ACCOUNT_FILES):
        return "--include-path"
    found = read_as_data(trace)
    if not found:
        return None
    path, process = found[0]
    program = posixpath.basename(process.exe or (process.argv[0] if process.argv else "")) or f"process {process.pid}"
    return f"{program} read {path} as data (a command line names it)"


def read_as_data(trace: Trace) -> list[tuple[str, ProcessInfo]]:
    """(account file, process) for each read of an account file by a process whose command line, or an ancestor's,
    names that file."""
    processes = {p.pid: p for p in trace.processes}
    found = []
    for access in trace.accesses:
        if not access.ok or access.kind != READ:
            continue
        path = next((p for p in (access.resolved, access.path) if p in ACCOUNT_FILES), None)
        if path is None:
            continue
        for pid in access.pids:
            if pid in processes and _named_by_lineage(path, processes[pid], processes):
                found.append((path, processes[pid]))
    return sorted(set(found), key=lambda item: (item[0], item[1].pid))


def _named_by_lineage(path: str, process: ProcessInfo, processes: dict[int, ProcessInfo]) -> bool:
    seen = set()
    current: ProcessInfo | None = process
    while current is not None and current.pid not in seen:
        seen.add(current.pid)
        if any(names(arg, path) for arg in current.argv[1:]):
            return True
        # a shell opens the file of a redirection (`sort < /etc/passwd`) in the child, which then runs sort
        current = processes.get(current.ppid) if current.ppid is not None else None
    return False


def names(arg: str, path: str) -> bool:
    """Whether a command-line argument names the file: holds its path, or ends in its name (`passwd`,
    `./group`)."""
    return path in arg or arg.rstrip("/").rsplit("/", 1)[-1] == posixpath.basename(path)


@dataclass(frozen=True)
class ChangedRead:
    """A file the app read that the slim image holds changed, and how to keep it as it is ("" when nothing does)."""

    path: str
    why: str
    way_out: str = ""


def changed_files_read(trace: Trace, rewrites: Rewrites) -> list[ChangedRead]:
    """The files slim generated in place of one of the image's (reduced, trimmed) that the traced run read."""
    read = {p for a in trace.accesses if a.ok and a.kind == READ for p in (a.path, a.resolved) if p}
    return [ChangedRead(g.path, g.why, _KEEP_ADVICE if g.path in ACCOUNT_FILES and g.why.startswith(REDUCED) else "")
            for g in sorted(rewrites.generated.values(), key=lambda g: g.path) if g.data is not None and g.path in read]


def advice(changed: list[ChangedRead]) -> str:
    """One clause for a failed verification: which changed files the app read and how to keep them; "" if none."""
    if not changed:
        return ""
    files = ", ".join(f"{c.path} ({c.why})" for c in changed)
    ways = sorted({c.way_out for c in changed if c.way_out})
    return f"the app read {files}, which the slim image holds changed" + (f": {'; '.join(ways)}" if ways else "")

"""Who made a container, volume, tag or work directory: this run of slim, and whether that run still lives.

Everything slim creates carries its run's identity (in engine labels, in a temporary tag's name, in a file in
its work directory), so a later run or `slim cleanup` can tell the leftovers of a killed run from the
objects of a run that is still going, without any shared state file.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from dataclasses import dataclass

RUN, PID, HOST, STARTED, CREATED = "slim.run", "slim.pid", "slim.host", "slim.started", "slim.created"


@dataclass(frozen=True)
class RunIdentity:
    """This process as the maker of what it creates: enough to tell later, from this host, whether the maker still
    runs (its pid with that pid's start time, since pids are reused)."""

    run_id: str  # 12 hex digits, unique per process
    pid: int
    host: str
    started: str  # the process's start time in clock ticks since boot: a reused pid has another one

    def labels(self) -> dict[str, str]:
        """The engine labels every container and volume of this run carries, with the time it was made."""
        return {RUN: self.run_id, PID: str(self.pid), HOST: self.host, STARTED: self.started,
                CREATED: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def tag_suffix(self) -> str:
        """What a temporary tag carries of its maker (a tag holds no labels): "<host hash>-<pid>-<started>"."""
        return f"{host_hash(self.host)}-{self.pid}-{self.started}"


_current: RunIdentity | None = None


def current() -> RunIdentity:
    """This process's identity (a forked child gets its own)."""
    global _current
    if _current is None or _current.pid != os.getpid():
        pid = os.getpid()
        _current = RunIdentity(uuid.uuid4().hex[:12], pid, socket.gethostname(), process_started(pid) or "0")
    return _current


def host_hash(host: str) -> str:
    """A short, stable stand-in for a host name, which a temporary tag carries instead of the name itself;
    `is_alive` recognises either."""
    return hashlib.sha256(host.encode()).hexdigest()[:8]


def process_started(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time), or None when no such process exists."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from the last ")"
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def is_alive(host_or_hash: str, pid: str | int, started: str) -> bool | None:
    """True/False for a run on this host; None when it ran elsewhere (no way to tell from here)."""
    here = socket.gethostname()
    if host_or_hash not in (here, host_hash(here)):
        return None
    try:
        return process_started(int(pid)) == started
    except ValueError:
        return False

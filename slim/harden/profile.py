"""The least-privilege run profile of an image, derived from its traced run. Pure: a Trace, the image's
RootFS and its run configuration in; a RunProfile out.

- read-only root, with a tmpfs for each directory the app wrote or created files in (declared VOLUMEs stay
  volumes; the pseudo filesystems are the runtime's);
- every capability dropped but those the trace shows a use for;
- no-new-privileges unless the app ran a setuid/setgid program;
- a seccomp allow-list: the traced calls plus the runtime's own (slim.harden.runtime).
Whether it works is not assumed: the pipeline verifies the slim image under exactly this profile.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from slim.harden.runtime import runtime_syscalls
from slim.model import CREATE, EXEC, FILE, READ, WRITE, RunConfig, Trace, below, within

_SETID_CALLS = ("setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid",
                "setfsgid")
_CHOWN_CALLS = ("chown", "fchown", "lchown", "fchownat")
_KILL_CALLS = ("kill", "tkill", "tgkill")


@dataclass(frozen=True)
class Tmpfs:
    """A writable tmpfs in an otherwise read-only root, owned as the directory it replaces so the app can write where
    it wrote in the trace."""

    path: str
    mode: int
    uid: int = 0
    gid: int = 0

    @property
    def options(self) -> str:
        """The mount options as `--tmpfs PATH:OPTIONS` and the engine's API take them."""
        owner = f",uid={self.uid},gid={self.gid}" if (self.uid, self.gid) != (0, 0) else ""
        return f"rw,mode={self.mode:04o}{owner}"


@dataclass(frozen=True)
class RunProfile:
    """The hardened run settings for an image and why each was chosen; verified by running the slim image under them
    before anything says "hardened"."""

    read_only: bool
    tmpfs: tuple[Tmpfs, ...]
    cap_add: tuple[str, ...]  # on top of dropping every capability
    no_new_privileges: bool
    syscalls: frozenset[str] | None  # the seccomp allow-list; None: the trace did not record every call
    user: str = ""  # a USER to run as instead of the image's ("" keeps the image's)
    why: tuple[tuple[str, str], ...] = ()  # (what, why) for each choice, for the report
    notes: tuple[str, ...] = field(default=())  # what could not be made least-privilege, and why


def derive(trace: Trace, rootfs, config: RunConfig, kept: set[str], complete_syscalls: bool = True,
           engine: str = "docker") -> RunProfile:
    """`rootfs`: the slim image's files (with their owners and modes); `kept`: its paths; `config`: how the slim
    image runs. `complete_syscalls`: whether the trace counted every call (else no seccomp allow-list is made).
    `engine`: whose runtime and init start the container (their calls join the allow-list)."""
    why: list[tuple[str, str]] = []
    tmpfs, writable_root = _tmpfs_dirs(trace, rootfs, config, kept, why)
    if engine == "podman":
        tmpfs = tuple(_ownerless(t, why) for t in tmpfs)
    mounted = () if writable_root else tuple(t.path for t in tmpfs)  # no tmpfs goes on a writable root
    caps = _capabilities(trace, rootfs, config, mounted, why)
    setuid_run = _ran_setuid_program(trace, rootfs)
    if setuid_run:
        why.append(("no-new-privileges off", f"the app ran the setuid/setgid program {setuid_run}"))
    read_only = not writable_root
    notes = list(writable_root)
    syscalls = frozenset(name for name, _ in trace.syscalls) | runtime_syscalls(engine) if complete_syscalls else None
    if syscalls is None:
        notes.append("no seccomp profile: the trace recorded only the calls that touch files (--no-syscall-profile)")
    return RunProfile(read_only, tmpfs if read_only else (), caps, not setuid_run, syscalls, why=tuple(why),
                      notes=tuple(notes))


def _ownerless(tmpfs: Tmpfs, why: list) -> Tmpfs:
    """Podman (4.3) refuses the uid=/gid= tmpfs options. A directory root owns stays root's (root writes
    whatever its group is); one another user owns becomes writable by all, sticky as /tmp, so that user still
    can write there."""
    if (tmpfs.uid, tmpfs.gid) == (0, 0):
        return tmpfs
    if tmpfs.uid == 0:
        return Tmpfs(tmpfs.path, tmpfs.mode)
    why.append((f"tmpfs {tmpfs.path} mode 1777", f"Podman cannot give a tmpfs an owner; uid {tmpfs.uid} writes there"))
    return Tmpfs(tmpfs.path, 0o1777)


def _tmpfs_dirs(trace: Trace, rootfs, config: RunConfig, kept: set[str],
                why: list) -> tuple[tuple[Tmpfs, ...], list[str]]:
    """A tmpfs for each directory the app changed, and why the root must stay writable (none: it can be
    read-only), which is so when a tmpfs would hide files the app needs from the image."""
    notes: list[str] = []
    written = trace.written_paths()
    created = {a.resolved or a.path for a in trace.accesses if a.kind == CREATE and a.ok}
    dirs: set[str] = set()
    for path in written:
        if within(path, config.volumes):
            continue  # a volume is writable already
        entry = rootfs.lstat(path)
        existing_dir = entry is not None and entry.is_dir
        dirs.add(path if existing_dir and path not in created else posixpath.dirname(path) or "/")
    dirs = {d for d in dirs if not any(below(d, o) for o in dirs)}
    out = []
    for d in sorted(dirs):
        hidden = [p for p in kept if below(p, d) and p not in written]
        if d == "/" or hidden:
            notes.append(f"the app writes in {d}, which holds files from the image (a tmpfs would hide them): "
                         "the root filesystem stays writable")
            continue
        entry = rootfs.stat(d)
        mode, uid, gid = (entry.mode & 0o7777, entry.uid, entry.gid) if entry is not None else (0o755, 0, 0)
        out.append(Tmpfs(d, mode, uid, gid))
        why.append((f"tmpfs {d}", "the app writes or creates files there"))
    return tuple(out), notes


def _capabilities(trace: Trace, rootfs, config: RunConfig, tmpfs: tuple[str, ...], why: list) -> tuple[str, ...]:
    called = {name for name, _ in trace.syscalls}
    caps: dict[str, str] = {}
    if trace.uids or trace.gids or called & set(_SETID_CALLS):
        switched = ", ".join(str(u) for u in trace.uids) or "another user"
        caps["SETUID"] = caps["SETGID"] = f"the app switches to user {switched}"
    low = sorted(p for p in trace.bound_ports if 0 < p < 1024)
    if low:
        caps["NET_BIND_SERVICE"] = f"the app binds port {', '.join(map(str, low))}"
    if called & set(_CHOWN_CALLS):
        caps["CHOWN"] = "the app changes file ownership"
    if trace.uids and called & set(_KILL_CALLS):
        caps["KILL"] = "the app signals processes that switched to another user"
    if config.runs_as_root and _opens_others_files(trace, rootfs, tmpfs):
        caps["DAC_OVERRIDE"] = "the app, as root, opens files whose permissions only their owner passes"
    for cap in sorted(caps):
        why.append((f"cap {cap}", caps[cap]))
    return tuple(sorted(caps))



def _opens_others_files(trace: Trace, rootfs, tmpfs: tuple[str, ...]) -> bool:
    """Whether root (uid 0, gid 0) opened an image file that its permission bits alone would refuse it: without
    DAC_OVERRIDE root is just the owner, group or other. Files under a tmpfs are the app's own, not the image's."""
    for a in trace.accesses:
        path = a.resolved or a.path
        if not a.ok or a.kind not in (READ, WRITE) or any(below(path, d) for d in tmpfs):
            continue
        entry = rootfs.stat(path)
        if entry is None or entry.kind != FILE:
            continue
        bit = 0o4 if a.kind == READ else 0o2
        shift = 6 if entry.uid == 0 else 3 if entry.gid == 0 else 0
        if not entry.mode >> shift & bit:
            return True
    return False


def _ran_setuid_program(trace: Trace, rootfs) -> str:
    for a in trace.accesses:
        if a.kind == EXEC and a.ok:
            entry = rootfs.stat(a.resolved or a.path)
            if entry is not None and entry.kind == FILE and entry.mode & 0o6000:
                return a.resolved or a.path
    return ""

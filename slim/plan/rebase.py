"""Rebase a root-running image on an unprivileged user (`--run-as nonroot|UID[:GID]`).

`nonroot` is the distroless convention: uid and gid 65532, home /home/nonroot, no login shell. The slim image
gets that USER, an account for it when it is named, and ownership of the paths the traced run wrote, so the
app can still write them. Pure: the RootFS, the run configuration and the trace in, file changes (added to the
Rewrites) and the new USER out. Whether the app really runs unprivileged is not assumed: the slim image is
verified as that user. What the trace shows cannot work unprivileged is said up front.
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass

from slim.errors import UsageError
from slim.model import DIR, FILE, RunConfig, SlimWarning, Trace, within
from slim.results import Generated, Rebased, Rewrites

NONROOT = "nonroot"
NONROOT_ID = 65532
NONROOT_HOME = "/home/nonroot"
_SPEC = re.compile(r"^(\d+)(?::(\d+))?$")


@dataclass(frozen=True)
class RunAs:
    """What `--run-as` asked for: a name only for `nonroot`, which slim creates."""

    name: str
    uid: int
    gid: int

    @property
    def user(self) -> str:
        """The image's USER: the name when there is an account for it, else uid:gid."""
        return self.name or f"{self.uid}:{self.gid}"


def parse_run_as(spec: str) -> RunAs:
    """`--run-as` as given (nonroot, UID or UID:GID); a usage error for anything else, and for uid 0."""
    if spec == NONROOT:
        return RunAs(NONROOT, NONROOT_ID, NONROOT_ID)
    m = _SPEC.match(spec)
    if not m:
        raise UsageError(f"--run-as {spec!r}: expected nonroot, UID or UID:GID")
    uid = int(m.group(1))
    gid = int(m.group(2)) if m.group(2) is not None else uid
    if uid == 0:
        raise UsageError("--run-as 0: that is root; name an unprivileged user (nonroot, UID or UID:GID)")
    return RunAs("", uid, gid)





def rebase(rootfs, config: RunConfig, trace: Trace, run_as: RunAs, kept: set[str], out: Rewrites) -> Rebased:
    """Add to `out` what running as `run_as` needs; `kept` are the slim image's paths."""
    if not config.runs_as_root:
        return Rebased("", warnings=(SlimWarning("run-as.not-root", f"the image already runs as {config.user}: "
                                                 "--run-as leaves it as it is"),))
    if run_as.name:
        _add_account(rootfs, run_as, out)
    chowned = _give_written_paths(rootfs, config, trace, run_as, kept, out)
    return Rebased(run_as.user, chowned, tuple(_cannot_unprivileged(trace)))


def _add_account(rootfs, run_as: RunAs, out: Rewrites) -> None:
    """An account line in passwd and group (the reduced ones when the plan made them), and its home."""
    for path, line in (("/etc/passwd", f"{run_as.name}:x:{run_as.uid}:{run_as.gid}::{NONROOT_HOME}:/sbin/nologin"),
                       ("/etc/group", f"{run_as.name}:x:{run_as.gid}:")):
        current = out.generated.get(path)
        if current is not None and current.data is not None:  # data is None only for a directory
            text, mode, uid, gid = current.data.decode(), current.mode, current.uid, current.gid
        else:
            text, mode, uid, gid = _image_file(rootfs, path)
        # the why says the reduction too: a failed verification names --keep-accounts for a reduced file
        why = f"{current.why}, {run_as.name} added" if current is not None and current.why else f"{run_as.name} added"
        if any(entry.split(":", 1)[0] == run_as.name for entry in text.splitlines()):
            continue  # the image has it already
        text = text if not text or text.endswith("\n") else text + "\n"
        if not text and path == "/etc/passwd":
            text = "root:x:0:0:root:/root:/sbin/nologin\n"
        elif not text:
            text = "root:x:0:\n"
        out.generated[path] = Generated(path, (text + line + "\n").encode(), mode, uid, gid, why)
    if rootfs.lstat(NONROOT_HOME) is None:
        out.generated[NONROOT_HOME] = Generated(NONROOT_HOME, None, 0o700, run_as.uid, run_as.gid,
                                                f"home of {run_as.name}")


def _image_file(rootfs, path: str) -> tuple[str, int, int, int]:
    entry = rootfs.stat(path)
    if entry is None or entry.kind != FILE:
        return "", 0o644, 0, 0
    return rootfs.read_bytes(path, 1 << 20).decode("utf-8", "replace"), entry.mode & 0o7777, entry.uid, entry.gid


def _give_written_paths(rootfs, config: RunConfig, trace: Trace, run_as: RunAs, kept: set[str],
                        out: Rewrites) -> tuple[str, ...]:
    """The directories the app wrote in (and the image files it wrote) become the user's."""
    targets = set()
    for path in trace.written_paths():
        if within(path, config.volumes):
            continue  # a volume's owner is the engine's business
        entry = rootfs.lstat(path)
        if entry is not None and entry.kind in (FILE, DIR) and path in kept:
            targets.add(path)
        parent = posixpath.dirname(path)
        if parent not in ("/", "/tmp") and parent in kept:  # /tmp is everyone's already (sticky, world-writable)
            targets.add(parent)
    for path in sorted(targets):
        entry = rootfs.lstat(path)
        if entry is None or entry.kind not in (FILE, DIR):
            continue
        out.owners[path] = (run_as.uid, run_as.gid)
    return tuple(sorted(out.owners))


def _cannot_unprivileged(trace: Trace) -> list[SlimWarning]:
    found = []
    if trace.uids or trace.gids:
        users = ", ".join(str(u) for u in trace.uids) or "another group"
        found.append(SlimWarning("run-as.switches-user", f"run as root, the app switches to user {users}; an "
                                 "unprivileged user cannot, so that switch fails (verification shows whether the "
                                 "app copes; if not, run it as that user or as root)"))
    low = sorted(p for p in trace.bound_ports if 0 < p < 1024)
    if low:
        found.append(SlimWarning("run-as.low-port", f"the app binds port {', '.join(map(str, low))}: Docker 20.10+ "
                                 "lets any user bind it inside the container, Kubernetes and other runtimes need "
                                 "NET_BIND_SERVICE as an ambient capability or a port of 1024 and above"))
    return found


def with_user(config_doc: dict, user: str | None) -> dict:
    """The image config document with its USER replaced (unchanged when `user` is None)."""
    if user is None:
        return config_doc
    doc = copy.deepcopy(config_doc)
    doc.setdefault("config", {})["User"] = user
    return doc

"""What the kept files become in the minimized image: accounts reduced to those in use (unless the plan keeps
them whole: slim.plan.accounts), a package database trimmed to the kept packages, directories the image config
promises, /tmp world-writable, setuid/setgid bits dropped from programs that were never run. Pure: the RootFS,
the keep plan and the trace in, new file contents and modes out.
"""

from __future__ import annotations

from slim.packages.catalog import Catalog, KeptPaths
from slim.checks.users import ImageAccounts, reduce_accounts, resolve_user
from slim.model import EXEC, FILE, RunConfig, Trace
from slim.plan.accounts import ACCOUNT_FILES, REDUCED
from slim.plan.keep import PlanOptions, declared_dirs
from slim.results import Generated, KeepPlan, Rewrites


def rewrite(rootfs, config: RunConfig, trace: Trace, accounts: ImageAccounts, catalog: Catalog, keep: KeepPlan,
            options: PlanOptions) -> Rewrites:
    """Every change the kept files need: setuid bits dropped, accounts reduced, declared directories made, the
    package database trimmed."""
    out = Rewrites()
    _setuid(rootfs, trace, keep, options, out)
    _accounts(rootfs, config, trace, accounts, keep, out)
    _declared_dirs(rootfs, config, keep, out)
    _packages(rootfs, catalog, keep, out)
    return out


def _setuid(rootfs, trace: Trace, keep: KeepPlan, options: PlanOptions, out: Rewrites) -> None:
    """Setuid/setgid bits stay only on programs that ran, or that the user included."""
    execd = {a.path for a in trace.accesses if a.kind == EXEC and a.ok} | {
        a.resolved for a in trace.accesses if a.kind == EXEC and a.resolved}
    exempt = execd | options.included
    for path in keep.reasons:
        entry = rootfs.lstat(path)
        if entry is None or entry.kind != FILE or not entry.mode & 0o6000 or path in exempt:
            continue
        out.modes[path] = entry.mode & ~0o6000
        out.setuid_dropped.append(path)
    out.setuid_dropped.sort()


def _accounts(rootfs, config: RunConfig, trace: Trace, accounts: ImageAccounts, keep: KeepPlan,
              out: Rewrites) -> None:
    """passwd and group reduced to root, the USER and the users the processes switched to; as they are when the
    plan keeps either file (--keep-accounts, --include-path, or read as data: slim.plan.accounts)."""
    if not accounts.present:
        return
    if any(path in keep.reasons for path in ACCOUNT_FILES):  # a pair: a group file reduced would not match
        out.accounts_kept = [a.name for a in accounts.accounts]
        return
    uid, gid = resolve_user(config.user or "root", list(accounts.accounts))
    uids = set(trace.uids) | ({uid} if uid is not None else set())
    gids = set(trace.gids) | ({gid} if gid is not None else set())
    new_passwd, new_group, names = reduce_accounts(accounts.passwd, accounts.group, uids, gids)
    out.accounts_kept = names
    for path, data in (("/etc/passwd", new_passwd), ("/etc/group", new_group)):
        original = rootfs.stat(path)
        if original is not None:
            out.generated[path] = Generated(path, data.encode(), original.mode, original.uid, original.gid, REDUCED)


def _declared_dirs(rootfs, config: RunConfig, keep: KeepPlan, out: Rewrites) -> None:
    # /tmp is world-writable with the sticky bit in every image that works; make it so even if it was missing.
    if rootfs.stat("/tmp") is None:
        out.generated["/tmp"] = Generated("/tmp", None, 0o1777, why="/tmp")
    elif (rootfs.realpath("/tmp") or "/tmp") in keep.reasons:
        out.modes[rootfs.realpath("/tmp")] = 0o1777
    for path in declared_dirs(config):
        if path != "/" and rootfs.stat(path) is None:
            out.generated[path] = Generated(path, None, 0o755, why="WORKDIR/VOLUME missing from the image")


def _packages(rootfs, catalog: Catalog, keep: KeepPlan, out: Rewrites) -> None:
    if catalog.kind is None:
        return
    kept_paths = KeptPaths(rootfs, keep.reasons)  # real paths worked out once, for both uses
    kept = catalog.kept(rootfs, kept_paths)
    out.packages_before = sorted(pkg.name for pkg in catalog.packages)
    out.packages_after = sorted(pkg.name for pkg in kept)
    for path, data in catalog.trimmed(rootfs, kept, kept_paths).items():
        out.generated[path] = Generated(path, data, 0o644, why=f"trimmed {catalog.kind} database")

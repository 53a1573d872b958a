"""Facts the build report states about a keep plan: files and bytes per category, tools left out."""

from __future__ import annotations

from dataclasses import dataclass

from slim.model import DIR, FILE
from slim.plan.keep import CATEGORIES, KeepPlan

SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox"}
PACKAGE_MANAGERS = {"apt", "apt-get", "apt-cache", "aptitude", "dpkg", "dpkg-deb", "dpkg-query", "apk", "pip",
                    "pip3", "yum", "dnf", "rpm", "microdnf", "npm", "yarn", "gem"}
BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")


@dataclass(frozen=True)
class RemovedTools:
    shells: tuple[str, ...]
    package_managers: tuple[str, ...]


def category_usage(rootfs, keep: KeepPlan) -> dict[str, dict[str, int]]:
    """Files and bytes per primary category (each file counted once, in its first category)."""
    out = {c: {"files": 0, "bytes": 0} for c in CATEGORIES}
    seen = set()
    for path in keep.reasons:
        entry = rootfs.lstat(path)
        if entry is None or entry.kind == DIR:
            continue
        bucket = out[keep.category(path)]
        bucket["files"] += 1
        if entry.kind == FILE and entry.content_key not in seen:
            seen.add(entry.content_key)
            bucket["bytes"] += entry.size
    return out


def removed_tools(rootfs, keep: KeepPlan) -> RemovedTools:
    """Shells and package managers in the image's bin directories that the minimized image does not keep."""
    kept_real = {rootfs.realpath(x) for x in keep.reasons}
    shells, managers = [], []
    for directory in BIN_DIRS:
        real_dir = rootfs.realpath(directory)
        if real_dir is None or real_dir != directory:
            continue  # a merged-/usr link: the real directory is listed under its own name
        for name in rootfs.listdir(directory):
            path = f"{directory}/{name}"
            if rootfs.realpath(path) in kept_real or path in keep.reasons:
                continue
            if name in SHELLS:
                shells.append(path)
            elif name in PACKAGE_MANAGERS:
                managers.append(path)
    return RemovedTools(tuple(shells), tuple(managers))

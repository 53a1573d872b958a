"""Facts the build report states about a keep plan: files and bytes per category, tools left out."""

from __future__ import annotations

from dataclasses import dataclass

from slim.checks.exposure import tools
from slim.model import DIR, FILE
from slim.results import CATEGORIES, KeepPlan


@dataclass(frozen=True)
class RemovedTools:
    """The shells and package managers the original had in its bin directories and the slim image does not keep: what
    an attacker loses."""

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
    shells, managers = tools(rootfs)

    def dropped(paths: list[str]) -> tuple[str, ...]:
        return tuple(p for p in paths if p not in keep.reasons and rootfs.realpath(p) not in kept_real)

    return RemovedTools(dropped(shells), dropped(managers))

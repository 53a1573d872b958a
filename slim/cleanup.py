"""Find and remove what runs of slim that are gone left behind: containers, volumes, temporary tags and work
directories. A killed run (SIGKILL, a lost CI job) cannot clean up after itself; the next build sweeps, and
`slim cleanup` does it on demand.

A thing is a leftover when the identity it carries names a process on this host that no longer exists (or
now is another process: the start time differs). Objects made on another host that shares the engine are
never touched: there is no telling from here whether that run still lives.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from slim import identity
from slim.analysis.pyscan import scan_cache_file
from slim.engine import Engine
from slim.image.sink import TEMPORARY_REPOSITORY, temporary_tag_owner
from slim.workspace import stale_workspaces
from tracers.bundle import CACHE_LABEL


@dataclass
class Leftovers:
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    work_dirs: list[str] = field(default_factory=list)
    caches: list[str] = field(default_factory=list)  # tracer bundle volumes, with --all only
    cache_files: list[str] = field(default_factory=list)  # the import scan cache, with --all only

    def lines(self) -> list[str]:
        return ([f"container {c[:12]}" for c in self.containers] + [f"volume {v}" for v in self.volumes]
                + [f"tag {t}" for t in self.tags] + [f"work directory {d}" for d in self.work_dirs]
                + [f"cache volume {v}" for v in self.caches] + [f"cache file {f}" for f in self.cache_files])

    def __len__(self) -> int:
        return len(self.lines())


def _dead(labels: dict[str, str]) -> bool:
    if identity.PID not in labels:
        return True  # made before runs were labelled with their process: no run of that kind is still going
    return identity.is_alive(labels.get(identity.HOST, ""), labels[identity.PID], labels.get(identity.STARTED, "")) is False


def find_work_dirs(work_base: str | None, everything: bool = False) -> Leftovers:
    """What dead runs left on this host (no engine needed); with `everything` also the import scan cache."""
    return Leftovers(work_dirs=stale_workspaces(work_base), cache_files=_cache_files() if everything else [])


def _cache_files() -> list[str]:
    # SQLite keeps its write-ahead log and shared memory next to the database
    base = scan_cache_file()
    return [p for p in (base, base + "-wal", base + "-shm") if os.path.exists(p)]


def find_dead(engine: Engine, work_base: str | None, everything: bool = False) -> Leftovers:
    """What dead runs left in the engine and under `work_base`; with `everything` also the tracer bundle
    cache (rebuilt by the next trace) and the import scan cache (refilled by the next build)."""
    found = _labelled(engine, _dead)
    on_host = find_work_dirs(work_base, everything)
    found.work_dirs, found.cache_files = on_host.work_dirs, on_host.cache_files
    for tag in engine.tags_in(TEMPORARY_REPOSITORY + "/"):
        owner = temporary_tag_owner(tag)
        if owner is None or identity.is_alive(*owner) is False:
            found.tags.append(tag)
    if everything:
        found.caches = [name for name, _ in engine.labelled_volumes(CACHE_LABEL)]
    return found


def find_own(engine: Engine) -> Leftovers:
    """What this very run still holds in the engine: after an interrupt cut a cleanup short, the last net."""
    me = identity.current().run_id
    found = _labelled(engine, lambda labels: labels[identity.RUN] == me)
    found.tags = engine.tags_in(f"{TEMPORARY_REPOSITORY}/{me}-")
    return found


def _labelled(engine: Engine, wanted) -> Leftovers:
    """The containers and volumes carrying a run identity whose labels `wanted` accepts."""
    return Leftovers(containers=[cid for cid, labels in engine.labelled_containers(identity.RUN) if wanted(labels)],
                     volumes=[name for name, labels in engine.labelled_volumes(identity.RUN) if wanted(labels)])


def remove(engine: Engine | None, found: Leftovers) -> None:
    """Remove everything in `found`; containers first, since they hold volumes and images in use."""
    if engine is not None:
        for cid in found.containers:
            engine.remove_container(cid)
        for name in found.volumes + found.caches:
            engine.remove_volume(name)
        for tag in found.tags:
            engine.remove_image(tag)
    for path in found.work_dirs:
        shutil.rmtree(path, ignore_errors=True)
    for path in found.cache_files:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass

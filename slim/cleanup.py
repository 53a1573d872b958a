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
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from slim import identity
from slim.langs.pyscan import scan_cache_file
from slim.engine import Containers, Images, Volumes
from slim.image.sink import TEMPORARY_REPOSITORY, temporary_tag_owner
from slim.workspace import OWNER_FILE, left_outside, stale_workspaces
from tracers.bundle import CACHE_LABEL


class Holder(Images, Containers, Volumes, Protocol):
    """Where leftovers live: an engine's containers, volumes and tags (not its facts or its connection)."""


@dataclass
class Leftovers:
    """What is to be removed, by kind. A new kind is a list field here, a row in KINDS and a row in the
    removers of `remove` (`_HOST_REMOVERS` for what lies on this host's filesystem)."""

    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    work_dirs: list[str] = field(default_factory=list)
    partial_files: list[str] = field(default_factory=list)  # FILE.partial beside a user's output, of a dead run
    caches: list[str] = field(default_factory=list)  # tracer bundle volumes, with --all only
    cache_files: list[str] = field(default_factory=list)  # the import scan cache, with --all only

    # (field, what one is called in messages), in the order of removal: containers first, since they hold
    # volumes and images in use
    KINDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("containers", "container"), ("volumes", "volume"), ("caches", "cache volume"), ("tags", "tag"),
        ("partial_files", "partial file"), ("work_dirs", "work directory"), ("cache_files", "cache file"))

    def items(self) -> list[tuple[str, str, str]]:
        """(field, name, line) of every leftover: "container 3f2a...", "work directory /tmp/slim-..."."""
        return [(kind, name, f"{label} {name[:12] if kind == 'containers' else name}")
                for kind, label in self.KINDS for name in getattr(self, kind)]

    def lines(self) -> list[str]:
        """One line per leftover, as `slim cleanup` lists what it found."""
        return [line for _, _, line in self.items()]

    def __len__(self) -> int:
        return len(self.items())


@dataclass
class Removal:
    """What `remove` did: the lines of what is gone, and (line, reason) of what is still there."""

    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def run_ended(labels: dict[str, str]) -> bool:
    """Whether the slim run these labels name has ended (on this host: its process is gone or is another one)."""
    if identity.PID not in labels:
        return True  # made before runs were labelled with their process: no run of that kind is still going
    return identity.is_alive(labels.get(identity.HOST, ""), labels[identity.PID], labels.get(identity.STARTED, "")) is False


def find_work_dirs(work_base: str | None, everything: bool = False) -> Leftovers:
    """What dead runs left on this host (no engine needed); with `everything` also the import scan cache."""
    dead = stale_workspaces(work_base)
    # a dead run's work directory lists the partial files it was writing elsewhere: they go before it does
    return Leftovers(work_dirs=dead, partial_files=[p for d in dead for p in left_outside(d)],
                     cache_files=_cache_files() if everything else [])


def _cache_files() -> list[str]:
    # SQLite keeps its write-ahead log and shared memory next to the database
    base = scan_cache_file()
    return [p for p in (base, base + "-wal", base + "-shm") if os.path.exists(p)]


def find_dead(engine: Holder, work_base: str | None, everything: bool = False) -> Leftovers:
    """What dead runs left in the engine and under `work_base`; with `everything` also the tracer bundle
    cache (rebuilt by the next trace) and the import scan cache (refilled by the next build)."""
    found = _labelled(engine, run_ended)
    on_host = find_work_dirs(work_base, everything)
    found.work_dirs, found.partial_files, found.cache_files = (on_host.work_dirs, on_host.partial_files,
                                                               on_host.cache_files)
    for tag in engine.tags_in(TEMPORARY_REPOSITORY + "/"):
        owner = temporary_tag_owner(tag)
        if owner is None or identity.is_alive(*owner) is False:
            found.tags.append(tag)
    if everything:
        found.caches = [name for name, _ in engine.labelled_volumes(CACHE_LABEL)]
    return found


def find_own(engine: Holder) -> Leftovers:
    """What this very run still holds in the engine: after an interrupt cut a cleanup short, the last net."""
    me = identity.current().run_id
    found = _labelled(engine, lambda labels: labels[identity.RUN] == me)
    found.tags = engine.tags_in(f"{TEMPORARY_REPOSITORY}/{me}-")
    return found


def _labelled(engine: Holder, wanted: Callable[[dict[str, str]], bool]) -> Leftovers:
    """The containers and volumes carrying a run identity whose labels `wanted` accepts."""
    return Leftovers(containers=[cid for cid, labels in engine.labelled_containers(identity.RUN) if wanted(labels)],
                     volumes=[name for name, labels in engine.labelled_volumes(identity.RUN) if wanted(labels)])


def remove(engine: Holder | None, found: Leftovers) -> Removal:
    """Remove everything in `found`, in the order of Leftovers.KINDS; never raises: what could not be removed
    comes back with the reason (the engine refused or went away, a directory this user cannot empty)."""
    removers: dict[str, Callable[[str], str | None]] = dict(_HOST_REMOVERS)
    if engine is not None:
        removers.update(containers=engine.remove_container, volumes=engine.remove_volume,
                        caches=engine.remove_volume, tags=engine.remove_image)
    done = Removal()
    for kind, name, line in found.items():
        remover = removers.get(kind)
        try:
            reason = remover(name) if remover is not None else "no engine answers"
        except Exception as exc:  # an engine adapter that raises after all: said, not let through
            reason = str(exc) or type(exc).__name__
        if reason is None:
            done.removed.append(line)
        else:
            done.failed.append((line, reason))
    return done


def _remove_work_dir(path: str) -> str | None:
    """Remove a dead run's work directory; None once it is gone, else why it is not. Its owner file goes last,
    so a directory that cannot be emptied is still recognised as a dead run's by the next cleanup."""
    failures: list[tuple[str, OSError]] = []
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return _why(exc)
    for name in names:
        if name != OWNER_FILE:
            _remove_path(os.path.join(path, name), failures)
    if not failures:
        _remove_path(path, failures)
    if not os.path.lexists(path):
        return None
    if not failures:
        return "something new was put in it while it was being removed"
    where, refusal = failures[0]  # the first refusal is the cause; the directories above it then are not empty
    return f"{refusal.strerror or refusal}: {where}"


def _remove_path(path: str, failures: list[tuple[str, OSError]]) -> None:
    """Remove a file or a whole tree, going on past refusals; each refusal is added to `failures`."""
    def note(function, where, exc):
        exc = exc[1] if isinstance(exc, tuple) else exc  # onerror passes exc_info, onexc the exception
        if not isinstance(exc, FileNotFoundError):
            failures.append((where, exc))
    if os.path.isdir(path) and not os.path.islink(path):
        if sys.version_info >= (3, 12):  # 3.12 renamed onerror (and warns on the old name)
            shutil.rmtree(path, onexc=note)
        else:
            shutil.rmtree(path, onerror=note)
    else:
        try:
            os.unlink(path)
        except OSError as exc:
            note(os.unlink, path, exc)


def _remove_file(path: str) -> str | None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return _why(exc)
    return None


def _why(exc: OSError) -> str:
    return f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)


_HOST_REMOVERS = {"work_dirs": _remove_work_dir, "partial_files": _remove_file, "cache_files": _remove_file}

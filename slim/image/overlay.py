"""Lay a plan's generated files and mode changes over a RootFS, ready for assembly."""

from __future__ import annotations

import dataclasses

from slim.image.paths import ancestors
from slim.model import DIR, FILE, Entry
from slim.rootfs import RootFS

FIXED_MTIME = 0  # generated files carry no time of their own, so the output stays reproducible


def overlay(rootfs: RootFS, generated: dict, modes: dict[str, int], pack_file: str,
            owners: dict[str, tuple[int, int]] | None = None) -> RootFS:
    """`generated`: path -> plan.Generated; `modes`: path -> new permission bits; `owners`: path -> (uid, gid)."""
    changes: dict[str, Entry] = {}
    with open(pack_file, "wb") as pack:
        for n, (path, gen) in enumerate(sorted(generated.items())):
            for parent in ancestors(path):
                if parent != "/" and rootfs.lstat(parent) is None and parent not in changes:
                    changes[parent] = Entry(parent, DIR, mode=0o755, mtime=FIXED_MTIME)
            if gen.data is None:
                changes[path] = Entry(path, DIR, mode=gen.mode, uid=gen.uid, gid=gen.gid, mtime=FIXED_MTIME)
                continue
            offset = pack.tell()
            pack.write(gen.data)
            changes[path] = Entry(path, FILE, mode=gen.mode, uid=gen.uid, gid=gen.gid, size=len(gen.data),
                                  mtime=FIXED_MTIME, blob=pack_file, blob_offset=offset, inode=n)
    for path, mode in modes.items():
        entry = changes.get(path) or rootfs.lstat(path)
        if entry is not None:
            changes[path] = dataclasses.replace(entry, mode=mode)
    for path, (uid, gid) in (owners or {}).items():
        entry = changes.get(path) or rootfs.lstat(path)
        if entry is not None:
            changes[path] = dataclasses.replace(entry, uid=uid, gid=gid)
    return rootfs.derive(changes)

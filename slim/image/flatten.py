"""Merge unpacked layers, lowest first, into one RootFS, honoring whiteouts and opaque directories."""

from __future__ import annotations

import dataclasses
import posixpath
from typing import Iterable

from slim.image.layer import UnpackedLayer
from slim.model import DIR, FILE, HARDLINK, Entry, SlimWarning
from slim.rootfs import RootFS


class _Tree:
    """Mutable path -> Entry map with a children index, so deleting a subtree costs only its size."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {"/": Entry(path="/", kind=DIR, mode=0o755)}
        self.children: dict[str, set[str]] = {"/": set()}
        self.warnings: list[SlimWarning] = []

    def remove(self, path: str) -> None:
        if path == "/" or path not in self.entries:
            return
        for child in list(self.children.get(path, ())):
            self.remove(child)
        self.children.pop(path, None)
        del self.entries[path]
        self.children[posixpath.dirname(path)].discard(path)

    def clear_dir(self, path: str) -> None:
        for child in list(self.children.get(path, ())):
            self.remove(child)

    def put(self, entry: Entry) -> None:
        old = self.entries.get(entry.path)
        if old is not None and (old.kind != DIR or entry.kind != DIR):
            self.remove(entry.path)  # a non-directory replaces whatever was there, subtree included
        self.entries[entry.path] = entry
        if entry.kind == DIR:
            self.children.setdefault(entry.path, set())
        if entry.path != "/":
            self.children[posixpath.dirname(entry.path)].add(entry.path)

    def place(self, path: str, where: str) -> str | None:
        """The path an entry really lands at: parent symlinks followed inside the root, missing parents made.

        A layer may name "lib/x" while "lib" is a symlink in a lower layer; Docker writes through the link,
        inside the root, creating what is missing. Returns None (with a warning) when a parent is not a directory.
        """
        parent, name = posixpath.split(path)
        if parent == "/" or self.entries.get(parent, _NONE).kind == DIR:
            return path
        real = RootFS(self.entries).resolve(parent)
        if real.entry is None:
            made = self._make_dir(real.path, where)
            return None if made is None else posixpath.join(made, name)
        if real.entry.kind != DIR:
            self.warnings.append(SlimWarning("flatten.parent-not-dir", f"skipped {path}: parent {real.path} is not a directory", where))
            return None
        return posixpath.join(real.path, name)

    def _make_dir(self, path: str, where: str) -> str | None:
        placed = self.place(path, where)
        if placed is None:
            return None
        existing = self.entries.get(placed)
        if existing is None:
            self.put(Entry(path=placed, kind=DIR, mode=0o755))
        elif existing.kind != DIR:
            self.warnings.append(SlimWarning("flatten.dir-blocked", f"cannot create directory {placed}: a {existing.kind} is there", where))
            return None
        return placed


_NONE = Entry(path="", kind="")


def flatten(layers: Iterable[UnpackedLayer]) -> RootFS:
    """The union of `layers` as Docker's overlay presents it to a container."""
    tree = _Tree()
    for layer in layers:
        tree.warnings.extend(layer.warnings)
        # Whiteouts and opaque markers only hide what lower layers hold, so apply them before this layer's entries.
        for path in layer.opaque_dirs:
            tree.clear_dir(path)
        for path in layer.whiteouts:
            tree.remove(path)
        for entry in layer.entries:
            _apply(tree, entry, layer.name)
    return RootFS(tree.entries, tree.warnings)


def _apply(tree: _Tree, entry: Entry, where: str) -> None:
    path = tree.place(entry.path, where) if entry.path != "/" else "/"
    if path is None:
        return
    if entry.kind == HARDLINK:
        target = tree.entries.get(entry.linkname)
        if target is None or target.kind != FILE:
            tree.warnings.append(SlimWarning("flatten.dangling-hardlink", f"skipped hardlink {entry.path} -> {entry.linkname}: no such file in the image", where))
            return
        # One blob shared by several paths is how a flattened hardlink group is recorded.
        entry = dataclasses.replace(entry, kind=FILE, size=target.size, blob=target.blob,
                                    blob_offset=target.blob_offset, inode=target.inode, linkname="")
    if path != entry.path:
        entry = dataclasses.replace(entry, path=path)
    tree.put(entry)  # device nodes and fifos too: recorded as entries, never created on the host

"""Merge unpacked layers, lowest first, into one RootFS, honoring whiteouts and opaque directories."""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable

from slim.image.layer import UnpackedLayer
from slim.model import DIR, FILE, HARDLINK, SYMLINK, Entry, SlimWarning
from slim.rootfs import MAX_SYMLINK_HOPS, RootFS


class _Tree:
    """Mutable path -> Entry map with a children index, so deleting a subtree costs only its size.

    The index lists each directory's children as they were put, and is not updated when one is removed: a
    path it lists may be gone, or listed twice once put again, and a removal skips what is gone. Sets kept
    exact would cost 40 MB more at 500k entries, and a list can drop an entry only by searching it."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {"/": Entry(path="/", kind=DIR, mode=0o755)}
        self.children: dict[str, list[str]] = {"/": []}
        self.warnings: list[SlimWarning] = []

    def remove(self, path: str) -> None:
        if path == "/" or path not in self.entries:
            return
        # iterative: a hostile layer can nest thousands of directories, deeper than Python's recursion limit
        stack = [path]
        while stack:
            current = stack.pop()
            if self.entries.pop(current, None) is not None:  # listed but gone already: removed before
                stack.extend(self.children.pop(current, ()))

    def clear_dir(self, path: str) -> None:
        for child in self.children.get(path, ()):
            self.remove(child)
        if path in self.children:
            self.children[path] = []

    def put(self, entry: Entry) -> None:
        old = self.entries.get(entry.path)
        if old is not None and (old.kind != DIR or entry.kind != DIR):
            self.remove(entry.path)  # a non-directory replaces whatever was there, subtree included
            old = None
        self.entries[entry.path] = entry
        if entry.kind == DIR:
            self.children.setdefault(entry.path, [])
        if old is None and entry.path != "/":
            self.children[posixpath.dirname(entry.path)].append(entry.path)

    def place(self, path: str, where: str) -> str | None:
        """The path an entry really lands at: parent symlinks followed inside the root, missing parents made.

        A layer may name "lib/x" while "lib" is a symlink in a lower layer; Docker writes through the link,
        inside the root, creating what is missing. Returns None (with a warning) when a parent is not a directory.
        """
        parent, name = posixpath.split(path)
        if parent == "/" or self.entries.get(parent, _NONE).kind == DIR:
            return path
        current = "/"
        restarts = 0
        pending = [p for p in parent.split("/") if p]
        pending.reverse()
        while pending:  # one component at a time, never recursing: parents may be thousands deep
            component = pending.pop()
            if component == "..":
                current = posixpath.dirname(current)
                continue
            candidate = posixpath.join(current, component)
            existing = self.entries.get(candidate)
            if existing is None:
                self.put(Entry(path=candidate, kind=DIR, mode=0o755))
            elif existing.kind == SYMLINK:
                real = RootFS(self.entries).resolve(candidate)
                if real.entry is None:  # a dangling link: create where it points, through real directories
                    restarts += 1
                    if restarts > MAX_SYMLINK_HOPS:  # links that lead to each other
                        self._blocked(path, candidate, where)
                        return None
                    pending.extend(reversed([p for p in real.path.split("/") if p]))
                    current = "/"
                    continue
                if real.entry.kind != DIR:
                    self._blocked(path, real.path, where)
                    return None
                candidate = real.path
            elif existing.kind != DIR:
                self._blocked(path, candidate, where)
                return None
            current = candidate
        return posixpath.join(current, name)

    def _blocked(self, path: str, parent: str, where: str) -> None:
        self.warnings.append(SlimWarning("flatten.parent-not-dir", f"skipped {path}: parent {parent} is not a directory", where))


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

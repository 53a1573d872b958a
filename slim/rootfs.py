"""A read-only view of a flattened image: path -> Entry, with symlinks resolved inside the image root.

Nothing here touches the host's own filesystem except the blob files slim wrote into its work directory.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple, cast

from slim.model import DIR, FILE, SYMLINK, Entry, SlimWarning

MAX_SYMLINK_HOPS = 40  # the kernel's own limit (ELOOP)
_NO_CHILDREN: list[str] = []


class Resolution(NamedTuple):
    """Where a path leads inside the root: the final path, and every symlink crossed on the way."""

    path: str
    symlinks: tuple[str, ...]
    entry: Entry | None  # None: the final path does not exist (or a loop was met)


class RootFS:
    """Entries of a flattened image, keyed by absolute path. The root "/" is always present."""

    def __init__(self, entries: dict[str, Entry], warnings: list[SlimWarning] | None = None):
        if "/" not in entries:
            entries["/"] = Entry(path="/", kind=DIR, mode=0o755)
        self._entries = entries
        self._children: dict[str, list[str]] | None = None
        # directory path -> how it resolves: closures look up thousands of files in the same few hundred
        # directories, and a view never changes (derive() makes a new one)
        self._directories: dict[str, Resolution] = {}
        self.warnings: list[SlimWarning] = list(warnings or [])

    # --- plain look-ups, no symlink following -------------------------------------------------
    def lstat(self, path: str) -> Entry | None:
        """The entry at `path` itself (a symlink is not followed), or None."""
        return self._entries.get(normalize(path))

    def path_of(self, path: str) -> str:
        """`path` as this view holds it, when it holds that path: one string where a package database lists
        the image's paths again (at 500k files, 40 MB of copies), `path` itself otherwise."""
        entry = self._entries.get(path)
        return entry.path if entry is not None and entry.path == path else path

    def readlink(self, path: str) -> str | None:
        """A symlink's target as stored, or None when `path` is no symlink."""
        entry = self.lstat(path)
        return entry.linkname if entry is not None and entry.kind == SYMLINK else None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: str) -> bool:
        return normalize(path) in self._entries

    def walk(self) -> Iterator[Entry]:
        """Every entry, sorted by path (so parents come before their children)."""
        for path in sorted(self._entries):
            yield self._entries[path]

    def listdir(self, path: str) -> list[str]:
        """Names directly inside directory `path` (not following a symlink at `path`)."""
        norm = normalize(path)
        cut = len(norm) + 1 if norm != "/" else 1
        return [child[cut:] for child in self.children(norm)]

    def children(self, path: str) -> list[str]:
        """Paths directly inside directory `path` (not following a symlink at `path`), sorted. The list is the
        view's own: read it, never change it."""
        if self._children is None:
            # the paths themselves, not their last components: at 500k entries the names alone are 28 MB more
            children: dict[str, list[str]] = {}
            for p in self._entries:
                if p != "/":
                    cut = p.rfind("/")
                    children.setdefault(p[:cut] if cut > 0 else p[:cut + 1], []).append(p)  # its dirname
            for listed in children.values():
                listed.sort()
            self._children = children
        return self._children.get(normalize(path), _NO_CHILDREN)

    def below(self, top: str, skip: frozenset[str] | set[str] = frozenset()) -> Iterator[str]:
        """Every path under the directory `top` (its real path), not descending into names or top-relative
        paths listed in `skip`. Nothing when `top` is no directory."""
        real = self.realpath(top)
        entry = self.stat(top)
        if real is None or entry is None or not entry.is_dir:
            return
        stack = [real]
        while stack:
            directory = stack.pop()
            for name in self.listdir(directory):
                path = f"{directory}/{name}" if directory != "/" else f"/{name}"
                if name in skip or path[len(real) + 1:] in skip:
                    continue
                yield path
                entry = self.lstat(path)
                if entry is not None and entry.is_dir:
                    stack.append(path)

    def bytes_of(self, paths: Iterable[str]) -> int:
        """Bytes of the regular files among `paths`, each stored file (hardlink group) counted once."""
        # per pack file, the inodes met: no (pack, inode) pair made per file, 40 MB at 500k files
        seen: dict[str | None, set[int]] = {}
        total = 0
        for path in paths:
            entry = self.lstat(path)
            if entry is not None and entry.kind == FILE:
                inodes = seen.get(entry.blob)
                if inodes is None:
                    inodes = seen[entry.blob] = set()
                inode = entry.inode if entry.blob is not None else -1  # no pack: one key for all, as content_key
                if inode not in inodes:
                    inodes.add(inode)
                    total += entry.size
        return total

    def only(self, paths) -> RootFS:
        """A view holding just `paths` and the directories above them (what a layer of those paths unpacks to)."""
        entries: dict[str, Entry] = {}
        for path in paths:
            while path not in entries and path != "/":
                entry = self._entries.get(path)
                if entry is not None:
                    entries[path] = entry
                path = posixpath.dirname(path)
        return RootFS(entries, self.warnings)

    def derive(self, changes: dict[str, Entry]) -> RootFS:
        """A new view with `changes` laid over this one (this one is left as it is)."""
        return RootFS({**self._entries, **changes}, self.warnings)

    # --- symlink-aware look-ups, confined to the root -----------------------------------------
    def resolve(self, path: str, follow_last: bool = True) -> Resolution:
        """Resolve `path` like the kernel would inside a chroot at this root.

        Absolute link targets restart at the image root and `..` never climbs above it, so no
        link, however hostile, leads outside the image.
        """
        norm = normalize(path)
        parent, name = norm.rsplit("/", 1)
        if name and ".." not in norm:
            # The walk below resolves the parent first, then the name: the same, with the parent remembered.
            above = self._directories.get(parent)
            if above is None:
                above = self._directories[parent] = self._walk(parent or "/", True)
            if above.entry is not None and above.entry.kind == DIR:
                # no link on the way: the path itself, whose hash a string of the view's own already holds
                if above.path == parent:
                    candidate = norm
                else:
                    candidate = f"{above.path}/{name}" if above.path != "/" else f"/{name}"
                entry = self._entries.get(candidate)
                if entry is None or entry.kind != SYMLINK or not follow_last:
                    return Resolution(candidate, above.symlinks, entry)
        return self._walk(norm, follow_last)

    def _walk(self, path: str, follow_last: bool) -> Resolution:
        pending = [p for p in path.split("/") if p]
        pending.reverse()
        current = "/"
        crossed: list[str] = []
        hops = 0
        while pending:
            name = pending.pop()
            if name == ".":
                continue
            if name == "..":
                current = posixpath.dirname(current) or "/"
                continue
            candidate = posixpath.join(current, name)
            entry = self._entries.get(candidate)
            if entry is None:
                rest = "/".join(reversed(pending))
                return Resolution(posixpath.join(candidate, rest) if rest else candidate, tuple(crossed), None)
            if entry.kind == SYMLINK and (pending or follow_last):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return Resolution(candidate, tuple(crossed), None)
                crossed.append(candidate)
                target = entry.linkname
                if target.startswith("/"):
                    current = "/"
                parts = [p for p in target.split("/") if p]
                pending.extend(reversed(parts))
                continue
            if pending and entry.kind != DIR:
                return Resolution(candidate, tuple(crossed), None)  # ENOTDIR
            current = candidate
        return Resolution(current, tuple(crossed), self._entries.get(current))

    def realpath(self, path: str) -> str | None:
        """The path `path` leads to inside the image, every symlink resolved; None when it leads nowhere."""
        res = self.resolve(path)
        return res.path if res.entry is not None else None

    def stat(self, path: str) -> Entry | None:
        """The entry `path` leads to, symlinks followed inside the root, or None."""
        return self.resolve(path).entry

    def exists(self, path: str) -> bool:
        """Whether `path` leads to an entry (a dangling symlink does not)."""
        return self.stat(path) is not None

    def is_file(self, path: str) -> bool:
        """Whether `path` leads to a regular file, the only kind with bytes to read."""
        entry = self.stat(path)
        return entry is not None and entry.kind == FILE

    def open(self, path: str) -> BinaryIO:
        """Open a regular file's bytes (following symlinks inside the root)."""
        entry = self.stat(path)
        if entry is None or entry.kind != FILE or entry.blob is None:
            raise FileNotFoundError(path)
        # a file's read, seek, tell and close over part of a pack file: what readers of image files call
        return cast(BinaryIO, _Slice(entry.blob, entry.blob_offset, entry.size))

    def read_bytes(self, path: str, limit: int = -1) -> bytes:
        """A regular file's bytes, at most `limit` of them: files come from the image, and a bound keeps a huge one
        out of memory."""
        with self.open(path) as fh:
            return fh.read(limit)


def normalize(path: str) -> str:
    """"usr//bin/./env" -> "/usr/bin/env" (lexical only: `..` is kept for resolve() to handle)."""
    if path[:1] == "/" and path[-1:] != "/" and "//" not in path and "/." not in path:
        return path  # already normal (no empty or "." part): most look-ups, and the split below costs a third of one
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


class _Slice:
    """A read-only file over `size` bytes at `offset` of a layer's pack file."""

    def __init__(self, pack: str, offset: int, size: int):
        self._fh = open(pack, "rb")  # noqa: SIM115  held until close(): the caller's `with` closes it
        self._fh.seek(offset)
        self._start = offset
        self._left = size
        self._size = size

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            n = self._left
        data = self._fh.read(n)
        self._left -= len(data)
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._size - self._left, 2: self._size}[whence]
        pos = min(max(base + pos, 0), self._size)
        self._fh.seek(self._start + pos)
        self._left = self._size - pos
        return pos

    def tell(self) -> int:
        return self._size - self._left

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> _Slice:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

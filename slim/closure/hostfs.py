"""A RootFS over a real directory of this host, read lazily: used to resolve the tracer bundle (strace and the
libraries it needs on this host) with the same closure code that resolves images."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from collections.abc import Iterator

from slim.model import BLOCK, CHAR, DIR, FIFO, FILE, SYMLINK, Entry
from slim.rootfs import RootFS


class _HostEntries(Mapping):
    """path -> Entry, answered by lstat() under `base` on demand; never enumerated whole."""

    def __init__(self, base: str):
        self._base = base.rstrip("/")
        self._cache: dict[str, Entry | None] = {}

    def host_path(self, path: str) -> str:
        return self._base + path if path != "/" else (self._base or "/")

    def __getitem__(self, path: str) -> Entry:
        if path not in self._cache:
            self._cache[path] = self._lstat(path)
        entry = self._cache[path]
        if entry is None:
            raise KeyError(path)
        return entry

    def _lstat(self, path: str) -> Entry | None:
        host = self.host_path(path)
        try:
            st = os.lstat(host)
        except OSError:
            return None
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            return Entry(path, SYMLINK, linkname=os.readlink(host))
        kind = (DIR if stat.S_ISDIR(mode) else FILE if stat.S_ISREG(mode) else CHAR if stat.S_ISCHR(mode)
                else BLOCK if stat.S_ISBLK(mode) else FIFO)
        return Entry(path, kind, mode=stat.S_IMODE(mode), uid=st.st_uid, gid=st.st_gid, size=st.st_size,
                     mtime=int(st.st_mtime), blob=host if kind == FILE else None)

    def __iter__(self) -> Iterator[str]:
        raise TypeError("a host filesystem is not enumerated")

    def __len__(self) -> int:
        raise TypeError("a host filesystem is not enumerated")


class HostFS(RootFS):
    """RootFS semantics (symlinks resolved inside `base`) over a host directory, "/" by default."""

    def __init__(self, base: str = "/"):
        self._host = _HostEntries(base)
        super().__init__(self._host)  # type: ignore[arg-type]

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._host.host_path(path)))
        except OSError:
            return []

    def walk(self):
        raise TypeError("a host filesystem is not enumerated")

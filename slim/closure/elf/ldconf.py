"""Parse /etc/ld.so.conf as ldconfig does: directory lines, `include GLOB` (relative to the including file),
`hwcap` lines ignored, comments after `#`. Globs and includes are expanded inside the image root."""

from __future__ import annotations

import fnmatch
import posixpath

MAX_INCLUDE_DEPTH = 16


def parse_ld_conf_text(text: str) -> list[tuple[str, str]]:
    """Pure part: the (kind, value) lines of one file, kind "dir" or "include"."""
    out: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        if word == "include":
            out.extend(("include", g) for g in rest.split())
        elif word == "hwcap":
            continue
        else:
            # ldconfig accepts "dir=type" (old libc5 syntax) and separators of ':', ',', tabs, spaces
            for item in line.replace(",", " ").replace(":", " ").replace("\t", " ").split():
                out.append(("dir", item.split("=", 1)[0].rstrip("/") or "/"))
    return out


def ld_conf_dirs(rootfs, path: str = "/etc/ld.so.conf", depth: int = 0) -> list[str]:
    """Library directories named by `path` and its includes, in order, duplicates removed."""
    if depth > MAX_INCLUDE_DEPTH or not rootfs.is_file(path):
        return []
    with rootfs.open(path) as fh:
        text = fh.read(1 << 20).decode("utf-8", "replace")
    dirs: list[str] = []
    for kind, value in parse_ld_conf_text(text):
        if kind == "dir":
            dirs.append(value)
            continue
        pattern = value if value.startswith("/") else posixpath.join(posixpath.dirname(path), value)
        for included in sorted(_glob(rootfs, pattern)):
            dirs.extend(ld_conf_dirs(rootfs, included, depth + 1))
    seen, unique = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            unique.append(d)
    return unique


def _glob(rootfs, pattern: str) -> list[str]:
    """Glob one path pattern inside the root (wildcards allowed in the last component only, as ldconfig users write)."""
    directory, name = posixpath.split(pattern)
    if not any(c in name for c in "*?["):
        return [pattern] if rootfs.is_file(pattern) else []
    real = rootfs.realpath(directory)
    if real is None:
        return []
    return [posixpath.join(directory, n) for n in rootfs.listdir(real) if fnmatch.fnmatchcase(n, name)]

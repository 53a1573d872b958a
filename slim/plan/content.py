"""App content the probes did not ask for: a static site's other pages, the templates of views no probe rendered.

The rule: a file the app read (or a directory it listed) that no package owns is part of what the image's own
layers added, so its directory is app content, and the slim image keeps that directory whole: every file below
it that no package owns, except language trees (node_modules, site-packages, caches), which their import
closure decides. Directories a package owns (/etc, /usr/lib, /var/lib...) and system trees never qualify, so a
read of /etc/hostname keeps nothing beside it. One directory may add at most CAP bytes; above that nothing is
added and a warning names the directory (--include-path keeps it).

Pure: a RootFS, the trace, the paths packages own and what is already kept in; directories and files out.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from slim.langs.nodeimports import GLOBAL_FOLDERS
from slim.model import LISTDIR, READ, SlimWarning, Trace, within
from slim.results import AppContentFile

CAP = 64 << 20
# never app content, whatever the package database says (an image may have none)
_SYSTEM = ("/etc", "/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp", "/var/lib", "/var/cache", "/var/log",
           "/var/spool", "/var/run", "/usr/lib", "/usr/lib64", "/usr/libexec", "/lib", "/lib64", "/lib32",
           "/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/include", "/usr/share/zoneinfo", "/usr/share/locale",
           "/usr/share/doc", "/usr/share/man", "/usr/share/info", "/boot", "/root/.cache", "/usr/local/lib",
           *GLOBAL_FOLDERS)
# the filesystem standard's top-level directories: too wide to be one app's content (/srv/site can be, /srv
# cannot); any other top-level directory is one the image's own layers made for its app (/app, /www, /site)
_STANDARD_TOP = frozenset({"/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media",
                           "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var"})
# trees whose languages decide what is needed (the import closures), or that no app serves
LANGUAGE_TREES = frozenset({"node_modules", "site-packages", "dist-packages", "__pycache__", ".git", ".cache"})


@dataclass
class AppContent:
    """The app content found beside what the app read: the files to keep, the bytes each content directory adds, and
    warnings for directories over the cap."""

    files: dict[str, AppContentFile] = field(default_factory=dict)  # path -> why
    directories: dict[str, int] = field(default_factory=dict)  # content directory -> bytes it adds
    warnings: list[SlimWarning] = field(default_factory=list)


def content_directories(rootfs, trace: Trace, owned: frozenset[str]) -> list[str]:
    """The outermost directories holding a file the app read, or that it listed, that no package owns."""
    found = set()
    for access in trace.accesses:
        if not access.ok or access.kind not in (READ, LISTDIR):
            continue
        path = access.resolved or access.path
        entry = rootfs.stat(path) if path else None
        if entry is None or _owned(rootfs, path, owned):
            continue
        directory = path if entry.is_dir else posixpath.dirname(path)
        if _may_hold_content(rootfs, directory, owned):
            found.add(directory)
    outer: list[str] = []
    for directory in sorted(found):
        if not any(within(directory, (d,)) for d in outer):
            outer.append(directory)
    return outer


def app_content(rootfs, trace: Trace, owned: frozenset[str], kept: set[str], cap: int = CAP) -> AppContent:
    """Every file no package owns in the content directories of the trace, except what `kept` already holds and
    language trees; a directory that would add more than `cap` bytes is left out, with a warning."""
    out = AppContent()
    for directory in content_directories(rootfs, trace, owned):
        files = [p for p in rootfs.below(directory, LANGUAGE_TREES)
                 if p not in kept and not rootfs.lstat(p).is_dir and not _owned(rootfs, p, owned)]
        size = rootfs.bytes_of(set(files))
        out.directories[directory] = size
        if size > cap:
            out.warnings.append(SlimWarning(
                "content.cap", f"the app read files here; the {len(files)} others ({size} bytes) are over the "
                f"{cap}-byte cap for app content and were not kept (--include-path keeps them)", directory))
            out.directories[directory] = 0
            continue
        for path in files:
            out.files[path] = AppContentFile(directory)
    return out


def _owned(rootfs, path: str, owned: frozenset[str]) -> bool:
    return path in owned or (rootfs.realpath(path) or path) in owned


def _may_hold_content(rootfs, directory: str, owned: frozenset[str]) -> bool:
    if directory in ("/", "") or directory in _STANDARD_TOP or within(directory, _SYSTEM) \
            or _owned(rootfs, directory, owned):
        return False  # too wide; system trees; directories packages made
    return not any(part in LANGUAGE_TREES for part in directory.split("/"))

"""What an attacker who gets code execution in a container would find to work with: shells and package managers
in the bin directories, setuid/setgid files, files anyone may write. Pure: a RootFS in, paths out."""

from __future__ import annotations

from dataclasses import dataclass

from slim.model import DIR, FILE, PSEUDO_FILESYSTEMS, SYMLINK, within

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox"})
PACKAGE_MANAGERS = frozenset({"apt", "apt-get", "apt-cache", "aptitude", "dpkg", "dpkg-deb", "dpkg-query", "apk",
                              "pip", "pip3", "yum", "dnf", "rpm", "microdnf", "npm", "yarn", "gem"})
BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
# writable by anyone by design (sticky temp directories); a world-writable file elsewhere lets any user tamper
WRITABLE_BY_DESIGN = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")


@dataclass(frozen=True)
class Exposure:
    """What the image gives an attacker to work with, by kind, as paths: what lint reports and what the compare
    report shows removed."""

    shells: tuple[str, ...]
    package_managers: tuple[str, ...]
    setuid: tuple[str, ...]
    setgid: tuple[str, ...]
    world_writable: tuple[str, ...]  # see _writable_by_anyone


def tools(rootfs) -> tuple[list[str], list[str]]:
    """(shells, package managers) that run: names in the real bin directories whose targets exist."""
    shells: list[str] = []
    managers: list[str] = []
    for directory in BIN_DIRS:
        real_dir = rootfs.realpath(directory)
        if real_dir is None or real_dir != directory:
            continue  # a merged-/usr link: the real directory is listed under its own name
        for name in rootfs.listdir(directory):
            path = f"{directory}/{name}"
            if name in SHELLS or name in PACKAGE_MANAGERS:
                if rootfs.stat(path) is not None:  # a dangling link runs nothing
                    (shells if name in SHELLS else managers).append(path)
    return shells, managers


def scan(rootfs) -> Exposure:
    """The exposure of a RootFS: working shells and package managers, setuid and setgid files, world-writable paths."""
    shells, managers = tools(rootfs)
    setuid, setgid, writable = [], [], []
    for entry in rootfs.walk():
        if entry.kind == SYMLINK:
            continue  # a link's mode means nothing
        if entry.kind == FILE and entry.mode & 0o4000:
            setuid.append(entry.path)
        if entry.kind == FILE and entry.mode & 0o2000:
            setgid.append(entry.path)
        if _writable_by_anyone(entry):
            writable.append(entry.path)
    return Exposure(tuple(shells), tuple(managers), tuple(setuid), tuple(setgid), tuple(writable))


def _writable_by_anyone(entry) -> bool:
    """A regular file anyone may change, or a directory where anyone may replace others' files (no sticky bit);
    the temp directories are so by design, and /dev, /proc, /sys are the runtime's (device nodes there are
    world-writable everywhere)."""
    if not entry.mode & 0o002 or within(entry.path, WRITABLE_BY_DESIGN + PSEUDO_FILESYSTEMS):
        return False
    return entry.kind == FILE or (entry.kind == DIR and not entry.mode & 0o1000)

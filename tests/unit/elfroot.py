"""Build a throwaway image-like root of real gcc-compiled ELF files, and run the real glibc loader in it."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess

from slim.model import DIR, FILE, SYMLINK, Entry
from slim.rootfs import RootFS

LDSO = "/lib64/ld-linux-x86-64.so.2"
HOST_LIBDIR = "/lib/x86_64-linux-gnu"


def compile_so(root: str, rel: str, source: str, *flags: str) -> str:
    out = os.path.join(root, rel.lstrip("/"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    src = out + ".c"
    with open(src, "w") as fh:
        fh.write(source)
    _cc(["gcc", "-shared", "-fPIC", "-o", out, src, *flags])
    os.unlink(src)
    return out


def compile_exe(root: str, rel: str, source: str, *flags: str, compiler: str = "gcc") -> str:
    out = os.path.join(root, rel.lstrip("/"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    src = out + ".c"
    with open(src, "w") as fh:
        fh.write(source)
    _cc([compiler, "-o", out, src, *flags])
    os.unlink(src)
    return out


def _cc(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stderr}")


def base_root(root: str) -> None:
    """The host's loader and libc, laid out as Debian does (merged /usr)."""
    for d in ("usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/bin", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for link, target in (("lib", "usr/lib"), ("lib64", "usr/lib64"), ("bin", "usr/bin")):
        os.symlink(target, os.path.join(root, link))
    for name in ("libc.so.6", "ld-linux-x86-64.so.2"):
        shutil.copy2(os.path.realpath(os.path.join(HOST_LIBDIR, name)), os.path.join(root, "usr/lib/x86_64-linux-gnu", name))
    os.symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", os.path.join(root, "usr/lib64/ld-linux-x86-64.so.2"))


def strip_section_headers(path: str) -> None:
    """Zero e_shoff/e_shnum/e_shstrndx: the loader never needs sections, and slim must not either."""
    with open(path, "r+b") as fh:
        fh.seek(0x28)
        fh.write(struct.pack("<Q", 0))
        fh.seek(0x3C)
        fh.write(struct.pack("<HH", 0, 0))


def loader_list(root: str, path: str, env: dict[str, str] | None = None) -> dict[str, str | None]:
    """The real loader's view, run in a chroot of `root`: needed name -> path it mapped (None: not found)."""
    def enter_root() -> None:
        os.chroot(root)
        os.chdir("/")

    # As ldd does: trace mode keeps going past a missing library and prints "not found" for it.
    proc = subprocess.run([LDSO, path], capture_output=True, text=True, preexec_fn=enter_root,
                          env={"PATH": "/usr/bin:/bin", "LD_TRACE_LOADED_OBJECTS": "1", **(env or {})})
    out: dict[str, str | None] = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            name, _, rest = line.partition("=>")
            rest = rest.strip()
            out[name.strip()] = None if rest.startswith("not found") else rest.split(" (")[0]
        elif line.startswith("/"):
            out[line.split(" (")[0]] = line.split(" (")[0]
    return out


def rootfs_of(root: str) -> RootFS:
    """A RootFS over a host directory (for tests: the same view slim has of an unpacked image)."""
    entries: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel_dir = "/" if rel == "." else "/" + rel
        for name in dirnames + filenames:
            host = os.path.join(dirpath, name)
            path = (rel_dir.rstrip("/") + "/" + name)
            st = os.lstat(host)
            if os.path.islink(host):
                entries[path] = Entry(path, SYMLINK, linkname=os.readlink(host))
            elif os.path.isdir(host):
                entries[path] = Entry(path, DIR, mode=st.st_mode & 0o7777)
            else:
                entries[path] = Entry(path, FILE, mode=st.st_mode & 0o7777, size=st.st_size, blob=host, blob_offset=0)
    return RootFS(entries)

"""The tracer bundle: the host's strace and tini-static with the loader and libraries strace needs.

Resolved with slim's own closure code over the host's filesystem, delivered into an engine volume through the
API (no host bind mount, so a remote engine works too), named by a hash of its contents and reused while it
stays the same. Inside the container it runs under its own loader, so it works in images with no libc at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from typing import Protocol

from slim.closure.elf.resolver import Resolver
from slim.engine import Containers, Volumes
from slim.errors import HostToolMissing
from slim.closure.hostfs import HostFS

MOUNT = "/slim-tracer"
STRACE = "/usr/bin/strace"
TINI = "/usr/bin/tini-static"
VOLUME_PREFIX = "slim-tracer-bundle-"
CACHE_LABEL = "slim.cache"  # on the bundle volume: shared by every run, removed only by `slim cleanup --all`


class Delivery(Containers, Volumes, Protocol):
    """What filling a tracer's volumes needs: the volumes, and a never-started container to copy through."""


@dataclass(frozen=True)
class Bundle:
    """The files of the tracer bundle and the digest of their contents, which names the engine volume it is delivered
    into: a new strace on the host gives a new volume, an unchanged one is reused."""

    files: tuple[tuple[str, str], ...]  # (name inside the bundle, host file)
    digest: str

    @property
    def volume(self) -> str:
        """The engine volume holding this bundle's contents."""
        return VOLUME_PREFIX + self.digest[:16]

    def strace_argv(self) -> list[str]:
        """How to start strace inside the container: through the bundle's loader, with the bundle's libraries."""
        return [f"{MOUNT}/ld.so", "--inhibit-cache", "--library-path", f"{MOUNT}/lib", f"{MOUNT}/strace"]

    @property
    def tini(self) -> str:
        """Where the bundle's tini is inside the container: the init that lets `docker stop` reach a traced app."""
        return f"{MOUNT}/tini"


def host_bundle() -> Bundle:
    """The bundle of this host's strace and tini-static, with the loader and libraries strace needs resolved by
    slim's own ELF code; HostToolMissing, saying what to install, when a tool is absent or cannot be bundled."""
    for path, package in ((STRACE, "strace"), (TINI, "tini")):
        if not os.path.isfile(path):
            raise HostToolMissing(f"{path} is missing: install Debian's {package} package (apt-get install {package})")
    closure = Resolver(HostFS()).resolve(STRACE)
    if closure is None or closure.interpreter is None:
        raise HostToolMissing(f"{STRACE} is not a dynamically linked ELF program slim can bundle")
    if closure.missing:
        names = ", ".join(n for n, _ in closure.missing)
        raise HostToolMissing(f"{STRACE} needs {names}, which this host lacks")
    files = [("strace", STRACE), ("tini", TINI), ("ld.so", closure.interpreter.real)]
    files += sorted((f"lib/{obj.name}", obj.real) for obj in closure.objects)
    sha = hashlib.sha256()
    for name, path in files:
        sha.update(name.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha.update(chunk)
    return Bundle(tuple(files), sha.hexdigest())


def _tar(bundle: Bundle) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        lib = tarfile.TarInfo("lib")
        lib.type, lib.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(lib)
        for name, path in bundle.files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = os.path.getsize(path), 0o755
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
        done = tarfile.TarInfo(".complete")  # written last: a volume without it was never filled
        tar.addfile(done, io.BytesIO(b""))
    return buf.getvalue()


_fill_lock = threading.Lock()


def fill(engine: Delivery, helper: str, bundle: Bundle) -> None:
    """Copy the bundle into its volume, mounted at MOUNT in the never-started container `helper`, unless
    already there. `.complete` is written last, so an interrupted copy is simply done again by the next run.

    Builds running at once (threads of one slim, or several slim processes on this host) fill it one at a
    time: a second copy rewriting the files under a run that already uses them could make strace fail."""
    with _fill_lock, _host_lock(bundle.volume):
        complete = engine.volume_has(bundle.volume, ".complete")
        if complete is None:  # the engine is elsewhere: ask it (Podman takes most of a second to answer)
            complete = engine.get_archive(helper, f"{MOUNT}/.complete") is not None
        if complete:
            return
        engine.put_archive(helper, MOUNT, _tar(bundle))


@contextlib.contextmanager
def _host_lock(volume: str):
    """An advisory lock shared by the slim processes of this host (a hidden file in the temp dir, kept)."""
    path = os.path.join(tempfile.gettempdir(), f".{volume}.lock")
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

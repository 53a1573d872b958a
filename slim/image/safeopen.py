"""Open input files from an untrusted image layout or archive as regular files only.

A blob that is a FIFO would block a reader forever, a device (a symlink to /dev/zero) never ends, and a
symlink would read a host file as if it were part of the image. So blobs are opened component by component
below the layout directory with O_NOFOLLOW, non-blocking, and checked with fstat before a byte is read.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from slim.errors import ImageFormatError

_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


def open_regular(path: str, what: str) -> BinaryIO:
    """Open a file the user named (symlinks allowed: the user chose it), refusing FIFOs, devices, directories."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise ImageFormatError(f"{what}: cannot open {path} ({exc.strerror})") from exc
    return _checked(fd, what)


def open_inside(top: str, parts: list[str], what: str) -> BinaryIO:
    """Open top/parts[0]/.../parts[-1] without following any symlink below `top`."""
    try:
        fd = os.open(top, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY)
    except OSError as exc:
        raise ImageFormatError(f"{what}: cannot open {top} ({exc.strerror})") from exc
    try:
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            try:
                child = os.open(part, _FLAGS | (0 if last else os.O_DIRECTORY), dir_fd=fd)
            except FileNotFoundError:
                raise  # the caller says which blob is missing
            except OSError as exc:  # ELOOP: a symlink; ENOTDIR: a file where a directory belongs
                raise ImageFormatError(f"{what} is not a regular file inside the layout ({exc.strerror})") from exc
            os.close(fd)
            fd = child
    except BaseException:
        _close(fd)
        raise
    return _checked(fd, what)


def _checked(fd: int, what: str) -> BinaryIO:
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImageFormatError(f"{what} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        _close(fd)
        raise


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass

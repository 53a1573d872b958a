"""Parse os-release(5): KEY=value lines, values optionally quoted with shell-style escapes."""

from __future__ import annotations

import shlex
from typing import BinaryIO

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
# What scanners read to tell which distribution (and so which advisories) an image is.
DISTRIBUTION_MARKERS = OS_RELEASE_PATHS + ("/etc/debian_version", "/etc/alpine-release", "/etc/redhat-release",
                                          "/etc/lsb-release")


def parse_os_release(stream: BinaryIO) -> dict[str, str]:
    """The KEY=value pairs of an os-release file, unquoted as a shell would; lines that do not parse are skipped."""
    out: dict[str, str] = {}
    for raw in stream.read(1 << 16).decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            parts = shlex.split(value)
        except ValueError:
            continue  # an unbalanced quote: skip the line as os-release(5) says readers should
        out[key.strip()] = parts[0] if parts else ""
    return out


def read_os(rootfs) -> dict[str, str]:
    """The image's os-release fields, or {} for an image without one (a FROM-scratch binary)."""
    for path in OS_RELEASE_PATHS:
        if rootfs.is_file(path):
            with rootfs.open(path) as fh:
                return parse_os_release(fh)
    return {}

"""Writing a file a user named (a report, an SBOM, a seccomp profile, a chart): made with its directory,
replaced whole, never left half-written under that name."""

from __future__ import annotations

import os


def write_file(path: str, data: str | bytes) -> None:
    """Write `data` to `path` through a `.partial` file renamed into place, making the directory first: a reader
    never sees half a file, and a failed write leaves nothing under either name."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.partial"
    try:
        with open(partial, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)

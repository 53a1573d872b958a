"""Path rules for untrusted layer members: every name becomes an absolute path inside the image, or is refused."""

from __future__ import annotations


def member_path(name: str) -> str | None:
    """The absolute in-image path of a tar member name, or None when the name is unsafe.

    Unsafe: a `..` component anywhere, an absolute name, or a NUL byte. Docker's own layers use relative names
    ("usr/bin/env", "./usr/bin/env"), so refusing the rest loses nothing legitimate.
    """
    if name.startswith("/") or "\0" in name:
        return None  # a NUL ends the name for every reader but Python: two members could land on one path
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    return "/" + "/".join(parts)


def ancestors(path: str) -> list[str]:
    """Every directory above `path`, from the root down, excluding `path` itself: "/a/b/c" -> ["/", "/a", "/a/b"]."""
    out = ["/"]
    parts = path.strip("/").split("/")[:-1]
    cur = ""
    for p in parts:
        cur += "/" + p
        out.append(cur)
    return out if path != "/" else []

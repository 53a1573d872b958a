"""Image references on the command line: where to read an image from, or write one to."""

from __future__ import annotations

import os
from dataclasses import dataclass

from slim.errors import UsageError

DAEMON = "docker"
ARCHIVE = "docker-archive"
OCI = "oci"


@dataclass(frozen=True)
class Reference:
    """Where an image comes from or goes to, parsed once from what the user typed, kept beside it for messages."""

    transport: str  # DAEMON, ARCHIVE or OCI
    location: str  # image name for the daemon, file for an archive, directory for OCI
    tag: str | None  # the tag to pick inside an archive or layout (None: the only one)
    text: str  # as the user wrote it

    @property
    def name(self) -> str:
        """A short image name for the default output tag and labels."""
        if self.transport == DAEMON:
            return self.location
        base = os.path.basename(self.location.rstrip("/")) or "image"
        return f"{base.rsplit('.', 1)[0]}:{self.tag}" if self.tag else base.rsplit(".", 1)[0]


def parse_reference(text: str) -> Reference:
    """`NAME[:TAG]`, `docker://NAME[:TAG]`, `docker-archive:PATH[:TAG]`, `oci:DIR[:TAG]`."""
    if not text:
        raise UsageError("empty image reference")
    if text.startswith("docker://"):
        return Reference(DAEMON, _with_default_tag(text[len("docker://"):], text), None, text)
    for prefix, transport in (("docker-archive:", ARCHIVE), ("oci:", OCI)):
        if text.startswith(prefix):
            rest = text[len(prefix):]
            if not rest:
                raise UsageError(f"{text}: a path must follow {prefix}")
            path, tag = _split_tag(rest)
            return Reference(transport, path, tag, text)
    return Reference(DAEMON, _with_default_tag(text, text), None, text)


def _split_tag(rest: str) -> tuple[str, str | None]:
    # A path that exists as written wins, so paths with colons still work.
    if os.path.exists(rest) or ":" not in rest:
        return rest, None
    for i, ch in enumerate(rest):
        if ch == ":" and os.path.exists(rest[:i]):
            return rest[:i], rest[i + 1:] or None  # "img.tar:web:1" -> the image tagged "web:1"
    path, tag = rest.rsplit(":", 1)
    return path, tag or None


def tag_of(name: str) -> str | None:
    """The tag of an image name: "registry:5000/web:1.2@sha256:..." -> "1.2"; None when it names none."""
    last = name.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def _with_default_tag(name: str, text: str) -> str:
    if not name or any(c.isspace() for c in name):
        raise UsageError(f"{text!r} is not an image name")
    if "@" in name:
        return name
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else name + ":latest"

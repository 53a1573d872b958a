"""Open an image from wherever a reference points: the Docker daemon, a docker-archive file, an OCI layout."""

from __future__ import annotations

import os
from typing import Callable

from slim.errors import ImageNotFound
from slim.image import archive, oci
from slim.image.model import Image
from slim.image.reference import ARCHIVE, DAEMON, OCI, Reference
from slim.workspace import Workspace


def read_image(ref: Reference, ws: Workspace, engine: Callable[[], object]) -> Image:
    """Read and unpack the image `ref` names. `engine` is called only when the daemon is the source."""
    if ref.transport == DAEMON:
        from slim.image import daemon

        client = engine()
        return archive.read_docker_archive(daemon.save_stream(client, ref.location), ws, ref.text, ref.location)
    if ref.transport == ARCHIVE:
        if not os.path.isfile(ref.location):
            raise ImageNotFound(f"{ref.text}: no such file {ref.location}")
        with open(ref.location, "rb") as fh:
            return archive.read_docker_archive(fh, ws, ref.text, ref.tag)
    if ref.transport == OCI:
        if not os.path.isdir(ref.location):
            raise ImageNotFound(f"{ref.text}: no such directory {ref.location}")
        return oci.read_oci_layout(ref.location, ws, ref.text, ref.tag)
    raise AssertionError(ref.transport)

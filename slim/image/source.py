"""Open an image from wherever a reference points: the container engine, a docker-archive file, an OCI layout."""

from __future__ import annotations

import os

from slim.engine import Images
from slim.errors import ImageNotFound
from slim.image import archive, oci
from slim.image.model import Image
from slim.image.safeopen import open_regular
from slim.image.reference import ARCHIVE, DAEMON, OCI, Reference
from slim.workspace import Workspace


def read_image(ref: Reference, ws: Workspace, engine: Images) -> Image:
    """Read and unpack the image `ref` names. The engine is used only when it is the source."""
    if ref.transport == DAEMON:
        return archive.read_docker_archive(engine.save(ref.location), ws, ref.text, ref.location, from_engine=True)
    if ref.transport == ARCHIVE:
        if not os.path.exists(ref.location):
            raise ImageNotFound(f"{ref.text}: no such file {ref.location}")
        with open_regular(ref.location, ref.text) as fh:
            return archive.read_docker_archive(fh, ws, ref.text, ref.tag)
    if ref.transport == OCI:
        if not os.path.isdir(ref.location):
            raise ImageNotFound(f"{ref.text}: no such directory {ref.location}")
        return oci.read_oci_layout(ref.location, ws, ref.text, ref.tag)
    raise AssertionError(ref.transport)

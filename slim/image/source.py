"""Open an image from wherever a reference points: the container engine, a docker-archive file, an OCI layout."""

from __future__ import annotations

import os
import threading
import time

from slim.engine import Images
from slim.errors import ImageNotFound
from slim.image import archive, oci
from slim.image.model import Image
from slim.image.safeopen import open_regular
from slim.image.reference import ARCHIVE, DAEMON, OCI, Reference
from slim.rootfs import RootFS
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


class Reading:
    """`read_image` and the flattening of its layers in a thread of their own, started at once: what they take
    (a fifth of a minute at 500k files) overlaps the work that does not need the files, such as loading the
    same file into the engine and tracing it there."""

    def __init__(self, ref: Reference, ws: Workspace, engine: Images):
        self.seconds = 0.0  # how long the reading took, once result() has returned
        self._found: tuple[Image, RootFS] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, args=(ref, ws, engine), name="slim-read", daemon=True)
        self._thread.start()

    def _read(self, ref: Reference, ws: Workspace, engine: Images) -> None:
        start = time.monotonic()
        try:
            image = read_image(ref, ws, engine)
            self._found = image, image.rootfs()
        except BaseException as exc:  # handed to the thread that asks for the result, which raises it
            self._error = exc
        self.seconds = time.monotonic() - start

    def wait(self) -> None:
        """Wait for the reading to end, whatever its outcome."""
        self._thread.join()

    def result(self) -> tuple[Image, RootFS]:
        """Wait for the reading to end; the image and its files, or the error it met raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._found is not None  # the thread sets one of the two
        return self._found

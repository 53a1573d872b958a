"""Put an image that is not in the engine (a docker-archive file, an OCI layout) into it under a temporary tag,
so it can be run, traced and verified like any engine image.

The archive handed to `docker load` names only the temporary tag: whatever tags the input carries are never
created or overwritten in the engine. The caller removes the tag afterwards (it is temporary: the sweep also
removes it if the run is killed).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
import time

from slim.engine import Images
from slim.errors import ImageFormatError
from slim.image import archive, documents, oci
from slim.image.documents import MAX_DOCUMENT_BYTES
from slim.image.reference import ARCHIVE, OCI, Reference
from slim.image.safeopen import open_regular
from slim.image.sink import is_temporary, remove_tags, temporary_tag
from slim.workspace import Workspace


def stage_in_engine(ref: Reference, ws: Workspace, engine: Images, created: list[str]) -> str:
    """Load the image `ref` names into the engine; its temporary tag (also appended to `created` first, so a
    failure half-way still removes it)."""
    tag = temporary_tag()
    created.append(tag)
    path = ws.path("stage.tar")
    with open(path, "wb") as out:
        if ref.transport == ARCHIVE:
            _retag_archive(ref, out, tag)
        elif ref.transport == OCI:
            _archive_of_layout(ref, out, tag)
        else:
            raise AssertionError(ref.transport)
    try:
        engine.load(path)
    finally:
        os.unlink(path)
    return tag


class Unstaging:
    """The temporary tags in `created` (an original staged for its trace), removed from the engine in a thread of
    their own: the engine takes about as long to delete an image's files as to load them (50 s at 500k files),
    and once the trace is over that can go on while slim plans and assembles (the engine makes a load or a run
    wait until it is done). The tags leave `created`, so the failure path waits for this removal instead of
    starting a second one."""

    def __init__(self, engine: Images, created: list[str]):
        self.tags = [tag for tag in created if is_temporary(tag)]
        created[:] = [tag for tag in created if tag not in self.tags]
        self.seconds = 0.0  # how long the removal took, once wait() has returned
        self._thread = threading.Thread(target=self._remove, args=(engine, self.tags), name="slim-unstage",
                                        daemon=True)
        if self.tags:
            self._thread.start()

    def _remove(self, engine: Images, tags: list[str]) -> None:
        start = time.monotonic()
        remove_tags(engine, tags)  # never raises: a tag it could not remove is a leftover the next sweep finds
        self.seconds = time.monotonic() - start

    def wait(self) -> float:
        """Wait for the removal to end; how long it took."""
        if self.tags:
            self._thread.join()
        return self.seconds


def _retag_archive(ref: Reference, out, tag: str) -> None:
    """The docker-archive with its manifest.json cut to the one image, named only `tag`."""
    with open_regular(ref.location, ref.text) as fh, archive.open_archive(fh, ref.text) as tar:
        manifest = None
        for member in tar:
            if member.name.lstrip("./") == "manifest.json" and member.isfile() and member.size <= MAX_DOCUMENT_BYTES:
                manifest = documents.parse(tar.extractfile(member).read(), documents.DOCKER_MANIFEST,
                                           f"{ref.text}: manifest.json")
                break
    if manifest is None:
        raise ImageFormatError(f"{ref.text}: archive has no manifest.json (is it a docker-archive?)")
    entry = dict(archive.pick_entry(manifest, ref.tag, ref.text), RepoTags=[tag])
    # read with the guard of slim.image.targuard: a member claiming more than the archive holds is refused
    with open_regular(ref.location, ref.text) as fh, archive.open_archive(fh, ref.text) as src, \
            tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as dst:
        for member in src:
            # "repositories" would tag the image too (legacy loaders): only the temporary tag may exist
            if member.name.lstrip("./") in ("manifest.json", "repositories") or member.islnk():
                continue
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        _add(dst, "manifest.json", json.dumps([entry]).encode())


def _archive_of_layout(ref: Reference, out, tag: str) -> None:
    """A docker-archive (manifest.json naming blobs) of the layout's image, for engines that load only those."""
    _, manifest = oci.resolve(ref.location, ref.text, ref.tag)
    digests = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest.get("layers") or []]
    names = ["blobs/" + d.replace(":", "/") for d in digests]
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as dst:
        for digest, name in dict(zip(digests, names, strict=True)).items():
            with oci.open_blob(ref.location, digest, ref.text) as blob:
                info = tarfile.TarInfo(name)
                info.size = os.fstat(blob.fileno()).st_size
                info.mode = 0o644
                dst.addfile(info, blob)
        _add(dst, "manifest.json", json.dumps([{"Config": names[0], "RepoTags": [tag], "Layers": names[1:]}]).encode())


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))

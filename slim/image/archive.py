"""docker-archive: what `docker save` writes and `docker load` reads.

Two layouts exist: the legacy one (`<id>/layer.tar`, `<id>.json`) and, from Docker 25 on, an OCI layout
(`blobs/sha256/...`, `index.json`) with the same `manifest.json` beside it. Following `manifest.json` reads both.
The archive is read in one forward pass, so the daemon's save stream never has to be held whole.
"""

from __future__ import annotations

import io
import json
import lzma
import os
import posixpath
import tarfile
import zlib
from contextlib import contextmanager
from collections.abc import Iterator
from typing import BinaryIO, cast

from slim.errors import ImageFormatError, ImageNotFound
from slim.image import documents
from slim.image.documents import MAX_DOCUMENT_BYTES
from slim.image.layer import Prefixed, UnpackedLayer, decompressed, looks_like_layer, unpack_layer
from slim.image.model import Image
from slim.image.targuard import GuardedStream, check_member, file_length
from slim.workspace import Workspace


def read_docker_archive(stream: BinaryIO, ws: Workspace, reference: str, want_tag: str | None = None,
                        from_engine: bool = False) -> Image:
    """Read an image from a docker-archive stream. `want_tag` picks one image when the archive holds several.
    Layers of an archive from anyone are checked against the config's diff IDs; the engine's own are not."""
    metadata: dict[str, bytes] = {}
    layers: dict[str, UnpackedLayer] = {}
    aliases: dict[str, str] = {}
    too_big: set[str] = set()
    with open_archive(stream, reference) as outer:
        for n, member in enumerate(outer):
            name = posixpath.normpath(member.name).lstrip("/")
            if member.issym() or member.islnk():
                # Legacy archives link repeated layers: "<id>/layer.tar -> ../<other>/layer.tar".
                base = posixpath.dirname(name) if member.issym() else ""
                aliases[name] = posixpath.normpath(posixpath.join(base, member.linkname))
                continue
            if not member.isfile():
                continue
            data = outer.extractfile(member)
            head = data.read(512)
            if looks_like_layer(head):
                layers[name] = unpack_layer(cast(BinaryIO, Prefixed(head, data)), ws.path("layers", f"{n}.pack"), name,
                                            budget=ws, hash_content=not from_engine, length=member.size)
            elif member.size <= MAX_DOCUMENT_BYTES:
                metadata[name] = head + data.read()
            else:
                too_big.add(name)
    return _assemble(metadata, layers, aliases, too_big, reference, want_tag)


class ArchiveReader:
    """The members of a docker-archive, read forward once; each is checked against what the data holds before
    its data is read or skipped (slim.image.targuard)."""

    def __init__(self, tar: tarfile.TarFile, guarded: GuardedStream, limit: int | None, reference: str):
        self._tar, self._guarded, self._limit, self._reference = tar, guarded, limit, reference

    def __iter__(self) -> Iterator[tarfile.TarInfo]:
        for member in self._tar:
            if member.size < 0:
                raise ImageFormatError(f"{self._reference}: an archive member claims a negative size")
            check_member(self._tar, member, self._guarded, self._limit)
            yield member

    def extractfile(self, member: tarfile.TarInfo):
        """The data of a member the iteration just checked, as a stream the caller reads once, in order."""
        return self._tar.extractfile(member)


@contextmanager
def open_archive(stream: BinaryIO, reference: str) -> Iterator[ArchiveReader]:
    """A docker-archive stream (plain or compressed) to read forward once; a fault of its bytes met in the
    `with` body is one ImageFormatError."""
    try:
        plain = decompressed(stream)  # not tarfile's "r|*": the guard must count the tar's bytes, not gzip's
        limit = file_length(stream) if isinstance(plain, Prefixed) else None
        guarded = GuardedStream(plain, reference)
        with tarfile.open(fileobj=cast(BinaryIO, guarded), mode="r|") as tar:  # it is read forward only
            yield ArchiveReader(tar, guarded, limit, reference)
    except (tarfile.TarError, EOFError, OSError, ValueError, OverflowError, zlib.error, lzma.LZMAError) as exc:
        raise ImageFormatError(f"{reference}: not a readable docker-archive ({type(exc).__name__}: {exc})") from exc


def _assemble(metadata, layers, aliases, too_big, reference, want_tag) -> Image:
    if "manifest.json" not in metadata:
        if "manifest.json" in too_big:
            raise ImageFormatError(f"{reference}: manifest.json is bigger than {MAX_DOCUMENT_BYTES} bytes")
        raise ImageFormatError(f"{reference}: archive has no manifest.json (is it a docker-archive?)")
    manifest = documents.parse(metadata["manifest.json"], documents.DOCKER_MANIFEST, f"{reference}: manifest.json")
    entry = pick_entry(manifest, want_tag, reference)

    def lookup(name: str, table: dict):
        seen = set()
        name = posixpath.normpath(name)
        while name in aliases and name not in seen:
            seen.add(name)
            name = aliases[name]
        if name not in table:
            if name in too_big:
                raise ImageFormatError(f"{reference}: {name} is bigger than {MAX_DOCUMENT_BYTES} bytes "
                                       "(too big for an image config) and is no layer")
            raise ImageFormatError(f"{reference}: manifest.json names {name}, which the archive does not hold")
        return table[name]

    config_bytes = lookup(entry["Config"], metadata)
    config = documents.parse(config_bytes, documents.IMAGE_CONFIG, f"{reference}: image config")
    image_layers = [lookup(name, layers) for name in entry.get("Layers") or []]
    return Image(reference, config, config_bytes, image_layers, list(entry.get("RepoTags") or []))


def pick_entry(manifest: list, want_tag: str | None, reference: str) -> dict:
    """The manifest.json entry to read: the only one, or the one tagged `want_tag` (also matched as the last part of
    a longer name: "web:1" finds "localhost/web:1"). An archive of several images with no tag named is an error that
    lists the tags, since picking one would be a guess."""
    if want_tag is None:
        if len(manifest) > 1:
            tags = [t for e in manifest for t in e.get("RepoTags") or []]
            raise ImageNotFound(f"{reference}: archive holds {len(manifest)} images; name one: {', '.join(tags)}")
        return manifest[0]
    for entry in manifest:
        tags = entry.get("RepoTags") or []
        if want_tag in tags or any(t.endswith("/" + want_tag) for t in tags):
            return entry
    raise ImageNotFound(f"{reference}: archive has no image tagged {want_tag}")


def write_docker_archive(assembled, ws: Workspace, target: BinaryIO, tags: list[str]) -> None:
    """Write a docker-archive that is also an OCI layout: `docker load` follows manifest.json, OCI tools index.json."""
    from slim.image.oci import OCI_LAYOUT, index_json  # local: oci imports nothing from here, keep it that way

    blobs = assembled.blob_files(ws)
    manifest_json = [{
        "Config": "blobs/sha256/" + assembled.image_id.split(":")[1],
        "RepoTags": list(tags),
        "Layers": ["blobs/sha256/" + assembled.layer_digest.split(":")[1]],
    }]
    with tarfile.open(fileobj=target, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        for digest, path in sorted(set(blobs)):
            info = tarfile.TarInfo("blobs/sha256/" + digest.split(":")[1])
            info.size = os.path.getsize(path)
            info.mode = 0o644
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
        _add_bytes(tar, "index.json", index_json(assembled.manifest_digest, len(assembled.manifest_bytes), tags))
        _add_bytes(tar, "manifest.json", json.dumps(manifest_json, sort_keys=True).encode())
        _add_bytes(tar, "oci-layout", OCI_LAYOUT)


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))

"""OCI image layout directories: read an image out of one, write one."""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import BinaryIO

from slim.errors import ImageFormatError, ImageNotFound
from slim.image import documents
from slim.image.documents import MAX_DOCUMENT_BYTES
from slim.image.layer import unpack_layer
from slim.image.safeopen import open_inside
from slim.image.model import Image
from slim.workspace import Workspace

REF_NAME = "org.opencontainers.image.ref.name"
_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{64}|[0-9a-f]{128})$")
_MAX_NESTING = 8  # an index naming an index...: real layouts nest once at most
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


def blob_path(layout: str, digest: str) -> str:
    """Host path of a blob. The digest comes from untrusted JSON, so only a well-formed one becomes a path."""
    return os.path.join(layout, *_blob_parts(layout, digest))


def _blob_parts(layout: str, digest: str) -> list[str]:
    m = _DIGEST.match(digest or "")
    if not m:
        raise ImageFormatError(f"{layout}: malformed digest")
    return ["blobs", m.group(1), m.group(2)]


def _open_blob(layout: str, digest: str, reference: str) -> BinaryIO:
    try:
        return open_inside(layout, _blob_parts(layout, digest), f"{reference}: blob {digest}")
    except FileNotFoundError as exc:
        raise ImageFormatError(f"{reference}: blob {digest} is missing") from exc


def _read_document(fh: BinaryIO, schema: dict, where: str):
    with fh:
        raw = fh.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ImageFormatError(f"{where} is bigger than {MAX_DOCUMENT_BYTES} bytes")
    return documents.parse(raw, schema, where), raw


def resolve(layout: str, reference: str, tag: str | None = None) -> tuple[dict, dict]:
    """The index descriptor `tag` picks and the linux/amd64 image manifest it leads to (indexes followed)."""
    try:
        fh = open_inside(layout, ["index.json"], f"{reference}: index.json")
    except FileNotFoundError as exc:
        raise ImageNotFound(f"{reference}: {layout} has no index.json (not an OCI layout)") from exc
    index, _ = _read_document(fh, documents.OCI_INDEX, f"{reference}: index.json")
    descriptor = _pick(index.get("manifests") or [], tag, reference)
    manifest = _manifest(layout, descriptor["digest"], reference)
    for _ in range(_MAX_NESTING):
        if not (manifest.get("mediaType") in _INDEX_TYPES or "manifests" in manifest):
            break
        manifest = _manifest(layout, _platform(manifest.get("manifests") or [], reference)["digest"], reference)
    else:
        raise ImageFormatError(f"{reference}: indexes nest more than {_MAX_NESTING} deep")
    if "config" not in manifest:
        raise ImageFormatError(f"{reference}: the image manifest has no config")
    return descriptor, manifest


def open_blob(layout: str, digest: str, reference: str) -> BinaryIO:
    """A blob of the layout, opened as a regular file inside it (never through a symlink)."""
    return _open_blob(layout, digest, reference)


def read_oci_layout(layout: str, ws: Workspace, reference: str, tag: str | None = None) -> Image:
    """Read the image that `reference` (or `tag` inside the layout) names out of an OCI layout directory, every blob
    opened as a regular file below the layout and every layer unpacked and hashed as it is read."""
    descriptor, manifest = resolve(layout, reference, tag)
    config_digest = manifest["config"]["digest"]
    config, config_bytes = _read_document(_open_blob(layout, config_digest, reference), documents.IMAGE_CONFIG,
                                          f"{reference}: image config {config_digest}")
    layers = []
    for n, desc in enumerate(manifest.get("layers") or []):
        with _open_blob(layout, desc["digest"], reference) as fh:
            layers.append(unpack_layer(fh, ws.path("layers", f"oci{n}.pack"), desc["digest"], budget=ws,
                                       hash_content=True, length=os.fstat(fh.fileno()).st_size))
    name = (descriptor.get("annotations") or {}).get(REF_NAME)
    return Image(reference, config, config_bytes, layers, [name] if name else [])


def _manifest(layout: str, digest: str, reference: str) -> dict:
    manifest, _ = _read_document(_open_blob(layout, digest, reference), documents.OCI_MANIFEST,
                                 f"{reference}: manifest {digest}")
    return manifest


def _pick(descriptors: list, tag: str | None, reference: str) -> dict:
    if tag is None:
        if len(descriptors) == 1:
            return descriptors[0]
        if not descriptors:
            raise ImageNotFound(f"{reference}: the layout's index.json lists no image")
        names = [(d.get("annotations") or {}).get(REF_NAME, "?") for d in descriptors]
        raise ImageNotFound(f"{reference}: the layout holds {len(descriptors)} images; name one: {', '.join(names)}")
    for d in descriptors:
        name = (d.get("annotations") or {}).get(REF_NAME, "")
        if name == tag or name.endswith(":" + tag):
            return d
    raise ImageNotFound(f"{reference}: no image named {tag!r} in the layout")


def _platform(descriptors: list, reference: str) -> dict:
    for d in descriptors:
        p = d.get("platform") or {}
        if p.get("os", "linux") == "linux" and p.get("architecture", "amd64") == "amd64":
            return d
    raise ImageNotFound(f"{reference}: the index has no linux/amd64 image")


def write_oci_layout(blobs: list[tuple[str, str]], manifest_digest: str, manifest_size: int, layout: str, tags: list[str]) -> None:
    """Write an OCI layout holding one image. `blobs` are (digest, host file) pairs, the manifest among them."""
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    for digest, source in blobs:
        target = blob_path(layout, digest)
        if not os.path.exists(target):
            shutil.copyfile(source, target)
    with open(os.path.join(layout, "oci-layout"), "wb") as fh:
        fh.write(OCI_LAYOUT)
    with open(os.path.join(layout, "index.json"), "wb") as fh:
        fh.write(index_json(manifest_digest, manifest_size, tags))


OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


def index_json(manifest_digest: str, manifest_size: int, tags: list[str]) -> bytes:
    """index.json of a layout holding one image manifest, named once per tag (unnamed when there is none)."""
    descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size}
    manifests = [dict(descriptor, annotations={REF_NAME: t}) for t in tags] or [descriptor]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    return json.dumps(index, sort_keys=True).encode()

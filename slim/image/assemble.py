"""Assemble FROM scratch + one layer holding chosen paths of a RootFS, with the original config carried over.

Deterministic: entries sorted by path, PAX format, original mtimes and owners, uncompressed layer, config
derived only from the inputs. The same RootFS, paths and config give the same layer digest and image ID.
Original mtimes are kept rather than zeroed because Python checks its .pyc caches against source mtimes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tarfile
from dataclasses import dataclass
from collections.abc import Iterable

from slim import __version__
from slim.model import BLOCK, CHAR, DIR, FIFO, FILE, SYMLINK, Entry
from slim.rootfs import RootFS
from slim.workspace import Workspace

_TAR_TYPES = {FILE: tarfile.REGTYPE, DIR: tarfile.DIRTYPE, SYMLINK: tarfile.SYMTYPE, CHAR: tarfile.CHRTYPE,
              BLOCK: tarfile.BLKTYPE, FIFO: tarfile.FIFOTYPE}
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class AssembledImage:
    """A finished single-layer image, its blobs written as files in the workspace."""

    layer_file: str
    layer_digest: str
    layer_size: int
    config_bytes: bytes
    manifest_bytes: bytes
    file_count: int
    files_bytes: int  # sum of regular file sizes in the layer (hardlinked files counted once)

    @property
    def image_id(self) -> str:
        """The image ID engines show: the digest of the config bytes."""
        return _digest(self.config_bytes)

    @property
    def manifest_digest(self) -> str:
        """The digest an OCI layout's index and a registry name this image by."""
        return _digest(self.manifest_bytes)

    def blob_files(self, ws: Workspace) -> list[tuple[str, str]]:
        """(digest, host file) of every blob: layer, config, manifest."""
        out = [(self.layer_digest, self.layer_file)]
        for data in (self.config_bytes, self.manifest_bytes):
            path = ws.path("assembled-" + _digest(data).split(":")[1])
            if not os.path.exists(path):
                with open(path, "wb") as fh:
                    fh.write(data)
            out.append((_digest(data), path))
        return out


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def with_parents(rootfs: RootFS, paths: Iterable[str]) -> list[str]:
    """`paths` that exist in the RootFS plus every directory above them, sorted."""
    keep = set()
    for path in paths:
        if rootfs.lstat(path) is None:
            continue
        keep.add(path)
        # up to the first directory already kept (its own parents are kept with it): listing every ancestor of
        # every path made a 3,000-deep tree cost 3,000^3 characters of copying (20 s)
        parent = os.path.dirname(path)
        while parent != "/" and parent not in keep:
            keep.add(parent)
            parent = os.path.dirname(parent)
    keep.discard("/")
    return sorted(keep)


def write_layer(rootfs: RootFS, paths: Iterable[str], target: str) -> tuple[str, int, int, int]:
    """Write the layer tar; returns (digest, size, file count, regular-file bytes)."""
    first_path_of_blob: dict[tuple[str, int], str] = {}
    files = 0
    file_bytes = 0
    with open(target, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in with_parents(rootfs, paths):
                entry = rootfs.lstat(path)
                if entry is None:  # with_parents yields only paths the root holds
                    raise FileNotFoundError(path)
                info = _tarinfo(entry)
                key = entry.content_key  # None for a file with no stored bytes: it is nobody's hardlink
                if entry.kind == FILE and key is not None and key in first_path_of_blob:
                    info.type = tarfile.LNKTYPE  # same bytes as an earlier path: the hardlink group stays one inode
                    info.linkname = first_path_of_blob[key][1:]
                    info.size = 0
                    tar.addfile(info)
                elif entry.kind == FILE:
                    if key is not None:
                        first_path_of_blob[key] = path
                    file_bytes += entry.size
                    with rootfs.open(path) as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
                if entry.kind != DIR:
                    files += 1
    sha = hashlib.sha256()
    with open(target, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest(), os.path.getsize(target), files, file_bytes


def _tarinfo(entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.path[1:])
    info.type = _TAR_TYPES[entry.kind]
    info.mode = entry.mode
    info.uid, info.gid = entry.uid, entry.gid
    info.uname, info.gname = entry.uname, entry.gname
    info.mtime = entry.mtime
    info.size = entry.size if entry.kind == FILE else 0
    info.linkname = entry.linkname if entry.kind == SYMLINK else ""
    info.devmajor, info.devminor = entry.devmajor, entry.devminor
    if entry.xattrs:
        info.pax_headers = dict(entry.xattrs)
    return info


SOURCE_LABEL = "slim.source.image"  # marks an image slim wrote, and from what


def derive_config(original: dict, layer_digest: str, source_ref: str, source_id: str) -> dict:
    """The original config document with the rootfs replaced by one layer and provenance labels added."""
    run = copy.deepcopy(original.get("config") or {})
    labels = dict(run.get("Labels") or {})
    labels.update({SOURCE_LABEL: source_ref, "slim.source.id": source_id, "slim.version": __version__})
    run["Labels"] = labels
    config = {
        "architecture": original.get("architecture", "amd64"),
        "os": original.get("os", "linux"),
        "config": run,
        "created": original.get("created", "1970-01-01T00:00:00Z"),
        "history": [{"created": original.get("created", "1970-01-01T00:00:00Z"),
                     "created_by": f"slim {__version__}: minimized from {source_ref}"}],
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    if original.get("variant"):
        config["variant"] = original["variant"]
    return config


def canonical_json(doc: dict) -> bytes:
    """JSON with sorted keys and no spaces, so the same document always gives the same bytes and the same digest."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def assemble(rootfs: RootFS, paths: Iterable[str], original_config: dict, source_ref: str, source_id: str,
             ws: Workspace) -> AssembledImage:
    """Write the layer of `paths` from `rootfs` into the workspace and derive the config and manifest around it: the
    whole slim image, ready for a sink, with the original config carried over and labelled with its source."""
    layer_file = ws.path("layer.tar")
    digest, size, files, file_bytes = write_layer(rootfs, paths, layer_file)
    config_bytes = canonical_json(derive_config(original_config, digest, source_ref, source_id))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": _digest(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": LAYER_TYPE, "digest": digest, "size": size}],
    }
    return AssembledImage(layer_file, digest, size, config_bytes, canonical_json(manifest), files, file_bytes)

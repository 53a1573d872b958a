"""Build small layer tars and image archives in memory for tests, the way Docker lays them out."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile


def layer(*members: tuple, gz: bool = False) -> bytes:
    """members: (name, kind, extra) with kind in file/dir/symlink/hardlink/char/fifo/raw.

    file: extra = bytes content (or (bytes, mode) or (bytes, mode, uid, gid)); dir: extra = None or
    (mode, uid, gid); symlink/hardlink: extra = link target.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, *rest in members:
            extra = rest[0] if rest else None
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if kind == "file":
                data, mode, *owner = (extra if isinstance(extra, tuple) else (extra or b"", 0o644))
                info.size, info.mode = len(data), mode
                info.uid, info.gid = owner or (0, 0)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "char": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "dir" and extra:
                info.mode, info.uid, info.gid = extra
            if kind in ("symlink", "hardlink"):
                info.linkname = extra
            if kind == "char":
                info.devmajor, info.devminor = extra
            tar.addfile(info)
    data = buf.getvalue()
    return gzip.compress(data, mtime=0) if gz else data


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def diff_id(layer_bytes: bytes) -> str:
    raw = gzip.decompress(layer_bytes) if layer_bytes[:2] == b"\x1f\x8b" else layer_bytes
    return "sha256:" + sha(raw)


def config_for(layers: list[bytes], cmd=("/bin/sh",), **extra) -> bytes:
    cfg = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
           "config": {"Cmd": list(cmd), "Env": ["PATH=/usr/bin:/bin"], **extra},
           "rootfs": {"type": "layers", "diff_ids": [diff_id(blob) for blob in layers]},
           "history": [{"created_by": f"layer {n}"} for n in range(len(layers))]}
    return json.dumps(cfg).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def legacy_archive(layers: list[bytes], tag: str = "test:1", duplicate_as_symlink: bool = False) -> bytes:
    """A docker-archive as Docker < 25 saves it: <id>/layer.tar, <config-id>.json, manifest.json."""
    config = config_for(layers)
    buf = io.BytesIO()
    names = []
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for n, data in enumerate(layers):
            lid = sha(data + bytes([n]))
            if duplicate_as_symlink and n > 0 and data == layers[0]:
                info = tarfile.TarInfo(f"{lid}/layer.tar")
                info.type = tarfile.SYMTYPE
                info.linkname = f"../{names[0].split('/')[0]}/layer.tar"
                tar.addfile(info)
            else:
                _add(tar, f"{lid}/layer.tar", data)
                _add(tar, f"{lid}/json", b'{"id": "%s"}' % lid.encode())
                _add(tar, f"{lid}/VERSION", b"1.0")
            names.append(f"{lid}/layer.tar")
        _add(tar, sha(config) + ".json", config)
        _add(tar, "manifest.json", json.dumps([{"Config": sha(config) + ".json", "RepoTags": [tag], "Layers": names}]).encode())
    return buf.getvalue()


def oci_archive(layers: list[bytes], tag: str = "test:1") -> bytes:
    """A docker-archive as Docker >= 25 saves it: an OCI layout with manifest.json beside index.json."""
    config = config_for(layers)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"digest": "sha256:" + sha(config), "size": len(config)},
                           "layers": [{"digest": "sha256:" + sha(blob), "size": len(blob)} for blob in layers]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{"digest": "sha256:" + sha(manifest), "size": len(manifest),
                                                            "annotations": {"org.opencontainers.image.ref.name": tag}}]}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        # manifest.json last, as Docker writes it: the reader must not depend on its position.
        for blob in [*layers, config, manifest]:
            _add(tar, "blobs/sha256/" + sha(blob), blob)
        _add(tar, "index.json", index)
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tar, "manifest.json", json.dumps([{"Config": "blobs/sha256/" + sha(config), "RepoTags": [tag],
                                                "Layers": ["blobs/sha256/" + sha(blob) for blob in layers]}]).encode())
    return buf.getvalue()

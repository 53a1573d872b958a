"""What is inside an image, measured from its layers: the facts `slim inspect` shows."""

from __future__ import annotations

from slim.image.model import Image
from slim.model import DIR, ImageInfo
from slim.osrelease import read_os
from slim.pkgdb.catalog import read_catalog
from slim.rootfs import RootFS


def counts(rootfs: RootFS) -> tuple[int, int, int]:
    """(content bytes, files, directories) in one walk. Content: regular files, each hardlink group counted once
    (as the filesystem stores it); files: every entry that is not a directory."""
    entries = list(rootfs.walk())
    dirs = sum(1 for e in entries if e.kind == DIR)
    return rootfs.bytes_of(e.path for e in entries), len(entries) - dirs, dirs


def inspect_image(image: Image, rootfs: RootFS) -> ImageInfo:
    content, files, dirs = counts(rootfs)
    catalog = read_catalog(rootfs)
    return ImageInfo(
        reference=image.reference,
        image_id=image.image_id,
        size_bytes=sum(layer.size_bytes for layer in image.layers),
        content_bytes=content,
        file_count=files,
        dir_count=dirs,
        layers=tuple(image.layer_summaries()),
        os=read_os(rootfs),
        config=image.run_config,
        warnings=tuple(rootfs.warnings) + tuple(catalog.warnings),
        package_db=catalog.kind,
        packages=len(catalog.packages),
    )


def info_json(info: ImageInfo) -> dict:
    """The documented `slim inspect --json` shape (see README)."""
    return {
        "reference": info.reference,
        "image_id": info.image_id,
        "size_bytes": info.size_bytes,
        "content_bytes": info.content_bytes,
        "file_count": info.file_count,
        "dir_count": info.dir_count,
        "layers": [
            {"digest": l.digest, "size_bytes": l.size_bytes, "entries": l.entries, "whiteouts": l.whiteouts,
             "created_by": l.created_by}
            for l in info.layers
        ],
        "os": info.os,
        "packages": {"database": info.package_db, "count": info.packages},
        "config": {k: info.config.get(k) for k in ("Entrypoint", "Cmd", "User", "WorkingDir", "Env", "ExposedPorts")},
        "warnings": list(info.warnings),
    }

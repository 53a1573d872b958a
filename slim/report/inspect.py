"""What is inside an image, measured from its layers: the facts `slim inspect` shows."""

from __future__ import annotations

import dataclasses

from slim.image.model import Image
from slim.model import DIR, ImageInfo
from slim.packages.osrelease import read_os
from slim.packages.catalog import read_catalog
from slim.checks.config_findings import redacted_env, redacted_text
from slim.rootfs import RootFS


def counts(rootfs: RootFS) -> tuple[int, int, int]:
    """(content bytes, files, directories) in one walk. Content: regular files, each hardlink group counted once
    (as the filesystem stores it); files: every entry that is not a directory."""
    entries = list(rootfs.walk())
    dirs = sum(1 for e in entries if e.kind == DIR)
    return rootfs.bytes_of(e.path for e in entries), len(entries) - dirs, dirs


def inspect_image(image: Image, rootfs: RootFS) -> ImageInfo:
    """The facts `slim inspect` shows about an image, with history lines and ENV values redacted where they look like
    secrets."""
    content, files, dirs = counts(rootfs)
    catalog = read_catalog(rootfs)
    return ImageInfo(
        reference=image.reference,
        image_id=image.image_id,
        size_bytes=sum(layer.size_bytes for layer in image.layers),
        content_bytes=content,
        file_count=files,
        dir_count=dirs,
        # history lines and ENV may carry secrets: their names are shown, never their values
        layers=tuple(dataclasses.replace(layer, created_by=redacted_text(layer.created_by))
                     for layer in image.layer_summaries()),
        os=read_os(rootfs),
        config=_shown_config(image.config.get("config") or {}),
        warnings=tuple(rootfs.warnings) + tuple(catalog.warnings),
        package_db=catalog.kind,
        packages=len(catalog.packages),
    )


def _shown_config(config: dict) -> dict:
    """The run config as the image states it, secret-looking ENV values excepted."""
    return {**config, "Env": redacted_env(config.get("Env"))} if config.get("Env") else dict(config)

"""Write an assembled image to where the user asked: the Docker daemon, a docker-archive file, an OCI layout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from slim.errors import UsageError
from slim.image import archive, oci
from slim.image.assemble import AssembledImage
from slim.workspace import Workspace


@dataclass(frozen=True)
class Output:
    kind: str  # "docker", "docker-archive" or "oci"
    path: str = ""


def parse_output(text: str) -> Output:
    if text == "docker":
        return Output("docker")
    for kind in ("docker-archive", "oci"):
        if text.startswith(kind + ":") and len(text) > len(kind) + 1:
            return Output(kind, text[len(kind) + 1:])
    raise UsageError(f"--output {text!r}: expected docker, docker-archive:FILE or oci:DIR")


def write_image(assembled: AssembledImage, output: Output, tags: list[str], ws: Workspace,
                engine: Callable[[], object]) -> None:
    if output.kind == "oci":
        oci.write_oci_layout(assembled.blob_files(ws), assembled.manifest_digest, len(assembled.manifest_bytes),
                             output.path, tags)
        return
    archive_file = output.path if output.kind == "docker-archive" else ws.path("load.tar")
    parent = os.path.dirname(os.path.abspath(archive_file))
    os.makedirs(parent, exist_ok=True)
    partial = archive_file + ".partial"
    try:
        with open(partial, "wb") as fh:
            archive.write_docker_archive(assembled, ws, fh, tags)
    except BaseException:
        os.unlink(partial)
        raise
    os.replace(partial, archive_file)  # never leave a half-written archive under the user's name
    if output.kind == "docker":
        from slim.image import daemon

        daemon.load_archive(engine(), archive_file)

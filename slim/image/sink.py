"""Write an assembled image to where the user asked: the container engine, a docker-archive file, an OCI layout.

Tags in the engine are bookkept here: a slim image that a new one replaces under the same tag is removed
when nothing else names or uses it, and verification of file outputs goes through a temporary tag.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

from slim import identity
from slim.engine import Engine
from slim.errors import UsageError
from slim.image import archive, oci
from slim.image.assemble import SOURCE_LABEL, AssembledImage
from slim.image.reference import ARCHIVE, DAEMON, OCI
from slim.workspace import Workspace

# outputs are named like the references that read them back
DOCKER, DOCKER_ARCHIVE, OCI_LAYOUT = DAEMON, ARCHIVE, OCI
TEMPORARY_REPOSITORY = "slim-verify"  # where file outputs are loaded for verification, then removed


@dataclass(frozen=True)
class Output:
    kind: str  # DOCKER, DOCKER_ARCHIVE or OCI_LAYOUT
    path: str = ""

    def describe(self, tags: list[str] | tuple[str, ...]) -> str:
        return ", ".join(tags) if self.kind == DOCKER else f"{self.kind}:{self.path}"


def parse_output(text: str) -> Output:
    if text == DOCKER:
        return Output(DOCKER)
    for kind in (DOCKER_ARCHIVE, OCI_LAYOUT):
        if text.startswith(kind + ":") and len(text) > len(kind) + 1:
            return Output(kind, text[len(kind) + 1:])
    raise UsageError(f"--output {text!r}: expected docker, docker-archive:FILE or oci:DIR")


_temporaries = itertools.count(1)


def temporary_tag() -> str:
    """A tag only this run uses; its name says which process made it (a tag can hold no labels), so the
    sweep can remove it once that process is gone."""
    me = identity.current()
    return f"{TEMPORARY_REPOSITORY}/{me.run_id}-{next(_temporaries)}:{me.tag_suffix()}"


def is_temporary(tag: str) -> bool:
    return tag.startswith(TEMPORARY_REPOSITORY + "/")


def temporary_tag_owner(tag: str) -> tuple[str, str, str] | None:
    """(host hash, pid, start time) of the run that made a temporary tag; None for a tag of another form."""
    parts = tag.rpartition(":")[2].split("-")
    return (parts[0], parts[1], parts[2]) if is_temporary(tag) and len(parts) == 3 else None


def write_image(assembled: AssembledImage, output: Output, tags: list[str], ws: Workspace, engine: Engine) -> None:
    if output.kind == OCI_LAYOUT:
        oci.write_oci_layout(assembled.blob_files(ws), assembled.manifest_digest, len(assembled.manifest_bytes),
                             output.path, tags)
        return
    archive_file = output.path if output.kind == DOCKER_ARCHIVE else ws.path("load.tar")
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
    if output.kind == DOCKER:
        replaced = _slim_images_at(engine, tags)
        engine.load(archive_file)
        for image_id in replaced - {assembled.image_id}:
            engine.remove_if_untagged(image_id)


def _slim_images_at(engine: Engine, tags: list[str]) -> set[str]:
    """IDs of the images slim made earlier that these tags name now (about to be replaced)."""
    found = (engine.find_image(tag) for tag in tags if not is_temporary(tag))
    return {facts.id for facts in found if facts is not None and SOURCE_LABEL in facts.labels}


def remove_tags(engine: Engine, tags: list[str]) -> None:
    """Remove tags slim created; used on failure paths, so it never raises."""
    for tag in tags:
        try:
            engine.remove_image(tag)
        except Exception:  # cleanup must not hide the error being raised
            pass

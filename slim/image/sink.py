"""Write an assembled image to where the user asked: the container engine, a docker-archive file, an OCI layout.

Tags in the engine are bookkept here: a slim image that a new one replaces under the same tag is removed
when nothing else names or uses it, and verification of file outputs goes through a temporary tag.
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import dataclass, field

from slim import identity
from slim.engine import ImageFacts, Images
from slim.errors import EngineError, UsageError
from slim.image import archive, oci
from slim.image.assemble import SOURCE_LABEL, AssembledImage
from slim.image.reference import ARCHIVE, DAEMON, OCI
from slim.workspace import Workspace

# outputs are named like the references that read them back
DOCKER, DOCKER_ARCHIVE, OCI_LAYOUT = DAEMON, ARCHIVE, OCI
TEMPORARY_REPOSITORY = "slim-verify"  # where file outputs are loaded for verification, then removed


@dataclass(frozen=True)
class Output:
    """Where `--output` sends the slim image: the engine (tags), a docker-archive file or an OCI layout directory."""

    kind: str  # DOCKER, DOCKER_ARCHIVE or OCI_LAYOUT
    path: str = ""

    def describe(self, tags: list[str] | tuple[str, ...]) -> str:
        """The output as progress lines name it: the tags for the engine, `kind:path` for a file output."""
        return ", ".join(tags) if self.kind == DOCKER else f"{self.kind}:{self.path}"


def parse_output(text: str) -> Output:
    """`--output` as given on the command line (docker, docker-archive:FILE, oci:DIR); a usage error otherwise."""
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
    """Whether a tag is one of slim's temporary tags (staging, verification of file outputs), never a user's."""
    return tag.startswith(TEMPORARY_REPOSITORY + "/")


def temporary_tag_owner(tag: str) -> tuple[str, str, str] | None:
    """(host hash, pid, start time) of the run that made a temporary tag; None for a tag of another form."""
    parts = tag.rpartition(":")[2].split("-")
    return (parts[0], parts[1], parts[2]) if is_temporary(tag) and len(parts) == 3 else None


@dataclass
class Written:
    """What writing a file output put on disk, so that a failed verification can take exactly that back:
    the files and directories it created, and the earlier bytes of files it overwrote in an existing layout."""

    output: Output
    image_id: str = ""  # for the engine, the ID it gives the image its tags name, read back after loading
    created: list[str] = field(default_factory=list)  # deepest last: removed in reverse
    overwritten: dict[str, bytes | None] = field(default_factory=dict)  # path -> bytes before (None: new file)

    def where(self) -> str:
        """The output as a failure message names what is left on disk: "file X" or "directory X"."""
        return f"{'file' if self.output.kind == DOCKER_ARCHIVE else 'directory'} {self.output.path}"

    def remove(self) -> list[str]:
        """Undo the write; the paths that could not be removed or restored (empty when all went)."""
        failed = []
        for path, before in self.overwritten.items():
            try:
                if before is None:
                    os.unlink(path)
                else:
                    with open(path, "wb") as fh:
                        fh.write(before)
            except FileNotFoundError:
                pass
            except OSError:
                failed.append(path)
        for path in reversed(self.created):
            try:
                shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError:
                failed.append(path)
        return failed


def write_image(assembled: AssembledImage, output: Output, tags: list[str], ws: Workspace,
                engine: Images) -> Written:
    """Write the image; what was written (for file outputs) comes back so it can be removed again. Into the
    engine, the tags are read back: EngineError (exit 5) unless each names the image just written."""
    written = Written(output, assembled.image_id)
    if output.kind == OCI_LAYOUT:
        _write_layout(assembled, output.path, tags, ws, written)
        return written
    archive_file = output.path if output.kind == DOCKER_ARCHIVE else ws.path("load.tar")
    parent = os.path.dirname(os.path.abspath(archive_file))
    os.makedirs(parent, exist_ok=True)
    partial = archive_file + ".partial"
    ws.note_outside(partial)  # a run killed while writing leaves it: the next run or `slim cleanup` removes it
    try:
        with open(partial, "wb") as fh:
            archive.write_docker_archive(assembled, ws, fh, tags)
    except BaseException:
        os.unlink(partial)
        raise
    os.replace(partial, archive_file)  # never leave a half-written archive under the user's name
    if output.kind == DOCKER_ARCHIVE:
        written.created.append(archive_file)
    if output.kind == DOCKER:
        replaced = _slim_images_at(engine, tags)
        engine.load(archive_file)
        for image_id in replaced - {assembled.image_id}:
            engine.remove_if_untagged(image_id)
        written.image_id = _read_back(engine, tags, assembled)
    return written


def names_image(found: ImageFacts | None, *image_ids: str) -> bool:
    """Whether what the engine says a tag names (`found`, None for nothing) is one of `image_ids`."""
    return found is not None and found.id.removeprefix("sha256:") in {i.removeprefix("sha256:") for i in image_ids}


def _read_back(engine: Images, tags: list[str], assembled: AssembledImage) -> str:
    """The ID the engine gives the image `tags` name now that it has loaded it, once it is sure each tag names the
    image just written; a load the engine took but tagged otherwise, or a tag another run or a user moved
    meanwhile, is an EngineError, and the image written is not left behind untagged."""
    # an engine that names images by their manifest (containerd's store) shows the manifest digest
    ours = (assembled.image_id, assembled.manifest_digest)
    engine_id = assembled.image_id
    for tag in tags:
        found = engine.find_image(tag)
        if found is None or not names_image(found, *ours):
            engine.remove_if_untagged(assembled.image_id)
            other = "names no image" if found is None else f"names the image {found.id[:19]}"
            raise EngineError(f"{tag}: after loading, the engine's tag {other}, not the image slim wrote "
                              f"({assembled.image_id[:19]}); another run or a user may have moved it meanwhile")
        engine_id = found.id
    return engine_id


def _write_layout(assembled: AssembledImage, layout: str, tags: list[str], ws: Workspace, written: Written) -> None:
    """An OCI layout, remembering what it adds to a directory that may already hold one."""
    if not os.path.exists(layout):
        written.created.append(os.path.abspath(layout))  # all of it is ours
    else:
        blobs = os.path.join(layout, "blobs", "sha256")
        written.created += [oci.blob_path(layout, d) for d, _ in assembled.blob_files(ws)
                            if not os.path.exists(oci.blob_path(layout, d))]
        for name in ("index.json", "oci-layout"):
            path = os.path.join(layout, name)
            try:
                with open(path, "rb") as fh:
                    written.overwritten[path] = fh.read()
            except FileNotFoundError:
                written.overwritten[path] = None
        if not os.path.isdir(blobs):
            written.created.insert(0, blobs)
    oci.write_oci_layout(assembled.blob_files(ws), assembled.manifest_digest, len(assembled.manifest_bytes),
                         layout, tags)


def _slim_images_at(engine: Images, tags: list[str]) -> set[str]:
    """IDs of the images slim made earlier that these tags name now (about to be replaced)."""
    found = (engine.find_image(tag) for tag in tags if not is_temporary(tag))
    return {facts.id for facts in found if facts is not None and SOURCE_LABEL in facts.labels}


def remove_tags(engine: Images, tags: list[str]) -> None:
    """Remove tags slim created; used on failure paths, so it never raises."""
    for tag in tags:
        try:
            engine.remove_image(tag)
        except Exception:  # cleanup must not hide the error being raised
            pass


def dispose(engine: Images, created: list[str], written: list[Written], failed: bool,
            keep_failed: bool) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """After verification: the temporary verification tag always goes; when verification failed the outputs
    go too (tags, docker-archive file, OCI directory), unless `keep_failed`. Returns what was removed, what
    was kept although it failed, and what could not be removed: each as "tag T", "file F", "directory D"."""
    remove_tags(engine, [t for t in created if is_temporary(t)])
    tags = [t for t in created if not is_temporary(t)]
    outputs = [f"tag {t}" for t in tags] + [w.where() for w in written]
    if not failed:
        return (), (), ()
    if keep_failed:
        return (), tuple(outputs), ()
    remove_tags(engine, tags)
    stuck = [f"tag {t}" for t in tags if engine.find_image(t) is not None]
    stuck += [w.where() for w in written if w.remove()]
    return tuple(o for o in outputs if o not in stuck), (), tuple(stuck)

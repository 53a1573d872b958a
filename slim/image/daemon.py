"""The Docker daemon as an image source and sink. The one image module that imports the docker SDK."""

from __future__ import annotations

import os
from typing import BinaryIO, Iterator

import docker
import docker.errors
import requests.exceptions

from slim.errors import EngineError, ImageNotFound

SAVE_CHUNK = 1 << 20


def connect() -> docker.DockerClient:
    """A client for the engine named by DOCKER_HOST (or the local socket), checked to answer."""
    try:
        client = docker.from_env(timeout=300)
        client.ping()
        return client
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(
            f"no Docker engine answers at {os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')} "
            f"(start one with scripts/setup): {exc}"
        ) from exc


def inspect_image(client: docker.DockerClient, ref: str) -> dict:
    try:
        return client.api.inspect_image(ref)
    except docker.errors.ImageNotFound as exc:
        raise ImageNotFound(f"{ref}: no such image in the Docker engine") from exc
    except docker.errors.APIError as exc:
        raise EngineError(f"{ref}: the engine could not inspect it: {exc.explanation}") from exc


class _ChunkStream:
    """File-like reads over the engine's chunked `docker save` response, so it is never held whole."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = b""
        self._pos = 0  # an offset, not re-slicing: tarfile reads in small pieces and chunks are 1 MiB

    def read(self, n: int = -1) -> bytes:
        available = len(self._buf) - self._pos
        if n < 0 or available < n:
            parts = [self._buf[self._pos:]]
            while n < 0 or available < n:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                parts.append(chunk)
                available += len(chunk)
            self._buf, self._pos = b"".join(parts), 0
        if n < 0:
            n = len(self._buf)
        data = self._buf[self._pos:self._pos + n]
        self._pos += len(data)
        return data


def save_stream(client: docker.DockerClient, ref: str) -> BinaryIO:
    """The `docker save` archive of `ref` as a forward-only stream."""
    inspect_image(client, ref)  # a clear "no such image" before any streaming starts
    try:
        return _ChunkStream(iter(client.api.get_image(ref, chunk_size=SAVE_CHUNK)))
    except docker.errors.APIError as exc:
        raise EngineError(f"{ref}: docker save failed: {exc.explanation}") from exc


def load_archive(client: docker.DockerClient, archive_path: str) -> None:
    """`docker load` a docker-archive file; its manifest.json carries the tags."""
    try:
        with open(archive_path, "rb") as fh:
            client.api.load_image(fh)
    except docker.errors.APIError as exc:
        raise EngineError(f"docker load failed: {exc.explanation}") from exc


def remove_image(client: docker.DockerClient, ref: str) -> None:
    try:
        client.api.remove_image(ref, noprune=False)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        raise EngineError(f"could not remove {ref}: {exc.explanation}") from exc


def slim_outputs_at(client: docker.DockerClient, tags: list[str]) -> set[str]:
    """IDs of the images slim made earlier that these tags name now (about to be replaced)."""
    ids = set()
    for tag in tags:
        try:
            attrs = client.api.inspect_image(tag)
        except docker.errors.NotFound:
            continue
        if "slim.source.image" in ((attrs.get("Config") or {}).get("Labels") or {}):
            ids.add(attrs["Id"])
    return ids


def remove_if_untagged(client: docker.DockerClient, image_ids: set[str]) -> None:
    """Remove images left without any tag (a replaced slim output); keep any still tagged or in use."""
    for image_id in image_ids:
        try:
            if not client.api.inspect_image(image_id).get("RepoTags"):
                client.api.remove_image(image_id, noprune=False)
        except docker.errors.APIError:
            pass  # in use by a container, or already gone: not ours to force

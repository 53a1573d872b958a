"""Opening an engine's Docker-compatible API endpoint, and telling which engine answers: Docker's dockerd, or a
Podman service (its /_ping answers with a Libpod-Api-Version header, its version), each with its own adapter.
The ping is the whole check: Podman takes about half a second to answer /version."""

from __future__ import annotations

import os

import docker

from slim.engine.docker import _FAULTS, DockerEngine, remote_host
from slim.engine.podman import PodmanEngine
from slim.errors import EngineError

API_VERSION = "1.41"


def open_endpoint(where: str) -> DockerEngine:
    """Connect to the API at `where` and check it answers; a Podman service answers as a PodmanEngine."""
    try:
        # API 1.41: what Docker 20.10 and Podman 4's compatible API speak, and newer engines still serve; naming it
        # spares the SDK asking /version first
        if where.startswith("unix://") or where != os.environ.get("DOCKER_HOST"):
            client = docker.DockerClient(base_url=where, timeout=300, version=API_VERSION)
        else:
            client = docker.from_env(timeout=300, version=API_VERSION)  # with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
        answer = client.api.get(client.api._url("/_ping"), timeout=30)
        answer.raise_for_status()
        libpod = answer.headers.get("Libpod-Api-Version")
        if libpod:
            return PodmanEngine.of(client, where, {"Version": libpod, "ApiVersion": answer.headers.get("Api-Version",
                                                                                                        "")})
    except _FAULTS as exc:
        raise EngineError(f"no engine answers at {where}: {' '.join(str(exc).split())}") from exc
    return DockerEngine(client, remote_host(where), where)

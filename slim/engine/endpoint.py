"""Opening an engine's Docker-compatible API endpoint, and telling which engine answers: Docker's dockerd, or a
Podman service (whose /version lists a "Podman Engine" component), each with its own adapter."""

from __future__ import annotations

import os

import docker

from slim.engine.docker import _FAULTS, DockerEngine, remote_host
from slim.engine.podman import PodmanEngine
from slim.errors import EngineError


def open_endpoint(where: str) -> DockerEngine:
    """Connect to the API at `where` and check it answers; a Podman service answers as a PodmanEngine."""
    try:
        if where.startswith("unix://") or where != os.environ.get("DOCKER_HOST"):
            client = docker.DockerClient(base_url=where, timeout=300)
        else:
            client = docker.from_env(timeout=300)  # with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
        client.ping()
        components = [c.get("Name", "") for c in client.api.version().get("Components") or []]
    except _FAULTS as exc:
        raise EngineError(f"no engine answers at {where}: {' '.join(str(exc).split())}") from exc
    if any("podman" in c.lower() for c in components):
        return PodmanEngine.of(client, where)
    return DockerEngine(client, remote_host(where), where)

"""Container engines behind one protocol per role (`Images`, `Containers`, `Volumes`, `Facts`; `Engine` is all
of them), and how slim connects to one."""

from __future__ import annotations

import os
from collections.abc import Callable

from slim.engine.base import ContainerSpec, Containers, Engine, ExecResult, Facts, ImageFacts, Images, Mount, Volumes

__all__ = ["ContainerSpec", "Containers", "Engine", "ExecResult", "Facts", "ImageFacts", "Images", "LazyEngine",
           "Mount", "Volumes", "connect"]


KINDS = ("docker", "podman")
DOCKER_SOCKET = "unix:///var/run/docker.sock"


def candidates(kind: str | None) -> tuple[list[str], bool]:
    """(endpoints to try in order, whether the user named them). Named: DOCKER_HOST (Docker or either),
    CONTAINER_HOST (Podman or either), else the current Docker context when it is not the default one. Else:
    Docker's socket, Podman's rootful socket, then this user's rootless Podman socket; sockets that do not exist
    are skipped."""
    from slim.engine.docker import _context_host
    from slim.engine.podman import podman_sockets

    named = [os.environ[var] for var, kinds in (("DOCKER_HOST", (None, "docker")), ("CONTAINER_HOST", (None, "podman")))
             if os.environ.get(var) and kind in kinds]
    if named:
        return named[:1], True
    context = _context_host() if kind != "podman" else None
    if context:  # chosen with `docker context use` or DOCKER_CONTEXT: another engine must not stand in for it
        return [context], True
    found = ([DOCKER_SOCKET] if kind != "podman" else []) + (podman_sockets() if kind != "docker" else [])
    return [c for c in found if c and (not c.startswith("unix://") or os.path.exists(c[len("unix://"):]))], False


def connect(kind: str | None = None) -> Engine:
    """The engine to use: of `kind` (docker, podman, None: whichever answers first), found as `candidates`
    says. One line when none answers, saying how to start one."""
    from slim.engine.endpoint import open_endpoint
    from slim.errors import EngineError

    endpoints, named = candidates(kind)
    faults = []
    for where in endpoints:
        try:
            engine = open_endpoint(where)
        except EngineError as exc:
            if named:
                raise
            faults.append(str(exc))
            continue
        if kind and engine.name != kind:
            engine.close()
            raise EngineError(f"{where} is a {engine.label} engine, not {kind} (--engine {kind})")
        return engine
    what = {"docker": "Docker engine", "podman": "Podman service"}.get(kind or "", "container engine")
    tried = f" ({'; '.join(faults)})" if faults else " (no Docker or Podman socket on this host)"
    raise EngineError(f"no {what} answers{tried}: start one with scripts/setup (Docker) or scripts/setup --podman "
                      "(Podman), or name it with DOCKER_HOST / CONTAINER_HOST")


class LazyEngine:
    """An Engine that connects on first use only, so commands on archives and layouts never need one."""

    def __init__(self, kind: str | None = None, connector: Callable[[], Engine] | None = None):
        self._connector = connector or (lambda: connect(kind))
        self._engine: Engine | None = None

    @property
    def connected(self) -> bool:
        """Whether a connection was made, so the tidy-up after an error never connects to an engine the command did
        not use."""
        return self._engine is not None

    def close(self) -> None:
        """Close the connection if one was made; never connects just to close."""
        if self._engine is not None:
            self._engine.close()

    def get(self) -> Engine:
        """The real engine, connecting now if this is the first use (an engine that does not answer fails here)."""
        if self._engine is None:
            self._engine = self._connector()
        return self._engine

    def __getattr__(self, name: str):
        return getattr(self.get(), name)

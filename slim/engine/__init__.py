"""Container engines behind one protocol (`Engine`), and how slim connects to one."""

from __future__ import annotations

from typing import Callable

from slim.engine.base import ContainerSpec, Engine, ExecResult, ImageFacts, Mount

__all__ = ["ContainerSpec", "Engine", "ExecResult", "ImageFacts", "LazyEngine", "Mount", "connect"]


def connect() -> Engine:
    """The engine this machine is set up for: Docker, named by DOCKER_HOST or the local socket."""
    from slim.engine.docker import DockerEngine

    return DockerEngine.connect()


class LazyEngine:
    """An Engine that connects on first use only, so commands on archives and layouts never need one."""

    def __init__(self, connector: Callable[[], Engine] = connect):
        self._connector = connector
        self._engine: Engine | None = None

    @property
    def connected(self) -> bool:
        return self._engine is not None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()

    def get(self) -> Engine:
        if self._engine is None:
            self._engine = self._connector()
        return self._engine

    def __getattr__(self, name: str):
        return getattr(self.get(), name)

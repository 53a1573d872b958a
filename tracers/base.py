"""What every tracing backend shares: the options of one run and the small interface a backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from slim.errors import TraceError
from slim.model import Trace
from slim.probes import ContinueAfter, ProbePlan


@dataclass(frozen=True)
class RunOptions:
    """How to run an image, traced or not. Overrides are None/empty when the image's own config applies."""

    image: str
    entrypoint: tuple[str, ...] | None = None  # like `docker run --entrypoint`: drops the image's Cmd
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()  # "K=V"
    user: str | None = None
    workdir: str | None = None
    mounts: tuple[str, ...] = ()  # "SOURCE:TARGET[:ro]", a host path or a volume name
    probes: ProbePlan = field(default_factory=ProbePlan)
    continue_after: ContinueAfter | None = None  # None: "probe" when there is something to probe, else "exit"
    exit_timeout: float = 600.0  # longest wait for a batch job to finish
    stop_timeout: int = 10  # seconds between the stop signal and SIGKILL


def command_of(config: dict, options: RunOptions) -> list[str]:
    """The full argv the container runs: Entrypoint + Cmd, with overrides applied as `docker run` does."""
    entrypoint = list(options.entrypoint) if options.entrypoint is not None else list(config.get("Entrypoint") or [])
    if options.cmd is not None:
        cmd = list(options.cmd)
    elif options.entrypoint is not None:
        cmd = []
    else:
        cmd = list(config.get("Cmd") or [])
    argv = entrypoint + cmd
    if not argv:
        raise TraceError(f"{options.image} has neither Entrypoint nor Cmd: say what to run with --cmd")
    return argv


def exposed_tcp_ports(config: dict) -> list[int]:
    ports = []
    for key in (config.get("ExposedPorts") or {}):
        number, _, proto = key.partition("/")
        if (proto or "tcp") == "tcp" and number.isdigit():
            ports.append(int(number))
    return sorted(ports)


class Tracer(Protocol):
    """A tracing backend: run the image with the options and probes, return what it saw."""

    name: str

    def trace(self, options: RunOptions) -> Trace: ...

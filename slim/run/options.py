"""How to run an image, traced or not: the options of one run, and the argv they give."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable

from slim.errors import TraceError
from slim.harden.profile import RunProfile
from slim.model import RunConfig
from slim.run.probes import ContinueAfter, ProbePlan


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
    # With --continue-after signal: blocks until the user says stop. The command line supplies it (it owns the
    # terminal); library code never prompts.
    wait_for_user: Callable[[], None] | None = field(default=None, compare=False)
    profile: RunProfile | None = None  # least privilege to run under (None: the engine's defaults)


def command_of(config: RunConfig, options: RunOptions) -> list[str]:
    """The full argv the container runs: Entrypoint + Cmd, with overrides applied as `docker run` does."""
    entrypoint = list(options.entrypoint) if options.entrypoint is not None else list(config.entrypoint)
    if options.cmd is not None:
        cmd = list(options.cmd)
    elif options.entrypoint is not None:
        cmd = []
    else:
        cmd = list(config.cmd)
    argv = entrypoint + cmd
    if not argv:
        raise TraceError(f"{options.image} has neither Entrypoint nor Cmd: say what to run with --cmd")
    return argv


def http_ports(options: RunOptions, config: RunConfig) -> list[int]:
    """The ports HTTP probes go to: --http-probe-port, else the exposed ones; none when HTTP probing is off."""
    ports = list(options.probes.http_ports) or config.tcp_ports
    return ports if options.probes.wants_http(ports) else []


def target_ports(options: RunOptions, config: RunConfig) -> list[int]:
    """The ports host commands are told about and wait for: --probe-port, else the HTTP probe ports given,
    else the exposed ones; whether HTTP probing is on does not matter (a Redis probe speaks no HTTP)."""
    if not options.probes.host_cmds:
        return []
    return list(options.probes.probe_ports or options.probes.http_ports) or config.tcp_ports


def reached_ports(options: RunOptions, config: RunConfig) -> list[int]:
    """Every container port a probe goes to (a remote engine publishes each one)."""
    return sorted(set(http_ports(options, config)) | set(target_ports(options, config)))


def has_probes(options: RunOptions, ports: list[int]) -> bool:
    """Whether the run has anything to probe (HTTP ports, --exec, --probe-cmd): a run with probes ends once they are
    done, one without waits for the app to exit, as a batch job."""
    return bool(ports or options.probes.execs or options.probes.host_cmds)


def effective_mode(options: RunOptions, config: RunConfig) -> ContinueAfter:
    """--continue-after as given, else "probe" when there is something to probe, else "exit" (a batch job)."""
    probing = has_probes(options, http_ports(options, config))
    return options.continue_after or ContinueAfter("probe" if probing else "exit")

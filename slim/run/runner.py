"""Run one container with probes, from create to remove. Tracing backends plug in through `Hooks`.

The container, and everything a hook creates, is removed in every case: normal end, app crash, probe failure,
engine error, Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shlex
import time
from dataclasses import dataclass, field
from typing import Protocol

from slim.engine import ContainerSpec, Containers, Engine, Facts, Images, Mount
from slim.errors import EngineError, ImageFormatError, TraceError, UsageError
from slim.harden.profile import RunProfile
from slim.harden.seccomp import profile_json
from slim.model import ProbeResult, RunConfig, RunOutcome, SlimWarning
from slim.run.options import (RunOptions, command_of, effective_mode, has_probes, http_ports, reached_ports,
                              target_ports)
from slim.run.probes import ContinueAfter, host_probe, http_probes, wait_for_port, wait_until_ready


class _Reached(Containers, Facts, Protocol):
    """What probing a container needs: its verbs, and whether its ports are reached through published ones."""


class Hooks:
    """What a tracer adds to a plain run. The defaults run the image as it is (under the engine's init)."""

    use_engine_init = True

    def prepare(self, engine: Engine, image: str) -> None:
        """Make what the run will mount (volumes, files in them) before the container is created."""

    def mounts(self) -> list[Mount]:
        """What the container mounts besides the run options' own (the tracer's bundle and output)."""
        return []

    def cap_add(self) -> list[str]:
        """Capabilities the tracer needs on top of the run options' (ptrace)."""
        return []

    def entrypoint(self, argv: list[str]) -> list[str]:
        """The argv the container starts with, given the image's own: a tracer wraps it."""
        return argv

    def exec_argv(self, argv: list[str], n: int) -> list[str]:
        """The argv of the `n`-th --exec probe, given the probe's own, so the tracer sees it too."""
        return argv

    def collect(self, engine: Engine, container: str) -> None:
        """Take what the tracer recorded out of the stopped container, before it is removed."""

    def cleanup(self, engine: Engine) -> None:
        """Remove what `prepare` made for this run only; called in every case, after the container is gone."""


@dataclass
class RunResult:
    """What one run gave: how it ended, its output, the probes' answers and timings. Verification compares two of
    them; the tracer builds its Trace from one."""

    config: RunConfig
    argv: list[str]
    mode: str  # how the run was ended: exit, probe, timeout or signal
    workdir: str = "/"  # where the command started
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    probes: list[ProbeResult] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[SlimWarning] = field(default_factory=list)
    stopped: bool = False  # the app was still running at the end: slim stopped it (it did not exit by itself)

    @property
    def outcome(self) -> RunOutcome:
        """The parts of the run that verification compares, as one value the report can hold."""
        return RunOutcome(self.mode, self.exit_code, self.stdout, tuple(self.probes), self.stopped)


def image_run_config(engine: Images, image: str) -> RunConfig:
    """How the engine's copy of `image` runs (entrypoint, user, ports...), with a config that does not parse reported
    as an image format error."""
    try:
        return RunConfig.from_document(engine.image(image).config)
    except ValueError as exc:
        raise ImageFormatError(f"{image}: {exc}") from exc


def run(engine: Engine, options: RunOptions, hooks: Hooks | None = None) -> RunResult:
    """Create, start, probe and stop one container of `options.image`, with a tracer's `hooks` if given, and remove
    it (and what the hooks made) whatever happens."""
    hooks = hooks or Hooks()
    config = image_run_config(engine, options.image)
    ports = http_ports(options, config)
    mode = effective_mode(options, config)
    if options.probes.ready_path and not (ports or target_ports(options, config)):
        raise UsageError(f"--ready-path {options.probes.ready_path}: no port to ask (the image exposes none; "
                         "give --http-probe-port or --probe-port)")
    result = RunResult(config, command_of(config, options), mode.mode, options.workdir or config.workdir or "/")
    container = None
    started = time.monotonic()
    try:
        hooks.prepare(engine, options.image)
        container = engine.create(container_spec(options, config, engine.remote, engine.publishes, hooks))
        engine.start(container)
        result.seconds["start"] = time.monotonic() - started
        if has_probes(options, ports):
            result.probes = _probe(engine, container, options, hooks, ports, result, started,
                                   target_ports(options, config))
        result.exit_code = _finish(engine, container, options, mode, result)
        stdout, stderr = engine.logs(container)
        result.stdout, result.stderr = stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")
        hooks.collect(engine, container)
    finally:
        if container is not None:
            engine.remove_container(container)
        hooks.cleanup(engine)
    result.seconds["total"] = time.monotonic() - started
    return result


def container_spec(options: RunOptions, config: RunConfig, remote: bool, publishes: bool, hooks: Hooks | None = None,
                   seccomp_file: str | None = None) -> ContainerSpec:
    """The container `run` creates for `options` in an image run as `config`. The run line slim prints comes
    from here too, with `seccomp_file` named where the run passes the same JSON inline: one source, no drift.
    `publishes`: the engine's containers are reached through published ports (every port a probe goes to)."""
    publish = reached_ports(options, config) if publishes else []
    return _spec(options, hooks or Hooks(), command_of(config, options), remote, publish, seccomp_file)


def _spec(options: RunOptions, hooks: Hooks, argv: list[str], remote: bool = False,
          publish: tuple[int, ...] | list[int] = (), seccomp_file: str | None = None) -> ContainerSpec:
    """`publish`: the ports to publish, for an engine whose containers' addresses this host cannot reach."""
    mounts = list(hooks.mounts())
    for text in options.mounts:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[1].startswith("/"):
            raise TraceError(f"--mount {text!r}: expected SOURCE:TARGET[:ro]")
        if remote and parts[0].startswith("/"):
            raise UsageError(f"--mount {text!r}: the engine is remote and cannot see this host's paths; "
                             "mount a named volume instead")
        mounts.append(Mount(parts[0], parts[1], len(parts) == 3 and parts[2] == "ro"))
    spec = ContainerSpec(
        image=options.image, entrypoint=tuple(hooks.entrypoint(argv)), env=tuple(options.env),
        user=options.user or None, workdir=options.workdir or None, mounts=tuple(mounts),
        cap_add=tuple(hooks.cap_add()), init=hooks.use_engine_init,
        publish=tuple(publish))
    return _restricted(spec, options.profile, seccomp_file) if options.profile is not None else spec


def _restricted(spec: ContainerSpec, profile: RunProfile, seccomp_file: str | None = None) -> ContainerSpec:
    """The container under a run profile: what `docker run` with the profile's arguments asks for. The seccomp
    profile goes inline (the engine may not see this host's files), or as the file it was written to."""
    security = (["no-new-privileges"] if profile.no_new_privileges else []) + (
        ["seccomp=" + (seccomp_file or profile_json(profile.syscalls))] if profile.syscalls is not None else [])
    return dataclasses.replace(
        spec, user=profile.user or spec.user, read_only=profile.read_only,
        tmpfs=tuple((t.path, t.options) for t in profile.tmpfs), cap_drop=("ALL",),
        cap_add=tuple(sorted(set(spec.cap_add) | set(profile.cap_add))), security_opt=tuple(security))


def _probe(engine: _Reached, container: str, options: RunOptions, hooks: Hooks, ports: list[int],
           result: RunResult, started: float, targets: list[int]) -> list[ProbeResult]:
    plan = options.probes
    host = engine.address(container)
    published = engine.published(container) if engine.publishes else {}
    unready = wait_until_ready(plan, host, ports or targets, lambda: engine.running(container), published)
    if unready is not None:
        return [unready]  # answers of an app that is not ready compare nothing
    probes = http_probes(plan, host, ports, lambda: engine.running(container), published)
    if probes:
        # when the first answer came, counted from the start of the run (container creation included)
        result.seconds["first_probe"] = time.monotonic() - started - sum(p.seconds for p in probes[1:])
    for n, command in enumerate(plan.execs):
        probes.append(_exec_probe(engine, container, command, hooks, n, command in plan.varying))
    if plan.host_cmds:
        reach = [published.get(port, port) for port in targets]
        # like HTTP probes: a host command talks to the app, so the app must be listening first
        closed = next(((port, why) for port in reach if (why := wait_for_port(
            host, port, time.monotonic() + plan.port_wait, lambda: engine.running(container))) is not None), None)
        for command in plan.host_cmds:
            if closed is not None:
                probes.append(ProbeResult("host", command, False, detail=f"port {closed[0]}: {closed[1]}",
                                          varies=command in plan.varying))
            else:
                probes.append(host_probe(command, host, reach, plan.command_timeout, command in plan.varying))
    return probes


def _exec_probe(engine: Containers, container: str, command: str, hooks: Hooks, n: int, varies: bool) -> ProbeResult:
    start = time.monotonic()
    if not engine.running(container):
        return ProbeResult("exec", command, False, detail="the container is not running", varies=varies)
    try:
        done = engine.exec(container, hooks.exec_argv(shlex.split(command), n))
    except EngineError as exc:
        return ProbeResult("exec", command, False, detail=str(exc), seconds=time.monotonic() - start, varies=varies)
    text = done.output.decode("utf-8", "replace")
    return ProbeResult("exec", command, True, done.exit_code, hashlib.sha256(done.stdout).hexdigest(),
                       len(done.stdout), text[-200:], time.monotonic() - start, varies=varies)


def _finish(engine: Containers, container: str, options: RunOptions, mode: ContinueAfter,
            result: RunResult) -> int | None:
    if mode.mode == "exit":
        code = engine.wait(container, options.exit_timeout)
        if code is not None:
            return code
        result.warnings.append(SlimWarning(
            "run.exit-timeout", f"the app did not exit within {options.exit_timeout:.0f}s; stopped it"))
    elif mode.mode == "timeout":
        deadline = time.monotonic() + mode.seconds
        while time.monotonic() < deadline and engine.running(container):
            time.sleep(0.2)
    elif mode.mode == "signal":
        if options.wait_for_user is None:
            raise TraceError("--continue-after signal needs someone to say when to stop (a terminal)")
        try:
            options.wait_for_user()
        except KeyboardInterrupt:
            pass
    if engine.running(container):
        result.stopped = True
        engine.stop(container, options.stop_timeout)  # the image's StopSignal, then SIGKILL
    code = engine.wait(container, options.stop_timeout + 30)
    if code is None:
        result.warnings.append(SlimWarning("run.unstoppable", "the app did not stop, even after SIGKILL"))
    return code

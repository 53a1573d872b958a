"""Run one container with probes, from create to remove. Tracing backends plug in through `Hooks`.

The container, and everything a hook creates, is removed in every case: normal end, app crash, probe failure,
Docker error, Ctrl-C.
"""

from __future__ import annotations

import shlex
import sys
import time
import uuid
from dataclasses import dataclass, field

import docker
import docker.errors
import requests.exceptions

from slim.errors import EngineError, ImageNotFound, TraceError
from slim.model import ProbeResult
from slim.probes import ContinueAfter, host_probe, http_probes
from tracers.base import RunOptions, command_of, exposed_tcp_ports


class Hooks:
    """What a tracer adds to a plain run. The defaults run the image as it is (under Docker's init)."""

    use_docker_init = True

    def prepare(self, client, image: str) -> None: ...
    def volumes(self) -> dict: return {}
    def cap_add(self) -> list[str]: return []
    def entrypoint(self, argv: list[str]) -> list[str]: return argv
    def exec_argv(self, argv: list[str], n: int) -> list[str]: return argv
    def collect(self, container) -> None: ...
    def cleanup(self, client) -> None: ...


@dataclass
class RunResult:
    argv: list[str]
    workdir: str = "/"  # where the command started
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    probes: list[ProbeResult] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _http_ports(options: RunOptions, config: dict) -> list[int]:
    """The ports HTTP probes go to: --http-probe-port, else the exposed ones; none when HTTP probing is off."""
    ports = list(options.probes.http_ports) or exposed_tcp_ports(config)
    return ports if options.probes.wants_http(ports) else []


def _has_probes(options: RunOptions, http_ports: list[int]) -> bool:
    return bool(http_ports or options.probes.execs or options.probes.host_cmds)


def effective_mode(options: RunOptions, config: dict) -> ContinueAfter:
    """--continue-after as given, else "probe" when there is something to probe, else "exit" (a batch job)."""
    probing = _has_probes(options, _http_ports(options, config))
    return options.continue_after or ContinueAfter("probe" if probing else "exit")


def run(client, options: RunOptions, hooks: Hooks | None = None) -> RunResult:
    hooks = hooks or Hooks()
    config = _image_config(client, options.image)
    argv = command_of(config, options)
    ports = _http_ports(options, config)
    mode = effective_mode(options, config)
    result = RunResult(argv, options.workdir or config.get("WorkingDir") or "/")
    container = None
    started = time.monotonic()
    try:
        hooks.prepare(client, options.image)
        container = _create(client, options, hooks, argv)
        container.start()
        result.seconds["start"] = time.monotonic() - started
        if _has_probes(options, ports):
            result.probes = _probe(container, options, hooks, ports, result, started)
        result.exit_code = _finish(container, options, mode, result)
        result.stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        result.stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
        hooks.collect(container)
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise EngineError(f"running {options.image}: {getattr(exc, 'explanation', None) or exc}") from exc
    finally:
        if container is not None:
            try:
                container.remove(force=True, v=True)
            except docker.errors.APIError:
                pass
        hooks.cleanup(client)
    result.seconds["total"] = time.monotonic() - started
    return result


def _image_config(client, image: str) -> dict:
    try:
        return client.api.inspect_image(image).get("Config") or {}
    except docker.errors.ImageNotFound as exc:
        raise ImageNotFound(f"{image}: no such image in the Docker engine") from exc


def _create(client, options: RunOptions, hooks: Hooks, argv: list[str]):
    volumes = dict(hooks.volumes())
    for spec in options.mounts:
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[1].startswith("/"):
            raise TraceError(f"--mount {spec!r}: expected SOURCE:TARGET[:ro]")
        volumes[parts[0]] = {"bind": parts[1], "mode": parts[2] if len(parts) == 3 else "rw"}
    return client.containers.create(
        options.image,
        entrypoint=hooks.entrypoint(argv),
        command=[],
        environment=list(options.env),
        user=options.user or None,
        working_dir=options.workdir or None,
        volumes=volumes,
        cap_add=hooks.cap_add() or None,
        init=hooks.use_docker_init,
        labels={"slim.run": uuid.uuid4().hex[:12]},
        detach=True,
    )


def _alive(container) -> bool:
    try:
        container.reload()
        return container.status in ("created", "running")
    except docker.errors.NotFound:
        return False


def _probe(container, options: RunOptions, hooks: Hooks, ports: list[int], result: RunResult,
           started: float) -> list[ProbeResult]:
    plan = options.probes
    container.reload()
    host = container.attrs.get("NetworkSettings", {}).get("IPAddress") or "127.0.0.1"
    probes = http_probes(plan, host, ports, lambda: _alive(container))
    if probes:
        # when the first answer came, counted from the start of the run (container creation included)
        result.seconds["first_probe"] = time.monotonic() - started - sum(p.seconds for p in probes[1:])
    for n, command in enumerate(plan.execs):
        probes.append(_exec_probe(container, command, hooks, n))
    for command in plan.host_cmds:
        probes.append(host_probe(command, host, ports[0] if ports else None, plan.command_timeout))
    return probes


def _exec_probe(container, command: str, hooks: Hooks, n: int) -> ProbeResult:
    start = time.monotonic()
    if not _alive(container):
        return ProbeResult("exec", command, False, detail="the container is not running")
    try:
        code, output = container.exec_run(hooks.exec_argv(shlex.split(command), n), demux=False)
    except docker.errors.APIError as exc:
        return ProbeResult("exec", command, False, detail=str(exc.explanation or exc), seconds=time.monotonic() - start)
    text = (output or b"").decode("utf-8", "replace")
    return ProbeResult("exec", command, True, code, detail=text[-200:], seconds=time.monotonic() - start)


def _finish(container, options: RunOptions, mode: ContinueAfter, result: RunResult) -> int | None:
    if mode.mode == "exit":
        code = _wait(container, options.exit_timeout)
        if code is not None:
            return code
        result.warnings.append(f"the app did not exit within {options.exit_timeout:.0f}s; stopped it")
    elif mode.mode == "timeout":
        deadline = time.monotonic() + mode.seconds
        while time.monotonic() < deadline and _alive(container):
            time.sleep(0.2)
    elif mode.mode == "signal":
        try:
            print("slim: the app is running; press Enter or Ctrl-C to stop it", file=sys.stderr)
            sys.stdin.readline()
        except KeyboardInterrupt:
            pass
    if _alive(container):
        container.stop(timeout=options.stop_timeout)  # the image's StopSignal, then SIGKILL
    code = _wait(container, options.stop_timeout + 30)
    if code is None:
        result.warnings.append("the app did not stop, even after SIGKILL")
    return code


def _wait(container, timeout: float) -> int | None:
    """The container's exit code, or None when it is still running after `timeout` seconds."""
    try:
        return container.wait(timeout=timeout).get("StatusCode")
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        return None

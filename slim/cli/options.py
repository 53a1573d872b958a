"""The command-line options shared by every command that runs an image (trace, build), and their parsing."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable

import click

from slim.errors import UsageError
from slim.run.probes import ProbePlan, parse_continue_after
from slim.run.options import RunOptions

_OPTIONS = [
    click.option("--http-probe/--no-http-probe", "http_probe", default=None,
                 help="GET / and each --http-probe-path on each exposed TCP port. Default: on when ports are exposed."),
    click.option("--http-probe-path", "http_paths", multiple=True, metavar="PATH", help="Also GET PATH (repeatable)."),
    click.option("--http-probe-port", "http_ports", multiple=True, type=click.IntRange(1, 65535), metavar="PORT",
                 help="Probe PORT instead of the exposed ports (repeatable)."),
    click.option("--http-probe-crawl", "crawl", is_flag=True,
                 help="Follow same-origin links from HTML pages (depth 2, at most 20 pages)."),
    click.option("--exec", "execs", multiple=True, metavar="CMD",
                 help="Run CMD inside the container once it is up (repeatable; split like a shell, run without one). "
                      "Its exit code and stdout must be the same on the slim image."),
    click.option("--probe-cmd", "host_cmds", multiple=True, metavar="CMD",
                 help="Run CMD on this host through /bin/sh once the target port accepts connections, with "
                      "SLIM_TARGET_HOST, SLIM_TARGET_PORT (the first port) and SLIM_TARGET_PORTS set (repeatable). "
                      "Its exit code and stdout must be the same on the slim image."),
    click.option("--probe-port", "probe_ports", multiple=True, type=click.IntRange(1, 65535), metavar="PORT",
                 help="The port --probe-cmd commands are told about and wait for (repeatable). Default: the "
                      "--http-probe-port ports, else the exposed ones, whether or not HTTP probing is on."),
    click.option("--varying-probe", "varying", multiple=True, metavar="CMD",
                 help="An --exec or --probe-cmd (the same text) whose output changes from run to run (times, "
                      "random IDs): only its exit code is compared (repeatable)."),
    click.option("--continue-after", "continue_after", metavar="exit|probe|timeout:SECONDS|signal",
                 help="When to stop the app: when it exits (batch jobs), after the probes (servers), after a time, "
                      "or on Enter/Ctrl-C. Default: probe when there is something to probe, else exit."),
    click.option("--port-wait", type=float, default=60.0, show_default=True,
                 help="Longest wait for a port to open, and for --ready-path to answer (s)."),
    click.option("--ready-path", metavar="PATH",
                 help="Before any probe, GET PATH on each probed port until it answers a status below 400: for "
                      "servers that open their port before they are ready (Tomcat deploying its apps). A server "
                      "that is not ready within --port-wait fails the run."),
    click.option("--exit-timeout", type=float, default=600.0, show_default=True,
                 help="Longest wait for an app to exit by itself (s)."),
    click.option("--env", "env", multiple=True, metavar="K=V",
                 help="Set an environment variable (repeatable). Like --user, --workdir, --entrypoint, --cmd and "
                      "--mount: used in every run (traced, verified, hardened) and in the printed run line, not "
                      "baked into the result."),
    click.option("--user", help="Run as this user (like docker run --user)."),
    click.option("--workdir", help="Run in this directory."),
    click.option("--entrypoint", help="Override the entrypoint (split like a shell); drops the image's Cmd."),
    click.option("--cmd", help="Override the command (split like a shell)."),
    click.option("--mount", "mounts", multiple=True, metavar="SRC:DST[:ro]",
                 help="Mount a host path or volume (repeatable). Not baked into the result."),
]


def run_options(fn: Callable) -> Callable:
    """Add the options of every command that runs an image (probes, run settings, how the run ends) to `fn`."""
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def _check_shapes(kw: dict) -> None:
    """Malformed values are usage errors (exit 2), found before anything runs."""
    for item in kw.get("env") or ():
        if "=" not in item or item.startswith("="):
            raise UsageError(f"--env {item!r}: expected NAME=VALUE")
    for spec in kw.get("mounts") or ():
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/") or (
                len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise UsageError(f"--mount {spec!r}: expected SOURCE:TARGET[:ro] with an absolute TARGET")
    probes = set(kw.get("execs") or ()) | set(kw.get("host_cmds") or ())
    for command in kw.get("varying") or ():
        if command not in probes:
            raise UsageError(f"--varying-probe {command!r}: no --exec or --probe-cmd is exactly that command")


def build_run_options(image: str, kw: dict) -> RunOptions:
    """RunOptions from the parsed click options; consumes the keys it knows."""
    _check_shapes(kw)
    plan = ProbePlan(http=kw.pop("http_probe"), http_paths=tuple(kw.pop("http_paths")),
                     http_ports=tuple(kw.pop("http_ports")), crawl=kw.pop("crawl"), execs=tuple(kw.pop("execs")),
                     host_cmds=tuple(kw.pop("host_cmds")), port_wait=kw.pop("port_wait"),
                     ready_path=_ready_path(kw.pop("ready_path")),
                     probe_ports=tuple(kw.pop("probe_ports")), varying=tuple(kw.pop("varying")))
    continue_after = kw.pop("continue_after")
    entrypoint, cmd = kw.pop("entrypoint"), kw.pop("cmd")
    return RunOptions(
        image=image,
        entrypoint=tuple(shlex.split(entrypoint)) if entrypoint is not None else None,
        cmd=tuple(shlex.split(cmd)) if cmd is not None else None,
        env=tuple(kw.pop("env")),
        user=kw.pop("user"),
        workdir=kw.pop("workdir"),
        mounts=tuple(kw.pop("mounts")),
        probes=plan,
        continue_after=parse_continue_after(continue_after) if continue_after else None,
        exit_timeout=kw.pop("exit_timeout"),
        wait_for_user=_wait_for_enter,
    )


def _ready_path(path: str | None) -> str | None:
    if path is not None and (not path.startswith("/") or any(c.isspace() or not c.isprintable() for c in path)):
        raise UsageError(f"--ready-path {path!r}: expected a URL path that starts with / (no spaces or control "
                         "characters)")
    return path


def _wait_for_enter() -> None:
    """--continue-after signal: the app runs until the user presses Enter or Ctrl-C."""
    click.echo("slim: the app is running; press Enter or Ctrl-C to stop it", err=True)
    sys.stdin.readline()

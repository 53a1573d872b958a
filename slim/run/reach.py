"""Whether slim's probes reach a container on this engine, shown by doing it: a listener started in a base image
the engine already holds, asked by the same runner and HTTP probe as every build (the container's own address,
or the port the engine published for it), and removed again whatever happens."""

from __future__ import annotations

from collections.abc import Callable

from slim.engine import Engine
from slim.errors import SlimError
from slim.progress import Phases
from slim.run.options import RunOptions
from slim.run.probes import ProbePlan
from slim.run.runner import run

PORT = 8080
ANSWER = "slim doctor\n"
_REPLY = r"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nslim doctor\n"


def _busybox(port: int) -> tuple[str, ...]:
    # read the request up to its blank line first: closing on an unread request resets the connection
    return ("nc", "-lk", "-p", str(port), "-e", "sh", "-c",
            f'while read -r line && [ -n "${{line%?}}" ]; do :; done; printf "{_REPLY}"')


def _perl(port: int) -> tuple[str, ...]:
    # a port check connects and hangs up unasked: writing to it must not kill the listener (SIGPIPE)
    return ("perl", "-MIO::Socket::INET", "-e",
            f'$SIG{{PIPE}}="IGNORE"; my $s=IO::Socket::INET->new(LocalPort=>{port},Listen=>8,ReuseAddr=>1) '
            f'or die "listen: $!"; while (my $c=$s->accept) {{ while (<$c>) {{ last if /^\\r?$/ }} '
            f'print $c "{_REPLY}"; close $c }}')


# the base images scripts/setup builds (slim doctor pulls nothing), each with a listener its own tools can run
LISTENERS: tuple[tuple[str, Callable[[int], tuple[str, ...]]], ...] = (
    ("slim-base/alpine:3.20", _busybox),
    ("slim-base/debian:bookworm", _perl),
)


def probe_reach(engine: Engine, phases: Phases, port: int = PORT) -> dict:
    """{"works", "image", "detail"}: whether an HTTP probe got the listener's answer from a container of the first
    base image of LISTENERS the engine holds, and what it got (or why there was nothing to ask)."""
    image = next((name for name, _ in LISTENERS if engine.find_image(name) is not None), None)
    if image is None:
        names = ", ".join(name for name, _ in LISTENERS)
        return {"works": False, "image": None, "detail": f"not checked: the engine holds none of {names} "
                "(scripts/setup builds them; slim doctor pulls nothing)"}
    plan = ProbePlan(http=True, http_ports=(port,), port_wait=30.0, request_timeout=10.0)
    options = RunOptions(image=image, entrypoint=dict(LISTENERS)[image](port), probes=plan, stop_timeout=1)
    try:
        with phases.phase("probes", f"probing a listener in a container of {image}"):
            probes = run(engine, options).probes  # the runner removes the container, also when this fails
    except SlimError as exc:
        return {"works": False, "image": image, "detail": str(exc)}
    if not probes:
        return {"works": False, "image": image, "detail": "no probe ran"}
    probe = probes[0]
    how = f"port {port} published at {probe.target}" if probe.port is not None else probe.target
    if not probe.ok:
        return {"works": False, "image": image, "detail": f"GET {how}: no answer ({probe.detail})"}
    works = probe.status == 200 and probe.detail == ANSWER
    said = f"status {probe.status}, body {probe.detail!r}"
    return {"works": works, "image": image,
            "detail": f"GET {how}: {said}" + ("" if works else f" (the listener says status 200, body {ANSWER!r})")}

"""Probes that exercise a running container: HTTP requests, commands inside it, commands on the host.

The container-facing parts are given as plain values (host, ports) and one callable (run a command inside),
so the same probes run against the traced original and the untraced slim image.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from slim.errors import UsageError
from slim.model import ProbeResult

MAX_BODY = 16 << 20


@dataclass(frozen=True)
class ProbePlan:
    """What to probe and how long to wait, from the command line: the same plan runs against the traced original and
    the slim image so their answers can be compared."""

    http: bool | None = None  # None: on when the image exposes TCP ports or paths/ports were given
    http_paths: tuple[str, ...] = ()  # besides "/"
    http_ports: tuple[int, ...] = ()  # instead of the exposed ports
    crawl: bool = False
    crawl_max_pages: int = 20
    crawl_max_depth: int = 2
    execs: tuple[str, ...] = ()  # run inside the container (argv split like a shell, no shell)
    host_cmds: tuple[str, ...] = ()  # run on this host through /bin/sh
    probe_ports: tuple[int, ...] = ()  # the ports host commands are told about (default: the exposed ones)
    varying: tuple[str, ...] = ()  # exec/host commands whose output may differ between runs: exit codes only
    port_wait: float = 60.0  # longest wait for a port to accept connections (and for --ready-path to answer)
    ready_path: str | None = None  # GET until it answers below 400 before any probe: apps that open the port early
    request_timeout: float = 15.0
    command_timeout: float = 120.0

    def wants_http(self, exposed: list[int]) -> bool:
        """Whether HTTP probes run: as asked, else when there is something to probe (exposed ports, or HTTP options)."""
        if self.http is not None:
            return self.http
        return bool(exposed or self.http_ports or self.http_paths or self.crawl)


@dataclass(frozen=True)
class ContinueAfter:
    """When a run is over: the app exits by itself, the probes are done, a timeout passes, or the user signals."""

    mode: str  # "exit", "probe", "timeout", "signal"
    seconds: float = 0.0


def parse_continue_after(text: str) -> ContinueAfter:
    """`--continue-after` as given (exit, probe, timeout:SECONDS, signal); a usage error otherwise."""
    if text in ("exit", "probe", "signal"):
        return ContinueAfter(text)
    if text.startswith("timeout:"):
        try:
            seconds = float(text.split(":", 1)[1])
        except ValueError:
            seconds = -1
        if seconds > 0:
            return ContinueAfter("timeout", seconds)
    raise UsageError(f"--continue-after {text!r}: expected exit, probe, timeout:SECONDS or signal")


def wait_for_port(host: str, port: int, deadline: float, alive: Callable[[], bool]) -> str | None:
    """None once `port` accepts a connection; else why not (timed out, or the container stopped)."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return None
        except OSError:
            pass
        if not alive():
            return "the container exited before the port opened"
        time.sleep(0.1)
    return "timed out waiting for the port"


def wait_until_ready(plan: ProbePlan, host: str, ports: list[int], alive: Callable[[], bool],
                     published: dict[int, int] | None = None) -> ProbeResult | None:
    """None once `plan.ready_path` answers a status below 400 on every port (within --port-wait); else a failed
    probe saying what it answered last. Servers such as Tomcat accept connections before they deploy their
    apps: a probe sent then would compare a 404 of a half-started server."""
    if plan.ready_path is None:
        return None
    deadline = time.monotonic() + plan.port_wait  # one wait for the whole server, as --port-wait's help says
    for port in ports:
        reach = (published or {}).get(port, port)
        reason = wait_for_port(host, reach, deadline, alive)
        result = None
        while reason is None:
            result, _, _ = http_get(host, reach, plan.ready_path, plan.request_timeout)
            if result.ok and result.status is not None and result.status < 400:
                break
            if not alive():
                reason = "the container exited before it was ready"
            elif time.monotonic() >= deadline:
                said = f"answered {result.status}" if result.ok else f"got no answer ({result.detail})"
                reason = f"not ready: GET {plan.ready_path} {said} until --port-wait ({plan.port_wait:g} s) ran out"
            else:
                time.sleep(0.5)
        if reason is not None:
            url = f"http://{host}:{reach}{plan.ready_path}"
            return ProbeResult("http", url, False, result.status if result else None, detail=reason,
                               port=port if reach != port else None)
    return None


def http_get(host: str, port: int, path: str, timeout: float) -> tuple[ProbeResult, bytes, str]:
    """GET path; the result, the body and its content type."""
    url = f"http://{host}:{port}{path}"
    start = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "slim-probe", "Connection": "close"})
        resp = conn.getresponse()
        body = resp.read(MAX_BODY)
        ctype = resp.getheader("Content-Type", "") or ""
        static = bool(resp.getheader("ETag") or resp.getheader("Last-Modified"))
        result = ProbeResult("http", url, True, resp.status, hashlib.sha256(body).hexdigest(), len(body),
                             body[:120].decode("utf-8", "replace"), time.monotonic() - start, static)
        return result, body, ctype
    except (OSError, http.client.HTTPException) as exc:
        return ProbeResult("http", url, False, None, detail=f"{type(exc).__name__}: {exc}",
                           seconds=time.monotonic() - start), b"", ""
    finally:
        conn.close()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def same_origin_links(base_url: str, html: str) -> list[str]:
    """Paths of the links in an HTML page that stay on the same host and port, fragments dropped."""
    parser = _Links()
    try:
        parser.feed(html)
    except Exception:  # a broken page still yields the links found before the break
        pass
    origin = urlsplit(base_url)
    out = []
    for link in parser.links:
        target = urlsplit(urljoin(base_url, link))
        if target.scheme == "http" and target.netloc == origin.netloc:
            path = target.path or "/"
            out.append(path + (f"?{target.query}" if target.query else ""))
    return out


def http_probes(plan: ProbePlan, host: str, ports: list[int], alive: Callable[[], bool],
                published: dict[int, int] | None = None) -> list[ProbeResult]:
    """GET each path on each port. `published` maps a container port to the engine host's port for it (a
    remote engine): probes go there, and record the container port so runs compare."""
    results: list[ProbeResult] = []
    for port in ports:
        reach = (published or {}).get(port, port)
        mark = port if reach != port else None
        reason = wait_for_port(host, reach, time.monotonic() + plan.port_wait, alive)
        if reason is not None:
            results.append(ProbeResult("http", f"http://{host}:{reach}/", False, detail=reason, port=mark))
            continue
        queue = [(p, 0) for p in dict.fromkeys(("/",) + plan.http_paths)]
        seen = {p for p, _ in queue}
        deadline = time.monotonic() + plan.port_wait
        while queue:
            path, depth = queue.pop(0)
            result, body, ctype = http_get(host, reach, path, plan.request_timeout)
            # A port can accept before the app answers (a reset, an empty reply): retry within the same wait.
            # Not after a timeout: an app that held the request for the whole timeout gets no second one.
            while not result.ok and not _timed_out(result) and time.monotonic() < deadline and alive():
                time.sleep(0.2)
                result, body, ctype = http_get(host, reach, path, plan.request_timeout)
            results.append(dataclasses.replace(result, port=mark))
            if plan.crawl and depth < plan.crawl_max_depth and "html" in ctype and len(seen) < plan.crawl_max_pages:
                for link in same_origin_links(result.target, body.decode("utf-8", "replace")):
                    if link not in seen and len(seen) < plan.crawl_max_pages:
                        seen.add(link)
                        queue.append((link, depth + 1))
    return results


def _timed_out(result: ProbeResult) -> bool:
    return result.detail.startswith(("TimeoutError", "timeout"))  # socket.timeout is TimeoutError since 3.10


def host_probe(command: str, host: str, ports: list[int], timeout: float, varies: bool = False) -> ProbeResult:
    """Run `command` through /bin/sh on this host, told where the container is: SLIM_TARGET_PORT is the first
    port (empty when the image has none), SLIM_TARGET_PORTS all of them, space-separated."""
    env = dict(os.environ, SLIM_TARGET_HOST=host, SLIM_TARGET_PORT=str(ports[0]) if ports else "",
               SLIM_TARGET_PORTS=" ".join(map(str, ports)))
    start = time.monotonic()
    try:
        proc = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, timeout=timeout)
        out = (proc.stdout + proc.stderr)[-200:].decode("utf-8", "replace")
        return ProbeResult("host", command, True, proc.returncode, hashlib.sha256(proc.stdout).hexdigest(),
                           len(proc.stdout), out, time.monotonic() - start, varies=varies)
    except subprocess.TimeoutExpired:
        return ProbeResult("host", command, False, detail=f"timed out after {timeout:.0f}s",
                           seconds=time.monotonic() - start, varies=varies)

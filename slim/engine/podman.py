"""Podman, rootful or rootless, through its Docker-compatible API (`podman system service`): the Docker adapter
with what differs handled here, so nothing else in slim knows which engine it talks to.

What differs, as measured with Debian's podman 4.3:
- rlimits: Podman asks the runtime for nofile/nproc limits above what a process without CAP_SYS_RESOURCE may
  set ("error setting rlimit type 7: operation not permitted"), so every container slim creates gets limits
  within this process's own hard limits (nproc at most 4096: more failed here although the hard limit was
  higher), and the report says so;
- names: images in Podman's store are named localhost/NAME:TAG; slim's own tags are found under both names;
- rootless: containers have no address this host can reach (slirp4netns/pasta), so ports are published on
  127.0.0.1, as for a remote engine;
- the init: Podman's --init is catatonit, which needs signalfd4 under a seccomp profile (slim.harden.runtime);
- seccomp: the compatible API takes `seccomp=` as a file to open, not the profile itself, so the profile is
  written to a file (world-readable: a rootless service runs as another user; it holds no secret) for the
  moment the container is created, then removed;
- copies into a container: once in a full test run, copying a 10 kB archive into a never-started container
  failed with "passing bulk input to subprocess: write |1: broken pipe" (Podman's copier process ended before
  it had read its input) and the same copy worked right after; slim's copies are idempotent (the same files
  again), so a failed one is tried once more.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import tempfile
import time

import docker
import docker.types

from slim.engine.docker import DockerEngine, remote_host
from slim.errors import EngineError

NPROC_CAP = 4096
LOCAL_PREFIX = "localhost/"


def rlimits() -> dict[str, int]:
    """The nofile and nproc limits containers get: this process's hard limits, nproc capped."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    unlimited = resource.RLIM_INFINITY
    return {"nofile": 1048576 if nofile == unlimited else min(nofile, 1048576),
            "nproc": NPROC_CAP if nproc == unlimited else min(nproc, NPROC_CAP)}


class PodmanEngine(DockerEngine):
    """The Docker adapter for Podman's compatible API, with the differences the module docstring lists: rlimits
    within this process's limits, published ports for rootless containers, seccomp profiles as files, short tags."""

    name = "podman"
    label = "Podman"
    limits: dict[str, int]  # the rlimits every container gets (`of` sets them)

    @classmethod
    def of(cls, client: docker.DockerClient, endpoint: str, version: dict) -> PodmanEngine:
        """The adapter for a Podman service that answered at `endpoint`: asks once whether it is rootless, and
        records the adjustments (rlimits, published ports) that the build report states for this engine."""
        engine = cls(client, remote_host(endpoint), endpoint)
        engine._version = version
        engine.rootless = bool(engine.described()[1].get("Rootless"))  # Podman's addition to the Docker /info
        engine.publishes = engine.remote or engine.rootless
        if engine.rootless and not engine.remote:
            engine.remote_host = "127.0.0.1"  # published ports are on this host's loopback: address() says so
        engine.limits = rlimits()
        engine.adjustments = [f"containers get --ulimit {name}={value}:{value} (Podman's defaults exceed what "
                              "this machine lets a process set)" for name, value in engine.limits.items()]
        if engine.rootless:
            engine.adjustments.append("ports are published on 127.0.0.1 (rootless containers have no address "
                                      "this host can reach)")
        return engine

    def create(self, spec) -> str:
        inline = [opt for opt in spec.security_opt if opt.startswith("seccomp={")]
        if not inline:
            return super().create(spec)
        fd, path = tempfile.mkstemp(prefix="slim-seccomp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(inline[0][len("seccomp="):])
            os.chmod(path, 0o644)
            options = tuple(f"seccomp={path}" if opt in inline else opt for opt in spec.security_opt)
            return super().create(dataclasses.replace(spec, security_opt=options))
        finally:
            os.unlink(path)  # read when the container is created

    def put_archive(self, container: str, path: str, data: bytes) -> None:
        try:
            super().put_archive(container, path, data)
        except EngineError:
            time.sleep(0.5)
            super().put_archive(container, path, data)  # a second failure is the error to report

    def _create_options(self) -> dict:
        return {"ulimits": [docker.types.Ulimit(name=name, soft=value, hard=value)
                            for name, value in self.limits.items()]}

    def find_image(self, ref: str):
        facts = super().find_image(ref)
        return dataclasses.replace(facts, repo_tags=tuple(_short(t) for t in facts.repo_tags)) if facts else None

    def tags_in(self, repository_prefix: str) -> list[str]:
        """Every tag (one listing), by the names the user gave them, that starts with the prefix."""
        return sorted({t for t in map(_short, super().tags_in("")) if t.startswith(repository_prefix)})


def _short(tag: str) -> str:
    """localhost/web:1 -> web:1: the name the user gave, as Docker would show it."""
    return tag[len(LOCAL_PREFIX):] if tag.startswith(LOCAL_PREFIX) else tag


def podman_sockets() -> list[str]:
    """Where a Podman service listens on this host: rootful first, then this user's rootless socket."""
    out = ["unix:///run/podman/podman.sock"]
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    out.append(f"unix://{runtime_dir}/podman/podman.sock")
    return out

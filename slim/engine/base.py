"""The few verbs slim needs from a container engine, as one protocol per role.

Everything in slim that touches an engine goes through these protocols: `Images` (reading and writing images),
`Containers` (running containers for tracing and verification), `Volumes` (the volumes the tracer uses) and
`Facts` (which engine it is, how its containers are reached). `Engine` is all of them, for the adapters; each
caller asks for the narrowest role it uses, so a test's fake implements only that.

Values cross this boundary as plain data (strings, bytes, the dataclasses below), never as an engine SDK's
objects, so a second engine (Podman's compatible API, a remote engine with published ports) is one more
implementation, and tests can drive the wiring with a fake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class Mount:
    """A volume or host path mounted into a container."""

    source: str  # a volume name, or an absolute host path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container. `entrypoint` is the full argv (the image's Cmd is dropped)."""

    image: str
    entrypoint: tuple[str, ...]
    env: tuple[str, ...] = ()  # "K=V"
    user: str | None = None
    workdir: str | None = None
    mounts: tuple[Mount, ...] = ()
    cap_add: tuple[str, ...] = ()
    init: bool = False  # the engine's own init as PID 1 (docker run --init)
    labels: tuple[tuple[str, str], ...] = ()
    # least privilege (all off by default: the engine's defaults apply)
    read_only: bool = False  # the root filesystem
    tmpfs: tuple[tuple[str, str], ...] = ()  # (directory, mount options)
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()  # "no-new-privileges", "seccomp=<profile JSON>"
    publish: tuple[int, ...] = ()  # TCP ports to publish on free ports of the engine's host (a remote engine)


@dataclass(frozen=True)
class ImageFacts:
    """What the engine says about an image it holds."""

    id: str
    size: int | None  # what `docker images` shows
    repo_tags: tuple[str, ...]
    config: dict  # the image's run configuration document (Entrypoint, Cmd, Env, ...) as the engine reports it
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecResult:
    """What a command run inside a container gave back: `output` is for people (both streams), `stdout` alone is what
    verification compares between the original and the slim image."""

    exit_code: int | None
    output: bytes  # stdout then stderr, for people to read
    stdout: bytes = b""  # what verification compares


class Facts(Protocol):
    """Which engine this is and how its containers are reached: what a run line or a report says about it."""

    name: str  # "docker" or "podman"
    remote: bool  # the engine runs elsewhere: its containers' addresses and this host's paths are not shared
    publishes: bool  # probes reach containers through published ports (remote engines, rootless Podman)

    def facts(self) -> dict[str, str]:
        """Which engine this is: name, version, API version, operating system."""


class Images(Protocol):
    """The images an engine holds: read, write, push and remove them."""

    def image(self, ref: str) -> ImageFacts:
        """Facts about `ref`; ImageNotFound when the engine has no such image."""

    def find_image(self, ref: str) -> ImageFacts | None:
        """Like `image`, but None when there is no such image."""

    def save(self, ref: str) -> BinaryIO:
        """The `docker save` archive of `ref` as a forward-only stream, never held whole in memory."""

    def load(self, archive_path: str) -> None:
        """Load a docker-archive file; the tags come from its manifest.json."""

    def push(self, tag: str) -> str | None:
        """Push a tag to its registry with the engine's credentials; RegistryError when that fails. Returns the
        manifest digest the registry stored (None when the engine does not say)."""

    def remove_image(self, ref: str) -> str | None:
        """Remove a tag (or an image ID); never raises. None once it is gone (or never existed), else the
        reason the engine gave for keeping it."""

    def remove_if_untagged(self, image_id: str) -> None:
        """Remove the image when no tag names it any more and nothing uses it; otherwise leave it."""

    def tags_in(self, repository_prefix: str) -> list[str]:
        """Every tag whose repository starts with `repository_prefix` (what slim left behind)."""


class Containers(Protocol):
    """Containers from create to remove: what tracing and verification runs need."""

    def create(self, spec: ContainerSpec) -> str:
        """Create (not start) a container, labelled with this run's identity; its ID."""

    def start(self, container: str) -> None:
        """Start a created container."""

    def running(self, container: str) -> bool:
        """True while the container is created or running (False once it exited or is gone)."""

    def address(self, container: str) -> str:
        """The host address probes use to reach the container's ports (the engine's host when remote)."""

    def published(self, container: str) -> dict[int, int]:
        """Container TCP port -> the engine host's port it is published on ({} when nothing is)."""

    def exec(self, container: str, argv: list[str]) -> ExecResult:
        """Run `argv` in the running container and wait for it."""

    def wait(self, container: str, timeout: float) -> int | None:
        """The container's exit code, or None when it still runs after `timeout` seconds."""

    def stop(self, container: str, timeout: int) -> None:
        """The image's stop signal, then SIGKILL after `timeout` seconds."""

    def logs(self, container: str) -> tuple[bytes, bytes]:
        """(stdout, stderr) of the container's main process."""

    def remove_container(self, container: str) -> str | None:
        """Remove the container with its anonymous volumes, running or not; never raises. None once it is
        gone, else the reason it is not (the engine refused, or could not be reached)."""

    def put_archive(self, container: str, path: str, data: bytes) -> None:
        """Extract the tar `data` at `path` inside the container (it need not be started)."""

    def get_archive(self, container: str, path: str) -> bytes | None:
        """`path` inside the container as a tar, or None when it does not exist."""

    def labelled_containers(self, key: str) -> list[tuple[str, dict[str, str]]]:
        """(ID, labels) of every container, running or not, that carries the label `key` (what slim left
        behind, for `slim cleanup` and the sweep at the start of a build)."""


class Volumes(Protocol):
    """Named volumes: the tracer's bundle and output, and the caches slim keeps."""

    def ensure_volume(self, name: str, labels: dict[str, str], shared: bool = False) -> None:
        """Create the named volume unless it exists. `shared`: kept across runs (a cache), so it carries only
        `labels`, not this run's identity."""

    def volume_has(self, name: str, path: str) -> bool | None:
        """Whether `path` (relative to the volume's root) exists in the named volume, looked up on this host's
        filesystem; None when that cannot be told from here (a remote engine, a volume this user cannot read)."""

    def remove_volume(self, name: str) -> str | None:
        """Remove the volume; never raises. None once it is gone, else the reason it is not."""

    def labelled_volumes(self, key: str) -> list[tuple[str, dict[str, str]]]:
        """(name, labels) of every volume that carries the label `key`."""


class Engine(Facts, Images, Containers, Volumes, Protocol):
    """A container engine: every role, as the adapters (Docker, Podman) implement it. Errors are slim's own:
    ImageNotFound, EngineError. A module that needs one role asks for that role, not for this."""

    def close(self) -> None:
        """Release the connection to the engine (the command is done with it)."""

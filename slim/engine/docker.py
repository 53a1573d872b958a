"""The Docker engine, through the Docker SDK: the only module of slim that imports `docker`.

Speaks only the engine's API, so a remote engine (DOCKER_HOST=tcp://...) works the same: nothing here
assumes the engine shares this host's filesystem.
"""

from __future__ import annotations

import itertools
import os
from contextlib import contextmanager
from collections.abc import Iterator
from typing import BinaryIO, cast

import docker
import docker.errors
import requests.exceptions

from slim import identity
from slim.engine.base import ContainerSpec, ExecResult, ImageFacts
from slim.errors import EngineError, ImageNotFound, RegistryError

SAVE_CHUNK = 1 << 20
_FAULTS = (docker.errors.DockerException, requests.exceptions.RequestException)


@contextmanager
def _engine_errors(what: str) -> Iterator[None]:
    """Any fault of the engine or the connection becomes one EngineError saying what slim was doing."""
    try:
        yield
    except docker.errors.APIError as exc:
        raise EngineError(f"{what}: {exc.explanation or exc}") from exc
    except _FAULTS as exc:
        raise EngineError(f"{what}: {exc}") from exc


def _reason(exc: Exception) -> str:
    """What the engine said (or what went wrong on the way to it), on one line."""
    return " ".join(str(getattr(exc, "explanation", None) or exc).split())


class DockerEngine:
    """The `Engine` protocol over the Docker SDK, for a local socket or a remote engine alike. Podman's compatible
    API reuses it whole (`PodmanEngine`), overriding only where Podman behaves differently."""

    name = "docker"
    label = "Docker"  # for messages: "no such image in the Docker engine"

    def __init__(self, client: docker.DockerClient, remote_host: str | None = None, endpoint: str = ""):
        self.client = client  # the SDK client; also handed to tests that need the engine directly
        self.api = client.api
        self.endpoint = endpoint  # where it answered: unix:///var/run/docker.sock, tcp://...
        self.remote_host = remote_host  # the engine's host name or address when it is not this machine
        self.remote = remote_host is not None
        self.publishes = self.remote  # a remote engine's container addresses are out of reach from here
        self.adjustments: list[str] = []  # what slim changes in containers for this engine, said in reports
        self._version: dict | None = None  # /version as the connection check got it
        self._described: tuple[dict, dict] | None = None
        self._created = itertools.count(1)

    # images

    def find_image(self, ref: str) -> ImageFacts | None:
        try:
            attrs = self.api.inspect_image(ref)
        except docker.errors.NotFound:
            return None
        except _FAULTS as exc:
            raise EngineError(f"{ref}: the engine could not inspect it: {getattr(exc, 'explanation', None) or exc}") \
                from exc
        config = attrs.get("Config") or {}
        return ImageFacts(attrs["Id"], attrs.get("Size"), tuple(attrs.get("RepoTags") or ()), config,
                          dict(config.get("Labels") or {}))

    def image(self, ref: str) -> ImageFacts:
        facts = self.find_image(ref)
        if facts is None:
            raise ImageNotFound(f"{ref}: no such image in the {self.label} engine")
        return facts

    def save(self, ref: str) -> BinaryIO:
        self.image(ref)  # a clear "no such image" before any streaming starts
        with _engine_errors(f"{ref}: docker save failed"):
            # forward-only: read() is all that readers of a saved archive call
            return cast(BinaryIO, _ChunkStream(iter(self.api.get_image(ref, chunk_size=SAVE_CHUNK))))

    def load(self, archive_path: str) -> None:
        """Load a docker-archive. The SDK hands back the engine's answer as a stream it never reads: an engine
        that refuses the archive says so only there ({"error": ...}, or {"message": ...} for a failed
        request), so the stream is read to the end and a refusal is an EngineError with the engine's words."""
        with _engine_errors("docker load failed"), open(archive_path, "rb") as fh:
            for event in self.api.load_image(fh) or ():
                if not isinstance(event, dict):
                    continue
                refusal = event.get("error") or (event.get("errorDetail") or {}).get("message") or (
                    event.get("message") if set(event) == {"message"} else None)
                if refusal:
                    raise EngineError(f"the engine refused to load the image: {' '.join(str(refusal).split())}")

    def push(self, tag: str) -> str | None:
        """Push `tag`; the manifest digest the registry stored, as the engine's last event names it (None when
        the engine names none)."""
        repository, _, name = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
        digest = None
        try:
            for event in self.api.push(repository, tag=name, stream=True, decode=True):
                if isinstance(event, dict) and event.get("error"):
                    # the registry's words, one line: "unauthorized: ...", "connection refused", ...
                    raise RegistryError(f"pushing {tag}: {' '.join(str(event['error']).split())}")
                if isinstance(event, dict) and isinstance(event.get("aux"), dict):
                    digest = event["aux"].get("Digest") or digest
        except _FAULTS as exc:
            raise RegistryError(f"pushing {tag}: {getattr(exc, 'explanation', None) or exc}") from exc
        return digest

    def remove_image(self, ref: str) -> str | None:
        try:
            self.api.remove_image(ref, noprune=False)
        except docker.errors.NotFound:
            pass
        except _FAULTS as exc:
            return _reason(exc)
        return None

    def remove_if_untagged(self, image_id: str) -> None:
        try:
            if not self.api.inspect_image(image_id).get("RepoTags"):
                self.api.remove_image(image_id, noprune=False)
        except docker.errors.APIError:
            pass  # in use by a container, or already gone: not ours to force

    # containers

    def create(self, spec: ContainerSpec) -> str:
        volumes = {m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"} for m in spec.mounts}
        me = identity.current()
        # named and labelled after this run, so the leftovers of a killed run can be found and removed
        name = f"slim-{me.run_id}-{next(self._created)}"
        try:
            with _engine_errors(f"creating a container of {spec.image}"):
                try:
                    container = self.client.containers.create(
                        spec.image, name=name, entrypoint=list(spec.entrypoint), command=[], environment=list(spec.env),
                        user=spec.user or None, working_dir=spec.workdir or None, volumes=volumes,
                        cap_add=list(spec.cap_add) or None, init=spec.init, labels={**dict(spec.labels), **me.labels()},
                        detach=True,
                        read_only=spec.read_only, tmpfs=dict(spec.tmpfs) or None, cap_drop=list(spec.cap_drop) or None,
                        security_opt=list(spec.security_opt) or None,
                        ports={f"{p}/tcp": None for p in spec.publish} or None,  # None: a free host port
                        **self._create_options())
                except docker.errors.ImageNotFound as exc:
                    raise ImageNotFound(f"{spec.image}: no such image in the {self.label} engine") from exc
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM) while the engine was creating it: the container may exist though
            # no ID came back; its name finds it
            self.remove_container(name)
            raise
        return container.id

    def _create_options(self) -> dict:
        """What this engine needs in every container beyond the spec (Podman: rlimits)."""
        return {}

    def start(self, container: str) -> None:
        with _engine_errors("starting the container"):
            self.api.start(container)

    def running(self, container: str) -> bool:
        try:
            state = self.api.inspect_container(container).get("State") or {}
        except docker.errors.NotFound:
            return False
        except _FAULTS as exc:
            raise EngineError(f"inspecting the container: {exc}") from exc
        return state.get("Status") in ("created", "running")

    def address(self, container: str) -> str:
        if self.remote_host is not None:
            return self.remote_host  # the bridge's addresses are on the engine's host, out of reach from here
        with _engine_errors("inspecting the container"):
            attrs = self.api.inspect_container(container)
        # The default bridge's address; the host reaches it when the engine runs on this host.
        return (attrs.get("NetworkSettings") or {}).get("IPAddress") or "127.0.0.1"

    def published(self, container: str) -> dict[int, int]:
        with _engine_errors("inspecting the container"):
            ports = ((self.api.inspect_container(container).get("NetworkSettings") or {}).get("Ports") or {})
        out = {}
        for key, bindings in ports.items():
            number, _, proto = key.partition("/")
            if proto == "tcp" and bindings:
                out[int(number)] = int(bindings[0]["HostPort"])
        return out

    def exec(self, container: str, argv: list[str]) -> ExecResult:
        with _engine_errors("running a command in the container"):
            exec_id = self.api.exec_create(container, argv)["Id"]
            stdout, stderr = self.api.exec_start(exec_id, demux=True) or (None, None)
            return ExecResult(self.api.exec_inspect(exec_id).get("ExitCode"), (stdout or b"") + (stderr or b""),
                              stdout or b"")

    def wait(self, container: str, timeout: float) -> int | None:
        try:
            return self.api.wait(container, timeout=timeout).get("StatusCode")
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            return None

    def stop(self, container: str, timeout: int) -> None:
        with _engine_errors("stopping the container"):
            self.api.stop(container, timeout=timeout)

    def logs(self, container: str) -> tuple[bytes, bytes]:
        with _engine_errors("reading the container's output"):
            return (self.api.logs(container, stdout=True, stderr=False),
                    self.api.logs(container, stdout=False, stderr=True))

    def remove_container(self, container: str) -> str | None:
        try:
            self.api.remove_container(container, force=True, v=True)
        except docker.errors.NotFound:
            pass  # already gone
        except _FAULTS as exc:
            return _reason(exc)  # refused, or the engine went away: said by slim cleanup, ignored by tidy-ups
        return None

    def put_archive(self, container: str, path: str, data: bytes) -> None:
        with _engine_errors(f"copying files into the container at {path}"):
            if not self.api.put_archive(container, path, data):
                raise EngineError(f"the engine refused to copy files into the container at {path}")

    def get_archive(self, container: str, path: str) -> bytes | None:
        try:
            stream, _ = self.api.get_archive(container, path)
            return b"".join(stream)
        except docker.errors.NotFound:
            return None
        except _FAULTS as exc:
            raise EngineError(f"copying {path} out of the container: {exc}") from exc

    # volumes

    def ensure_volume(self, name: str, labels: dict[str, str], shared: bool = False) -> None:
        with _engine_errors(f"creating volume {name}"):
            try:
                self.api.inspect_volume(name)
            except docker.errors.NotFound:
                try:
                    self.api.create_volume(name, labels=labels if shared else {**labels, **identity.current().labels()})
                except BaseException:
                    if not shared:
                        self.remove_volume(name)  # as for containers: it may exist though no answer came
                    raise

    def volume_has(self, name: str, path: str) -> bool | None:
        if self.remote:
            return None
        try:
            mountpoint = self.api.inspect_volume(name).get("Mountpoint") or ""
        except _FAULTS:
            return None
        # a local engine keeps a local volume in a host directory: one stat, not a copy out through the API
        return os.path.exists(os.path.join(mountpoint, path)) if mountpoint and os.access(mountpoint, os.X_OK) \
            else None

    def remove_volume(self, name: str) -> str | None:
        try:
            self.api.remove_volume(name, force=True)
        except docker.errors.NotFound:
            pass
        except _FAULTS as exc:
            return _reason(exc)
        return None

    def labelled_containers(self, key: str) -> list[tuple[str, dict[str, str]]]:
        with _engine_errors("listing containers"):
            found = self.api.containers(all=True, filters={"label": key})
        return [(c["Id"], dict(c.get("Labels") or {})) for c in found]

    def labelled_volumes(self, key: str) -> list[tuple[str, dict[str, str]]]:
        with _engine_errors("listing volumes"):
            found = self.api.volumes(filters={"label": key}).get("Volumes") or []
        return [(v["Name"], dict(v.get("Labels") or {})) for v in found]

    def tags_in(self, repository_prefix: str) -> list[str]:
        with _engine_errors("listing images"):
            found = self.api.images()
        return sorted(t for image in found for t in image.get("RepoTags") or () if t.startswith(repository_prefix))

    def close(self) -> None:
        """Close the connection pools now. Left to the garbage collector, urllib3's pool finalizer can run in
        the middle of a pool operation on the same thread and wait forever for the pool's own lock."""
        try:
            self.client.close()
        except Exception:
            pass

    def facts(self) -> dict:
        """What the build report and `slim doctor` say about the engine (asked once: Podman takes ~0.5 s each)."""
        version, info = self.described()
        return {"name": self.name, "version": version.get("Version", ""), "api_version": version.get("ApiVersion", ""),
                "endpoint": self.endpoint, "runtime": info.get("DefaultRuntime", ""),
                "cgroup_version": str(info.get("CgroupVersion", "")), "rootless": self.rootless,
                "adjustments": list(self.adjustments)}

    def described(self) -> tuple[dict, dict]:
        """The engine's /version and /info documents, fetched once per connection."""
        if self._described is None:
            with _engine_errors("asking the engine for its version and set-up"):
                self._described = (self._version or self.api.version(), self.api.info())
        return self._described

    rootless = False


def current_context():
    """The current Docker context (DOCKER_CONTEXT, else `docker context use`), or None for the default one."""
    try:
        from docker.context import ContextAPI

        # DOCKER_CONTEXT before config.json's currentContext, as the docker command line reads them
        context = ContextAPI.get_context(os.environ.get("DOCKER_CONTEXT") or None)
    except Exception:  # no contexts, or an unreadable config: the default socket applies
        return None
    return context if context is not None and getattr(context, "Name", "default") != "default" else None


def _context_host() -> str | None:
    """The endpoint of the current Docker context, when it is not the default."""
    return getattr(current_context(), "Host", None) or None


def remote_host(url: str) -> str | None:
    """The host to reach published ports on, for an engine that is not this machine's socket; else None.
    A tcp:// engine on a loopback address is still another engine's network: ports must be published."""
    scheme, _, rest = url.partition("://")
    if scheme in ("unix", "npipe", ""):
        return None
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0]
    return host.rsplit(":", 1)[0].strip("[]") if ":" in host and not host.endswith("]") else host.strip("[]")


class _ChunkStream:
    """File-like reads over the engine's chunked `docker save` response, so it is never held whole."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = b""
        self._pos = 0  # an offset, not re-slicing: tarfile reads in small pieces and chunks are 1 MiB

    def read(self, n: int = -1) -> bytes:
        available = len(self._buf) - self._pos
        if n < 0 or available < n:
            parts = [self._buf[self._pos:]]
            while n < 0 or available < n:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                parts.append(chunk)
                available += len(chunk)
            self._buf, self._pos = b"".join(parts), 0
        if n < 0:
            n = len(self._buf)
        data = self._buf[self._pos:self._pos + n]
        self._pos += len(data)
        return data

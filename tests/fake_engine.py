"""An in-memory container engine for unit tests of slim's wiring (runner, tracer hooks, build pipeline).

It implements slim's `Engine` protocol and nothing more. Images are docker-archives built by `tarbuild`;
containers do what a `Behaviour` says (exit at once with a code, or serve until stopped); a traced run
hands back a canned strace output. The real-engine integration tests stay: this only makes the wiring
testable without a daemon.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import tarfile
from dataclasses import dataclass, field

from slim import identity
from slim.engine import ContainerSpec, ExecResult, ImageFacts
from slim.errors import ImageNotFound
from tarbuild import legacy_archive


@dataclass
class Behaviour:
    exit_code: int | None = 0  # None: a server, running until stopped (then 143, as after SIGTERM)
    stdout: bytes = b""
    execs: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # " ".join(argv) -> (exit code, output)
    trace: str = ""  # what strace writes for the main process when the run is traced


@dataclass
class _Container:
    spec: ContainerSpec
    behaviour: Behaviour
    labels: dict = field(default_factory=dict)
    status: str = "created"
    exit_code: int | None = None


class FakeEngine:
    name = "fake"
    remote = False
    publishes = False

    def __init__(self) -> None:
        self.archives: dict[str, bytes] = {}  # image ID -> docker-archive bytes
        self.tags: dict[str, str] = {}  # tag -> image ID
        self.configs: dict[str, dict] = {}  # image ID -> config document
        self.behaviours: dict[str, Behaviour] = {}  # tag -> how its containers behave
        self.containers: dict[str, _Container] = {}
        self.volumes: dict[str, set[str]] = {}  # name -> paths inside it
        self.volume_labels: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []
        self.refused: dict[str, str] = {}  # tag, container ID or volume name -> why the engine keeps it
        self._ids = itertools.count(1)

    # set-up for tests

    def add_image(self, tag: str, layers: list[bytes], behaviour: Behaviour) -> str:
        archive = legacy_archive(layers, tag)
        image_id = self._register(archive)
        self.behaviours[tag] = behaviour
        return image_id

    def _register(self, archive: bytes) -> str:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))[0]
            config_bytes = tar.extractfile(manifest["Config"]).read()
        image_id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        self.archives[image_id], self.configs[image_id] = archive, json.loads(config_bytes)
        for tag in manifest.get("RepoTags") or []:
            self.tags[tag] = image_id
        return image_id

    # images

    def find_image(self, ref: str) -> ImageFacts | None:
        image_id = self.tags.get(ref) or (ref if ref in self.archives else None)
        if image_id is None:
            return None
        config = self.configs[image_id].get("config") or {}
        tags = tuple(t for t, i in self.tags.items() if i == image_id)
        return ImageFacts(image_id, len(self.archives[image_id]), tags, config, dict(config.get("Labels") or {}))

    def image(self, ref: str) -> ImageFacts:
        facts = self.find_image(ref)
        if facts is None:
            raise ImageNotFound(f"{ref}: no such image in the fake engine")
        return facts

    def save(self, ref: str):
        return io.BytesIO(self.archives[self.image(ref).id])

    def load(self, archive_path: str) -> None:
        self.calls.append(f"load {archive_path}")
        with open(archive_path, "rb") as fh:
            self._register(fh.read())

    def remove_image(self, ref: str) -> str | None:
        self.calls.append(f"remove_image {ref}")
        if ref in self.refused:
            return self.refused[ref]
        self.tags.pop(ref, None)
        return None

    def push(self, tag: str) -> str | None:
        self.calls.append(f"push {tag}")
        return "sha256:" + hashlib.sha256(self.tags.get(tag, tag).encode()).hexdigest()

    def remove_if_untagged(self, image_id: str) -> None:
        if image_id not in self.tags.values():
            self.archives.pop(image_id, None)

    # containers

    def create(self, spec: ContainerSpec) -> str:
        self.image(spec.image)
        cid = f"c{next(self._ids)}"
        self.containers[cid] = _Container(spec, self._behaviour(spec.image),
                                          {**dict(spec.labels), **identity.current().labels()})
        self.calls.append(f"create {spec.image}")
        return cid

    def _behaviour(self, ref: str) -> Behaviour:
        """A tag's own behaviour; a slim image without one behaves like the image it was made from."""
        if ref in self.behaviours:
            return self.behaviours[ref]
        source = self.image(ref).labels.get("slim.source.image")
        return self.behaviours.get(source, Behaviour()) if source else Behaviour()

    def start(self, container: str) -> None:
        c = self.containers[container]
        c.status, c.exit_code = ("exited", c.behaviour.exit_code) if c.behaviour.exit_code is not None else ("running", None)

    def running(self, container: str) -> bool:
        c = self.containers.get(container)
        return c is not None and c.status in ("created", "running")

    def address(self, container: str) -> str:
        return "127.0.0.1"

    def published(self, container: str) -> dict[int, int]:
        return {}

    def exec(self, container: str, argv: list[str]) -> ExecResult:
        # a traced exec probe runs under strace: the command is what follows "--"
        command = argv[argv.index("--") + 1:] if "--" in argv else argv
        code, output = self.containers[container].behaviour.execs.get(" ".join(command), (0, b""))
        return ExecResult(code, output, output)

    def wait(self, container: str, timeout: float) -> int | None:
        c = self.containers[container]
        return c.exit_code if c.status == "exited" else None

    def stop(self, container: str, timeout: int) -> None:
        self.calls.append(f"stop {container}")
        c = self.containers[container]
        c.status, c.exit_code = "exited", 143

    def logs(self, container: str) -> tuple[bytes, bytes]:
        return self.containers[container].behaviour.stdout, b""

    def remove_container(self, container: str) -> str | None:
        if container in self.refused:
            return self.refused[container]
        self.containers.pop(container, None)
        return None

    def put_archive(self, container: str, path: str, data: bytes) -> None:
        volume = self._volume_at(container, path)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            self.volumes[volume].update(m.name for m in tar.getmembers())

    def get_archive(self, container: str, path: str) -> bytes | None:
        c = self.containers[container]
        if path.endswith("/out"):  # the tracer's output directory: what strace wrote during the run
            if not c.behaviour.trace or c.status != "exited":
                return None
            return _tar({"out/main.trace": c.behaviour.trace.encode()})
        name = path.rsplit("/", 1)[-1]
        return _tar({name: b""}) if name in self.volumes[self._volume_at(container, path)] else None

    def _volume_at(self, container: str, path: str) -> str:
        mount = next(m for m in self.containers[container].spec.mounts if path.startswith(m.target))
        return mount.source

    # volumes

    def volume_has(self, name: str, path: str) -> bool | None:
        return None  # like a remote engine: the bundle check goes through the archive API

    def ensure_volume(self, name: str, labels: dict[str, str], shared: bool = False) -> None:
        if name not in self.volumes:
            self.volumes[name] = set()
            self.volume_labels[name] = dict(labels) if shared else {**labels, **identity.current().labels()}

    def remove_volume(self, name: str) -> str | None:
        if name in self.refused:
            return self.refused[name]
        self.volumes.pop(name, None)
        self.volume_labels.pop(name, None)
        return None

    def labelled_containers(self, key: str) -> list[tuple[str, dict[str, str]]]:
        return [(cid, c.labels) for cid, c in self.containers.items() if key in c.labels]

    def labelled_volumes(self, key: str) -> list[tuple[str, dict[str, str]]]:
        return [(name, labels) for name, labels in self.volume_labels.items() if key in labels]

    def tags_in(self, repository_prefix: str) -> list[str]:
        return sorted(t for t in self.tags if t.startswith(repository_prefix))

    def close(self) -> None:
        pass

    def facts(self) -> dict[str, str]:
        return {"name": self.name, "version": "0", "api_version": "0", "endpoint": "fake://", "runtime": "fake",
                "cgroup_version": "2", "rootless": False, "adjustments": []}  # the keys DockerEngine.facts() has


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()

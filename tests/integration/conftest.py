"""Real Docker engine fixtures. Integration tests never skip: without an engine they fail, saying why."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from slim.errors import EngineError

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "samples")
BASES = ("slim-base/debian:bookworm", "slim-base/alpine:3.20")


@pytest.fixture(scope="session")
def engine():
    """The Docker SDK client of the engine slim uses: tests observe the engine through it, independently of slim."""
    from slim.engine import connect

    try:
        client = connect("docker").client
    except EngineError as exc:
        pytest.fail(f"integration tests need a Docker engine (run scripts/test, which starts one): {exc}")
    for base in BASES:
        if not client.images.list(name=base):
            pytest.fail(f"base image {base} is missing: scripts/setup builds it")
    return client


_built: dict[str, str] = {}


def sample_spec(name: str) -> dict:
    with open(os.path.join(SAMPLES, name, "sample.json")) as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def build_sample(engine):
    """Build samples/NAME once per test run (Docker's cache makes a rebuild of an unchanged sample quick)."""

    def build(name: str) -> str:
        if name not in _built:
            tag = sample_spec(name)["tag"]
            subprocess.run(["docker", "build", "-q", "-t", tag, os.path.join(SAMPLES, name)], check=True,
                           stdout=subprocess.DEVNULL)
            _built[name] = tag
        return _built[name]

    return build


@contextlib.contextmanager
def built_image(name: str):
    """Build tests/integration/images/NAME as slim-test/NAME:1 and remove it afterwards (module fixtures)."""
    tag = f"slim-test/{name}:1"
    subprocess.run(["docker", "build", "-q", "-t", tag, os.path.join(os.path.dirname(__file__), "images", name)],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        yield tag
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def scratch_tags(engine):
    """Tags a test creates; removed afterwards whatever happened."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        try:
            engine.images.remove(tag, force=True)
        except Exception:
            pass


@pytest.fixture
def no_leftovers(engine):
    """Fails the test when it leaves containers or volumes behind."""
    before_c = {c.id for c in engine.containers.list(all=True)}
    before_v = {v.name for v in engine.volumes.list()}
    yield
    containers = {c.id: c.labels for c in engine.containers.list(all=True) if c.id not in before_c}
    volumes = {v.name: (v.attrs.get("Labels") or {}) for v in engine.volumes.list() if v.name not in before_v}
    volumes = {n: labels for n, labels in volumes.items() if not n.startswith("slim-tracer-bundle-")}  # the cache
    if not os.environ.get("CI"):
        # a developer's machine may run other slim processes (a second test run) meanwhile: what they hold is
        # theirs. CI runs alone, and there every new container and volume counts.
        containers = {i: labels for i, labels in containers.items() if _ours_or_dead(labels)}
        volumes = {n: labels for n, labels in volumes.items() if _ours_or_dead(labels)}
    assert not containers, f"containers left behind: {set(containers)}"
    assert not volumes, f"volumes left behind: {set(volumes)}"


def _ours_or_dead(labels: dict) -> bool:
    """Made by this test process or by a slim process that has ended (what no slim run labels is not counted)."""
    from slim import identity
    from slim.cleanup import run_ended

    if identity.PID not in labels:
        return False  # not slim's: another tool's, or another test's own container
    return labels[identity.PID] == str(os.getpid()) or run_ended(labels)


def run_output(engine, image: str, *cmd: str) -> bytes:
    return engine.containers.run(image, list(cmd) or None, remove=True, stdout=True, stderr=False)


@pytest.fixture(autouse=True)
def run_in_a_scratch_directory(tmp_path, monkeypatch):
    """slim build writes its seccomp profile to the current directory by default: keep that out of the clone."""
    monkeypatch.chdir(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answers(url: str, seconds: float, alive=lambda: True, explain=lambda: "") -> None:
    """Poll `url` until it answers; fail (saying `explain()`) after `seconds` or once `alive()` turns false."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        # a server that accepts before it serves (Tomcat deploying) holds the request: a read timeout, so retry
        except (OSError, http.client.HTTPException):
            assert alive() and time.monotonic() < deadline, explain()
            time.sleep(0.2)


@pytest.fixture(scope="session")
def registry():
    """A registry on 127.0.0.1:PORT with a temporary storage directory; stopped and removed afterwards."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed: scripts/setup installs it")
    storage = tempfile.mkdtemp(prefix="registry-")
    port = free_port()
    config = os.path.join(storage, "config.yml")
    with open(config, "w") as fh:
        fh.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {storage}/data\n"
                 f"http:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([binary, "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/v2/", 30, alive=lambda: proc.poll() is None,
                           explain=lambda: "the registry did not start")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(storage, ignore_errors=True)


def registry_tags(registry: str, repository: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://{registry}/v2/{repository}/tags/list", timeout=5) as resp:
            return json.load(resp).get("tags") or []
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


def _tls_port() -> int:
    """2376, Docker's port for TLS, when it is free (another test run may hold it); else any free port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 2376))
            return 2376
        except OSError:
            return free_port()


@pytest.fixture(scope="session")
def tls_engine(engine):
    """A second Docker engine reachable over TCP only with mutual TLS (tests/integration/tls_engine.py: its own CA
    and certificates, data root, bridge), holding the base images: the remote engine of the remote-engine and CI
    recipe tests. Stopped and removed with all it made afterwards, also when the tests fail."""
    from tests.integration.tls_engine import TlsEngine, reap_stale

    reap_stale()  # engines of runs killed before their teardown
    tls = TlsEngine()
    try:
        tls.start(_tls_port())
        tls.load(*BASES)
    except Exception as exc:
        tls.stop()
        pytest.fail(f"the TLS engine of the remote-engine tests did not start: {exc}")
    try:
        yield tls
    finally:
        tls.stop()

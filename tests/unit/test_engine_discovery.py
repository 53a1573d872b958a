"""Which engine slim talks to (slim.engine.candidates / connect): a named endpoint (DOCKER_HOST, CONTAINER_HOST)
is the only one tried; otherwise the Docker socket, then Podman's rootful and rootless sockets that exist; and
rlimits the Podman adapter gives containers stay within this process's own."""

from __future__ import annotations

import resource

import docker.errors
import pytest

from slim import engine as engines
from slim.engine import candidates, connect
from slim.engine.podman import NPROC_CAP, PodmanEngine, rlimits
from slim.errors import EngineError


@pytest.fixture
def sockets(tmp_path, monkeypatch):
    """Docker's and Podman's sockets as files under tmp_path (only their existence is looked at)."""
    docker_sock, rootful, rootless = (tmp_path / n for n in ("docker.sock", "podman.sock", "user.sock"))
    monkeypatch.setattr(engines, "DOCKER_SOCKET", f"unix://{docker_sock}")
    monkeypatch.setattr("slim.engine.podman.podman_sockets", lambda: [f"unix://{rootful}", f"unix://{rootless}"])
    monkeypatch.setattr("slim.engine.docker._context_host", lambda: None)
    for var in ("DOCKER_HOST", "CONTAINER_HOST"):
        monkeypatch.delenv(var, raising=False)
    return docker_sock, rootful, rootless


def test_existing_sockets_in_order(sockets):
    docker_sock, rootful, rootless = sockets
    assert candidates(None) == ([], False)
    rootless.touch()
    rootful.touch()
    assert candidates(None) == ([f"unix://{rootful}", f"unix://{rootless}"], False)
    docker_sock.touch()
    assert candidates(None)[0] == [f"unix://{docker_sock}", f"unix://{rootful}", f"unix://{rootless}"]
    assert candidates("docker")[0] == [f"unix://{docker_sock}"]
    assert candidates("podman")[0] == [f"unix://{rootful}", f"unix://{rootless}"]


def test_a_named_endpoint_is_the_only_one(sockets, monkeypatch):
    sockets[0].touch()
    monkeypatch.setenv("CONTAINER_HOST", "unix:///run/user/1000/podman/podman.sock")
    assert candidates("podman") == (["unix:///run/user/1000/podman/podman.sock"], True)
    assert candidates("docker") == ([f"unix://{sockets[0]}"], False)  # CONTAINER_HOST names a Podman
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2375")
    assert candidates(None) == (["tcp://10.0.0.5:2375"], True)


def test_no_engine_is_one_line_that_says_how_to_start_one(sockets):
    with pytest.raises(EngineError) as caught:
        connect("podman")
    message = str(caught.value)
    assert "\n" not in message and "no Podman service answers" in message and "scripts/setup --podman" in message
    assert caught.value.exit_code == 5


def test_rlimits_stay_within_this_process(monkeypatch):
    limits = rlimits()
    assert limits["nofile"] <= resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert limits["nproc"] <= min(resource.getrlimit(resource.RLIMIT_NPROC)[1], NPROC_CAP)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert rlimits() == {"nofile": 1048576, "nproc": NPROC_CAP}


class _FlakyCopyApi:
    """The SDK calls PodmanEngine.put_archive makes: the first copies fail the way Podman 4.3's did once."""

    def __init__(self, failures: int):
        self.failures, self.calls = failures, 0

    def put_archive(self, container, path, data):
        self.calls += 1
        if self.calls <= self.failures:
            raise docker.errors.APIError("500", explanation="passing bulk input to subprocess: write |1: broken pipe")
        return True


class _Client:
    def __init__(self, api):
        self.api = api


@pytest.mark.parametrize("failures, succeeds, calls", [(0, True, 1), (1, True, 2), (2, False, 2)])
def test_podman_tries_a_failed_copy_once_more(failures, succeeds, calls):
    api = _FlakyCopyApi(failures)
    engine = PodmanEngine(_Client(api))
    if succeeds:
        engine.put_archive("helper", "/slim-trace", b"tar")
    else:
        with pytest.raises(EngineError, match="copying files into the container at /slim-trace: passing bulk"):
            engine.put_archive("helper", "/slim-trace", b"tar")
    assert api.calls == calls

"""Engines over TLS only: slim reaches a remote engine protected by mutual TLS (DOCKER_HOST with DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH, or a Docker context holding the same files) and builds and verifies through it; the engine refuses
a client without its certificate; a client that does not trust the engine's CA gets slim's one-line engine error;
and no engine on this machine answers its API on a TCP port without TLS."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import ssl
import stat
import subprocess
import sys

import pytest

from tests.integration.conftest import sample_spec

pytestmark = pytest.mark.docker
ENGINES = {"dockerd", "containerd", "podman"}  # processes whose TCP listeners would be an engine's API
REGISTRIES = {"docker-registry", "registry"}


def slim(*args: str, env: dict[str, str | None], cwd: str) -> subprocess.CompletedProcess:
    """slim as a user runs it, with exactly the engine settings in `env` (None removes a variable)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_") and k != "CONTAINER_HOST"}
    full.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run([sys.executable, "-m", "slim", *args], env=full, cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def on_tls_engine(tls_engine, build_sample, name: str) -> str:
    """The sample's image, built on the main engine and copied to the TLS engine."""
    tag = build_sample(name)
    tls_engine.load(tag)
    return tag


def test_the_keys_are_for_root_only(tls_engine):
    for directory in (tls_engine.state, tls_engine.certs, tls_engine.cert_path):
        info = os.stat(directory)
        assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o700, (directory, oct(info.st_mode))
    for key in ("server-key.pem", "ca-key.pem", "client/key.pem"):
        assert stat.S_IMODE(os.stat(os.path.join(tls_engine.certs, key)).st_mode) & 0o077 == 0, key


def test_slim_builds_and_verifies_through_the_tls_endpoint(tls_engine, build_sample, tmp_path):
    image = on_tls_engine(tls_engine, build_sample, "busybox-httpd")
    done = slim("build", image, "-t", "tls:slim", "--json", *sample_spec("busybox-httpd")["args"],
                env=tls_engine.env(), cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["engine"]["endpoint"] == tls_engine.host
    assert report["verification"]["passed"] is True and report["hardening"]["run_profile"]["verified"] is True
    targets = [p["target"] for p in report["verification"]["probes"]]
    assert targets and all(t.startswith("http://127.0.0.1:") for t in targets), targets  # ports published there
    assert tls_engine.docker("image", "inspect", "tls:slim", capture_output=True).returncode == 0
    assert subprocess.run(["docker", "image", "inspect", "tls:slim"], capture_output=True).returncode != 0
    assert not tls_engine.leftovers()


def test_slim_reaches_the_tls_endpoint_through_a_docker_context(tls_engine, build_sample, tmp_path):
    image = on_tls_engine(tls_engine, build_sample, "batch-job")
    config = tmp_path / "docker-config"  # never this machine's ~/.docker
    env = {"DOCKER_CONFIG": str(config)}
    cli = dict({k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}, **env)
    files = ",".join(f"{k}={os.path.join(tls_engine.cert_path, f)}"
                     for k, f in (("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")))
    for args in (["context", "create", "slim-tls", "--docker", f"host={tls_engine.host},{files}"],
                 ["context", "use", "slim-tls"]):
        subprocess.run(["docker", *args], env=cli, check=True, capture_output=True)
    stored = config / "contexts" / "tls" / hashlib.sha256(b"slim-tls").hexdigest() / "docker"
    assert sorted(os.listdir(stored)) == ["ca.pem", "cert.pem", "key.pem"]  # the context holds the TLS material
    done = slim("build", image, "-t", "tls-context:slim", "--json", *sample_spec("batch-job")["args"], env=env,
                cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["engine"]["endpoint"] == tls_engine.host and report["verification"]["passed"] is True
    assert tls_engine.docker("image", "inspect", "tls-context:slim", capture_output=True).returncode == 0
    assert not tls_engine.leftovers()
    # the same context without its client key: the engine refuses, and slim says so in one line
    os.remove(stored / "key.pem")
    os.remove(stored / "cert.pem")
    done = slim("doctor", env=env, cwd=str(tmp_path))
    assert done.returncode == 5, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "refused the connection" in done.stderr


def test_a_client_without_the_certificate_is_refused_by_the_engine(tls_engine, tmp_path):
    assert tls_engine.ping(tls_engine.cert_path) == 200  # the same request with the client certificate answers
    assert tls_engine.ping(None) is None
    assert tls_engine.ping(tls_engine.wrong_ca_path) is None  # a certificate from another CA is no better
    assert not _api_answers(("127.0.0.1", tls_engine.port), tls=False)  # nor is plain HTTP on the same port
    only_ca = tmp_path / "only-ca"
    only_ca.mkdir()
    shutil.copy(os.path.join(tls_engine.cert_path, "ca.pem"), only_ca / "ca.pem")
    done = slim("doctor", env=tls_engine.env(str(only_ca)), cwd=str(tmp_path))
    assert done.returncode == 5, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith(f"slim: error: no engine answers at {tls_engine.host}: TLS: ")
    assert "refused the connection" in line and "no client certificate" in line


def test_a_wrong_ca_is_slims_one_line_engine_error(tls_engine, tmp_path):
    done = slim("doctor", env=tls_engine.env(tls_engine.wrong_ca_path), cwd=str(tmp_path))
    assert done.returncode == 5, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"slim: error: no engine answers at {tls_engine.host}: TLS: the engine's certificate "
                           f"does not verify against {tls_engine.wrong_ca_path}/ca.pem")


def test_a_tls_port_asked_in_plain_http_says_to_use_tls(tls_engine, tmp_path):
    done = slim("doctor", env={"DOCKER_HOST": tls_engine.host}, cwd=str(tmp_path))
    assert done.returncode == 5 and "the engine speaks TLS: set DOCKER_TLS_VERIFY=1" in done.stderr, done.stderr


# --- nothing listens on a TCP port without TLS ---

def listeners() -> list[tuple[str, int, str, int]]:
    """(address, port, process name, pid) of every listening TCP socket, from `ss -ltnp`."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        address, _, port = fields[3].rpartition(":")
        for name, pid in re.findall(r'\("([^"]+)",pid=(\d+)', line):
            found.append((address.strip("[]"), int(port), name, int(pid)))
    return found


def _reachable(address: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "::": "::1"}.get(address, address.split("%")[0])


def _api_answers(where: tuple[str, int], tls: bool) -> bool:
    """Whether GET /_ping gets an engine's answer (200, or an Api-Version header), in plain HTTP or over TLS that
    offers no client certificate (and trusts any server). A TLS engine asked in plain HTTP answers 400 without
    that header: it served no API."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection(*where, context=context, timeout=5)
    else:
        conn = http.client.HTTPConnection(*where, timeout=5)
    try:
        conn.request("GET", "/_ping")
        response = conn.getresponse()
        return response.status == 200 or response.getheader("Api-Version") is not None
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _parent_is_a_test_run(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            parent = int(fh.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{parent}/cmdline", "rb") as fh:
            return b"pytest" in fh.read()
    except (OSError, ValueError, IndexError):
        return False


def test_nothing_listens_on_a_tcp_port_without_tls():
    """Run by scripts/test after the suite too: what setup and the tests leave must open no door. An engine's TCP
    listener must answer nothing to a client without the engine's client certificate (the TLS engine of a test run
    passes, the old `dockerd -H tcp://127.0.0.1:2375` fails). The push tests' registry serves plain HTTP on
    127.0.0.1 while a test run lasts: it is no engine (no root through it), and it must belong to a running test
    session (the `registry` fixture, which stops it at the session's end)."""
    open_doors, stray_registries = [], []
    for address, port, name, pid in listeners():
        where = (_reachable(address), port)
        if name in ENGINES:
            if _api_answers(where, tls=False) or _api_answers(where, tls=True):
                open_doors.append(f"{name} (pid {pid}) on {address}:{port} answers without a client certificate")
        elif name in REGISTRIES and not _parent_is_a_test_run(pid):
            stray_registries.append(f"{name} (pid {pid}) on {address}:{port}, outside any test run")
    assert not open_doors, open_doors
    assert not stray_registries, stray_registries

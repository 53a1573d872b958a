"""The printed run line is the verified run. A build with run options (--entrypoint, --cmd, --env, --workdir, a
--mount of a host directory, --user or --run-as) and hardening on prints a `docker run` line; that line, pasted
into a shell, starts the container that passed the hardened verification, and the verification's probes pass
against it. The Kubernetes Pod manifest of the report runs under `podman kube play` (Podman 4.3, rootful, as
scripts/setup --podman installs it) and its probes pass too.

Before, the line held only the profile's options: without the overrides the python-web image ran its own
server (no /greeting: 404), and busybox-httpd served its own /srv/www (no /runline.txt: 404)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import docker
import pytest
import yaml
from click.testing import CliRunner

from slim.cli import main
from slim.harden.render import pod_name
from tests.integration.conftest import wait_until_answers

PODMAN_SOCKET = "unix:///run/podman/podman.sock"

# The app of the python-web case lives in the mounted directory: it needs the mount, the working directory
# (it is started as `serve.py`), the environment and the user of the run, and a writable /tmp (a tmpfs).
SERVER = '''import http.server
import os

with open("/tmp/greeting.txt", "w") as fh:
    fh.write(f"{os.environ['GREETING']} in {os.getcwd()} as {os.getuid()}:{os.getgid()}")


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/greeting":
            return super().do_GET()
        with open("/tmp/greeting.txt", "rb") as fh:
            body = fh.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
'''
MARK = "served from the mounted directory\n"
GREETING = "hello from slim in /data as 65532:65532"

CASES = {
    # (sample, slim build options after the image, a path and the body the container must answer it with)
    "python-web": ("python-web", ["--entrypoint", "python3 -u", "--cmd", "serve.py", "--env",
                                  "GREETING=hello from slim", "--workdir", "/data", "--mount", "{site}:/data:ro",
                                  "--user", "65532:65532", "--http-probe-path", "/greeting"],
                   "/greeting", GREETING),
    # an image with an ENTRYPOINT: the override must be `--entrypoint WORD` and the rest after the image
    "busybox-httpd": ("busybox-httpd", ["--entrypoint", "/bin/busybox", "--cmd", "httpd -f -p 8000 -h /data",
                                        "--mount", "{site}:/data:ro", "--run-as", "nonroot",
                                        "--http-probe-path", "/runline.txt"],
                      "/runline.txt", MARK),
}


@pytest.fixture
def site(tmp_path):
    """A host directory to mount, readable by any user (the runs are not root)."""
    path = tmp_path / "site"
    path.mkdir()
    (path / "serve.py").write_text(SERVER)
    (path / "runline.txt").write_text(MARK)
    for p in (path, path / "serve.py", path / "runline.txt"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    return str(path)


def slim_build(image: str, out: str, report: str, args: list[str], site: str, env: dict | None = None,
               engine: str = "docker"):
    args = [a.replace("{site}", site) for a in args]
    result = CliRunner().invoke(main, ["-q", "--engine", engine, "build", image, "-t", out, "--report", report,
                                       *args], env=env)
    assert result.exit_code == 0, result.output + result.stderr
    with open(report) as fh:
        doc = json.load(fh)
    profile = doc["hardening"]["run_profile"]
    assert doc["verification"]["passed"] is True and profile["verified"] is True, profile
    return result, doc


def verified_paths(doc: dict) -> list[tuple[str, int]]:
    """(path, HTTP status) of each HTTP probe the hardened verification passed."""
    return [(urllib.parse.urlsplit(p["target"]).path, p["status"]) for p in doc["verification"]["probes"]
            if p["kind"] == "http"]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def probe(address: str, port: int, doc: dict, path: str, body: str, alive, explain) -> None:
    """The verification's probes, and the case's own check, against the container at `address`."""
    wait_until_answers(f"http://{address}:{port}{path}", 30, alive, explain)
    paths = verified_paths(doc)
    assert paths and path in [p for p, _ in paths]
    for probed, status in paths:
        assert get(f"http://{address}:{port}{probed}")[0] == status, probed
    assert get(f"http://{address}:{port}{path}") == (200, body)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_printed_docker_run_line_starts_the_verified_container(case, build_sample, engine, scratch_tags, site,
                                                                  tmp_path, no_leftovers):
    sample, args, path, body = CASES[case]
    out = f"slim-test/run-line:{case}"
    scratch_tags.append(out)
    result, doc = slim_build(build_sample(sample), out, str(tmp_path / "report.json"), args, site)
    profile = doc["hardening"]["run_profile"]
    printed = [line.strip() for line in result.output.splitlines() if line.strip().startswith("docker run ")]
    assert printed == [shlex.join(profile["command"])]  # the terminal and the report say the same
    argv = shlex.split(printed[0])  # as a shell reads it
    assert out in argv and f"seccomp={profile['seccomp_profile']}" in argv and os.path.isfile(profile["seccomp_profile"])
    if case == "busybox-httpd":
        assert argv[argv.index("--entrypoint") + 1] == "/bin/busybox"
        assert argv[argv.index(out) + 1:] == ["httpd", "-f", "-p", "8000", "-h", "/data"]
    port = doc["hardening"]["run_profile"]["ports"]["reached"][0]
    assert f"add -p {port}:{port}" in result.output  # the probes went to the container's address: said, not published
    name = f"slim-test-run-line-{time.monotonic_ns()}"
    try:
        started = subprocess.run(argv[:2] + ["-d", "--name", name] + argv[2:], capture_output=True, text=True,
                                 timeout=60)
        assert started.returncode == 0, started.stderr
        container = engine.containers.get(name)
        address = container.attrs["NetworkSettings"]["IPAddress"]

        def alive():
            container.reload()
            return container.status == "running"

        probe(address, port, doc, path, body, alive, lambda: container.logs().decode(errors="replace"))
        stop = time.monotonic()
        container.stop(timeout=8)
        assert time.monotonic() - stop < 5  # the init passed the stop signal on, as in the verified run
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


@pytest.fixture
def podman_rootful(build_sample):
    """The rootful Podman service's SDK client, with the python-web sample in its store."""
    client = docker.DockerClient(base_url=PODMAN_SOCKET, timeout=300)
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(f"no Podman service answers at {PODMAN_SOCKET} (scripts/setup --podman starts it): {exc}")
    save = subprocess.Popen(["docker", "save", build_sample("python-web")], stdout=subprocess.PIPE)
    loaded = subprocess.run(["podman", "load", "-q"], stdin=save.stdout, capture_output=True, cwd="/tmp")
    save.wait()
    assert loaded.returncode == 0 and save.returncode == 0, loaded.stderr.decode()
    yield client
    client.close()


def allowed(seccomp: dict) -> list[str]:
    return sorted(name for rule in seccomp["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for name in rule["names"])


def podman(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120, cwd="/tmp", **kw)


def test_the_pod_manifest_runs_under_podman_kube_play(podman_rootful, site, tmp_path):
    _, args, path, body = CASES["python-web"]
    out = "slim-test/run-line:kube"
    env = {"CONTAINER_HOST": PODMAN_SOCKET, "DOCKER_HOST": None}
    before = {c.id for c in podman_rootful.containers.list(all=True)}
    manifest = tmp_path / "pod.yaml"
    try:
        _, doc = slim_build("slim-sample/python-web:1", out, str(tmp_path / "report.json"), args, site, env, "podman")
        profile = doc["hardening"]["run_profile"]
        pod = profile["kubernetes"]
        manifest.write_text(yaml.safe_dump(pod))
        # the kubelet's seccomp directory, here a scratch one: the profile goes in under the name the Pod gives
        root = tmp_path / "seccomp"
        root.mkdir()
        context = pod["spec"]["containers"][0]["securityContext"]
        with open(profile["seccomp_profile"], "rb") as fh:
            (root / context["seccompProfile"]["localhostProfile"]).write_bytes(fh.read())
        # a Pod has no ulimits: Podman gets the run line's own (its defaults exceed what this machine allows)
        argv = profile["command"]
        limits = [argv[n + 1] for n, a in enumerate(argv) if a == "--ulimit"]
        assert limits, argv
        conf = tmp_path / "containers.conf"
        conf.write_text("[containers]\ndefault_ulimits = [" + ", ".join(f'"{u}"' for u in limits) + "]\n")
        played = podman("kube", "play", "--seccomp-profile-root", str(root), str(manifest),
                        env={**os.environ, "CONTAINERS_CONF": str(conf)})
        assert played.returncode == 0, played.stderr
        name = f"{pod['metadata']['name']}-{pod['spec']['containers'][0]['name']}"
        facts = json.loads(podman("inspect", name).stdout)[0]
        address = next(iter(facts["NetworkSettings"]["Networks"].values()))["IPAddress"]
        # the Localhost profile is the one in force: slim's allow-list, not Podman's default
        with open(os.path.join(facts["StaticDir"], "config.json")) as fh:
            in_force = json.load(fh)["linux"]["seccomp"]
        with open(profile["seccomp_profile"]) as fh:
            written = json.load(fh)
        assert (in_force["defaultAction"], allowed(in_force)) == (written["defaultAction"], allowed(written))

        def alive():
            return json.loads(podman("inspect", name).stdout)[0]["State"]["Running"]

        probe(address, 8080, doc, path, body, alive, lambda: podman("logs", name).stdout)
        stop = time.monotonic()
        stopped = podman("pod", "stop", "-t", "8", pod["metadata"]["name"])
        assert stopped.returncode == 0 and time.monotonic() - stop < 5  # the pod's PID 1 is not the app
    finally:
        if manifest.exists():
            podman("kube", "down", str(manifest))
        podman("pod", "rm", "-f", pod_name(out))
        try:
            podman_rootful.images.remove(out, force=True)
        except docker.errors.NotFound:
            pass
    assert {c.id for c in podman_rootful.containers.list(all=True)} == before  # the pod is gone, infra included

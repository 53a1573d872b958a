"""Measure how close `slim compare`'s gzip-compressed layer size is to what a registry stores on `docker push`.

For each sample (default: python-web and nginx-static), the original image and its slim image (made here with the
sample's probes) are each pushed by the engine to Debian's `docker-registry`, started on 127.0.0.1 with a fresh
temporary filesystem store for every run (so no layer is already there). The registry's manifest gives each
layer's stored size, confirmed by a HEAD of each blob. The ratio printed is slim's `compressed_bytes` (`slim
compare --json`) divided by the bytes the registry stores, median of --runs pushes.

Run: .venv/bin/python bench/push_size.py [--runs N] [SAMPLE...]   (needs the Docker engine, the base images and
docker-registry: scripts/setup). Everything it writes goes to temporary directories; the slim images and the
registry tags are removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLIM = os.path.join(os.path.dirname(sys.executable), "slim")
MANIFESTS = ", ".join(["application/vnd.docker.distribution.manifest.v2+json",
                       "application/vnd.oci.image.manifest.v1+json"])


def run(*argv: str, cwd: str | None = None) -> str:
    done = subprocess.run(argv, text=True, capture_output=True, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


class Registry:
    """docker-registry on a free port of 127.0.0.1, storing into a temporary directory; gone on exit."""

    def __enter__(self) -> str:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise SystemExit("docker-registry is not installed: scripts/setup installs it")
        self.storage = tempfile.mkdtemp(prefix="bench-registry-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = os.path.join(self.storage, "config.yml")
        with open(config, "w") as fh:
            fh.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: "
                     f"{self.storage}/data\nhttp:\n  addr: 127.0.0.1:{port}\n")
        self.proc = subprocess.Popen([binary, "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2)
                return self.address
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise SystemExit("the registry did not start") from None
                time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.storage, ignore_errors=True)


def stored_bytes(registry: str, repository: str, tag: str) -> int:
    """The layers' sizes in the pushed manifest, each checked against the blob the registry serves."""
    request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{tag}",
                                     headers={"Accept": MANIFESTS})
    with urllib.request.urlopen(request, timeout=30) as resp:
        manifest = json.load(resp)
    total = 0
    for layer in manifest["layers"]:
        head = urllib.request.Request(f"http://{registry}/v2/{repository}/blobs/{layer['digest']}", method="HEAD")
        with urllib.request.urlopen(head, timeout=30) as resp:
            served = int(resp.headers["Content-Length"])
        if served != layer["size"]:
            raise SystemExit(f"{repository}: the manifest says {layer['size']} bytes, the blob has {served}")
        total += layer["size"]
    return total


def pushed_bytes(image: str, name: str) -> int:
    """Push `image` to a fresh registry through the engine; the bytes the registry stores for its layers."""
    with Registry() as registry:
        remote = f"{registry}/bench/{name}:1"
        run("docker", "tag", image, remote)
        try:
            run("docker", "push", "-q", remote)
            return stored_bytes(registry, f"bench/{name}", "1")
        finally:
            subprocess.run(["docker", "rmi", remote], capture_output=True)


def slim_sample(name: str, tmp: str) -> tuple[str, str]:
    """Build samples/NAME and slim it with its probes; (original, slim) tags."""
    with open(os.path.join(ROOT, "samples", name, "sample.json")) as fh:
        spec = json.load(fh)
    run("docker", "build", "-q", "-t", spec["tag"], os.path.join(ROOT, "samples", name))
    out = f"slim-bench/push-{name}:slim"
    run(SLIM, "-q", "build", spec["tag"], "-t", out, "--report", os.path.join(tmp, f"{name}.json"), *spec["args"],
        cwd=tmp)
    return spec["tag"], out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="*", default=["python-web", "nginx-static"])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    engine = run("docker", "version", "--format", "{{.Server.Version}}").strip()
    print(f"engine: Docker {engine}; registry: {run('docker-registry', '--version').strip()}")
    made: list[str] = []
    ratios: list[float] = []
    print(f"{'image':36} {'slim compare gzip':>18} {'registry stores':>16} {'ratio':>8}   "
          f"(median of {args.runs} pushes)")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
            os.environ["SLIM_CACHE_DIR"] = os.path.join(tmp, "cache")  # leave the user's scan cache alone
            for name in args.samples:
                original, slimmed = slim_sample(name, tmp)
                made.append(slimmed)
                for kind, image in (("original", original), ("slim", slimmed)):
                    doc = json.loads(run(SLIM, "-q", "compare", image, "--json", cwd=tmp))
                    estimate = doc["images"][0]["compressed_bytes"]
                    pushes = [pushed_bytes(image, f"{name}-{kind}") for _ in range(args.runs)]
                    stored = statistics.median(pushes)
                    ratios.append(estimate / stored)
                    spread = "same each push" if len(set(pushes)) == 1 else f"pushes {min(pushes):,}..{max(pushes):,}"
                    print(f"{image:36} {estimate:>18,} {int(stored):>16,} {estimate / stored:>7.4f}x   {spread}",
                          flush=True)
    finally:
        subprocess.run(["docker", "rmi", "-f", *made], capture_output=True)
    worst = max(ratios, key=lambda r: abs(r - 1))
    print(f"slim compare's gzip size / bytes the registry stores: median {statistics.median(ratios):.4f}x, "
          f"furthest from 1: {worst:.4f}x ({abs(worst - 1) * 100:.1f}%)")


if __name__ == "__main__":
    main()

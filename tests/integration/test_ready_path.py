"""--ready-path, against the real engine: a server that accepts connections before it can serve (as Tomcat does
while it deploys) is probed only once it says it is ready, and one that never gets ready stops the build with the
reason, before anything is written."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

pytestmark = pytest.mark.docker

# Answers 503 for its first 6 seconds, then 200: the port is open all along.
SLOW_SERVER = """
import http.server, time
READY_AT = time.monotonic() + 6
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = time.monotonic() > READY_AT
        body = b"ready\\n" if ready else b"starting\\n"
        self.send_response(200 if ready else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("", 8080), Handler).serve_forever()
"""
RUN_SLOW_SERVER = ("--entrypoint", "python3", "--cmd", "-c " + shlex.quote(SLOW_SERVER))


def slim(*args: str, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slim", *args], capture_output=True, text=True, cwd=cwd, timeout=900)


def test_a_server_that_opens_its_port_early_is_probed_once_ready(build_sample, tmp_path, scratch_tags, no_leftovers):
    """Before: the first probe went out as soon as the port accepted and got the 503 of a starting server, so
    the build stopped with exit 17 (the original fails its own probe): the same command without --ready-path
    still does, which is the control."""
    image = build_sample("python-web")
    out = "slim-test/ready:slim"
    scratch_tags.append(out)
    control = slim("build", image, "-t", out, "--no-harden", *RUN_SLOW_SERVER, cwd=str(tmp_path))
    assert control.returncode == 17, control.stderr
    done = slim("build", image, "-t", out, "--report", "r.json", "--ready-path", "/", *RUN_SLOW_SERVER,
                cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    probes = json.loads((tmp_path / "r.json").read_text())["verification"]["probes"]
    assert [(p["status"], p["original"]["status"], p["same"]) for p in probes] == [(200, 200, True)]


def test_a_server_that_never_gets_ready_stops_the_build_with_the_reason(build_sample, tmp_path, scratch_tags,
                                                                       no_leftovers):
    image = build_sample("python-web")
    out = "slim-test/never-ready:slim"
    scratch_tags.append(out)
    done = slim("build", image, "-t", out, "--ready-path", "/", "--port-wait", "3", *RUN_SLOW_SERVER,
                cwd=str(tmp_path))
    assert done.returncode == 17, done.stderr
    assert "not ready: GET / answered 503 until --port-wait (3 s) ran out" in done.stderr
    assert subprocess.run(["docker", "image", "inspect", out], capture_output=True).returncode != 0


def test_ready_path_without_a_port_is_a_usage_error(build_sample, tmp_path):
    done = slim("build", "slim-base/debian:bookworm", "--ready-path", "/", "--cmd", "true", cwd=str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "--ready-path /: no port to ask" in done.stderr

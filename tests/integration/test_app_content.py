"""A static site whose probes fetch two files serves its other pages after slimming: the busybox-httpd sample's
document root is app content (files no package owns, read by the server), so the slim image keeps it whole."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest
from click.testing import CliRunner

from slim.cli import main
from tests.integration.conftest import SAMPLES, sample_spec, wait_until_answers

pytestmark = pytest.mark.docker

UNREQUESTED = ("/docs/guide.html", "/img/logo.svg")


def test_pages_no_probe_asked_for_are_served(engine, build_sample, scratch_tags, tmp_path, no_leftovers):
    image = build_sample("busybox-httpd")
    out = "slim-test/busybox-httpd:content"
    scratch_tags.append(out)
    result = CliRunner().invoke(main, ["-q", "build", image, "-t", out, "--report", str(tmp_path / "r.json"),
                                       "--no-harden", *sample_spec("busybox-httpd")["args"]])
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    kept = {p["path"]: p for p in report["keep"]["paths"]}
    for page in UNREQUESTED:  # never traced: kept by the rule, and the report says why
        assert kept[f"/srv/www{page}"]["reasons"] == ["content: beside files the app read in /srv/www"]
    sizes = [os.path.getsize(f"{SAMPLES}/busybox-httpd/www{page}") for page in UNREQUESTED]
    assert report["keep"]["content_directories"] == {"/srv/www": sum(sizes)}
    assert report["keep"]["by_category"]["content"] == {"files": 2, "bytes": sum(sizes)}
    container = engine.containers.run(out, detach=True)
    try:
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        wait_until_answers(f"http://{address}:8000/", 30, explain=container.logs)
        for page in UNREQUESTED:
            with urllib.request.urlopen(f"http://{address}:8000{page}", timeout=10) as resp:
                with open(f"{SAMPLES}/busybox-httpd/www{page}", "rb") as fh:
                    assert resp.status == 200 and resp.read() == fh.read()
    finally:
        container.remove(force=True)

"""`slim doctor` against the real engine: it proves that probes reach a container by probing one, and leaves
nothing behind, whether the probe got its answer or not."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from slim.cli import main
from slim.engine import connect
from slim.progress import Phases
from slim.run import reach

pytestmark = pytest.mark.docker


def test_doctor_proves_that_probes_reach_a_container(engine, no_leftovers):
    result = CliRunner().invoke(main, ["-q", "doctor", "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    probes = json.loads(result.stdout)["probes"]
    assert probes["works"] is True and probes["image"] == "slim-base/alpine:3.20"
    assert probes["detail"].startswith("GET http://") and "status 200, body 'slim doctor\\n'" in probes["detail"]


@pytest.mark.parametrize("base", [name for name, _ in reach.LISTENERS])
def test_each_base_images_listener_answers_the_probe(base, engine, monkeypatch, no_leftovers):
    """The listener of every base image runs with that image's own tools (busybox nc, perl) and answers."""
    monkeypatch.setattr(reach, "LISTENERS", tuple(item for item in reach.LISTENERS if item[0] == base))
    found = reach.probe_reach(connect("docker"), Phases())
    assert found["works"] is True and found["image"] == base, found


def test_a_probe_that_gets_no_answer_fails_the_doctor_with_the_reason(engine, monkeypatch, no_leftovers):
    """A listener that never listens: doctor says the probe got no answer and why, exits 7, and the container
    it started is gone."""
    monkeypatch.setattr(reach, "LISTENERS", (("slim-base/alpine:3.20", lambda port: ("true",)),))
    result = CliRunner().invoke(main, ["-q", "doctor"])
    assert result.exit_code == 7, result.output + result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("slim: error: probes do not reach a container with this engine: ")
    assert "no answer (the container exited before the port opened)" in line
    assert "probes: DO NOT REACH a container" in result.stdout

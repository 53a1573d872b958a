"""A Python tool that imports zoneinfo only on a path the traced run never takes: the slim image must still load
a zone by name, which needs sysconfig's build configuration (imported by a name built at run time) and the zone
file (read only then)."""

from __future__ import annotations


import pytest
from click.testing import CliRunner

from slim.cli import main
from tests.integration.conftest import built_image, run_output

pytestmark = pytest.mark.docker

@pytest.fixture(scope="module")
def python_zoneinfo(engine):
    with built_image("python-zoneinfo") as tag:
        yield tag


def test_a_zone_loaded_by_name_on_an_untaken_path(engine, python_zoneinfo, scratch_tags, tmp_path, no_leftovers):
    out = "slim-test/python-zoneinfo:slim"
    scratch_tags.append(out)
    result = CliRunner().invoke(main, ["-q", "build", python_zoneinfo, "-t", out, "--report",
                                       str(tmp_path / "r.json"), "--no-harden", "--continue-after", "exit"])
    assert result.exit_code == 0, result.output + result.stderr
    assert run_output(engine, out) == b"hello\n"
    for name, want in (("Europe/Paris", b"2024-07-01T12:00:00+02:00\n"), ("America/New_York",
                                                                        b"2024-07-01T12:00:00-04:00\n")):
        assert run_output(engine, python_zoneinfo, "tz", name) == want
        assert run_output(engine, out, "tz", name) == want

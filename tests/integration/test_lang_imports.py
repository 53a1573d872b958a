"""The default language completion (`imports`) keeps what code the probes never reached imports: the Python
sample's CSV route loads its modules only when asked, the probes never ask, and the slim image still serves it.
At `off` it does not, which is what proves this test can fail."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from slim.cli import main
from tests.integration.conftest import sample_spec, wait_until_answers

pytestmark = pytest.mark.docker


def get(engine, image: str, path: str) -> tuple[int | None, bytes]:
    """Run `image`, GET `path` on its port 8080 once it answers; (status, body), status None when it fails."""
    container = engine.containers.run(image, detach=True)
    try:
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        wait_until_answers(f"http://{address}:8080/api/health", 30, explain=container.logs)
        try:
            with urllib.request.urlopen(f"http://{address}:8080{path}", timeout=10) as resp:
                return resp.status, resp.read()
        except (urllib.error.URLError, ConnectionError, OSError):
            return None, b""
    finally:
        container.remove(force=True)


@pytest.mark.parametrize("level, serves", [("imports", True), ("off", False)])
def test_a_route_the_probes_never_took_still_works(level, serves, engine, build_sample, scratch_tags, tmp_path,
                                                   no_leftovers):
    image = build_sample("python-web")
    out = f"slim-test/python-web:{level}"
    scratch_tags.append(out)
    args = ["-q", "build", image, "-t", out, "--report", str(tmp_path / "r.json"), *sample_spec("python-web")["args"]]
    if level != "imports":
        args += ["--lang-completion", level]  # imports is the default
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["language_completion"]["level"] == level
    costs = report["language_completion"]["bytes_by_level"]
    assert costs["off"] == 0 < costs["package"] < costs["imports"] < costs["full"]
    status, body = get(engine, out, "/api/notes.csv")
    if serves:
        assert status == 200 and b"mean text length" in body
        kept = {p["path"]: p["reasons"] for p in report["keep"]["paths"]}
        # the app's own module the probes never loaded, kept for the import line that names it
        assert any("imported at /srv/app/server.py:" in r for r in kept["/srv/app/notes/export.py"])
        assert "/usr/lib/python3.11/statistics.py" in kept and "/usr/lib/python3.11/tkinter/__init__.py" not in kept
    else:
        assert status != 200

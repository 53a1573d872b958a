"""The default language completion (`imports`) keeps what code the probes never reached imports: the Python and
Node samples' CSV routes load their modules only when asked, the probes never ask, and the slim images still
serve them. At `off` they do not, which is what proves this test can fail."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import docker.errors
import pytest
from click.testing import CliRunner

from slim.cli import main
from tests.integration.conftest import sample_spec, wait_until_answers

pytestmark = pytest.mark.docker


# sample -> (port, a path that answers once the app is up, the lazily loaded route, text its answer holds,
#            {kept path: start of one of its reasons}, paths that must stay out)
ROUTES = {
    "python-web": (8080, "/api/health", "/api/notes.csv", b"mean text length",
                   # the app's own module is kept as app content too (its directory is); the standard library
                   # modules it loads lazily only by the import closure
                   {"/usr/lib/python3.11/statistics.py": "imported at /srv/app/notes/export.py:",
                    "/usr/lib/python3.11/fractions.py": "imported at /usr/lib/python3.11/statistics.py:"},
                   ["/usr/lib/python3.11/tkinter/__init__.py", "/usr/lib/python3.11/_pydecimal.py"]),
    "node-server": (3000, "/", "/api/report.csv", b'greeting,"Hello, report!"',
                    {"/opt/app/node_modules/reporter/lib/report.js": "required at /opt/app/server.js:",
                     "/opt/app/node_modules/reporter/lib/quote.js": "required at /opt/app/node_modules/reporter/"},
                    ["/opt/app/node_modules/reporter/test/report.test.js"]),
    # requests -> urllib3 1.26 -> six.moves: six loads queue and http.client by names from its table
    "python-requests": (8080, "/api/health", "/api/fetch-self",
                        b'{"prepared": "http://example.invalid/a%20b?q=x+y", "quoted": "a%20b/c", "self": {"ok": true}, '
                        b'"status": 200}',
                        {"/usr/lib/python3/dist-packages/urllib3/connectionpool.py": "imported at /usr/lib/python3/",
                         "/usr/lib/python3.11/queue.py": "named at /usr/lib/python3/dist-packages/six.py:"},
                        # pydoc's tables of topics are words, not the modules its __import__(path) loads
                        ["/usr/lib/python3/dist-packages/requests/help.py", "/usr/lib/python3.11/pdb.py"]),
}


def get(engine, image: str, port: int, ready: str, path: str) -> tuple[int | None, bytes]:
    """Run `image`, GET `path` once `ready` answers; (status, body), status None when it fails."""
    container = engine.containers.run(image, detach=True)
    try:
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        wait_until_answers(f"http://{address}:{port}{ready}", 30, explain=container.logs)
        try:
            with urllib.request.urlopen(f"http://{address}:{port}{path}", timeout=10) as resp:
                return resp.status, resp.read()
        except (urllib.error.URLError, ConnectionError, OSError):
            return None, b""
    finally:
        container.remove(force=True)


@pytest.mark.parametrize("sample", sorted(ROUTES))
@pytest.mark.parametrize("level, serves", [("imports", True), ("off", False)])
def test_a_route_the_probes_never_took_still_works(sample, level, serves, engine, build_sample, scratch_tags,
                                                   tmp_path, no_leftovers):
    port, ready, route, answer, kept_for, left_out = ROUTES[sample]
    image = build_sample(sample)
    out = f"slim-test/{sample}:{level}"
    scratch_tags.append(out)
    args = ["-q", "build", image, "-t", out, "--report", str(tmp_path / "r.json"), "--no-harden",
            *sample_spec(sample)["args"]]
    if level != "imports":
        args += ["--lang-completion", level]  # imports is the default
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["language_completion"]["level"] == level
    costs = report["language_completion"]["bytes_by_level"]
    # imports costs less than the whole standard library (Python) or the whole packages (Node)
    assert costs["off"] == 0 < costs["imports"] < costs["full"], costs
    status, body = get(engine, out, port, ready, route)
    if serves:
        assert status == 200 and answer in body
        kept = {p["path"]: p["reasons"] for p in report["keep"]["paths"]}
        for path, why in kept_for.items():  # kept for the import line that names it
            assert any(r.startswith(f"language: {why}") for r in kept[path]), (path, kept.get(path))
        assert not [p for p in left_out if p in kept]
        if sample.startswith("python-"):  # what never following the imports of __main__ blocks kept out
            cuts = report["language_completion"]["cuts"]
            assert set(cuts) == {"type_checking", "main", "platform", "version", "constant", "builtin_fallback"} \
                and cuts["main"] > 100_000, cuts
    else:
        assert status != 200
    if sample == "python-web":
        assert decodes_what_no_probe_decoded(engine, out) is serves
        # codecs are looked up by a name built at run time: the report says what keeping encodings whole cost
        whole = report["language_completion"]["kept_whole"]
        assert (whole.get("/usr/lib/python3.11/encodings", 0) > 500_000) is serves, whole


# Codecs are looked up by a name known only at run time ('encodings.' + name): the whole encodings package is
# kept, and what its modules import too (shift_jis needs the _codecs_jp extension, bz2 the bz2 module and _bz2).
CODECS = ("import codecs; assert b'\\x82\\xa0'.decode('shift_jis') == '\\u3042'; "
          "assert codecs.decode(codecs.encode(b'slim', 'bz2'), 'bz2') == b'slim'; print('decoded')")


def decodes_what_no_probe_decoded(engine, image: str) -> bool:
    try:
        return b"decoded" in engine.containers.run(image, ["python3", "-c", CODECS], remove=True, stderr=True)
    except docker.errors.ContainerError:
        return False


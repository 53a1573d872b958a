"""Ruby and PHP apps whose handlers load code only when their route is first hit: the probes take / and one
route, and the slim image built at the default level (`imports`) still serves every other route with the same
body. At `off` one of them fails, which is what proves this test can fail."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from slim.cli import main
from tests.integration.conftest import sample_spec, wait_until_answers

pytestmark = pytest.mark.docker

# sample -> (port, {route the probes never take: the start of its body}, {kept path: start of one of its reasons})
UNTAKEN = {
    "ruby-sinatra": (8080, {"/digest": b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                            "/csv": b'a,"b,c",d', "/report": b"eCx5"},
                     {"/usr/lib/ruby/3.1.0/csv.rb": "required at /srv/app/app.rb:",
                      "/usr/lib/ruby/3.1.0/csv/parser.rb": "required at /usr/lib/ruby/3.1.0/csv.rb:"}),
    "php-app": (8080, {"/clock": b"2024-01-15 13:00 CET", "/price": b"12.34 EUR", "/about": b"about: a sample",
                       "/readme": b"<h1>Read me</h1>"},
                # the app's own files are app content (kept beside those the app read); Debian's library is not
                {"/usr/share/php/Parsedown/autoload.php": "required at /srv/app/src/Router.php:",
                 "/usr/share/php/Parsedown/Parsedown.php": "package /usr/share/php/Parsedown kept whole: "
                                                           "/usr/share/php/Parsedown/autoload.php:"}),
}


def get_all(engine, image: str, port: int, paths: list[str]) -> dict[str, tuple[int | None, bytes]]:
    """Run `image`; GET each path once / answers: {path: (status, body)}, status None when the request fails."""
    container = engine.containers.run(image, detach=True)
    try:
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        wait_until_answers(f"http://{address}:{port}/", 30, explain=container.logs)
        out = {}
        for path in paths:
            try:
                with urllib.request.urlopen(f"http://{address}:{port}{path}", timeout=10) as resp:
                    out[path] = (resp.status, resp.read())
            except urllib.error.HTTPError as exc:
                out[path] = (exc.code, b"")
            except (urllib.error.URLError, ConnectionError, OSError):
                out[path] = (None, b"")
        return out
    finally:
        container.remove(force=True)


@pytest.mark.parametrize("sample", sorted(UNTAKEN))
@pytest.mark.parametrize("level", ["imports", "off"])
def test_routes_the_probes_never_took_still_answer(sample, level, engine, build_sample, scratch_tags, tmp_path,
                                                   no_leftovers):
    port, routes, kept_for = UNTAKEN[sample]
    image = build_sample(sample)
    out = f"slim-test/{sample}:{level}"
    scratch_tags.append(out)
    args = ["-q", "build", image, "-t", out, "--report", str(tmp_path / "r.json"), "--no-harden",
            "--lang-completion", level, *sample_spec(sample)["args"]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    answers = get_all(engine, out, port, sorted(routes))
    if level == "off":  # nothing loaded them in the traced run: some route breaks without the closure
        assert any(status != 200 or not body.startswith(routes[path]) for path, (status, body) in answers.items())
        return
    assert {path: (status, body[:len(routes[path])]) for path, (status, body) in answers.items()} == \
        {path: (200, want) for path, want in routes.items()}
    kept = {p["path"]: p["reasons"] for p in report["keep"]["paths"]}
    for path, why in kept_for.items():  # kept for the statement that loads it
        assert any(r.startswith(f"language: {why}") for r in kept.get(path, [])), (path, kept.get(path))
    if sample == "ruby-sinatra":
        rubygems_holds_together(engine, out, report)


# RubyGems in the slim image: every specification it still has, each one's run-time dependencies found, and every
# gem that is no default gem activated (what `gem NAME` and a require through RubyGems do)
RUBYGEMS_CHECK = """
specs = Gem::Specification.to_a
bad = specs.flat_map { |s| s.runtime_dependencies.map { |d| begin; d.to_spec; nil; rescue Gem::LoadError => e
  "#{s.full_name} needs #{d}: #{e.class}"; end } }.compact
specs.reject(&:default_gem?).each { |s| begin; gem s.name, s.version.to_s; rescue Gem::LoadError => e
  bad << "#{s.full_name}: #{e.message}"; end }
puts "gems: #{specs.map(&:full_name).sort.join(' ')}", "broken: #{bad.join('; ')}"
"""


def rubygems_holds_together(engine, image: str, report: dict) -> None:
    """The gemspecs of gems whose code slimming removed are gone (the bundled debug, rbs, typeprof...; the default
    gems irb and rdoc), those of the gems the app uses stay, and RubyGems finds what each remaining gem needs."""
    out = engine.containers.run(image, entrypoint=["ruby", "-e", RUBYGEMS_CHECK], remove=True).decode()
    gems = {line for line in out.splitlines() if line.startswith("gems: ")}.pop().split()[1:]
    names = {g.rsplit("-", 1)[0] for g in gems}
    assert {"sinatra", "rack", "rack-protection", "mustermann", "tilt", "webrick", "csv", "digest"} <= names, gems
    assert not names & {"debug", "rbs", "typeprof", "rake", "minitest", "test-unit", "irb", "rdoc"}, gems
    assert out.split("broken: ", 1)[1].strip() == "", out
    assert report["language_completion"]["cuts"]["ruby_unused_gemspecs"] > 0

"""slim.yaml: parsing, validation errors that name the key and line, and flags overriding the file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from slim import config_file, pipeline
from slim.cli import main
from slim.errors import SlimError, UsageError

FULL = """\
version: 1
output:
  tags: [registry.example/web:1-slim]
  to: docker
  report: out/report.json
  junit: out/junit.xml
  summary: out/summary.md
  push: true
probes:
  paths: [/api/health, /api/notes]
  ports: [8080]
  continue_after: probe
  port_wait: 30
run:
  env: [APP_MODE=production]
  user: "1000"
keep:
  paths: [/app/templates]
  exclude: ["*.pyc"]
  lang_completion: package
tracing:
  syscall_profile: true
hardening:
  enabled: true
  seccomp_profile: out/seccomp.json
  run_as: nonroot
gates:
  max_size: 80MB
  min_reduction: 50
  fail_on: [hardening]
"""


def test_a_full_file_flattens_to_the_build_options(tmp_path):
    path = tmp_path / "slim.yaml"
    path.write_text(FULL)
    flat = config_file.load(str(path))
    assert flat["tags"] == ["registry.example/web:1-slim"] and flat["push"] is True
    assert flat["http_paths"] == ["/api/health", "/api/notes"] and flat["http_ports"] == [8080]
    assert flat["env"] == ["APP_MODE=production"] and flat["include_paths"] == ["/app/templates"]
    assert flat["max_size"] == "80MB" and flat["min_reduction"] == 50 and flat["fail_on"] == ["hardening"]
    assert flat["seccomp_file"] == "out/seccomp.json" and flat["run_as"] == "nonroot"


@pytest.mark.parametrize("text, message", [
    ("version: 1\nprobes:\n  http: true\n  pathz: [/x]\n", ":4: probes.pathz is not a known setting"),
    ("version: 1\nprobez:\n  http: true\n", ":2: probez is not a known setting"),
    ("version: 1\ngates:\n  min_reduction: lots\n", ":3: gates.min_reduction must be number"),
    ("version: 1\ngates:\n  min_reduction: 150\n", ":3: gates.min_reduction is out of range"),
    ("version: 1\nrun:\n  env: [A=1, NOVALUE]\n", ":3: run.env.1 must be K=V"),
    ("version: 1\nkeep:\n  lang_completion: most\n", ":3: keep.lang_completion must be one of imports, full, package, off"),
    ("version: 2\n", ":1: version must be 1"),
    ("version: 1\nprobes: [1, 2\n", ":3: not valid YAML"),
    ("- just\n- a list\n", ":1: the file must be object"),
])
def test_bad_files_name_the_key_and_line(tmp_path, text, message):
    path = tmp_path / "slim.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        config_file.load(str(path))
    assert message in str(err.value) and str(err.value).startswith(str(path))


def test_an_empty_file_sets_nothing(tmp_path):
    (tmp_path / "slim.yaml").write_text("")
    assert config_file.load(str(tmp_path / "slim.yaml")) == {}


class _Stop(SlimError):
    exit_code = 42


def _captured_options(monkeypatch, tmp_path, args):
    seen = {}

    def fake_build(ref, opts, ws, engine, phases):
        seen["opts"] = opts
        raise _Stop("captured")

    monkeypatch.setattr(pipeline, "build", fake_build)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "web:1", *args])
    assert result.exit_code == 42, result.output
    return seen["opts"]


def test_flags_override_the_file_and_the_file_overrides_defaults(monkeypatch, tmp_path):
    (tmp_path / "slim.yaml").write_text("version: 1\nprobes:\n  paths: [/from-file]\n  port_wait: 7\n"
                                        "keep:\n  lang_completion: off\noutput:\n  tags: [web:file]\n")
    opts = _captured_options(monkeypatch, tmp_path, ["--http-probe-path", "/from-flag"])
    assert opts.run.probes.http_paths == ("/from-flag",)  # the flag wins
    assert opts.run.probes.port_wait == 7 and opts.plan.lang_completion == "off" and opts.tags == ("web:file",)
    opts = _captured_options(monkeypatch, tmp_path, ["--config", str(tmp_path / "slim.yaml"), "-t", "web:flag"])
    assert opts.tags == ("web:flag",)


def test_without_a_file_the_defaults_apply(monkeypatch, tmp_path):
    opts = _captured_options(monkeypatch, tmp_path, [])
    assert opts.run.probes.port_wait == 60 and opts.tags == ("web:1-slim",)


def test_a_missing_config_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["build", "web:1", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "no such file" in result.output

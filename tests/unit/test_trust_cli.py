"""The content-trust options of `slim build` and the trust commands, before anything runs: contradictions, keys,
config keys, the vulnerability gate and what JUnit shows."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest
import xmlschema
from click.testing import CliRunner

from slim import config_file
from slim.cli import main
from slim.cli.trust_build import Trust, verdicts
from slim.errors import GateFailed, UsageError
from slim.report.ci import junit_xml
from slim.report.gates import raise_for

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
REPORT = os.path.join(FIXTURES, "vulns", "python-web.grype.json")
PASSWORD = {"SLIM_KEY_PASSWORD": "pw"}


def slim(*args: str, env=None):
    return CliRunner().invoke(main, list(args), env={**PASSWORD, **(env or {})})


@pytest.fixture
def key(tmp_path):
    done = slim("keygen", str(tmp_path / "k"))
    assert done.exit_code == 0, done.output
    return str(tmp_path / "k.key")


@pytest.mark.parametrize("args, says", [
    (["--sign-by", "ABCD"], "add --push"),
    (["--max-vulns", "critical=0"], "add --vulns REPORT or --scan"),
    (["--vulns", REPORT, "--scan"], "give one"),
    (["--vulns", REPORT, "--max-vulns", "severe=1"], "SEVERITY=N"),
    (["--vulns", REPORT, "other:1"], "with several images use --scan"),
    (["--push", "--sign-by", "ABCD", "--signature-dir", "/tmp/x", "--no-verify"], "--no-verify"),
])
def test_contradictory_trust_options_are_refused_before_anything_runs(args, says):
    done = slim("build", "nosuch:1", *args)
    assert done.exit_code == 2 and says in done.stderr


def test_a_wrong_key_password_fails_before_the_build(key):
    done = slim("build", "nosuch:1", "--push", "--sign-key", key, env={"SLIM_KEY_PASSWORD": "not it"})
    assert done.exit_code == 2 and "wrong password" in done.stderr


def test_keygen_refuses_to_overwrite_a_key_unless_forced(tmp_path, key):
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    assert (tmp_path / "k.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = slim("keygen", str(tmp_path / "k"))
    assert again.exit_code == 2 and "--force" in again.stderr
    assert slim("keygen", str(tmp_path / "k"), "--force").exit_code == 0


def test_signing_and_vulnerability_settings_go_in_the_config_file(tmp_path):
    path = tmp_path / "slim.yaml"
    path.write_text("signing:\n  key: release.key\n  gpg_fingerprint: ABCD\n  signature_dir: sigs\n"
                    "vulnerabilities:\n  report: grype.json\ngates:\n  max_vulns: [critical=0, high=3]\n")
    assert config_file.load(str(path)) == {"sign_key": "release.key", "sign_by": "ABCD", "signature_dir": "sigs",
                                           "vulns_file": "grype.json", "max_vulns": ["critical=0", "high=3"]}
    path.write_text("gates:\n  max_vulns: [critical]\n")
    with pytest.raises(UsageError, match=r"gates\.max_vulns\.0"):
        config_file.load(str(path))


def _doc(after: dict) -> dict:
    before = {"critical": 1, "high": 6, "medium": 4, "low": 1, "negligible": 3, "unknown": 0}
    return {"image": "slim-sample/python-web:1", "verification": {"probes": []},
            "vulnerabilities": {"before": before, "after": after, "removed": [], "remaining": []}}


def test_the_vulnerability_gate_fails_with_its_own_exit_code():
    after = {"critical": 1, "high": 3, "medium": 0, "low": 0, "negligible": 1, "unknown": 0}
    [verdict] = verdicts(Trust(limits={"critical": 0}), _doc(after))
    assert verdict.passed is False and verdict.exit_code == 18
    with pytest.raises(GateFailed) as raised:
        raise_for(verdict)
    assert raised.value.exit_code == 18 and "severity critical: 1 remaining" in str(raised.value)
    [verdict] = verdicts(Trust(limits={"high": 4}), _doc(after))
    assert verdict.passed is True
    assert verdicts(Trust(), _doc(after)) == []  # no limit asked for, no gate


def test_junit_shows_the_counts_before_and_after(tmp_path):
    after = {"critical": 1, "high": 3, "medium": 0, "low": 0, "negligible": 1, "unknown": 0}
    doc = _doc(after)
    xml = junit_xml(doc, verdicts(Trust(limits={"critical": 0}), doc), 1.0)
    (tmp_path / "j.xml").write_bytes(xml)
    xmlschema.XMLSchema(os.path.join(FIXTURES, "schemas", "junit.xsd")).validate(str(tmp_path / "j.xml"))
    props = {p.get("name"): p.get("value") for p in ET.fromstring(xml).iter("property")}
    assert props["vulnerabilities.before.high"] == "6" and props["vulnerabilities.after.high"] == "3"
    [case] = ET.fromstring(xml).iter("testcase")
    assert case.get("name") == "gate max-vulns" and case.find("failure") is not None


def test_without_a_terminal_a_missing_password_is_a_usage_error(tmp_path):
    done = CliRunner().invoke(main, ["keygen", str(tmp_path / "k")], env={"SLIM_KEY_PASSWORD": None,
                                                                         "COSIGN_PASSWORD": None})
    assert done.exit_code == 2 and "SLIM_KEY_PASSWORD" in done.stderr

"""A probe's answer is worded by one rule (ProbeResult.answer) in every output: the verification's differences,
the terminal's probe lines, and the JUnit message CI dashboards show."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from slim.cli.render import _answer as terminal_answer
from slim.model import ProbeResult
from slim.report.ci import junit_xml
from slim.report.shapes import answer_json, probe_json, probe_of_json
from slim.run.verify import probe_difference

ANSWERED = ProbeResult("http", "http://10.0.0.2:80/", True, 200, "ab" * 32, 12, "<html>", 0.5)
REFUSED = ProbeResult("http", "http://10.0.0.3:80/", False, None, detail="ConnectionRefusedError: [Errno 111]")
COMMAND = ProbeResult("exec", "check", True, 3, "cd" * 32, 4, "boom")


@pytest.mark.parametrize(("probe", "said"), [(ANSWERED, "status 200"), (COMMAND, "exit code 3"),
                                             (REFUSED, "no answer (ConnectionRefusedError: [Errno 111])")])
def test_every_output_words_the_answer_alike(probe, said):
    assert probe.answer() == said
    assert probe_of_json(probe_json(probe)) == ProbeResult(**{**probe.__dict__, "seconds": round(probe.seconds, 3)})
    assert answer_json(probe_json(probe)) == said
    # the terminal adds how much came back, and only that
    assert terminal_answer(probe_json(probe)) == said + (f", {probe.body_bytes} bytes" if probe.ok else "")


def test_a_probe_the_other_image_did_not_get_is_not_probed():
    assert answer_json(None) == answer_json({}) == terminal_answer(None) == "not probed"


def test_the_difference_and_the_junit_message_say_the_same():
    said = f"original {ANSWERED.answer()}, slim {REFUSED.answer()}"
    assert probe_difference(ANSWERED, REFUSED) == said
    doc = {"image": "web:1", "verification": {"probes": [
        {**probe_json(REFUSED), "original": probe_json(ANSWERED), "key": REFUSED.key, "same": False}]}}
    failure = ET.fromstring(junit_xml(doc, [], 1.0)).find(".//failure")
    assert failure is not None and failure.get("message") == said

"""The JSON examples in docs/ have the shape slim emits today. samples/make_readme_examples.py writes them
from real runs; when a document gains, loses or renames a key, this fails until the examples are regenerated.
Keys are compared down to the sections' own keys (and a probe's), since the examples cut lists and data maps.
The documents the fake engine makes here also fit their JSON Schemas (docs/schemas/)."""

from __future__ import annotations

import json
import os
import re

import pytest

from fake_engine import Behaviour, FakeEngine
from schemas import validate
from slim import pipeline
from slim.image.reference import parse_reference
from slim.image.sink import Output
from slim.plan.keep import PlanOptions
from slim.progress import Phases
from slim.report.compare import comparison_json
from slim.report.shapes import info_json, trace_json
from slim.run.options import RunOptions
from slim.run.probes import ProbePlan
from slim.workspace import Workspace
from tarbuild import layer

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs")
# the page each generated example lives on (samples/make_readme_examples.py and make_comparison.py write them)
PAGES = {"report": "report.md", "trace": "commands.md", "inspect": "commands.md", "compare": "commands.md"}
APP = layer(("app", "dir"), ("app/run", "file", (b"not ELF", 0o755)), ("etc/data.txt", "file", b"used"),
            ("etc/os-release", "file", b"ID=debian\n"), ("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\n"))
TRACE = """1     execve("/app/run", ["/app/run"], 0x7ffc8a0e9c58 /* 1 vars */) = 0
1     openat(AT_FDCWD</>, "/etc/data.txt", O_RDONLY) = 3</etc/data.txt>
1     exit_group(0)                     = ?
1     +++ exited with 0 +++
"""
# Sections whose keys are data, not the shape: phase names, an engine's facts (they differ between engines),
# os-release fields, syscall names, the access kinds a trace saw.
DATA_SECTIONS = {"seconds", "engine", "os", "syscalls"}


def example(name: str) -> dict:
    with open(os.path.join(DOCS, PAGES[name])) as fh:
        text = fh.read()
    found = re.search(rf"<!-- begin:example-{name} -->.*?```json\n(.*?)\n```\n<!-- end:example-{name} -->", text, re.S)
    assert found, f"docs/{PAGES[name]} has no example-{name} block between markers"
    return json.loads(found.group(1))


def assert_same_shape(shown: dict, emitted: dict, data_sections=frozenset()) -> None:
    assert list(shown) == list(emitted), "top-level keys differ: rerun samples/make_readme_examples.py"
    for key, value in emitted.items():
        if isinstance(value, dict) and key not in DATA_SECTIONS | data_sections:
            assert set(shown[key]) == set(value), f"{key}: keys differ: rerun samples/make_readme_examples.py"
        for part in ("probes",):
            if isinstance(value, dict) and value.get(part) and isinstance(shown[key].get(part, [None])[0], dict):
                assert set(shown[key][part][0]) == set(value[part][0]), f"{key}.{part}[]: keys differ"


@pytest.fixture(scope="module")
def built():
    """A build through the in-memory engine: the report and the trace as slim emits them today."""
    engine = FakeEngine()
    engine.add_image("job:1", [APP], Behaviour(exit_code=None, trace=TRACE, execs={"check": (0, b"ok")}))
    with Workspace() as ws:
        options = pipeline.BuildOptions(
            run=RunOptions("job:1", cmd=("/app/run",), probes=ProbePlan(execs=("check",))), plan=PlanOptions(),
            output=Output("docker"), tags=("job:1-slim",), seccomp_file=ws.path("seccomp.json"))
        report = pipeline.build(parse_reference("job:1"), options, ws, engine, Phases())
        info = pipeline.inspect(parse_reference("job:1"), ws, engine, Phases())
    compared = pipeline.compare([parse_reference("job:1")], Workspace, engine, Phases())
    return report, info, compared


def test_the_build_report_example_has_the_report_shape(built):
    doc = validate("build", built[0].to_json())
    assert doc["trace"]["probes"] and doc["verification"]["probes"], "the fake build should have probed"
    assert_same_shape(example("report"), doc)


def test_the_trace_example_has_the_trace_shape(built):
    report = built[0]
    assert_same_shape(example("trace"), validate("trace", trace_json("job:1", report.facts.trace)),
                      data_sections={"files"})


def test_the_inspect_example_has_the_inspect_shape(built):
    assert_same_shape(example("inspect"), validate("inspect", info_json(built[1])))


def test_the_compare_example_has_the_compare_shape(built):
    doc = validate("compare", comparison_json(built[2]))
    shown = example("compare")
    assert list(shown) == list(doc)
    image = {**doc["images"][0], "only_here": []}  # --packages adds it (the example is made with it)
    assert_same_shape(shown["images"][0], image)


def test_the_runtime_call_count_is_the_measured_list():
    """docs/hardening.md's count of the calls the container runtime makes is the list bench/runtime_syscalls.py
    measured."""
    from slim.harden.runtime import RUNTIME_SYSCALLS

    with open(os.path.join(DOCS, "hardening.md")) as fh:
        said = re.findall(r"`slim/harden/runtime\.py`, (\d+) calls, measured", fh.read())
    assert said == [str(len(RUNTIME_SYSCALLS))]

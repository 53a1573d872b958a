"""Validate slim's JSON documents against the JSON Schema files in docs/schemas, so the published schemas and
what slim writes cannot drift apart: every test that produces a report calls `validate`."""

from __future__ import annotations

import functools
import json
import os

import jsonschema

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "schemas")
FILES = {"build": "slim.build-1.schema.json", "inspect": "inspect.schema.json", "compare": "compare.schema.json",
         "trace": "trace.schema.json"}


@functools.cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    """The checked validator of one document kind (build, inspect, compare, trace)."""
    with open(os.path.join(SCHEMAS, FILES[kind])) as fh:
        schema = json.load(fh)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate(kind: str, doc: dict) -> dict:
    """Raise AssertionError naming every place `doc` departs from the schema of `kind`; return `doc`."""
    errors = sorted(validator(kind).iter_errors(doc), key=lambda e: list(e.absolute_path))
    where = [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:200]}" for e in errors]
    assert not where, f"{kind} document does not fit docs/schemas/{FILES[kind]}:\n" + "\n".join(where)
    return doc


def checked(report):
    """A BuildReport whose `to_json()` fits the slim.build/1 schema, returned as it came (for helpers that build)."""
    validate("build", report.to_json())
    return report

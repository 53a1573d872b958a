"""The JSON documents an image is made of (docker-archive manifest.json, OCI index and manifest, image config),
checked once, where they are parsed, against the shape slim relies on.

Everything here comes from untrusted input. After `check`, the readers may index into a document without
guarding every access, and a document of the wrong shape is one ImageFormatError naming where it is wrong.
Messages name the place (`config.Env[3]`) and what was expected, never the value: a config's Env may hold
secrets. Validation uses jsonschema, so the shapes below are data, not code.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from slim.errors import ImageFormatError

MAX_DOCUMENT_BYTES = 16 << 20  # manifests and configs are small; a bigger one is refused, not read

_STRINGS = {"type": "array", "items": {"type": "string"}}
_OPTIONAL_STRINGS = {"type": ["array", "null"], "items": {"type": "string"}}
_STRING_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
_OBJECT_OR_NULL = {"type": ["object", "null"]}

DESCRIPTOR = {
    "type": "object",
    "required": ["digest"],
    "properties": {
        "mediaType": {"type": "string"},
        "digest": {"type": "string"},
        "size": {"type": "integer", "minimum": 0},
        "annotations": _STRING_MAP,
        "platform": {"type": "object", "properties": {"os": {"type": "string"}, "architecture": {"type": "string"}}},
    },
}

DOCKER_MANIFEST = {  # docker-archive manifest.json
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["Config"],
        "properties": {"Config": {"type": "string"}, "Layers": _STRINGS, "RepoTags": _OPTIONAL_STRINGS},
    },
}

OCI_INDEX = {
    "type": "object",
    "properties": {"manifests": {"type": "array", "items": DESCRIPTOR}},
}

OCI_MANIFEST = {  # an image manifest, or a nested index (then "manifests" is what counts)
    "type": "object",
    "properties": {
        "mediaType": {"type": "string"},
        "config": DESCRIPTOR,
        "layers": {"type": "array", "items": DESCRIPTOR},
        "manifests": {"type": "array", "items": DESCRIPTOR},
    },
    "anyOf": [{"required": ["config"]}, {"required": ["manifests"]}],
}

RUN_CONFIG = {
    "type": ["object", "null"],
    "properties": {
        "Env": {"type": ["array", "null"], "items": {"type": "string", "pattern": "="}},
        "Entrypoint": _OPTIONAL_STRINGS,
        "Cmd": _OPTIONAL_STRINGS,
        "User": {"type": "string"},
        "WorkingDir": {"type": "string"},
        "StopSignal": {"type": "string"},
        "Labels": _STRING_MAP,
        "ExposedPorts": _OBJECT_OR_NULL,
        "Volumes": _OBJECT_OR_NULL,
        "Healthcheck": {"type": ["object", "null"], "properties": {"Test": _OPTIONAL_STRINGS}},
    },
}

IMAGE_CONFIG = {
    "type": "object",
    "properties": {
        "config": RUN_CONFIG,
        "rootfs": {"type": "object", "properties": {"diff_ids": _STRINGS}},
        "history": {
            "type": "array",
            "items": {"type": "object",
                      "properties": {"created_by": {"type": "string"}, "empty_layer": {"type": "boolean"}}},
        },
        "architecture": {"type": "string"},
        "os": {"type": "string"},
    },
}

_VALIDATORS = {id(s): Draft202012Validator(s) for s in (DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, IMAGE_CONFIG)}


def parse(raw: bytes, schema: dict, where: str) -> Any:
    """JSON bytes -> a document of `schema`'s shape, or ImageFormatError saying where it is wrong."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: thousands of nested brackets
        raise ImageFormatError(f"{where} is not JSON ({type(exc).__name__})") from exc
    check(doc, schema, where)
    return doc


def check(doc: Any, schema: dict, where: str) -> None:
    """Raise one ImageFormatError, placed at `where`, when `doc` does not have the shape of `schema`; after this the
    readers may index into the document freely."""
    error = best_match(_VALIDATORS[id(schema)].iter_errors(doc))
    if error is not None:
        raise ImageFormatError(f"{where}: {_place(error)} {_expected(error)}")


def _place(error: ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


def _expected(error: ValidationError) -> str:
    """What the schema wanted, in words, without quoting the offending value."""
    rule = error.validator
    if rule == "type":
        wanted = error.validator_value
        return "must be " + (" or ".join(wanted) if isinstance(wanted, list) else str(wanted))
    if rule == "pattern":
        return "must be a K=V string"
    if rule == "required":
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [k for k in required if isinstance(error.instance, dict) and k not in error.instance]
        return "lacks " + ", ".join(missing)
    if rule == "minItems":
        return "is empty"
    if rule == "minimum":
        return "must not be negative"
    if rule == "anyOf":
        return "has neither the expected fields nor a usable shape"
    return f"fails the {rule} rule"

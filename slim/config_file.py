"""slim.yaml: every `slim build` option in a file a repository checks in, validated against a schema.

The file is grouped the way people think about a build (probes, run, keep, tracing, hardening, gates,
outputs); `load` flattens it to the command's option names, so the command line can treat it as defaults
that its own flags override. Unknown keys and wrong types are one UsageError naming the key and its line.
"""

from __future__ import annotations

import os

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from slim.errors import UsageError

DEFAULT_NAMES = ("slim.yaml", ".slim.yaml")  # looked for in the working directory when --config is not given

_STR, _BOOL, _NUM = {"type": "string"}, {"type": "boolean"}, {"type": "number"}
_STRS = {"type": "array", "items": {"type": "string"}}

# group -> key -> (option name of `slim build`, schema of the value)
OPTIONS: dict[str, dict[str, tuple[str, dict]]] = {
    "output": {
        "tags": ("tags", _STRS), "to": ("output", _STR), "report": ("report_file", _STR),
        "junit": ("junit_file", _STR), "summary": ("summary_file", _STR), "sbom": ("sbom_file", _STR),
        "json": ("as_json", _BOOL),
        "push": ("push", _BOOL), "keep_failed": ("keep_failed", _BOOL),
    },
    "probes": {
        "http": ("http_probe", _BOOL), "paths": ("http_paths", _STRS),
        "ports": ("http_ports", {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}}),
        "crawl": ("crawl", _BOOL), "exec": ("execs", _STRS), "host_commands": ("host_cmds", _STRS),
        "continue_after": ("continue_after", _STR), "port_wait": ("port_wait", _NUM),
        "ready_path": ("ready_path", _STR),
        "exit_timeout": ("exit_timeout", _NUM), "verify": ("verify", _BOOL),
        "target_ports": ("probe_ports", {"type": "array", "items": {"type": "integer", "minimum": 1,
                                                                    "maximum": 65535}}),
        "varying": ("varying", _STRS), "allow_failing": ("allow_failing_probes", _BOOL),
    },
    "run": {
        "env": ("env", {"type": "array", "items": {"type": "string", "pattern": "="}}), "user": ("user", _STR),
        "workdir": ("workdir", _STR), "entrypoint": ("entrypoint", _STR), "cmd": ("cmd", _STR),
        "mounts": ("mounts", _STRS),
    },
    "keep": {
        "paths": ("include_paths", _STRS), "binaries": ("include_bins", _STRS),
        "exclude": ("exclude_patterns", _STRS), "shell": ("include_shell", _BOOL),
        "accounts": ("keep_accounts", _BOOL),
        # YAML 1.1 reads a bare `off` as false: take it as the word the user wrote
        "lang_completion": ("lang_completion", {"enum": ["imports", "full", "package", "off", False]}),
    },
    "tracing": {"syscall_profile": ("syscall_profile", _BOOL), "seccomp_bpf": ("seccomp_bpf", _BOOL)},
    "hardening": {
        "enabled": ("harden", _BOOL), "seccomp_profile": ("seccomp_file", _STR), "run_as": ("run_as", _STR),
    },
    "gates": {
        "max_size": ("max_size", {"type": ["string", "integer"]}),
        "min_reduction": ("min_reduction", {"type": "number", "minimum": 0, "maximum": 100}),
        "fail_on": ("fail_on", {"type": "array", "items": {"enum": ["hardening"]}}),
        "max_vulns": ("max_vulns", {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+=[0-9]+$"}}),
    },
    "signing": {
        "key": ("sign_key", _STR), "gpg_fingerprint": ("sign_by", _STR), "signature_dir": ("signature_dir", _STR),
        "registries_d": ("registries_d", _STR),
    },
    "vulnerabilities": {"report": ("vulns_file", _STR), "scan": ("scan", _BOOL)},
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        **{group: {"type": "object", "additionalProperties": False,
                   "properties": {key: schema for key, (_, schema) in keys.items()}}
           for group, keys in OPTIONS.items()},
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


def find(explicit: str | None, directory: str = ".") -> str | None:
    """The config file to use: the one named, else slim.yaml or .slim.yaml in `directory`, else None."""
    if explicit:
        if not os.path.isfile(explicit):
            raise UsageError(f"--config {explicit}: no such file")
        return explicit
    return next((os.path.join(directory, n) for n in DEFAULT_NAMES if os.path.isfile(os.path.join(directory, n))),
                None)


def load(path: str) -> dict[str, object]:
    """The file as `slim build` option defaults: {option name: value}."""
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
        loader = yaml.SafeLoader(text)  # one parse: the node tree gives lines, the document the values
        try:
            node = loader.get_single_node()
            doc = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise UsageError(f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from exc
    error = best_match(_VALIDATOR.iter_errors(doc))
    if error is not None:
        keys = list(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            keys, what = keys + extra[:1], "is not a known setting"
        else:
            what = _expected(error)
        line = _line_of(node, keys)
        raise UsageError(f"{path}:{line}: {'.'.join(map(str, keys)) or 'the file'} {what}")
    flat: dict[str, object] = {}
    for group, values in (doc or {}).items():
        for key, value in (values if isinstance(values, dict) else {}).items():
            if key == "lang_completion" and value is False:
                value = "off"
            flat[OPTIONS[group][key][0]] = str(value) if key == "max_size" else value
    return flat


def _expected(error) -> str:
    if error.validator == "type":
        wanted = error.validator_value
        return "must be " + (" or ".join(wanted) if isinstance(wanted, list) else wanted)
    if error.validator == "enum":
        return "must be one of " + ", ".join(str(v) for v in error.validator_value if isinstance(v, str))
    if error.validator == "pattern":
        return "must be K=V"
    if error.validator in ("minimum", "maximum"):
        return f"is out of range ({error.validator} {error.validator_value})"
    if error.validator == "const":
        return f"must be {error.validator_value}"
    return f"fails the {error.validator} rule"


def _line_of(node, keys: list) -> int:
    """The 1-based line of the value at `keys` in the composed YAML (the nearest parent that exists)."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == key), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line

"""Hardening findings about an image's configuration, for the build report. Pure: the config in, findings out."""

from __future__ import annotations

import re

from slim.checks.secrets import looks_secret_name
from slim.model import RunConfig


def findings(config: RunConfig) -> dict:
    """`runs_as_root`: no USER, or USER root/0; `env_secrets`: names of ENV entries that look like secrets
    and carry a value (values are never reported)."""
    user = config.user.split(":", 1)[0]
    secrets = []
    for item in config.env:
        name, _, value = item.partition("=")
        if value and looks_secret_name(name):
            secrets.append(name)
    return {"user": user or "root", "runs_as_root": config.runs_as_root, "env_secrets": sorted(secrets)}


REDACTED = "<redacted>"
# NAME=VALUE inside free text (a history line "ENV DB_PASSWORD=hunter2", a RUN with an inline variable)
_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\"[^\"]*\"|'[^']*'|\S+)")


def redacted_env(env) -> list[str] | None:
    """Env entries with the value of every secret-looking name replaced: names are shown, values never."""
    if env is None:
        return None
    out = []
    for item in env:
        name, sep, value = str(item).partition("=")
        out.append(f"{name}={REDACTED}" if sep and value and looks_secret_name(name) else str(item))
    return out


def redacted_text(text: str) -> str:
    """`text` with the values of secret-looking NAME=VALUE assignments replaced."""
    return _ASSIGNMENT.sub(lambda m: f"{m['name']}={REDACTED}" if looks_secret_name(m["name"]) else m[0], text)


def warnings(found: dict) -> list[str]:
    """The findings as the lines the build prints, each saying what to do instead."""
    out = []
    if found["runs_as_root"]:
        out.append("the image runs as root: set USER to an unprivileged account")
    for name in found["env_secrets"]:
        out.append(f"ENV {name} looks like a secret baked into the image config: pass it at run time instead")
    return out

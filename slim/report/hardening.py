"""Hardening findings about an image's configuration, for the build report. Pure: the config in, findings out."""

from __future__ import annotations

import re

from slim.model import RunConfig

_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)", re.I)


def findings(config: RunConfig) -> dict:
    """`runs_as_root`: no USER, or USER root/0; `env_secrets`: names of ENV entries that look like secrets
    and carry a value (values are never reported)."""
    user = config.user.split(":", 1)[0]
    secrets = []
    for item in config.env:
        name, _, value = item.partition("=")
        if value and _SECRET_NAME.search(name):
            secrets.append(name)
    return {"user": user or "root", "runs_as_root": config.runs_as_root, "env_secrets": sorted(secrets)}


def warnings(found: dict) -> list[str]:
    out = []
    if found["runs_as_root"]:
        out.append("the image runs as root: set USER to an unprivileged account")
    for name in found["env_secrets"]:
        out.append(f"ENV {name} looks like a secret baked into the image config: pass it at run time instead")
    return out

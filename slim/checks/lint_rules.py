"""The practices `slim lint` checks, each under a stable ID, with the CIS Docker Benchmark (section 4, image
checks as dockle numbers them: CIS-DI-*) or dockle (DKL-*) checkpoint it corresponds to where there is one.
Image rules look at a filesystem and a config; Dockerfile rules at the instructions that built it."""

from __future__ import annotations

import re
from dataclasses import dataclass

LOW, MEDIUM, HIGH, CRITICAL = "low", "medium", "high", "critical"
SEVERITIES = (LOW, MEDIUM, HIGH, CRITICAL)


_UPDATE = re.compile(r"\b(?:apt-get|apt|apk|yum|dnf|microdnf)\s+(?:-\S+\s+)*(?:update|makecache)\b")
_INSTALLS = re.compile(r"\b(?:install|add|upgrade)\b")  # "dist-upgrade" too


def updates_alone(command: str) -> bool:
    """A shell command (a RUN, a history entry) that refreshes a package index and installs nothing with it."""
    return bool(_UPDATE.search(command)) and not _INSTALLS.search(command)


@dataclass(frozen=True)
class Rule:
    """One practice `slim lint` checks, under a stable ID that CI configurations can name (ignore or fail on)."""

    id: str
    benchmark: str  # CIS-DI-0001, DKL-LI-0001, or "" when no benchmark has it
    severity: str
    title: str
    help: str  # what to do about it


@dataclass(frozen=True)
class Finding:
    """One place where the image or Dockerfile breaks a rule, said so that the secret itself is never repeated."""

    rule: str
    message: str  # names paths, variables and kinds of secrets; never a secret's value
    location: str = ""  # a path in the image, a config field ("config.Env"), or the Dockerfile's name
    line: int | None = None  # Dockerfile findings: where the instruction starts

    @property
    def severity(self) -> str:
        """The severity of the finding's rule, which `--fail-on` compares against."""
        return RULES[self.rule].severity


RULES = {r.id: r for r in (
    Rule("root-user", "CIS-DI-0001", MEDIUM, "The image runs as root",
         "Create an unprivileged user and set USER (or slim build --run-as nonroot)."),
    Rule("no-healthcheck", "CIS-DI-0006", LOW, "No HEALTHCHECK",
         "Add a HEALTHCHECK so the engine can tell a hung container from a working one."),
    Rule("update-alone", "CIS-DI-0007", LOW, "A package index update alone in a layer",
         "Update and install in the same RUN: a cached update layer installs stale versions later."),
    Rule("setuid-files", "CIS-DI-0008", MEDIUM, "setuid or setgid files",
         "Drop the setuid/setgid bits (chmod u-s,g-s) of files the app does not need to run elevated."),
    Rule("add-instruction", "CIS-DI-0009", LOW, "ADD used to build the image",
         "Use COPY: ADD fetches URLs unchecked and unpacks archives implicitly."),
    Rule("secret-in-config", "CIS-DI-0010", HIGH, "ENV or label named like a secret",
         "Pass secrets at run time (a secret mount, an orchestrator's secret store), never in the image config."),
    Rule("secret-value-in-config", "CIS-DI-0010", CRITICAL, "ENV or label holds a key, token or password",
         "Remove it from the image, rotate it, and pass it at run time instead."),
    Rule("credential-files", "CIS-DI-0010", CRITICAL, "Credential files left in the image",
         "Remove them (use build secrets for what the build needs) and rotate what they held."),
    Rule("latest-tag", "DKL-DI-0006", LOW, "The latest tag",
         "Name images by a version tag or a digest so what runs is what was tested."),
    Rule("shells", "", LOW, "Shells present",
         "An attacker with code execution gets a shell: slim build leaves them out unless the app runs one."),
    Rule("package-managers", "", MEDIUM, "Package managers present",
         "An attacker can install tools with them: slim build leaves them out."),
    Rule("unneeded-files", "DKL-LI-0003", LOW, "Repository or cache directories",
         "Leave .git, caches and package indexes out of the image (.dockerignore, clean up in the same RUN)."),
    Rule("empty-password", "DKL-LI-0001", HIGH, "Accounts with an empty password",
         "Lock the account (passwd -l) or give it a password hash; an empty one lets anyone log in as it."),
    Rule("duplicate-ids", "DKL-LI-0002", MEDIUM, "Accounts or groups sharing an ID",
         "Give every user and group its own ID: files of one are the other's."),
    Rule("world-writable", "", MEDIUM, "World-writable files outside the temp directories",
         "Remove write permission for others (chmod o-w), or use a sticky directory."),
    Rule("dockerfile/no-user", "CIS-DI-0001", MEDIUM, "The final stage sets no unprivileged USER",
         "Add USER with an unprivileged account to the final stage."),
    Rule("dockerfile/compilers-shipped", "", MEDIUM, "Compilers installed in the stage that ships",
         "Build in an earlier stage and COPY --from it the artifacts only (a multi-stage build)."),
    Rule("dockerfile/unpinned-base", "", LOW, "Base image not pinned by digest",
         "Pin FROM images by digest (name:tag@sha256:...) so rebuilds start from the same bytes."),
    Rule("dockerfile/latest-tag", "DKL-DI-0006", LOW, "Base image without a tag or with latest",
         "Name a version tag (and pin a digest)."),
    Rule("dockerfile/add-url", "CIS-DI-0009", MEDIUM, "ADD of a URL",
         "Download in a RUN with a checksum check, or COPY a vetted file."),
    Rule("dockerfile/add", "CIS-DI-0009", LOW, "ADD of local files",
         "Use COPY unless an archive has to be unpacked."),
    Rule("dockerfile/update-alone", "CIS-DI-0007", LOW, "A package index update alone in a RUN",
         "Update and install in the same RUN."),
    Rule("dockerfile/secret", "CIS-DI-0010", HIGH, "ENV or ARG carries a secret",
         "Use build secrets (RUN --mount=type=secret) and run-time secrets, never ENV or ARG."),
    Rule("dockerfile/no-healthcheck", "CIS-DI-0006", LOW, "No HEALTHCHECK in the final stage",
         "Add a HEALTHCHECK."),
)}

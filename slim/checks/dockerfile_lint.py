"""`slim lint --dockerfile`: what only the Dockerfile shows. Parsed with the `dockerfile` package, which wraps
BuildKit's own parser (the one `docker build` uses), so line continuations, heredocs, JSON and shell forms and
parser directives are read exactly as the builder reads them.

Pure: the Dockerfile's text in, findings out (secret values are never repeated, only their names).
"""

from __future__ import annotations

import re

import dockerfile

from slim.checks.lint_rules import Finding, updates_alone
from slim.checks.secrets import verdict
from slim.errors import UsageError
from slim.image.reference import tag_of

_INSTALLS = re.compile(r"\b(?:apt-get|apt|apk|yum|dnf|microdnf|zypper)\s+(?:-\S+\s+)*(?:install|add)\b")
_COMPILERS = re.compile(r"(?<![\w.+-])(?:gcc|g\+\+|clang|build-essential|build-base|make|golang|golang-go|rustc|"
                        r"cargo|musl-dev|libc6-dev|gcc-\d+|cmake)(?![\w.+-])")
_ROOT = ("root", "0", "root:root", "0:0")


def parse(text: str, where: str) -> tuple:
    """The Dockerfile's instructions as BuildKit's parser reads them; a usage error naming the file when the builder
    could not read it either."""
    try:
        return dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise UsageError(f"{where}: not a Dockerfile the builder can read ({str(exc).splitlines()[0]})") from None


def lint_dockerfile(text: str, where: str = "Dockerfile") -> list[Finding]:
    """The findings of every Dockerfile rule for `text`, in line order: base images per stage, each instruction, and
    what the final stage (the image that ships) leaves out."""
    commands = parse(text, where)
    stages: list[list] = []
    names: set[str] = set()
    for command in commands:
        if command.cmd == "FROM":
            stages.append([command])
            if len(command.value) >= 3 and command.value[1].upper() == "AS":
                names.add(command.value[2].lower())
        elif stages:
            stages[-1].append(command)
    out: list[Finding] = []
    for stage in stages:
        out += _base_image(stage[0], names, where)
    for command in commands:
        out += _instruction(command, where)
    if stages:
        out += _final_stage(stages[-1], where)
    return sorted(out, key=lambda f: (f.line or 0, f.rule))


def _base_image(command, stage_names: set[str], where: str) -> list[Finding]:
    image = next((v for v in command.value if not v.startswith("--")), "")
    if image.lower() in stage_names or image == "scratch" or "$" in image:
        return []  # a stage of this file, nothing, or decided by a build argument
    out = []
    tag = tag_of(image)
    if tag in (None, "latest"):
        out.append(Finding("dockerfile/latest-tag", f"FROM {image}: {'latest' if tag else 'no tag, so latest'}",
                           where, command.start_line))
    if "@sha256:" not in image:
        out.append(Finding("dockerfile/unpinned-base", f"FROM {image} is not pinned by digest", where,
                           command.start_line))
    return out


def _instruction(command, where: str) -> list[Finding]:
    line = command.start_line
    if command.cmd == "ADD":
        sources = [v for v in command.value[:-1] if not v.startswith("--")]
        urls = [s for s in sources if re.match(r"^(?:https?|ftp)://", s, re.I) or s.endswith(".git")]
        if urls:
            return [Finding("dockerfile/add-url", f"ADD fetches {', '.join(urls)}", where, line)]
        return [Finding("dockerfile/add", "ADD of local files", where, line)]
    if command.cmd == "RUN":
        if updates_alone(_script(command)):
            return [Finding("dockerfile/update-alone", "RUN updates a package index and installs nothing",
                            where, line)]
    if command.cmd in ("ENV", "ARG"):
        return _secrets(command, where)
    return []


def _pairs(command) -> list[tuple[str, str]]:
    """ENV (the parser gives name, value, name, value for every form) and ARG (name or name=value) as pairs."""
    values = list(command.value)
    if command.cmd == "ENV":
        pairs = list(zip(values[::2], values[1::2], strict=False))  # a name left without a value is dropped
    else:
        pairs = [(item.partition("=")[0], item.partition("=")[2]) for item in values]
    return [(name, value.strip("\"'")) for name, value in pairs]


def _secrets(command, where: str) -> list[Finding]:
    out = []
    for name, value in _pairs(command):
        found = verdict(name, value)
        if found:
            out.append(Finding("dockerfile/secret", f"{command.cmd} {name} {found[1]}", where, command.start_line))
    return out


def _final_stage(stage: list, where: str) -> list[Finding]:
    out = []
    users = [c for c in stage if c.cmd == "USER"]
    if not users or users[-1].value[0].strip() in _ROOT:
        last = users[-1].start_line if users else stage[0].start_line
        out.append(Finding("dockerfile/no-user", "the final stage runs as root" if users else
                           "the final stage sets no USER, so it runs as root", where, last))
    for command in stage:
        if command.cmd != "RUN":
            continue
        script = _script(command)
        if _INSTALLS.search(script):
            found = sorted(set(_COMPILERS.findall(script)))
            if found:
                out.append(Finding("dockerfile/compilers-shipped", f"the final stage installs {', '.join(found)}",
                                   where, command.start_line))
    if not any(c.cmd == "HEALTHCHECK" and c.value[:1] != ("NONE",) for c in stage):
        out.append(Finding("dockerfile/no-healthcheck", "the final stage has no HEALTHCHECK", where,
                           stage[0].start_line))
    return out


def _script(command) -> str:
    """What a RUN executes: its command line, and the bodies of its heredocs."""
    return " ".join(command.value) + "\n" + "\n".join(h.content for h in command.heredocs or ())

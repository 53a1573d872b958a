"""`slim lint` of an image: its config, its history and its files, against the rules of slim.checks.lint_rules.
Pure: a RootFS, the run config, the history entries and the tag in; findings out, each naming paths and
variable names, never secret values."""

from __future__ import annotations

import posixpath
import re

from slim.checks.exposure import Exposure, scan
from slim.checks.lint_rules import Finding, updates_alone
from slim.checks.secrets import verdict
from slim.model import DIR, FILE, RunConfig

MAX_LISTED = 10  # paths named in one finding's message; the count says how many there are
_ADD = re.compile(r"(?:#\(nop\)\s+|^)ADD\s+(?P<args>.*)")
_BASE_ROOTFS = re.compile(r"^file:[0-9a-f]{64} in /\s*$")  # how an official image's first layer is recorded
_HOME_DIRS = ("/root", "/home")


def lint_image(rootfs, config: RunConfig, history: list, tag: str | None,
               exposure: Exposure | None = None) -> list[Finding]:
    """The findings of every image rule: config (root user, no HEALTHCHECK, secrets in ENV), history (secrets in
    build steps), files (shells, package managers, setuid, world-writable, secret files) and accounts. `exposure` is
    passed when the caller already scanned the image."""
    exposure = exposure or scan(rootfs)
    out: list[Finding] = []
    if config.runs_as_root:
        out.append(Finding("root-user", f"USER is {config.user or 'not set'}: the app runs as root", "config.User"))
    if not config.healthcheck or config.healthcheck[0] == "NONE":
        out.append(Finding("no-healthcheck", "the image config has no HEALTHCHECK", "config.Healthcheck"))
    out += _history(history)
    out += _config_secrets(config)
    if exposure.setuid or exposure.setgid:
        paths = sorted(set(exposure.setuid) | set(exposure.setgid))
        out.append(Finding("setuid-files", f"{len(paths)} setuid/setgid files: {_listed(paths)}", paths[0]))
    if tag == "latest":  # None: the reference names no tag (an archive's only image, a digest)
        out.append(Finding("latest-tag", "the image is named by the tag latest"))
    if exposure.shells:
        out.append(Finding("shells", f"{len(exposure.shells)} shells: {_listed(exposure.shells)}",
                           exposure.shells[0]))
    if exposure.package_managers:
        out.append(Finding("package-managers", f"{len(exposure.package_managers)} package managers: "
                           f"{_listed(exposure.package_managers)}", exposure.package_managers[0]))
    if exposure.world_writable:
        out.append(Finding("world-writable", f"{len(exposure.world_writable)} world-writable paths: "
                           f"{_listed(exposure.world_writable)}", exposure.world_writable[0]))
    out += _files(rootfs)
    out += _accounts(rootfs)
    return out


def _listed(paths) -> str:
    paths = list(paths)
    return ", ".join(paths[:MAX_LISTED]) + (f" and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else "")


def _history(history: list) -> list[Finding]:
    out = []
    for n, entry in enumerate(history or []):
        command = str(entry.get("created_by", "")) if isinstance(entry, dict) else ""
        if updates_alone(command):
            out.append(Finding("update-alone", f"history entry {n} updates a package index and installs nothing",
                               f"history[{n}]"))
        added = _ADD.search(command)
        if added and not _BASE_ROOTFS.match(added["args"].replace(" # buildkit", "")):
            out.append(Finding("add-instruction", f"history entry {n} was made by ADD", f"history[{n}]"))
    return out


def _config_secrets(config: RunConfig) -> list[Finding]:
    out = []
    entries = [("ENV", *item.partition("=")[::2]) for item in config.env] + \
              [("label", name, value) for name, value in config.labels]
    for where, name, value in entries:
        found = verdict(name, value)
        if found:
            by_value, said = found
            out.append(Finding("secret-value-in-config" if by_value else "secret-in-config", f"{where} {name} {said}",
                               "config.Env" if where == "ENV" else "config.Labels"))
    return out


# file name (or path ending) -> what makes it a live credential (None: its presence does)
_CREDENTIALS = {
    ".git-credentials": None, ".aws/credentials": None, ".netrc": re.compile(rb"\bpassword\s+\S"),
    ".npmrc": re.compile(rb"_(?:authToken|auth|password)\s*="), ".pypirc": re.compile(rb"^\s*password\s*[=:]\s*\S", re.M),
    ".docker/config.json": re.compile(rb'"auth"\s*:\s*"[^"]+"'),
}
_PRIVATE_KEY_FILE = re.compile(r"/\.ssh/id_[a-z0-9_]+$")


def _files(rootfs) -> list[Finding]:
    credentials, clutter = [], []
    for entry in rootfs.walk():
        path, name = entry.path, posixpath.basename(entry.path)
        if entry.kind == DIR and (name == ".git" or (name == ".cache" and path.startswith(_HOME_DIRS))):
            clutter.append(path)
        elif entry.kind == DIR and path in ("/var/cache/apt/archives", "/var/lib/apt/lists"):
            if any(n.endswith((".deb", "_Packages", "_Packages.lz4", "_InRelease")) for n in rootfs.listdir(path)):
                clutter.append(path)
        if entry.kind != FILE:
            continue
        if _PRIVATE_KEY_FILE.search(path) and not path.endswith(".pub"):
            credentials.append(path)
            continue
        for suffix, content in _CREDENTIALS.items():
            if path.endswith("/" + suffix) and (content is None or _holds(rootfs, path, content)):
                credentials.append(path)
    out = []
    if credentials:
        out.append(Finding("credential-files", f"{len(credentials)} credential files: {_listed(credentials)}",
                           credentials[0]))
    if clutter:
        out.append(Finding("unneeded-files", f"{len(clutter)} repository, cache or package index directories: "
                           f"{_listed(clutter)}", clutter[0]))
    return out


def _holds(rootfs, path: str, pattern: re.Pattern) -> bool:
    with rootfs.open(path) as fh:
        return bool(pattern.search(fh.read(1 << 16)))


def _table(rootfs, path: str) -> list[list[str]]:
    if not rootfs.is_file(path):
        return []
    with rootfs.open(path) as fh:
        text = fh.read(1 << 20).decode("utf-8", "replace")
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _accounts(rootfs) -> list[Finding]:
    out = []
    empty = [row[0] for row in _table(rootfs, "/etc/shadow") if len(row) > 1 and row[1] == ""]
    if empty:
        out.append(Finding("empty-password", f"{len(empty)} accounts with an empty password: {_listed(empty)}",
                           "/etc/shadow"))
    for path, what in (("/etc/passwd", "UID"), ("/etc/group", "GID")):
        owners: dict[str, list[str]] = {}
        for row in _table(rootfs, path):
            if len(row) > 2:
                owners.setdefault(row[2], []).append(row[0])
        shared = [f"{what} {number} ({', '.join(names)})" for number, names in sorted(owners.items()) if len(names) > 1]
        if shared:
            out.append(Finding("duplicate-ids", f"{path}: {_listed(shared)}", path))
    return out

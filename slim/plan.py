"""Decide what the minimized image keeps. Pure: the image's RootFS and config, a Trace and options in; a KeepSet out.

Every kept path carries its reasons, in five categories: traced (the app touched it), closure (a traced file
needs it: library, interpreter, symlink, parent directory), essential (accounts, /tmp, os-release, NSS and CA
files when their libraries are kept, WORKDIR, VOLUMEs, the entrypoint), language (completion so untraced
imports still work), include (asked for on the command line).
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field

from slim import langs
from slim.closure import INPUT, PARENT, ClosureBuilder, Reason, env_dict
from slim.model import FILE, Trace
from slim.pkgdb.catalog import Catalog, KeptPaths, is_db_path
from slim.shebang import which
from slim.users import parse_passwd, reduce_accounts, resolve_user

TRACED, CLOSURE, ESSENTIAL, LANGUAGE, INCLUDE = "traced", "closure", "essential", "language", "include"
CATEGORIES = (TRACED, INCLUDE, ESSENTIAL, CLOSURE, LANGUAGE)  # priority: a path's category is its first here
SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox"}
PACKAGE_MANAGERS = {"apt", "apt-get", "apt-cache", "aptitude", "dpkg", "dpkg-deb", "dpkg-query", "apk", "pip",
                    "pip3", "yum", "dnf", "rpm", "microdnf", "npm", "yarn", "gem"}
_BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
_PSEUDO = ("/proc", "/sys", "/dev")
_TLS_LIBS = ("libssl.so", "libgnutls.so", "libnss3.so", "libmbedtls.so", "libwolfssl.so")
_DISTRO_MARKERS = ("/etc/os-release", "/usr/lib/os-release", "/etc/debian_version", "/etc/alpine-release",
                   "/etc/redhat-release", "/etc/lsb-release")
_CA_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem", "/etc/pki/tls/certs/ca-bundle.crt")


@dataclass(frozen=True)
class PlanOptions:
    include_paths: tuple[str, ...] = ()
    include_bins: tuple[str, ...] = ()
    exclude_patterns: tuple[str, ...] = ()
    include_shell: bool = False
    lang_completion: str = langs.FULL


@dataclass(frozen=True)
class Generated:
    """A file or directory the new image holds in a form the original did not (reduced, trimmed, created)."""

    path: str
    data: bytes | None  # None: a directory
    mode: int
    uid: int = 0
    gid: int = 0
    why: str = ""


@dataclass
class KeepSet:
    reasons: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # path -> [(category, detail)]
    generated: dict[str, Generated] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)  # kept paths whose mode changes (setuid bits dropped)
    excluded: list[str] = field(default_factory=list)
    setuid_dropped: list[str] = field(default_factory=list)
    shells_removed: list[str] = field(default_factory=list)
    package_managers_removed: list[str] = field(default_factory=list)
    packages_before: list[str] = field(default_factory=list)
    packages_after: list[str] = field(default_factory=list)
    accounts_kept: list[str] = field(default_factory=list)
    language_cost: dict[str, int] = field(default_factory=dict)  # level -> bytes it adds
    warnings: list[str] = field(default_factory=list)

    def category(self, path: str) -> str:
        cats = {c for c, _ in self.reasons.get(path, [])}
        return next((c for c in CATEGORIES if c in cats), ESSENTIAL)

    def paths(self) -> list[str]:
        return sorted(set(self.reasons) | set(self.generated))


class _Planner:
    def __init__(self, rootfs, config: dict, trace: Trace, catalog: Catalog, options: PlanOptions, argv: list[str]):
        self.rootfs, self.config, self.trace, self.catalog, self.options = rootfs, config, trace, catalog, options
        self.argv = argv
        self.env = env_dict(config.get("Env"))
        self.workdir = config.get("WorkingDir") or "/"
        self.builder = ClosureBuilder(rootfs, self.env, self.workdir)
        self.out = KeepSet()

    def seed(self, path: str, category: str, detail: str) -> None:
        """Keep `path` (when the image has it) for `category`, and everything its closure needs."""
        # A path reached through a linked directory ("/bin/x" under merged /usr) is no entry of its own:
        # the reason goes to the real file, and the closure keeps the links on the way.
        record = path if self.rootfs.lstat(path) is not None else self.rootfs.realpath(path)
        if record is None:
            return
        self.out.reasons.setdefault(record, []).append((category, detail))
        self.builder.add(path, Reason(INPUT, category), scripts=category != LANGUAGE)

    def collect_closure(self) -> None:
        for path, why in self.builder.closure.keep.items():
            for r in why:
                if r.kind == INPUT:
                    continue
                detail = f"{r.kind} {r.of}" if r.kind != PARENT else "parent directory"
                entry = self.out.reasons.setdefault(path, [])
                if (CLOSURE, detail) not in entry and len(entry) < 8:
                    entry.append((CLOSURE, detail))
        for name, needed_by in self.builder.closure.missing_libraries:
            self.out.warnings.append(f"{name} (needed by {needed_by}) is not in the image")

    def kept_files(self) -> set[str]:
        return set(self.out.reasons)


def plan(rootfs, config: dict, trace: Trace, catalog: Catalog, options: PlanOptions, argv: list[str]) -> KeepSet:
    p = _Planner(rootfs, config, trace, catalog, options, argv)
    _traced(p)
    _entrypoint_and_includes(p)
    _essentials(p)
    p.collect_closure()
    _language(p)
    p.collect_closure()
    _exclude(p)
    _setuid(p)
    _accounts(p)
    _generated_dirs(p)
    _packages(p)
    _removed_tools(p)
    return p.out


def _skip_traced(path: str) -> bool:
    return (any(path == d or path.startswith(d + "/") for d in _PSEUDO) or is_db_path(path)
            or path in ("/etc/passwd", "/etc/group"))


def _traced(p: _Planner) -> None:
    for access in p.trace.accesses:
        if not access.ok:
            continue
        for path in (access.path, access.resolved):
            if not path or _skip_traced(path):
                continue
            if p.rootfs.lstat(path) is None and p.rootfs.stat(path) is None:
                # made at run time (a pid file, nginx's temp dirs): the app needs the directory to make it in
                parent = _nearest_existing_dir(p.rootfs, path)
                if parent:
                    p.seed(parent, TRACED, f"directory of {path}, made at run time")
                continue
            p.seed(path, TRACED, access.kind)


def _nearest_existing_dir(rootfs, path: str) -> str | None:
    while path not in ("/", ""):
        path = posixpath.dirname(path)
        entry = rootfs.stat(path)
        if entry is not None:
            return path if entry.is_dir and path != "/" else None
    return None


def _entrypoint_and_includes(p: _Planner) -> None:
    if p.argv:
        program = which(p.rootfs, p.argv[0], p.env.get("PATH"))  # a path with "/" is taken as it is
        if program:
            p.seed(program, ESSENTIAL, "entrypoint")
    for path in p.options.include_paths:
        _include_tree(p, path)
    for path in p.options.include_bins:
        p.seed(path, INCLUDE, "--include-bin")
    if p.options.include_shell:
        p.seed("/bin/sh", INCLUDE, "--include-shell")
    for path in p.options.include_paths + p.options.include_bins:
        if p.rootfs.lstat(path) is None and p.rootfs.stat(path) is None:
            p.out.warnings.append(f"{path} (included on the command line) is not in the image")


def _include_tree(p: _Planner, path: str) -> None:
    p.seed(path, INCLUDE, "--include-path")
    for child in p.rootfs.below(path):
        p.seed(child, INCLUDE, "--include-path")


def _essentials(p: _Planner) -> None:
    for marker in _DISTRO_MARKERS:
        p.seed(marker, ESSENTIAL, "identifies the distribution to scanners")
    p.seed(p.workdir, ESSENTIAL, "WORKDIR")
    for volume in p.config.get("Volumes") or {}:
        p.seed(volume, ESSENTIAL, "VOLUME")
    home = _user_home(p)
    if home:
        p.seed(home, ESSENTIAL, "home of USER")
    p.seed("/tmp", ESSENTIAL, "/tmp")
    kept_names = {posixpath.basename(x) for x in set(p.builder.closure.keep) | p.kept_files()}
    if any(n.startswith("libnss_") for n in kept_names):
        p.seed("/etc/nsswitch.conf", ESSENTIAL, "NSS libraries are kept")
    if any(n.startswith(_TLS_LIBS) for n in kept_names):
        for ca in _CA_FILES:
            p.seed(ca, ESSENTIAL, "a TLS library is kept")


def _user_home(p: _Planner) -> str | None:
    if not p.rootfs.is_file("/etc/passwd"):
        return None
    with p.rootfs.open("/etc/passwd") as fh:
        accounts = parse_passwd(fh.read(1 << 20).decode("utf-8", "replace"))
    uid, _ = resolve_user(p.config.get("User") or "root", accounts)
    home = next((a.home for a in accounts if a.uid == uid), None)
    return home if home and home != "/" else None


def _language(p: _Planner) -> None:
    base = set(p.builder.closure.keep) | p.kept_files()
    sizes = {}
    for level in langs.LEVELS:
        added = langs.completion(p.rootfs, base, level)
        sizes[level] = p.rootfs.bytes_of(set(added) - base)
        if level == p.options.lang_completion:
            for path, why in sorted(added.items()):
                if path not in base:
                    p.seed(path, LANGUAGE, why)
    p.out.language_cost = sizes


def _exclude(p: _Planner) -> None:
    keep = p.out.reasons
    for path in list(set(keep) | set(p.builder.closure.keep)):
        if any(fnmatch.fnmatchcase(path, pat) for pat in p.options.exclude_patterns):
            keep.pop(path, None)
            p.out.excluded.append(path)
    p.out.excluded.sort()


def _setuid(p: _Planner) -> None:
    execd = {a.path for a in p.trace.accesses if a.kind == "exec" and a.ok} | {
        a.resolved for a in p.trace.accesses if a.kind == "exec" and a.resolved}
    included = set(p.options.include_paths) | set(p.options.include_bins)
    for path in p.out.reasons:
        entry = p.rootfs.lstat(path)
        if entry is None or entry.kind != FILE or not entry.mode & 0o6000:
            continue
        if path in execd or path in included:
            continue
        p.out.modes[path] = entry.mode & ~0o6000
        p.out.setuid_dropped.append(path)
    p.out.setuid_dropped.sort()


def _accounts(p: _Planner) -> None:
    if not p.rootfs.is_file("/etc/passwd"):
        return
    with p.rootfs.open("/etc/passwd") as fh:
        passwd = fh.read(1 << 20).decode("utf-8", "replace")
    group = ""
    if p.rootfs.is_file("/etc/group"):
        with p.rootfs.open("/etc/group") as fh:
            group = fh.read(1 << 20).decode("utf-8", "replace")
    uid, gid = resolve_user(p.config.get("User") or "root", parse_passwd(passwd))
    uids = set(p.trace.uids) | ({uid} if uid is not None else set())
    gids = set(p.trace.gids) | ({gid} if gid is not None else set())
    new_passwd, new_group, names = reduce_accounts(passwd, group, uids, gids)
    p.out.accounts_kept = names
    for path, data in (("/etc/passwd", new_passwd), ("/etc/group", new_group)):
        original = p.rootfs.stat(path)
        if original is not None:
            p.out.generated[path] = Generated(path, data.encode(), original.mode, original.uid, original.gid,
                                              "reduced to the accounts in use")


def _generated_dirs(p: _Planner) -> None:
    # /tmp is world-writable with the sticky bit in every image that works; make it so even if it was missing.
    if p.rootfs.stat("/tmp") is None:
        p.out.generated["/tmp"] = Generated("/tmp", None, 0o1777, why="/tmp")
    elif (p.rootfs.realpath("/tmp") or "/tmp") in p.out.reasons:
        p.out.modes[p.rootfs.realpath("/tmp")] = 0o1777
    for path in [p.workdir, *(p.config.get("Volumes") or {})]:
        if path != "/" and p.rootfs.stat(path) is None:
            p.out.generated[path] = Generated(path, None, 0o755, why="WORKDIR/VOLUME missing from the image")


def _packages(p: _Planner) -> None:
    if p.catalog.kind is None:
        return
    kept_paths = KeptPaths(p.rootfs, p.out.reasons)  # real paths worked out once, for both uses
    kept = p.catalog.kept(p.rootfs, kept_paths)
    p.out.packages_before = sorted(pkg.name for pkg in p.catalog.packages)
    p.out.packages_after = sorted(pkg.name for pkg in kept)
    for path, data in p.catalog.trimmed(p.rootfs, kept, kept_paths).items():
        p.out.generated[path] = Generated(path, data, 0o644, why=f"trimmed {p.catalog.kind} database")


def _removed_tools(p: _Planner) -> None:
    kept_real = {p.rootfs.realpath(x) for x in p.out.reasons}
    for directory in _BIN_DIRS:
        real_dir = p.rootfs.realpath(directory)
        if real_dir is None or real_dir != directory:
            continue  # a merged-/usr link: the real directory is listed under its own name
        for name in p.rootfs.listdir(directory):
            path = f"{directory}/{name}"
            target = p.rootfs.realpath(path)
            if target in kept_real or path in p.out.reasons:
                continue
            if name in SHELLS:
                p.out.shells_removed.append(path)
            elif name in PACKAGE_MANAGERS:
                p.out.package_managers_removed.append(path)

"""Decide which paths of the image the minimized image keeps, and why. Pure: a RootFS, a Trace and options in.

Every kept path carries its reasons, in six categories: traced (the app touched it), closure (a traced file
needs it: library, interpreter, symlink, parent directory), essential (accounts, /tmp, os-release, NSS and CA
files when their libraries are kept, WORKDIR, VOLUMEs, the entrypoint), language (completion so untraced
imports still work), include (asked for on the command line), content (the rest of a directory of app files
the app read: `slim.plan.content`). What the kept files become (reduced accounts,
a trimmed package database, dropped setuid bits) is `slim.plan.rewrite`'s job.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass

from slim.langs import jvm, levels, pyimports, rubyspecs
from slim.closure.walk import INPUT, PARENT, ClosureBuilder
from slim.closure.walk import Reason as ClosureReason
from slim.packages.osrelease import DISTRIBUTION_MARKERS
from slim.packages.catalog import is_db_path, read_catalog
from slim.closure.shebang import which
from slim.checks.users import ImageAccounts
from slim.plan import accounts
from slim.plan.content import app_content
from slim.plan.data import keep_named_data
from slim.model import EXEC, PSEUDO_FILESYSTEMS, RunConfig, SlimWarning, Trace, within
from slim.results import (LANGUAGE, TRACED, Essential, Included, KeepPlan, MadeAtRunTime, NeededBy,
                          NeededByLanguageFile, ParentDirectory, PartOfWholePackage, Reason, TracedAccess)

_TLS_LIBS = ("libssl.so", "libgnutls.so", "libnss3.so", "libmbedtls.so", "libwolfssl.so")
_CA_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem", "/etc/pki/tls/certs/ca-bundle.crt")
# what of a level's files can need libraries: extension modules (.so, Node's .node), not source files
_SHARED_OBJECT = re.compile(r"\.(so|node)(\.[0-9.]+)?$")
_MAX_CLOSURE_REASONS = 8  # per path: enough to explain it, without listing every library that needs libc


@dataclass(frozen=True)
class PlanOptions:
    """What the command line asked the planner to keep (or leave out) besides what the trace shows."""

    include_paths: tuple[str, ...] = ()
    include_bins: tuple[str, ...] = ()
    exclude_patterns: tuple[str, ...] = ()
    include_shell: bool = False
    lang_completion: str = levels.IMPORTS
    keep_accounts: bool = False  # /etc/passwd and /etc/group as they are, not reduced to the accounts in use

    @property
    def included(self) -> set[str]:
        """Every path asked for with --include-path or --include-bin."""
        return set(self.include_paths) | set(self.include_bins)


def declared_dirs(config: RunConfig) -> list[str]:
    """Directories the image config promises exist: WORKDIR and the VOLUMEs."""
    return [config.workdir or "/", *config.volumes]


class _Planner:
    def __init__(self, rootfs, config: RunConfig, trace: Trace, accounts: ImageAccounts, options: PlanOptions,
                 scan_python=pyimports.scan_serially):
        self.rootfs, self.config, self.trace, self.accounts, self.options = rootfs, config, trace, accounts, options
        self.scan_python = scan_python
        self.env = config.env_dict()
        self.builder = ClosureBuilder(rootfs, self.env, config.workdir or "/")
        self.out = KeepPlan()
        self.language_closure: set[str] = set()  # closure paths only language completion's files lead to

    def seed(self, path: str, reason: Reason, runs: bool = True) -> None:
        """Keep `path` (when the image has it) for `reason`, and everything its closure needs. runs=False:
        the file was only read, looked up or written, never executed: a `#!` line in it brings in nothing."""
        # A path reached through a linked directory ("/bin/x" under merged /usr) is no entry of its own:
        # the reason goes to the real file, and the closure keeps the links on the way.
        record = path if self.rootfs.lstat(path) is not None else self.rootfs.realpath(path)
        if record is None:
            return
        self.out.reasons.setdefault(record, []).append(reason)
        self.builder.add(path, ClosureReason(INPUT, reason.category), scripts=runs and reason.category != LANGUAGE)

    def collect_closure(self) -> None:
        for path, why in self.builder.closure.keep.items():
            for r in why:
                if r.kind == INPUT:
                    continue
                needed = NeededByLanguageFile if path in self.language_closure else NeededBy
                reason = needed(r.kind, r.of) if r.kind != PARENT else ParentDirectory()
                entry = self.out.reasons.setdefault(path, [])
                if reason not in entry and len(entry) < _MAX_CLOSURE_REASONS:
                    entry.append(reason)

    def closure_warnings(self) -> None:
        closure = self.builder.closure
        for name, needed_by in closure.missing_libraries:
            if jvm.loaded_by_the_launcher(self.rootfs, name, needed_by):
                continue
            self.out.warnings.append(SlimWarning("closure.missing-library",
                                                 f"{name} (needed by {needed_by}) is not in the image"))
        for path, reason in closure.missing_paths:
            self.out.warnings.append(SlimWarning(
                "closure.missing-path", f"{reason.kind} of {reason.of or 'a kept path'} is not in the image", path))
        self.out.warnings.extend(self.builder.resolver.warnings)


def plan_keep(rootfs, config: RunConfig, trace: Trace, accounts: ImageAccounts, options: PlanOptions,
              owned: frozenset[str] = frozenset(), scan_python=pyimports.scan_serially) -> KeepPlan:
    """`owned`: the paths the image's package database lists (what is not app content). `scan_python`: how
    batches of Python modules are scanned for imports (slim.langs.pyscan caches and parallelises)."""
    p = _Planner(rootfs, config, trace, accounts, options, scan_python)
    _traced(p)
    _entrypoint_and_includes(p)
    _essentials(p)
    p.collect_closure()
    _content(p, owned)  # before the languages: kept app code gets its imports followed too
    p.collect_closure()
    _language(p)
    p.collect_closure()
    keep_named_data(p)  # after every step that keeps ELF files: the data they name opens on demand
    p.collect_closure()
    p.closure_warnings()
    _unused_gemspecs(p)  # once every other step decided which gem files stay
    _exclude(p)
    return p.out


def _skip_traced(path: str) -> bool:
    return (within(path, PSEUDO_FILESYSTEMS) or is_db_path(path)
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
                    p.seed(parent, MadeAtRunTime(path))
                continue
            # a script only read as data (a template copied, a hook sample listed) does not need its interpreter
            p.seed(path, TracedAccess(access.kind), runs=access.kind == EXEC)


def _nearest_existing_dir(rootfs, path: str) -> str | None:
    while path not in ("/", ""):
        path = posixpath.dirname(path)
        entry = rootfs.stat(path)
        if entry is not None:
            return path if entry.is_dir and path != "/" else None
    return None


def _entrypoint_and_includes(p: _Planner) -> None:
    if p.trace.argv:
        program = which(p.rootfs, p.trace.argv[0], p.env.get("PATH"))  # a path with "/" is taken as it is
        if program:
            p.seed(program, Essential("entrypoint"))
    for path in p.options.include_paths:
        _include_tree(p, path)
    for path in p.options.include_bins:
        p.seed(path, Included("--include-bin"))
    if p.options.include_shell:
        p.seed("/bin/sh", Included("--include-shell"))
    for path in p.options.include_paths + p.options.include_bins:
        if p.rootfs.lstat(path) is None and p.rootfs.stat(path) is None:
            p.out.warnings.append(SlimWarning("plan.include-missing", "included on the command line, not in the image",
                                              path))


def _include_tree(p: _Planner, path: str) -> None:
    p.seed(path, Included("--include-path"))
    for child in p.rootfs.below(path):
        p.seed(child, Included("--include-path"))


def _essentials(p: _Planner) -> None:
    for marker in DISTRIBUTION_MARKERS:
        p.seed(marker, Essential("identifies the distribution to scanners"))
    workdir, *volumes = declared_dirs(p.config)
    p.seed(workdir, Essential("WORKDIR"))
    for volume in volumes:
        p.seed(volume, Essential("VOLUME"))
    home = p.accounts.home_of(p.config.user)
    if home:
        p.seed(home, Essential("home of USER"))
    p.seed("/tmp", Essential("/tmp"))
    whole = accounts.kept_whole(p.trace, p.options.keep_accounts, p.out.reasons)
    for path in accounts.ACCOUNT_FILES if whole else ():  # else slim.plan.rewrite writes them reduced
        p.seed(path, Essential(f"accounts kept as they are: {whole}"), runs=False)
    kept_names = {posixpath.basename(x) for x in set(p.builder.closure.keep) | set(p.out.reasons)}
    if any(n.startswith("libnss_") for n in kept_names):
        p.seed("/etc/nsswitch.conf", Essential("NSS libraries are kept"))
    if any(n.startswith(_TLS_LIBS) for n in kept_names):
        for ca in _CA_FILES:
            p.seed(ca, Essential("a TLS library is kept"))


def _content(p: _Planner, owned: frozenset[str]) -> None:
    found = app_content(p.rootfs, p.trace, owned, set(p.builder.closure.keep) | set(p.out.reasons))
    p.out.warnings.extend(found.warnings)
    p.out.content = found.directories
    for path, why in sorted(found.files.items()):
        p.seed(path, why, runs=False)  # kept as files: a script among them brings no interpreter


def _language(p: _Planner) -> None:
    base = set(p.builder.closure.keep) | set(p.out.reasons)
    sizes = {}
    # where the traced command started (--workdir moves it off the image's WORKDIR): `python3 app.py` and
    # `python3 -m pkg` name their files from there
    workdir = p.trace.workdir if p.trace.workdir not in ("", "/") else p.config.workdir or "/"
    for level in levels.LEVELS:
        found: list = []
        cuts: dict[str, int] = {}
        added = levels.completion(p.rootfs, base, level, p.env, found, p.scan_python, cuts,
                                  processes=p.trace.processes, workdir=workdir)
        new = set(added) - base
        # a level costs its files and the libraries they bring (libdb for `_dbm`), not its files alone
        if level == p.options.lang_completion:
            p.out.warnings.extend(found)
            before = set(p.builder.closure.keep)
            for path, why in sorted(added.items()):
                if path not in base:
                    p.seed(path, why)
            p.language_closure = set(p.builder.closure.keep) - before - new
            sizes[level] = p.rootfs.bytes_of(new | p.language_closure)  # the plan's own closure of them
            p.out.kept_whole = _kept_whole(p.rootfs, {path: why for path, why in added.items() if path not in base})
            p.out.cuts = dict(sorted(cuts.items()))
        else:
            sizes[level] = p.rootfs.bytes_of(new | _closure_of(p, new, base))
    p.out.language_cost = sizes


def _closure_of(p: _Planner, files: set[str], base: set[str]) -> set[str]:
    """What the static closure of a level's `files` adds beyond `base`: the libraries its extension modules
    link. Followed in a builder of its own, so levels not chosen leave the plan as it was."""
    builder = ClosureBuilder(p.rootfs, p.env, p.config.workdir or "/")
    for path in sorted(f for f in files if _SHARED_OBJECT.search(posixpath.basename(f))):
        builder.add(path, ClosureReason(INPUT, LANGUAGE), scripts=False)
    return set(builder.closure.keep) - base - files


def _unused_gemspecs(p: _Planner) -> None:
    """Leave out the gemspecs kept only because RubyGems read them all at start-up, of gems none of whose files
    is kept (slim.langs.rubyspecs): scanners would list those gems, and their advisories, for the slim image.
    Not at level off, which keeps what the trace and the static closure found and nothing else decided by language."""
    if p.options.lang_completion == levels.OFF:
        return
    traced_only = [path for path, why in p.out.reasons.items()
                   if path.endswith(".gemspec") and all(r.category == TRACED for r in why)]
    owners: dict[str, tuple[str, ...]] = {}

    def package_files(path: str) -> tuple[str, ...] | None:
        if not owners:  # read the package database only for an image that has gems with no directory
            owners.update({f: pkg.files for pkg in read_catalog(p.rootfs).packages for f in pkg.files})
            owners.setdefault("", ())
        return owners.get(path)

    dropped = rubyspecs.unused_specs(p.rootfs, set(p.out.reasons), p.env, package_files, traced_only)
    if not dropped:
        return
    markers = {m for gem in dropped.values() for m in rubyspecs.build_markers(p.rootfs, gem) if m in p.out.reasons}
    gone = set(dropped) | {m for m in markers if all(r.category == TRACED for r in p.out.reasons[m])}
    _forget(p, gone)
    p.out.cuts[rubyspecs.CUT] = p.rootfs.bytes_of(gone)
    names = ", ".join(sorted(f"{g.name}-{g.version}" for g in dropped.values()))
    p.out.warnings.append(SlimWarning(
        "lang.gemspec-left-out", f"the specifications of {len(dropped)} gems none of whose files are kept are left "
        f"out, so scanners do not list them (keep one with --include-path): {names}"))


def _forget(p: _Planner, paths: set[str]) -> None:
    """Keep `paths` no longer, nor the directories kept only as their parents that now hold nothing kept."""
    for path in paths:
        p.out.reasons.pop(path, None)
    parents = {posixpath.dirname(path) for path in paths}
    while parents:
        occupied = {posixpath.dirname(path) for path in p.out.reasons}
        empty = {d for d in parents if d not in occupied and d in p.out.reasons
                 and all(isinstance(r, ParentDirectory) for r in p.out.reasons[d])}
        for directory in empty:
            del p.out.reasons[directory]
        parents = {posixpath.dirname(d) for d in empty}


def _kept_whole(rootfs, added: dict[str, Reason]) -> dict[str, int]:
    """Package directory kept whole (its code names modules at run time, or does not parse) -> bytes it added."""
    paths: dict[str, list[str]] = {}
    for path, why in added.items():
        if isinstance(why, PartOfWholePackage):
            paths.setdefault(why.package, []).append(path)
    return {package: rootfs.bytes_of(files) for package, files in sorted(paths.items())}


def _exclude(p: _Planner) -> None:
    keep = p.out.reasons
    for path in list(set(keep) | set(p.builder.closure.keep)):
        if any(fnmatch.fnmatchcase(path, pat) for pat in p.options.exclude_patterns):
            keep.pop(path, None)
            p.out.excluded.append(path)
    p.out.excluded.sort()

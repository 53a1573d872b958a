"""Which installed gem specifications a minimized image can leave out: those of gems none of whose files it keeps.

RubyGems reads every specification when it starts, so the trace keeps them all, also those of gems whose code
slimming removed (a bundled `debug`, `rbs` or `typeprof` nobody loads). A scanner reading the slim image lists
each of them as installed, with its advisories. Such a specification can go when nothing can need it:
- none of the gem's files is kept: its directory `<gem dir>/gems/NAME-VERSION/` and its compiled extensions
  (`<gem dir>/extensions/PLATFORM/ABI/NAME-VERSION/`); for a default gem, also the files its specification lists
  in the interpreter's own library directories (`csv.rb`, `openssl.so`); for a gem with no directory (Debian's
  rubygems-integration puts the code in `vendor_ruby`), the files its package installs;
- no kept gem depends on it (activating a gem activates its runtime dependencies, and a missing one is an error);
- Bundler, when it is kept, finds every gem its kept lockfile names (its setup fails on a missing one; without a
  kept lockfile it resolves against whatever is installed, so nothing is left out then).
A gem whose files cannot be told (no directory, no listed files, no owning package) keeps its specification.

Pure: a RootFS, the kept paths and the image's environment in, {gemspec: gem} out.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Callable, Iterable

from slim.langs.rubypath import Gem, LoadPath, find_rbconfig, list_field, load_path, parse_gemspec

BUILD_MARKER = "gem.build_complete"
CUT = "ruby_unused_gemspecs"  # language_completion.cuts: the bytes of the specifications left out
LOCKFILES = ("Gemfile.lock", "gems.locked")
_QUOTED = re.compile(r"[\"']([^\"'\n]+)[\"']")
# a lockfile's gem lines: `    rack (2.2.22)` under specs, `  sinatra (~> 3.0)` or `  sinatra!` under DEPENDENCIES
_LOCKED = re.compile(r"^ {2}(?: {2})?([A-Za-z0-9][\w.-]*)(?: \(|!|$)", re.M)
# bounded names and one run before them, so that a hostile specification costs linear time (as in rubypath)
_DEPENDENCY = re.compile(
    r"add_(runtime_|development_|)dependency[\s(]*(?:%q<([^>\n]{1,256})>|[\"']([^\"'\n]{1,256})[\"'])")
_NOT_CODE = "/usr/share/doc/"  # a package's copyright and changelog say nothing about whether its code is kept

PackageFiles = Callable[[str], "tuple[str, ...] | None"]  # a path -> the files of the package that owns it


def unused_specs(rootfs, kept: set[str], env: dict[str, str], package_files: PackageFiles,
                 candidates: Iterable[str]) -> dict[str, Gem]:
    """Of the kept gemspecs `candidates`, those that can be left out (see the module's docstring), each with its
    gem. For an image with several Ruby interpreters, only what none of them needs."""
    candidates = set(candidates)
    if not candidates:
        return {}
    files = sorted(p for p in kept if (e := rootfs.lstat(p)) is not None and not e.is_dir
                   and posixpath.basename(p) != BUILD_MARKER)
    held = _bundler_holds(rootfs, files)
    if held is None:
        return {}
    out: dict[str, Gem] = {}
    needed: set[str] = set()
    for rbconfig in find_rbconfig(rootfs, kept):
        path = load_path(rootfs, rbconfig, env)
        gems = path.gems + _default_gems(rootfs, path, candidates)
        used = {g.spec for g in gems if g.name in held or _in_use(rootfs, path, g, files, package_files)}
        needed |= _with_dependencies(rootfs, gems, used)
        out.update({g.spec: g for g in gems if g.spec in candidates})
    return {spec: gem for spec, gem in sorted(out.items()) if spec not in needed}


def build_markers(rootfs, gem: Gem) -> list[str]:
    """The `gem.build_complete` files of a gem's compiled extensions: RubyGems looks for them at start-up (so the
    trace keeps them), and they are no code of the gem."""
    base, full = _base(gem), posixpath.basename(gem.root)
    return [marker for top in _extension_dirs(rootfs, base, full)
            if rootfs.is_file(marker := f"{top}/{BUILD_MARKER}")]


def _base(gem: Gem) -> str:
    return posixpath.dirname(posixpath.dirname(gem.root))


def _extension_dirs(rootfs, base: str, full: str) -> list[str]:
    return [f"{base}/extensions/{plat}/{abi}/{full}" for plat in rootfs.listdir(f"{base}/extensions")
            for abi in rootfs.listdir(f"{base}/extensions/{plat}")]


def _default_gems(rootfs, path: LoadPath, candidates: set[str]) -> list[Gem]:
    """The default gems (`specifications/default/`) of the interpreter's gem directories, which the load path
    leaves out (their code is on it already), and those of the kept default specifications."""
    spec_dirs = {posixpath.dirname(g.spec) for g in path.gems}
    spec_dirs |= {posixpath.dirname(posixpath.dirname(c)) for c in candidates
                  if posixpath.basename(posixpath.dirname(c)) == "default"}
    out = []
    for directory in sorted(spec_dirs):
        for name in rootfs.listdir(f"{directory}/default"):
            spec = f"{directory}/default/{name}"
            if name.endswith(".gemspec") and rootfs.is_file(spec):
                gem = parse_gemspec(rootfs.read_bytes(spec, 1 << 20).decode("utf-8", "replace"), spec)
                if gem is not None:
                    out.append(gem)
    return out


def _bundler_holds(rootfs, files: list[str]) -> set[str] | None:
    """The gems a kept Bundler needs installed: the names its kept lockfiles list (none when Bundler is not kept);
    None when Bundler is kept with no lockfile (what it would resolve cannot be told)."""
    if not any(posixpath.basename(p) == "bundler.rb" for p in files):
        return set()
    locks = [p for p in files if posixpath.basename(p) in LOCKFILES]
    if not locks:
        return None
    return {name for lock in locks
            for name in _LOCKED.findall(rootfs.read_bytes(lock, 4 << 20).decode("utf-8", "replace"))}


def _in_use(rootfs, path: LoadPath, gem: Gem, files: list[str], package_files: PackageFiles) -> bool:
    """Whether a kept file is the gem's (True when which files are the gem's cannot be told)."""
    tops = [gem.root, *_extension_dirs(rootfs, _base(gem), posixpath.basename(gem.root))]
    if any(_has_below(files, top) for top in tops):
        return True
    own = [p for top in tops for p in rootfs.below(top)
           if not rootfs.lstat(p).is_dir and posixpath.basename(p) != BUILD_MARKER]
    if posixpath.basename(posixpath.dirname(gem.spec)) == "default":
        own += _default_gem_files(rootfs, path, gem)
    elif not own:
        listed = package_files(gem.spec)
        if listed is None:
            return True
        own = [p for p in listed if p != gem.spec and not p.startswith(_NOT_CODE) and rootfs.is_file(p)]
    if not own:
        return True
    kept = set(files)
    return any(p in kept or (rootfs.realpath(p) or p) in kept for p in own)


def _has_below(files: list[str], top: str) -> bool:
    at = bisect.bisect_left(files, top + "/")
    return at < len(files) and files[at].startswith(top + "/")


def _default_gem_files(rootfs, path: LoadPath, gem: Gem) -> list[str]:
    """The files a default gem's specification lists, found in the interpreter's library directories (the list
    names them relative to the gem, with or without its `lib/`)."""
    text = rootfs.read_bytes(gem.spec, 1 << 20).decode("utf-8", "replace")
    names = _QUOTED.findall(list_field(text, "files") or "")
    names += [n[len("lib/"):] for n in names if n.startswith("lib/")]
    return sorted({f"{d}/{n}" for d in path.stdlib for n in names
                   if ".." not in n.split("/") and rootfs.is_file(f"{d}/{n}")})


def _with_dependencies(rootfs, gems: list[Gem], used: set[str]) -> set[str]:
    """`used` and the specifications of every gem they depend on at run time, at any depth, every installed
    version of it."""
    by_name: dict[str, list[Gem]] = {}
    for gem in gems:
        by_name.setdefault(gem.name, []).append(gem)
    by_spec = {g.spec: g for g in gems}
    out = set(used)
    stack = [by_spec[s] for s in used if s in by_spec]
    while stack:
        for dep in runtime_dependencies(rootfs.read_bytes(stack.pop().spec, 1 << 20).decode("utf-8", "replace")):
            for gem in by_name.get(dep, []):
                if gem.spec not in out:
                    out.add(gem.spec)
                    stack.append(gem)
    return out


def runtime_dependencies(text: str) -> set[str]:
    """The gems a specification needs at run time: its `add_runtime_dependency` names, and its `add_dependency`
    names that no `add_development_dependency` names (RubyGems' generated specs repeat every dependency as
    `add_dependency` in a branch for old RubyGems)."""
    found: dict[str, set[str]] = {"runtime": set(), "development": set(), "": set()}
    for kind, quoted, bare in _DEPENDENCY.findall(text):
        found[kind.rstrip("_")].add(quoted or bare)
    return found["runtime"] | (found[""] - found["development"])

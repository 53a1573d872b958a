"""The static require closure of Ruby code inside an image: what kept .rb files can `require`, `require_relative`,
`load` or `autoload`, resolved against the image interpreter's own load path and gems, recursively. A library a
request handler requires only when its route is first hit is kept although the probes never reached it.

The load path is the image's: the directories its `rbconfig.rb` names (site, vendor, the standard library and
its extensions), `RUBYLIB` from the image's environment, then the installed gems (each specification's
`require_paths`, and its compiled extensions' directory). A compiled extension (`.so`) is kept like a source;
the planner's ELF closure brings in the libraries it needs. Each kept gem's `.gemspec`, and those of the gems it
depends on, are kept too: RubyGems reads them to activate the gem.

A name computed at run time (`require "rack/handler/#{name}"`) keeps the directory its constant start names, else
the whole gem (or top-level library directory) of the file that requires it.

Pure: a RootFS, the kept paths and the image's environment in, {path: why} out.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from dataclasses import dataclass, field

from slim.langs.rubylex import blank
from slim.langs.rubypath import Gem, LoadPath, find_rbconfig, load_path
from slim.model import SlimWarning
from slim.langs.walk import SourceWalk
from slim.results import LanguageRule, Reason, RequiredBy

MAX_SOURCE = 4 << 20  # a bigger file is not scanned: its gem is kept whole instead
# The standard library's and the bundled gems' developer tools: the REPL, the documentation tools, the build and
# test tools, the Gemfile resolver. A library's require of one (rubygems loading bundler for a Gemfile, tilt's
# RDoc template) is not followed: an app server does not run them unless the app itself does, and then the trace
# or the app's own require (which is followed) keeps them. What the cut kept out is reported in its bytes.
DEVELOPER_TOOLS = frozenset({"rdoc", "irb", "reline", "bundler", "rake", "debug", "rbs", "typeprof", "test-unit",
                             "minitest", "power_assert"})
# RubyGems' own install machinery (what `gem install` runs) is the gem package manager, which slim removes from
# images like the others: a library's require of it is cut the same way.
GEM_INSTALLER = tuple(f"rubygems/{name}" for name in (
    "installer", "dependency_installer", "remote_fetcher", "package", "security", "request_set", "resolver",
    "commands", "command", "command_manager", "gem_runner", "uninstaller", "spec_fetcher", "ext", "doctor",
    "source", "request", "indexer", "gemcutter_utilities", "package_task", "s3_uri_signer", "optparse", "tsort",
    "install_update_options", "local_remote_options", "version_option", "security_option", "validator"))
CUT = "ruby_developer_tools"  # the name of the cut in language_completion.cuts
_FEATURE_EXTS = (".rb", ".so")
_KEYWORD = rb"(?:(?<=Kernel\.)|(?<![\w.:$@]))"
_CALL = re.compile(_KEYWORD + rb"(require_relative|require|load|autoload)\b(?![?!])")
_STRING = re.compile(rb"""(['"])((?:(?!\1)[^\\\n]|\\.)*)\1""")
_SYMBOL_ARG = re.compile(rb"""\s*\(?\s*(?::\w+|["']\w+["'])\s*,\s*""")
_EXPAND = re.compile(rb"""File\.(expand_path|join)\s*\(\s*(.*)""")


@dataclass(frozen=True)
class Require:
    """A literal load: `require 'json'`, `require_relative 'lib/x'`, `autoload :X, 'x'`, `load 'x.rb'`."""

    kind: str  # require, require_relative, load, autoload
    name: str  # the literal feature or path; for File.expand_path/join forms, the path made absolute or relative
    line: int
    relative: bool = False  # name is relative to the requiring file's directory


@dataclass(frozen=True)
class Dynamic:
    """A load of a name computed at run time, and what the name is known to start with."""

    kind: str
    line: int
    prefix: str  # the constant start of the computed name ("rack/handler/" of "rack/handler/#{x}"), or ""


def requires_of(source: bytes) -> tuple[list[Require], list[Dynamic], bool]:
    """The literal loads of a Ruby source, those of names computed at run time, and whether it lexed cleanly."""
    code, bare, clean = blank(source)
    found, dynamic = [], []
    newlines = [m.start() for m in re.finditer(rb"\n", bare)]
    for m in _CALL.finditer(bare):
        kind = m.group(1).decode()
        start = m.end()
        line_start = code.rfind(b"\n", 0, m.start()) + 1
        if re.search(rb"\b(def|alias|alias_method|undef)\s+:?$", code[line_start:m.start()]):
            continue  # a method of that name being defined, not a call
        end = code.find(b"\n", start)
        rest = code[start:end if end >= 0 else len(code)]
        if kind == "autoload":
            sym = _SYMBOL_ARG.match(rest)
            if not sym:
                continue
            rest = rest[sym.end():]
        elif not re.match(rb"\s*\(?\s*[\w\"'%:]", rest) or re.match(rb"\s*(?:=[^=~]|[:,)\]}]|\?)", rest):
            continue  # `require` as a word, a hash key or an argument, not a call
        line = bisect.bisect_left(newlines, m.start()) + 1
        arg = re.sub(rb"^\s*\(?\s*", b"", rest)
        literal = _literal(arg)
        if literal is not None:
            name, relative = literal
            found.append(Require(kind, name, line, relative or kind == "require_relative"))
        elif kind != "load":  # load(computed) reads configuration and data files, not libraries
            dynamic.append(Dynamic(kind, line, _constant_start(arg)))
    return found, dynamic, clean


def _literal(arg: bytes) -> tuple[str, bool] | None:
    """The path a literal argument names ('x', "x", File.expand_path('../x', __FILE__), File.join(__dir__, 'x')),
    with whether it is relative to the file; None when it is computed."""
    m = _STRING.match(arg)
    if m:
        text = m.group(2)
        if m.group(1) == b'"' and text.startswith((b"#{__dir__}/", b"#{File.dirname(__FILE__)}/")) \
                and text.count(b"#{") == 1:
            return text.split(b"}/", 1)[1].decode("utf-8", "replace"), True
        if m.group(1) == b'"' and b"#{" in text:
            return None
        return text.decode("utf-8", "replace"), False
    m = _EXPAND.match(arg)
    if not m:
        return None
    parts = [p.strip() for p in m.group(2).split(b")", 1)[0].split(b",")]
    here = (b"__dir__", b"__FILE__", b"File.dirname(__FILE__", b"__dir__()")
    first = _STRING.fullmatch(parts[0])
    if m.group(1) == b"expand_path" and len(parts) == 2 and first and parts[1] in here:
        text = first.group(2).decode("utf-8", "replace")
        if parts[1] == b"__FILE__":  # expand_path("../x", __FILE__): relative to the file itself
            text = text[3:] if text.startswith("../") else posixpath.join("..", text) if text != ".." else "."
        return text, True
    rest = [_STRING.fullmatch(p) for p in parts[1:]]
    if m.group(1) == b"join" and len(parts) >= 2 and parts[0] in here and all(rest):
        return "/".join(r.group(2).decode("utf-8", "replace") for r in rest if r), True
    return None


def _constant_start(arg: bytes) -> str:
    """The constant start of a computed name: "rack/handler/" of "rack/handler/#{x}", "" of a variable."""
    m = _STRING.match(arg)
    if m and m.group(1) == b'"' and b"#{" in m.group(2):
        return m.group(2).split(b"#{", 1)[0].decode("utf-8", "replace")
    return ""


@dataclass
class RequireClosure:
    """What the require closure found: the files to keep and why, and the directories kept whole (and why)."""

    keep: dict[str, Reason] = field(default_factory=dict)
    dynamic: dict[str, str | None] = field(default_factory=dict)  # "file:line" -> directory kept whole (or None)
    unparsed: dict[str, str | None] = field(default_factory=dict)  # file the lexer could not read -> directory
    cut: dict[str, Reason] = field(default_factory=dict)  # developer tool files a library requires, not followed


def developer_tool(path: LoadPath, file: str) -> str | None:
    """The developer tool (DEVELOPER_TOOLS) `file` belongs to: a gem of that name, or a top-level library of
    that name on the load path (rdoc.rb, rdoc/...)."""
    gem = path.gem_of(file)
    if gem is not None:
        return gem.name if gem.name in DEVELOPER_TOOLS else None
    for d in path.dirs:
        if file.startswith(d + "/"):
            relative = file[len(d) + 1:]
            feature = relative[:-3] if relative.endswith(".rb") else relative
            if any(feature == p or feature.startswith(p + "/") for p in GEM_INSTALLER):
                return "gem install"
            top = feature.split("/", 1)[0]
            return top if top in DEVELOPER_TOOLS else None
    return None


def require_closure(rootfs, path: LoadPath, start: list[str], cut_tools: bool = True) -> RequireClosure:
    """From the kept Ruby sources `start`, every file their literal loads (and those files' loads) read, the
    gemspecs of the gems on the way, and whole directories where a name is computed at run time. With
    `cut_tools`, what a library (not the app, not a tool) requires of a developer tool is listed in `cut`
    instead."""
    out = RequireClosure()
    walk = SourceWalk(start, out.keep)
    gems: set[str] = set()
    for file in walk:
        gem = path.gem_of(file)
        if gem is not None and gem.name not in gems:
            _keep_specs(path, gem, out, gems)
        entry = rootfs.stat(file)
        if not file.endswith(".rb") or entry is None:
            continue  # an extension: the ELF closure follows it
        if entry.size > MAX_SOURCE:
            out.unparsed[file] = _whole(rootfs, path.package_of(file), f"{file} is too big to scan", walk)
            continue
        found, dynamic, clean = requires_of(rootfs.read_bytes(file))
        if not clean:
            out.unparsed[file] = _whole(rootfs, path.package_of(file), f"{file} does not lex", walk)
        for d in dynamic:
            where = f"{file}:{d.line}"
            directory = _relative_directory(rootfs, file, d.prefix) if d.kind == "require_relative" else \
                path.directory(d.prefix)
            directory = directory or path.package_of(file)
            out.dynamic[where] = _whole(rootfs, directory, f"{where} requires a name built at run time", walk)
        # a library (not the app, not a tool: a tool kept needs its own parts) reaching into a tool is cut
        library = developer_tool(path, file) is None and (
            path.gem_of(file) is not None or any(file.startswith(d + "/") for d in path.dirs))
        for req in found:
            for target in _resolve(rootfs, path, file, req):
                if cut_tools and library and developer_tool(path, target) is not None:
                    out.cut.setdefault(target, RequiredBy(file, req.line))
                else:
                    walk.queue.append((target, RequiredBy(file, req.line)))
    return out


def _relative_directory(rootfs, file: str, prefix: str) -> str | None:
    """The directory `require_relative "plugins/#{name}"` loads from: beside the file, as the prefix names it."""
    if "/" not in prefix:
        return None
    base = posixpath.dirname(rootfs.realpath(file) or file)
    directory = posixpath.normpath(f"{base}/{prefix.rsplit('/', 1)[0]}")
    entry = rootfs.stat(directory)
    return directory if entry is not None and entry.is_dir else None


def _resolve(rootfs, path: LoadPath, file: str, req: Require) -> list[str]:
    if req.relative or req.name.startswith("/"):
        base = req.name if req.name.startswith("/") else \
            posixpath.join(posixpath.dirname(rootfs.realpath(file) or file), req.name)
        base = posixpath.normpath(base)
        names = [base] if base.endswith(_FEATURE_EXTS) or req.kind == "load" else [base + e for e in _FEATURE_EXTS]
        return next(([n] for n in names if rootfs.is_file(n)), [])
    if req.kind == "load":  # load searches the load path with the name as given, then the current directory
        for d in path.dirs:
            if rootfs.is_file(f"{d}/{req.name}"):
                return [f"{d}/{req.name}"]
        local = posixpath.normpath(posixpath.join(posixpath.dirname(file), req.name))
        return [local] if rootfs.is_file(local) else []
    found, _ = path.find(req.name)
    return [found] if found else []


def _keep_specs(path: LoadPath, gem: Gem, out: RequireClosure, done: set[str]) -> None:
    """The gem's specification and those of its dependencies: activating a gem reads them all."""
    stack = [gem]
    while stack:
        g = stack.pop()
        if g.name in done:
            continue
        done.add(g.name)
        out.keep.setdefault(g.spec, LanguageRule(f"specification of ruby gem {g.name}"))
        stack += [path.by_name[d] for d in g.depends if d in path.by_name]


def _whole(rootfs, directory: str | None, because: str, walk: SourceWalk) -> str | None:
    """Queue every source and extension under `directory` (once per directory); returns it."""
    if directory is not None:
        # a library top `lib/rubygems` is required as `rubygems`: its lib/rubygems.rb comes along
        walk.whole(directory, because, lambda: [p for p in rootfs.below(directory, _NOT_IN_WHOLE)
                                                if p.endswith(_FEATURE_EXTS) and rootfs.is_file(p)]
                   + ([directory + ".rb"] if rootfs.is_file(directory + ".rb") else []))
    return directory


# A gem kept whole leaves out its test suites and benchmarks: no name built at run time loads them in production,
# and following their requires would bring in the test frameworks too.
_NOT_IN_WHOLE = frozenset({"test", "tests", "spec", "features", "bench", "benchmarks", "examples"})


def completion(rootfs, kept: set[str], env: dict[str, str], out: dict[str, Reason], warnings: list,
               cuts: dict[str, int] | None = None) -> None:
    """The imports level for Ruby: the require closure of every kept .rb file, for each kept interpreter's load
    path; `warnings` gets a SlimWarning for each name computed at run time and each file that does not lex;
    `cuts` gets the bytes the developer tools cut kept out."""
    sources = sorted(p for p in kept if p.endswith(".rb") and rootfs.is_file(p))
    for rbconfig in find_rbconfig(rootfs, kept) if sources else []:
        path = load_path(rootfs, rbconfig, env)
        found = require_closure(rootfs, path, sources)
        for file, why in found.keep.items():
            out.setdefault(file, why)
        if cuts is not None:
            left_out = require_closure(rootfs, path, sorted(found.cut), cut_tools=False)
            saved = (set(left_out.keep) | set(found.cut)) - set(found.keep) - kept
            cuts[CUT] = cuts.get(CUT, 0) + rootfs.bytes_of(saved)
        for where, directory in found.dynamic.items():
            warnings.append(SlimWarning("lang.dynamic-import",
                                        f"requires a name computed at run time: {_kept_whole(directory)}", where))
        for where, directory in found.unparsed.items():
            warnings.append(SlimWarning("lang.unparsed", f"could not read it: {_kept_whole(directory)}", where))


def _kept_whole(directory: str | None) -> str:
    if directory is None:
        return "in no gem or library directory to keep whole; name what it loads with --include-path"
    return f"{directory} is kept whole"


def whole(rootfs, kept: set[str], env: dict[str, str], out: dict[str, Reason], full: bool) -> None:
    """The package and full levels for Ruby: each gem (with its gemspec) and top-level library that keeps a
    file, whole; `full` adds the interpreter's whole standard library and its extensions (developer tools and
    test suites left out, as the imports level leaves them)."""
    files = [p for p in kept if p.endswith(_FEATURE_EXTS)]
    for rbconfig in find_rbconfig(rootfs, kept) if files else []:
        path = load_path(rootfs, rbconfig, env)
        tops = {top for top in (path.package_of(p) for p in files) if top is not None}
        for gem in {gem for gem in (path.gem_of(p) for p in files) if gem is not None}:
            out.setdefault(gem.spec, LanguageRule(f"specification of ruby gem {gem.name}"))
        if full:
            tops |= {f"{d}/{name}" for d in path.stdlib for name in rootfs.listdir(d)
                     if name.split(".", 1)[0] not in DEVELOPER_TOOLS}
        for top in sorted(tops):
            reason = LanguageRule(f"ruby library {posixpath.basename(top)}" + (" (full)" if full else ""))
            for p in [top, top + ".rb", *rootfs.below(top, _NOT_IN_WHOLE)]:
                if p.endswith(_FEATURE_EXTS) and rootfs.is_file(p):
                    out.setdefault(p, reason)

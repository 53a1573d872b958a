"""The static import closure of Python code inside an image: what kept modules can import, resolved against the
image interpreter's own search path, recursively. Code paths the probes never took (an import inside a
request handler) keep what they need, and nothing else of the standard library is kept.

Pure: a RootFS, the kept paths and the interpreter versions in, {path: why (a slim.results.Reason)} out, plus
warnings.
"""

from __future__ import annotations

import ast
import bisect
import posixpath
import warnings as py_warnings
from dataclasses import dataclass, field
from typing import NamedTuple

from slim.langs import pybranches, pynames
from slim.langs.pybranches import When
from slim.langs.pypath import PythonPath, top_package
from slim.results import ImportedBy, NamedInCode, PartOfWholePackage, Reason

MAX_SOURCE = 4 << 20  # a module bigger than this is not parsed (its package is kept whole instead)
_DYNAMIC_CALLS = {"import_module", "__import__"}


@dataclass(frozen=True)
class Import:
    """One import a module makes, its name made absolute."""

    name: str  # absolute dotted name, relative ones already resolved
    line: int
    names: tuple[str, ...] = ()  # `from name import a, b`: a and b may be submodules
    # A fallback in `try: import x / except ImportError: import y`: y is needed only when one of these (x)
    # cannot be found in the image; empty for an import that is always followed.
    unless: tuple[str, ...] = ()
    when: tuple = ()  # sys.version_info tests (pybranches.Atom) that must all hold for it to run


@dataclass
class ImportClosure:
    """What import_closure found: the files kept and why, and where the code could not say what it loads."""

    keep: dict[str, Reason] = field(default_factory=dict)  # path -> the import (or the whole package) that keeps it
    # Where the code cannot say what it imports, the package directory kept whole (None: no package to keep):
    unparsed: dict[str, str | None] = field(default_factory=dict)  # module that failed to parse -> package
    dynamic: dict[str, str | None] = field(default_factory=dict)  # "file:line" of import_module(name) -> package
    # What the imports never followed would have loaded first, by the rule that cut them (pybranches.RULES):
    # rule -> [(file, why)]; the files already kept are not left out, so are not listed
    cut: dict[str, list[tuple[str, Reason]]] = field(default_factory=dict)
    # Every (file, why) an import followed, also to files already kept: filled only when asked (bench/py_surplus.py
    # attributes each kept byte to the import that needs it)
    edges: list[tuple[str, Reason]] = field(default_factory=list)


# What one module's source says, before relative names are resolved against the package it lives in, so that
# the same file content gives the same scan wherever it sits (and a scan can be cached by content):
# imports [(module, level, names, line, unless, when)], dynamic imports [(line, prefix)] (a prefix is the
# constant start of the name built: "encodings." of 'encodings.' + name, or ""), the module names the code
# spells out for them (pynames.Named), and the imports of branches that never run on import in the image:
# [(rule, module, level, names, line)]. Version tests stay conditions (`when`): the scan does not depend on
# which interpreter the image has, the closure decides them.
RawImport = tuple[str, int, tuple[str, ...], int, tuple[str, ...], tuple]
CutImport = tuple[str, str, int, tuple[str, ...], int]


class Scan(NamedTuple):
    """What scan() found in one module's source (see above); a plain tuple of lists, so it caches as JSON."""

    imports: list[RawImport]
    dynamic: list[tuple[int, str]]
    named: list[pynames.Named]
    cut: list[CutImport]


def scan(source: bytes) -> Scan:
    """Every import a module can make (any scope, inside try/if too), unresolved, and the lines of dynamic
    ones. Raises SyntaxError/ValueError (and RecursionError/MemoryError on pathological input)."""
    with py_warnings.catch_warnings():
        py_warnings.simplefilter("ignore")  # invalid escape sequences and the like in old code
        tree = ast.parse(source)
    found: list[RawImport] = []
    cut: list[CutImport] = []
    dynamic: list[tuple[int, str]] = []
    dynamic_calls: list[ast.Call] = []
    for node, unless, when, rule in _reachable_nodes(tree, source):
        raw: list[tuple[str, int, tuple[str, ...], int]]
        if isinstance(node, ast.Import):
            raw = [(alias.name, 0, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            raw = [(node.module or "", node.level, tuple(a.name for a in node.names if a.name != "*"), node.lineno)]
        elif isinstance(node, ast.Call) and _call_name(node.func) in _DYNAMIC_CALLS:
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                level = len(arg.value) - len(arg.value.lstrip("."))
                raw = [(arg.value.lstrip("."), level, (), node.lineno)]
            else:
                if not rule:
                    dynamic.append((node.lineno, _constant_start(arg)))
                    dynamic_calls.append(node)
                continue
        else:
            continue
        if rule:
            cut += [(rule, *r) for r in raw]
        else:
            found += [(*r, unless, when) for r in raw]
    named = pynames.named_modules(tree, dynamic_calls) if dynamic_calls else []
    return Scan(found, dynamic, named, cut)


def _constant_start(arg: ast.expr | None) -> str:
    """What a module name built at run time is known to start with: 'encodings.' + name, f"plugins.{name}",
    "backends.{}".format(name); "" when nothing is ('%s.%s' % parts, a variable)."""
    while isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add):
        arg = arg.left  # 'a.' + b + c is ('a.' + b) + c
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value)
    if (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "format"
            and isinstance(arg.func.value, ast.Constant) and isinstance(arg.func.value.value, str)):
        return arg.func.value.value.split("{", 1)[0]
    return ""


def dynamic_package(prefix: str, package: str) -> str | None:
    """The package a name starting with `prefix` must lie in, for a module living in `package`: "encodings"
    for "encodings.", "pkg.plugins" for ".plugins." in pkg; None when the prefix ends no package name."""
    level = len(prefix) - len(prefix.lstrip("."))
    dotted = prefix[level:]
    if "." not in dotted and not level:
        return None  # 'enc' + name may be any top-level module
    dotted = dotted.rsplit(".", 1)[0] if "." in dotted else ""
    return (_absolute(dotted, level, package) if level else dotted) or None


def scan_or_none(source: bytes) -> Scan | None:
    """scan(), or None for a module that cannot be parsed (Python 2, a newer version's syntax)."""
    try:
        return scan(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def resolve(raw: list[RawImport], package: str) -> list[Import]:
    """The scanned imports of a module in `package` ("" at top level; a package's own __init__ lives in it
    too) with relative names made absolute; those that reach above the top-level package are dropped (Python
    raises ImportError for them too)."""
    found = []
    for module, level, names, line, unless, when in raw:
        name = _absolute(module, level, package)
        if name or (name == "" and names):  # `from . import x` at a path root names x alone
            found.append(Import(name, line, names, unless, when))
    return found


def imports_of(source: bytes, package: str) -> tuple[list[Import], list[tuple[int, str]]]:
    """scan() and resolve() in one: the imports of `source` living in `package`. Raises SyntaxError/ValueError."""
    found = scan(source)
    return resolve(found.imports, package), found.dynamic


def _reachable_nodes(tree: ast.Module, source: bytes):
    """(node, unless, when, rule) for every statement (and, when the source names import_module or __import__,
    every expression: those calls are expressions). `unless` is set inside import fallbacks; `when` holds the
    version tests a branch needs; `rule` names the pybranches rule under which a node never runs on import in
    a Linux container ("" when it may run): the bodies of such branches and of functions only they call.
    Import statements are statements, so most modules need only their statement tree walked."""
    expressions = b"import_module" in source or b"__import__" in source
    flags = pybranches.module_flags(tree) if b"version_info" in source or b"platform" in source else {}
    script_only = pybranches.script_only_functions(tree, source, flags)
    # Every import statement and import call has the word on one of its lines: a subtree whose lines never
    # say "import" holds none, and is not walked (most of a module's tree).
    import_lines = [n for n, text in enumerate(source.split(b"\n"), 1) if b"import" in text]

    def says_import(node: ast.AST) -> bool:
        first = getattr(node, "lineno", None)
        if first is None:
            return True  # no position (a match case): look inside
        i = bisect.bisect_left(import_lines, first)
        return i < len(import_lines) and import_lines[i] <= (getattr(node, "end_lineno", None) or first)

    stack: list[tuple[ast.AST, tuple[str, ...], When, str]] = [(tree, (), (), "")]
    while stack:
        node, unless, when, rule = stack.pop()
        yield node, unless, when, rule
        if isinstance(node, ast.If) and not rule:
            cond = pybranches.condition(node.test, flags)
            for branch, where in ((node.body, cond.yes), (node.orelse, cond.no)):
                inner = pybranches.and_when(when, where)
                cut = cond.rule if inner is False else ""
                stack.extend((child, unless, () if cut else inner or (), cut) for child in branch
                             if says_import(child))
            if expressions:
                stack.append((node.test, unless, when, rule))
            continue
        if id(node) in script_only and not rule:
            rule = pybranches.MAIN
        guarded = _import_fallback_guard(node)
        for child in ast.iter_child_nodes(node) if expressions else _child_statements(node):
            if says_import(child):
                inside_handler = guarded and isinstance(child, ast.ExceptHandler)
                stack.append((child, unless + guarded if inside_handler else unless, when, rule))


def _child_statements(node: ast.AST):
    for name in ("body", "orelse", "finalbody", "handlers", "cases"):
        children = getattr(node, name, None)
        if isinstance(children, list):
            yield from children


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _import_fallback_guard(node: ast.AST) -> tuple[str, ...]:
    """For `try:` whose body only imports and whose handlers catch import failures, the modules the body
    imports: a handler runs only when one of them cannot be loaded. Empty for any other node (a body that
    also calls code can fail for other reasons, so its handlers are always followed)."""
    if not isinstance(node, ast.Try) or not node.body:
        return ()
    if not all(isinstance(stmt, (ast.Import, ast.ImportFrom)) and not getattr(stmt, "level", 0)
               for stmt in node.body):
        return ()
    for handler in node.handlers:
        caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if not all(t is None or (isinstance(t, ast.Name) and t.id in _IMPORT_ERRORS) for t in caught):
            return ()
    return tuple(stmt.module or "" if isinstance(stmt, ast.ImportFrom) else alias.name
                 for stmt in node.body if isinstance(stmt, (ast.Import, ast.ImportFrom))
                 for alias in (stmt.names if isinstance(stmt, ast.Import) else stmt.names[:1]))


def _call_name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _absolute(module: str, level: int, package: str) -> str | None:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None  # beyond the top-level package: Python raises ImportError too
    base = parts[:len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def scan_serially(sources: dict) -> dict:
    """The plain way to scan a batch of modules ({path or any key: source} -> {key: Scan or None}): one after
    the other, in this process."""
    return {path: scan_or_none(source) for path, source in sources.items()}


def import_closure(rootfs, pypath: PythonPath, start: list[str], never: tuple[str, ...] = (),
                   scan_many=scan_serially, version: tuple[int, int] | None = None,
                   seeds: tuple[tuple[str, Reason], ...] | list[tuple[str, Reason]] = (),
                   known: frozenset[str] = frozenset(), record_edges: bool = False,
                   scripts: frozenset[str] = frozenset()) -> ImportClosure:
    """From the kept .py files `start` (and the files `seeds` name, kept for their reason), every module their
    imports (and their modules' imports) load; nothing under the directories `never` (the standard library's
    test suites and GUI toolkits), nothing of `known` (already kept: not scanned again). Branches on
    sys.version_info are followed when they hold for the interpreter `version` (all of them when None). A
    module that imports a name built at run time: the modules its code names for it (pynames), else a whole
    package: the one the name's constant start names ('encodings.' + name: encodings), else its own top-level
    one; a module that does not parse keeps its top-level package whole. Goes in waves: each wave's new
    modules are scanned as one batch by `scan_many` ({path: source} -> {path: Scan or None}), which may cache
    or parallelise; the result does not depend on how it scans. `record_edges`: fill out.edges. `scripts`: the
    files the image runs as __main__ (scripts, `python -m` modules, with or without .py): the imports of their
    __main__ blocks are followed."""
    out = ImportClosure()
    seen: set[str] = set(known)
    whole: set[str] = set()  # package directories already put into a wave whole
    wave: list[tuple[str, Reason | None]] = [(p, None) for p in start] + list(seeds)
    cut: dict[str, list[tuple[str, Reason]]] = {}
    while wave:
        sources: dict[str, bytes] = {}
        for path, why in wave:
            if record_edges and why is not None:
                out.edges.append((path, why))
            if path in seen or (why and any(path.startswith(d + "/") for d in never)):
                continue
            seen.add(path)
            if why:
                out.keep[path] = why
            # an extension module is the ELF closure's; a script may have no .py
            entry = rootfs.stat(path) if path.endswith(".py") or path in scripts else None
            if entry is not None and entry.size <= MAX_SOURCE:
                sources[path] = rootfs.read_bytes(path)
        wave = []
        for path, result in sorted(scan_many(sources).items()):
            package = pypath.package_of(path) or ""
            if result is None:
                out.unparsed[path] = _whole(rootfs, pypath, path, None, f"{path} does not parse", wave, whole)
                continue
            result = Scan(*result)
            _dynamic(rootfs, pypath, path, package, result, wave, whole, out)
            _follow(pypath, path, package, result, version, path in scripts, wave, cut)
    out.cut = {rule: [(f, why) for f, why in files if f not in seen] for rule, files in sorted(cut.items())}
    return out


def _follow(pypath: PythonPath, path: str, package: str, result: Scan, version: tuple[int, int] | None,
            script: bool, wave: list, cut: dict[str, list[tuple[str, Reason]]]) -> None:
    """Put the files the imports of one scanned module load into the next wave, or into `cut` under the rule
    that says they never run; `script`: the module runs as __main__ (the MAIN rule does not hold for it)."""
    for imp in resolve(result.imports, package):
        files = [(f, ImportedBy(path, imp.line)) for name in [imp.name, *(f"{imp.name}.{n}" for n in imp.names)]
                 for f in pypath.find(name) or _parents(pypath, name if name == imp.name else "")]
        if imp.unless and all(pypath.importable(name) for name in imp.unless):
            if not all(pypath.find(name) for name in imp.unless):  # a module built into the interpreter
                cut.setdefault(pybranches.BUILTIN_FALLBACK, []).extend(files)
            continue  # a fallback for modules the image has
        if pybranches.holds(imp.when, version):
            wave += files
        else:
            cut.setdefault(pybranches.VERSION, []).extend(files)
    for rule, module, level, names, line in result.cut:
        name = _absolute(module, level, package)
        dotted_names = ([name] if name else []) + [f"{name}.{n}" if name else n for n in names]
        files = [(f, ImportedBy(path, line)) for dotted in dotted_names for f in pypath.find(dotted) or ()]
        if rule == pybranches.MAIN and script:
            wave += files  # the module runs as __main__: its main block, and what only that block calls, run
        else:
            cut.setdefault(rule, []).extend(files)


def _parents(pypath: PythonPath, name: str) -> list[str]:
    """For a dotted name no file provides (`six.moves`, made by six at run time), what importing it loads
    before Python looks for the rest: its nearest parent module that a file provides."""
    while "." in name:
        name = name.rsplit(".", 1)[0]
        found = pypath.find(name)
        if found:
            return found
    return []


def _dynamic(rootfs, pypath: PythonPath, path: str, package: str, found: Scan, wave: list, whole: set[str],
             out: ImportClosure) -> None:
    """Follow what the dynamic imports of one module may load: the modules its code names for them that the
    image has, else the package the name's constant start names (or the module's own) kept whole."""
    for line, prefix in found.dynamic:
        where = f"{path}:{line}"
        named = []
        for written, string_line in pynames.candidates(found.named, prefix):
            level = len(written) - len(written.lstrip("."))
            dotted = _absolute(written.lstrip("."), level, package)
            named += [(f, NamedInCode(path, string_line)) for f in (pypath.find(dotted) if dotted else None) or ()]
        if named:
            wave += named
        else:
            out.dynamic[where] = _whole(rootfs, pypath, path, dynamic_package(prefix, package),
                                        f"{where} imports a name built at run time", wave, whole)


def _whole(rootfs, pypath: PythonPath, path: str, dotted: str | None, why: str, wave: list,
           done: set[str]) -> str | None:
    """Put every module of a package into the next wave: the package `dotted` names when the image has it as
    a directory, else the top-level package `path` lies in (once per directory: `done`). Returns that
    directory (None: `path` is a top-level module and no package is named, so there is nothing to keep)."""
    found = pypath.find(dotted) if dotted else None
    directory = posixpath.dirname(found[-1]) if found and found[-1].endswith("/__init__.py") else None
    directory = directory or top_package(rootfs, path)
    if directory is not None and directory not in done:
        done.add(directory)
        wave += [(p, PartOfWholePackage(directory, why)) for p in rootfs.below(directory, _NOT_IN_WHOLE)
                 if p.endswith((".py", ".so")) and rootfs.is_file(p)]
    return directory


# A package kept whole leaves out its own test suites: no name built at run time loads them in production, and
# following their imports would bring in the test frameworks (pytest, hypothesis) too.
_NOT_IN_WHOLE = frozenset({"__pycache__", "tests", "test"})

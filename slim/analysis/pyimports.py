"""The static import closure of Python code inside an image: what kept modules can import, resolved against the
image interpreter's own search path, recursively. Code paths the probes never took (an import inside a
request handler) keep what they need, and nothing else of the standard library is kept.

Pure: a RootFS, the kept paths and the interpreter versions in, {path: why} out, plus warnings.
"""

from __future__ import annotations

import ast
import bisect
import posixpath
import re
import warnings as py_warnings
from dataclasses import dataclass, field

MAX_SOURCE = 4 << 20  # a module bigger than this is not parsed (its package is kept whole instead)
_DYNAMIC_CALLS = {"import_module", "__import__"}


@dataclass(frozen=True)
class Import:
    name: str  # absolute dotted name, relative ones already resolved
    line: int
    names: tuple[str, ...] = ()  # `from name import a, b`: a and b may be submodules
    # A fallback in `try: import x / except ImportError: import y`: y is needed only when one of these (x)
    # cannot be found in the image; empty for an import that is always followed.
    unless: tuple[str, ...] = ()


@dataclass
class ImportClosure:
    keep: dict[str, str] = field(default_factory=dict)  # path -> "file:line" that imports it
    unparsed: list[str] = field(default_factory=list)  # modules that failed to parse (kept with their package)
    dynamic: list[str] = field(default_factory=list)  # "file:line" of import_module(<not a literal>)


# What one module's source says, before relative names are resolved against the package it lives in, so that
# the same file content gives the same scan wherever it sits (and a scan can be cached by content):
# ([(module, level, names, line, unless), ...], [line of each dynamic import, ...]).
RawImport = tuple[str, int, tuple[str, ...], int, tuple[str, ...]]
Scan = tuple[list[RawImport], list[int]]


def scan(source: bytes) -> Scan:
    """Every import a module can make (any scope, inside try/if too), unresolved, and the lines of dynamic
    ones. Raises SyntaxError/ValueError (and RecursionError/MemoryError on pathological input)."""
    with py_warnings.catch_warnings():
        py_warnings.simplefilter("ignore")  # invalid escape sequences and the like in old code
        tree = ast.parse(source)
    found: list[RawImport] = []
    dynamic: list[int] = []
    for node, unless in _reachable_nodes(tree, source):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0, (), node.lineno, unless) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = tuple(a.name for a in node.names if a.name != "*")
            found.append((node.module or "", node.level, names, node.lineno, unless))
        elif isinstance(node, ast.Call) and _call_name(node.func) in _DYNAMIC_CALLS:
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                level = len(arg.value) - len(arg.value.lstrip("."))
                found.append((arg.value.lstrip("."), level, (), node.lineno, unless))
            else:
                dynamic.append(node.lineno)
    return found, dynamic


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
    for module, level, names, line, unless in raw:
        name = _absolute(module, level, package)
        if name or (name == "" and names):  # `from . import x` at a path root names x alone
            found.append(Import(name, line, names, unless))
    return found


def imports_of(source: bytes, package: str) -> tuple[list[Import], list[int]]:
    """scan() and resolve() in one: the imports of `source` living in `package`. Raises SyntaxError/ValueError."""
    raw, dynamic = scan(source)
    return resolve(raw, package), dynamic


_OTHER_PLATFORMS = {"win32", "nt", "cygwin", "darwin", "java", "os2", "ce", "riscos", "emscripten", "wasi"}


def _never_runs_here(test: ast.expr) -> bool:
    """`if __name__ == "__main__"` (a module run as a script, not imported), `if TYPE_CHECKING` (type checkers
    only), `if sys.platform == "win32"` / `os.name == "nt"` (another system): their bodies never run in a Linux
    container when the module is imported."""
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        value = right.value if isinstance(right, ast.Constant) else None
        if isinstance(left, ast.Name) and left.id == "__name__" and value == "__main__":
            return True
        if isinstance(left, ast.Attribute) and left.attr in ("platform", "name") and value in _OTHER_PLATFORMS:
            return True
    return False


def _reachable_nodes(tree: ast.Module, source: bytes):
    """(node, unless) for every statement (and, when the source names import_module or __import__, every
    expression: those calls are expressions), except the bodies of branches that never run on import in a
    Linux container and of functions only such a branch calls; `unless` is set inside import fallbacks.
    Import statements are statements, so most modules need only their statement tree walked."""
    expressions = b"import_module" in source or b"__import__" in source
    script_only = _script_only_functions(tree, source)
    # Every import statement and import call has the word on one of its lines: a subtree whose lines never
    # say "import" holds none, and is not walked (most of a module's tree).
    import_lines = [n for n, text in enumerate(source.split(b"\n"), 1) if b"import" in text]

    def says_import(node: ast.AST) -> bool:
        first = getattr(node, "lineno", None)
        if first is None:
            return True  # no position (a match case): look inside
        i = bisect.bisect_left(import_lines, first)
        return i < len(import_lines) and import_lines[i] <= (node.end_lineno or first)

    stack: list[tuple[ast.AST, tuple[str, ...]]] = [(tree, ())]
    while stack:
        node, unless = stack.pop()
        yield node, unless
        if isinstance(node, ast.If) and _never_runs_here(node.test):
            stack.extend((child, unless) for child in node.orelse if says_import(child))
            continue
        if id(node) in script_only:
            continue
        guarded = _import_fallback_guard(node)
        for child in ast.iter_child_nodes(node) if expressions else _child_statements(node):
            if says_import(child):
                inside_handler = guarded and isinstance(child, ast.ExceptHandler)
                stack.append((child, unless + guarded if inside_handler else unless))


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
    return tuple(stmt.module if isinstance(stmt, ast.ImportFrom) else alias.name
                 for stmt in node.body for alias in (stmt.names if isinstance(stmt, ast.Import) else stmt.names[:1]))


def _script_only_functions(tree: ast.Module, source: bytes) -> set[int]:
    """ids of private module-level functions (`_test`, `_main`) that only the module's `if __name__ ==
    "__main__"` block calls, directly or through other such functions: like the block, they run only when the
    module is a script, never on import. Public ones stay: another module may import and call them. Any other
    mention of the name (a call, `__all__`, getattr's string, even a comment) keeps the function."""
    private = {stmt.name: stmt for stmt in tree.body if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
               and stmt.name.startswith("_") and not stmt.name.endswith("__")}
    main_blocks = [(stmt.lineno, stmt.end_lineno or stmt.lineno) for stmt in tree.body
                   if isinstance(stmt, ast.If) and _never_runs_here(stmt.test)]
    if not private or not main_blocks:
        return set()
    mentions = {}  # name -> lines it appears on, outside its own definition
    line_starts = [0] + [m.end() for m in re.finditer(rb"\n", source)]
    for name, fn in private.items():
        lines = {bisect.bisect_right(line_starts, m.start())
                 for m in re.finditer(rb"\b" + re.escape(name.encode()) + rb"\b", source)}
        mentions[name] = {n for n in lines if not fn.lineno <= n <= (fn.end_lineno or fn.lineno)}
    script_only: dict[str, ast.AST] = {}
    while True:  # grows from the main blocks through the functions only they (and those) mention
        spans = main_blocks + [(fn.lineno, fn.end_lineno or fn.lineno) for fn in script_only.values()]
        grown = {name: fn for name, fn in private.items() if name not in script_only and mentions[name]
                 and all(any(a <= n <= b for a, b in spans) for n in mentions[name])}
        if not grown:
            return {id(fn) for fn in script_only.values()}
        script_only.update(grown)


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


class PythonPath:
    """The image interpreter's module search path, and module lookup on it (inside the image only)."""

    def __init__(self, rootfs, directories: list[str]):
        self.rootfs = rootfs
        self.directories = [d for d in dict.fromkeys(directories) if rootfs.stat(d) is not None]
        self._cache: dict[str, list[str] | None] = {}
        self._listings: dict[str, frozenset[str]] = {}

    def find(self, name: str) -> list[str] | None:
        """The files that importing `name` loads: each package's __init__ on the way, then the module."""
        if name not in self._cache:
            self._cache[name] = self._find(name)
        return self._cache[name]

    def _find(self, name: str) -> list[str] | None:
        parts = [p for p in name.split(".") if p]
        for directory in self.directories:
            files, here = [], directory
            for n, part in enumerate(parts):
                last = n == len(parts) - 1
                names = self._names(here)
                if part in names and "__init__.py" in self._names(f"{here}/{part}") \
                        and self.rootfs.is_file(f"{here}/{part}/__init__.py"):
                    files.append(f"{here}/{part}/__init__.py")
                    here = f"{here}/{part}"
                    continue
                if last:
                    module = self._module_file(here, part)
                    if module:
                        files.append(module)
                        break
                if part in names and self._names(f"{here}/{part}"):
                    here = f"{here}/{part}"  # a namespace package: no __init__.py
                    continue
                files = None
                break
            if files is not None and files:
                return files
        return None

    def _names(self, directory: str) -> frozenset[str]:
        """What a directory holds (empty when it is none): one listing per directory, however many lookups."""
        if directory not in self._listings:
            entry = self.rootfs.stat(directory)
            self._listings[directory] = frozenset(self.rootfs.listdir(self.rootfs.realpath(directory) or directory)) \
                if entry is not None and entry.is_dir else frozenset()
        return self._listings[directory]

    def _module_file(self, directory: str, name: str) -> str | None:
        names = self._names(directory)
        if f"{name}.py" in names and self.rootfs.is_file(f"{directory}/{name}.py"):
            return f"{directory}/{name}.py"
        prefix = name + "."
        for entry in sorted(names):
            if entry.startswith(prefix) and entry.endswith(".so"):  # name.cpython-311-x86_64-linux-gnu.so
                return f"{directory}/{entry}"
        return None

    def package_of(self, path: str) -> str | None:
        """The dotted package a file on the path belongs to ("" at top level), None when it is not on the path."""
        for directory in self.directories:
            if path.startswith(directory + "/"):
                rel = path[len(directory) + 1:].rsplit(".", 1)[0].split("/")
                return ".".join(rel[:-1])  # a package's __init__ and its modules share the package
        return None


def search_path(rootfs, version: str, env: dict[str, str], script_dirs: list[str]) -> list[str]:
    """sys.path of pythonVERSION in the image: script directories, PYTHONPATH, the standard library and
    lib-dynload, site directories (Debian's dist-packages, venvs) and what their .pth files add."""
    prefixes = [p for p in ("/usr/local", "/usr") if rootfs.stat(f"{p}/lib/python{version}") is not None]
    dirs = list(script_dirs) + [d for d in env.get("PYTHONPATH", "").split(":") if d.startswith("/")]
    for prefix in prefixes:
        dirs += [f"{prefix}/lib/python{version}", f"{prefix}/lib/python{version}/lib-dynload"]
    site = [f"/usr/local/lib/python{version}/dist-packages", f"/usr/local/lib/python{version}/site-packages",
            "/usr/lib/python3/dist-packages", f"/usr/lib/python{version}/dist-packages",
            f"/usr/lib/python{version}/site-packages"]
    venv = env.get("VIRTUAL_ENV")
    if venv and rootfs.is_file(f"{venv}/pyvenv.cfg"):
        site.insert(0, f"{venv}/lib/python{version}/site-packages")
    for directory in list(site):
        for entry in rootfs.listdir(rootfs.realpath(directory) or directory) if rootfs.stat(directory) else []:
            if entry.endswith(".pth") and rootfs.is_file(f"{directory}/{entry}"):
                site += _pth_lines(rootfs, f"{directory}/{entry}", directory)
    return dirs + site


def _pth_lines(rootfs, path: str, directory: str) -> list[str]:
    with rootfs.open(path) as fh:
        text = fh.read(1 << 16).decode("utf-8", "replace")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "import ", "import\t")):
            out.append(posixpath.normpath(line if line.startswith("/") else f"{directory}/{line}"))
    return out


def scan_serially(sources: dict[str, bytes]) -> dict[str, Scan | None]:
    """The plain way to scan a batch of modules: one after the other, in this process."""
    return {path: scan_or_none(source) for path, source in sources.items()}


def import_closure(rootfs, pypath: PythonPath, start: list[str], never: tuple[str, ...] = (),
                   scan_many=scan_serially) -> ImportClosure:
    """From the kept .py files `start`, every module their imports (and their modules' imports) load; nothing
    under the directories `never` (the standard library's test suites and GUI toolkits). Goes in waves: each
    wave's new modules are scanned as one batch by `scan_many` ({path: source} -> {path: Scan or None}), which
    may cache or parallelise; the result does not depend on how it scans."""
    out = ImportClosure()
    seen: set[str] = set()
    wave = [(p, "") for p in start]
    while wave:
        sources: dict[str, bytes] = {}
        for path, why in wave:
            if path in seen or (why and any(path.startswith(d + "/") for d in never)):
                continue
            seen.add(path)
            if why:
                out.keep[path] = why
            entry = rootfs.stat(path) if path.endswith(".py") else None  # an extension module: ELF closure's
            if entry is not None and entry.size <= MAX_SOURCE:
                sources[path] = rootfs.read_bytes(path)
        wave = []
        for path, result in sorted(scan_many(sources).items()):
            if result is None:
                out.unparsed.append(path)
                continue
            raw, dynamic = result
            out.dynamic += [f"{path}:{line}" for line in dynamic]
            for imp in resolve(raw, pypath.package_of(path) or ""):
                if imp.unless and all(pypath.find(name) for name in imp.unless):
                    continue  # a fallback for modules the image has
                for name in [imp.name] + [f"{imp.name}.{n}" for n in imp.names]:
                    wave += [(file, f"imported at {path}:{imp.line}") for file in pypath.find(name) or ()]
    return out

"""The static require closure of Node code inside an image: what kept .js/.mjs/.cjs files can load, resolved
with Node's own lookup rules against the image, recursively. A module required lazily inside a request handler
is kept although the probes never reached it; the rest of a package is not.

Specifiers are found by a lexical scan, not a JavaScript parser: the literal forms Node loads from (`require("x")`,
`import ... from "x"`, `export ... from "x"`, `import "x"`, `import("x")`) are all a keyword next to a string
literal, and a match inside a comment or a string only keeps one module too many, never one too few.

Pure: a RootFS and the kept paths in, {path: why} out, plus the places that load a name known only at run time.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field

from slim.langs.walk import SourceWalk
from slim.results import LanguageRule, Reason, RequiredBy

MAX_SOURCE = 8 << 20  # a bigger file (a bundle) is not scanned: its package is kept whole instead
SOURCES = (".js", ".mjs", ".cjs")
# the order Node tries for a specifier without an extension; .json and .node are loaded by require() too
_EXTENSIONS = ("", ".js", ".json", ".node", ".mjs", ".cjs")
_INDEXES = ("index.js", "index.json", "index.node", "index.mjs", "index.cjs")
# where Debian's node-* packages and `npm install -g` put modules; Node looks there after node_modules trees
GLOBAL_FOLDERS = ("/usr/share/nodejs", "/usr/lib/nodejs", "/usr/local/lib/node_modules")

_STRING = r"""(?:"([^"\\\n]*)"|'([^'\\\n]*)'|`([^`\\$]*)`)"""
_LITERAL = re.compile(
    rb"(?:\brequire(?:\.resolve)?\s*\(\s*|\bimport\s*\(\s*|\bfrom\s*|\bimport\s*)" + _STRING.encode())
_DYNAMIC = re.compile(rb"\b(?:require|import)\s*\(\s*(?![\"'`)])")


@dataclass
class RequireClosure:
    """What the require closure found: the files to keep and why, and what it could not follow (a require of a
    computed name, a file too big to scan), which the report shows so a missing module is no surprise."""

    keep: dict[str, Reason] = field(default_factory=dict)  # path -> why (RequiredBy, or the manifest of a file)
    dynamic: list[str] = field(default_factory=list)  # "FILE:LINE" of require(<not a literal>)
    unscanned: list[str] = field(default_factory=list)  # files too big to scan (bundles)


def specifiers_of(source: bytes) -> tuple[list[tuple[str, int]], list[int]]:
    """(specifier, line) for every literal load in `source`, and the lines of loads of computed names."""
    found = []
    for match in _LITERAL.finditer(source):
        literal = next(g for g in match.groups() if g is not None)
        found.append((literal.decode("utf-8", "replace"), source.count(b"\n", 0, match.start()) + 1))
    dynamic = [source.count(b"\n", 0, m.start()) + 1 for m in _DYNAMIC.finditer(source)]
    return found, dynamic


def is_builtin(specifier: str) -> bool:
    """`node:fs`, `fs`, `fs/promises`: compiled into the node binary, nothing on disk to keep. Node's
    built-in names are bare and never scoped; a package of the same name is shadowed by the built-in."""
    return specifier.startswith("node:") or specifier.split("/", 1)[0] in BUILTINS


BUILTINS = frozenset(
    "assert async_hooks buffer child_process cluster console constants crypto dgram diagnostics_channel dns "
    "domain events fs http http2 https inspector module net os path perf_hooks process punycode querystring "
    "readline repl stream string_decoder sys timers tls trace_events tty url util v8 vm wasi worker_threads "
    "zlib".split())


class Resolver:
    """Node's module resolution, inside the image."""

    def __init__(self, rootfs):
        self.rootfs = rootfs
        self._manifests: dict[str, dict | None] = {}

    def resolve(self, specifier: str, from_file: str) -> tuple[list[str], str | None]:
        """(files loading `specifier` from `from_file` reads, the package directory it lives in or None)."""
        if specifier.startswith(("./", "../", "/")) or specifier in (".", ".."):
            base = posixpath.normpath(posixpath.join(posixpath.dirname(from_file), specifier))
            return self._file_or_directory(base), None
        name, subpath = self._split(specifier)
        package = self.package_dir(name, posixpath.dirname(from_file))
        if package is None:
            return [], None
        return self._in_package(package, subpath), package

    @staticmethod
    def _split(specifier: str) -> tuple[str, str]:
        """"@scope/pkg/lib/x" -> ("@scope/pkg", "lib/x"); "pkg" -> ("pkg", "")."""
        parts = specifier.split("/")
        depth = 2 if specifier.startswith("@") else 1
        return "/".join(parts[:depth]), "/".join(parts[depth:])

    def nearest_manifest(self, path: str) -> str | None:
        """The package.json Node reads for a file (its "type" says whether .js is an ES module)."""
        directory = posixpath.dirname(path)
        while directory not in ("/", ""):
            if self.manifest(directory) is not None:
                return f"{directory}/package.json"
            if posixpath.basename(directory) == "node_modules":
                return None
            directory = posixpath.dirname(directory)
        return None

    def package_dir(self, name: str, directory: str) -> str | None:
        """node_modules/NAME in this directory, then in each parent, then the global folders."""
        while True:
            if posixpath.basename(directory) != "node_modules":
                candidate = posixpath.join(directory, "node_modules", name)
                found = self.rootfs.stat(candidate)
                if found is not None and found.is_dir:
                    return candidate
            if directory in ("/", ""):
                break
            directory = posixpath.dirname(directory)
        for folder in GLOBAL_FOLDERS:
            found = self.rootfs.stat(f"{folder}/{name}")
            if found is not None and found.is_dir:
                return f"{folder}/{name}"
        return None

    def manifest(self, package: str) -> dict | None:
        """The parsed package.json of the package directory, read once; None when it is missing, too big or not an
        object, so a damaged manifest only loses its entry points."""
        if package not in self._manifests:
            doc = None
            if self.rootfs.is_file(f"{package}/package.json"):
                try:
                    with self.rootfs.open(f"{package}/package.json") as fh:
                        doc = json.loads(fh.read(1 << 20))
                except ValueError:
                    doc = None
            self._manifests[package] = doc if isinstance(doc, dict) else None
        return self._manifests[package]

    def _in_package(self, package: str, subpath: str) -> list[str]:
        manifest = self.manifest(package) or {}
        exports = manifest.get("exports")
        if exports is not None:
            targets = _export_targets(exports, "./" + subpath if subpath else ".")
            files = [f for t in targets for f in self._file_or_directory(posixpath.normpath(f"{package}/{t}"))]
            if files:
                return files
        if subpath:
            return self._file_or_directory(f"{package}/{subpath}")
        return self._file_or_directory(package)

    def _file_or_directory(self, base: str) -> list[str]:
        for ext in _EXTENSIONS:
            if ext and base.endswith(ext):
                continue
            if self.rootfs.is_file(base + ext):
                return [base + ext]
        found = self.rootfs.stat(base)
        if found is None or not found.is_dir:
            return []
        main = (self.manifest(base) or {}).get("main")
        if isinstance(main, str) and main:
            files = self._file_or_directory(posixpath.normpath(f"{base}/{main}"))
            if files:
                return files
        return next(([f"{base}/{index}"] for index in _INDEXES if self.rootfs.is_file(f"{base}/{index}")), [])


def _export_targets(exports, key: str) -> list[str]:
    """The relative files an `exports` field maps `key` (".", "./sub") to, under every condition (require,
    import, node, default): which one Node picks depends on how the module is loaded, so all are kept."""
    if isinstance(exports, (str, list)) or (isinstance(exports, dict) and not any(k.startswith(".") for k in exports)):
        exports = {".": exports}  # sugar: the field is the "." entry itself
    if not isinstance(exports, dict):
        return []
    if key in exports:
        return _condition_targets(exports[key], "")
    for pattern, target in exports.items():  # "./features/*": "./src/features/*.js"
        if "*" in pattern:
            prefix, _, suffix = pattern.partition("*")
            if key.startswith(prefix) and key.endswith(suffix) and len(key) >= len(prefix) + len(suffix):
                return _condition_targets(target, key[len(prefix):len(key) - len(suffix)])
    return []


def _condition_targets(target, star: str) -> list[str]:
    if isinstance(target, str):
        return [target.replace("*", star)] if target.startswith("./") else []
    if isinstance(target, list):
        return [t for item in target for t in _condition_targets(item, star)]
    if isinstance(target, dict):
        return [t for value in target.values() for t in _condition_targets(value, star)]
    return []


def require_closure(rootfs, start: list[str]) -> RequireClosure:
    """From the kept Node sources `start`, every file their literal loads (and those files' loads) read, with
    the package.json of every package on the way (Node reads it to resolve, and for "type"). Files whose
    loads cannot all be read (a computed name, a bundle too big to scan) are listed for the caller."""
    out = RequireClosure()
    resolver = Resolver(rootfs)
    walk = SourceWalk(start, out.keep, depth_first=True)
    queue = walk.queue
    for path in walk:
        if not path.endswith(SOURCES):
            continue  # .json data, .node addons (their ELF closure is the loader's business)
        entry = rootfs.stat(path)
        if entry is None:
            continue
        manifest = resolver.nearest_manifest(path)
        if manifest:
            queue.append((manifest, LanguageRule(f"manifest of {path}")))
        if entry.size > MAX_SOURCE:
            out.unscanned.append(path)
            continue
        specifiers, dynamic = specifiers_of(rootfs.read_bytes(path))
        out.dynamic += [f"{path}:{line}" for line in dynamic]
        for specifier, line in specifiers:
            if is_builtin(specifier):
                continue
            files, package = resolver.resolve(specifier, path)
            queue += [(f, RequiredBy(path, line)) for f in files]
            if package and resolver.manifest(package) is not None:  # last in, first out: this reason wins
                queue.append((f"{package}/package.json", RequiredBy(path, line)))
    return out

"""Language-aware completion: so code the probes never reached still imports in the minimized image.

imports (the default): Python modules that kept code can import, found by parsing it (pyimports), and the
Node files kept code can require or import, resolved as Node does (nodeimports), and the same for Ruby (ruby),
PHP (php) and Perl (perl) against the image's own load paths; a package whose code loads a
name computed at run time is kept whole. full: the interpreter's whole standard library (no test suites, idle, tkinter, ensurepip), and every
package directory (one holding __init__.py) that keeps any file, with its *.dist-info/*.egg-info. Node: the
package directory of every module that keeps any file, and the packages it depends on (package.json). Ruby,
PHP, Perl: each gem, Composer package or top-level namespace that keeps a file, whole (full: with the standard
library). Pure: a RootFS and a set of kept paths in, paths to add out.
"""

from __future__ import annotations

import posixpath
import re

from slim.langs import jvm, nodeimports, perl, php, pybranches, pyimports, ruby
from slim.langs.pypath import PythonPath, builtin_modules, run_as_main, search_path, top_package
from slim.model import SlimWarning
from slim.results import LanguageRule, Reason

FULL, PACKAGE, IMPORTS, OFF = "full", "package", "imports", "off"
LEVELS = (FULL, PACKAGE, OFF, IMPORTS)  # report order: slim.build/1 keys keep their place, new ones follow
_PY_EXE = re.compile(r"^/usr(?:/local)?/bin/python(\d\.\d+)$")
_STDLIB_SKIP = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages",
                "dist-packages", "__pycache__", "pydoc_data", "unittest/test"}
_SITE_DIRS = ("site-packages", "dist-packages")


def completion(rootfs, kept: set[str], level: str, env: dict[str, str] | None = None,
               warnings: list | None = None, scan_python=pyimports.scan_serially,
               cuts: dict[str, int] | None = None, processes=(), workdir: str = "/") -> dict[str, Reason]:
    """path -> why, for what the level adds on top of `kept`. `warnings` receives SlimWarnings (imports level).
    `scan_python` scans batches of Python modules (pyimports.import_closure's scan_many). `cuts` receives, at
    the imports level, the bytes each rule of pybranches kept out (what the imports it cut would have added)."""
    if level == OFF:
        return {}
    out: dict[str, Reason] = {}
    # `processes`: the traced ones, whose argv gives a JVM's class path (at every level but off)
    jvm.completion(rootfs, kept, env or {}, processes, out, workdir)
    if level == IMPORTS:
        warnings = warnings if warnings is not None else []
        _python_imports(rootfs, kept, env or {}, out, warnings, scan_python, cuts if cuts is not None else {},
                        (processes, workdir))
        _node_imports(rootfs, kept, out, warnings)
        perl.completion(rootfs, kept, env or {}, out, warnings)
        php.completion(rootfs, kept, env or {}, out, warnings)
        ruby.completion(rootfs, kept, env or {}, out, warnings, cuts)
        return out
    if level == FULL:
        for version in python_versions(kept):
            for prefix in ("/usr/lib", "/usr/local/lib"):
                _walk(rootfs, f"{prefix}/python{version}", out, f"python{version} standard library",
                      lambda p: p.endswith((".py", ".so")), skip=_STDLIB_SKIP)
    _python_packages(rootfs, kept, out)
    _node_packages(rootfs, kept, out)
    for lang in (ruby, php, perl):
        lang.whole(rootfs, kept, env or {}, out, level == FULL)
    return out


def python_versions(kept: set[str]) -> set[str]:
    """The Python versions whose interpreters (/usr/bin/pythonX.Y, /usr/local/bin/pythonX.Y) are kept: the standard
    libraries to complete."""
    out = set()
    for path in kept:
        m = _PY_EXE.match(path)
        if m:
            out.add(m.group(1))
    return out


def _walk(rootfs, top: str, out: dict[str, Reason], why: str, want, skip=frozenset()) -> None:
    reason = LanguageRule(why)
    for path in rootfs.below(top, skip):
        if not rootfs.lstat(path).is_dir and want(path):
            out.setdefault(path, reason)


def _python_imports(rootfs, kept: set[str], env: dict[str, str], out: dict[str, Reason], warnings: list,
                    scan_python, cuts: dict[str, int], ran: tuple = ((), "/")) -> None:
    """The import closure of every kept module; metadata of the packages that keep files; whole packages only
    where the code cannot be read (a parse failure) or names a module at run time (import_module(variable))."""
    py_files = sorted(p for p in kept if p.endswith(".py") and rootfs.is_file(p))
    for version in sorted(python_versions(kept)):
        # `python3 -m pkg` puts its working directory first on the path (a script, its own directory); not
        # / or a directory above the standard library, whose files would then seem to lie in packages
        modules_run = any(run_as_main(proc.argv, proc.exe)[1] for proc in ran[0])
        cwd = posixpath.normpath(ran[1])
        above = any(f"{p}/lib/python{version}".startswith(cwd.rstrip("/") + "/") for p in ("/usr", "/usr/local"))
        first = [cwd] if modules_run and not above else []
        pypath, never, interpreter = python_setup(rootfs, kept, env, version, first)
        for rule in pybranches.RULES:
            cuts.setdefault(rule, 0)
        scripts = main_scripts(rootfs, kept, pypath, *ran)
        found = pyimports.import_closure(rootfs, pypath, sorted(set(py_files) | scripts), never, scan_python,
                                         interpreter, scripts=scripts)
        for path, why in found.keep.items():
            out.setdefault(path, why)
        for rule, seeds in found.cut.items():  # what following the imports each rule cut would have added
            known = frozenset(py_files) | frozenset(found.keep)
            extra = pyimports.import_closure(rootfs, pypath, [], never, scan_python, interpreter,
                                             seeds, known)
            saved = rootfs.bytes_of(set(extra.keep) - kept - set(out))
            cuts[rule] = cuts.get(rule, 0) + saved
        for path, package in found.unparsed.items():
            warnings.append(SlimWarning("lang.unparsed", f"could not parse it: {_kept_whole(package)}", path))
        for where, package in found.dynamic.items():
            warnings.append(SlimWarning("lang.dynamic-import",
                                        f"imports a module named at run time: {_kept_whole(package)}", where))
        for path, why in stdlib_named_at_run_time(rootfs, set(py_files) | set(found.keep), version).items():
            out.setdefault(path, why)
        _python_packages(rootfs, set(py_files) | set(found.keep), out, metadata_only=True)


_ZONE_SKIP = frozenset({"right"})  # the leap-second variants: loaded only by a "right/..." key
# Data files standard-library modules open when first asked, which a probe that never asks leaves out:
# module -> (paths, a trailing "/" for a directory kept whole; why). getservbyname and setlocale go through
# the C runtime, whose own naming of these files the data-path table deliberately does not count.
_STDLIB_DATA = {
    "zoneinfo/_tzpath.py": (("/usr/share/zoneinfo/", "/etc/localtime"), "zone data zoneinfo reads when a zone "
                                                                        "is loaded by name"),
    "socket.py": (("/etc/services", "/etc/protocols"), "the services and protocols socket.getservbyname and "
                                                       "getprotobyname read"),
    "mimetypes.py": (("/etc/mime.types",), "the types mimetypes.init reads on the first guess"),
    "locale.py": (("/usr/lib/locale/C.utf8/",), "the C.UTF-8 locale locale.setlocale loads (all categories)"),
}


def stdlib_named_at_run_time(rootfs, modules: set[str], version: str) -> dict[str, Reason]:
    """What kept standard-library modules load by names no import spells out: sysconfig's build configuration
    (`__import__(f'_sysconfigdata_{abiflags}_{multiarch}')`, which zoneinfo, venv and pip reach), and the data
    files of _STDLIB_DATA the image has."""
    out: dict[str, Reason] = {}
    for stdlib in (f"/usr/lib/python{version}", f"/usr/local/lib/python{version}"):
        if f"{stdlib}/sysconfig.py" in modules:
            why = LanguageRule(f"imported at {stdlib}/sysconfig.py by a name built at run time (the build's "
                               "configuration)")
            out.update((f"{stdlib}/{name}", why) for name in rootfs.listdir(stdlib)
                       if name.startswith("_sysconfigdata_") and name.endswith(".py"))
        for module, (paths, text) in _STDLIB_DATA.items():
            if f"{stdlib}/{module}" not in modules:
                continue
            why = LanguageRule(f"{text} ({stdlib}/{module})")
            for path in paths:
                if path.endswith("/"):
                    out.update((p, why) for p in rootfs.below(path.rstrip("/"), _ZONE_SKIP))
                elif rootfs.lstat(path) is not None:
                    out[path] = why
    return out


def python_setup(rootfs, kept: set[str], env: dict[str, str], version: str, first: list[str] | None = None
                 ) -> tuple[PythonPath, tuple[str, ...], tuple[int, int]]:
    """For the interpreter pythonVERSION and the kept files: its module search path (the directories `first`
    first, then those of the kept scripts; with the modules built into the kept interpreter), the directories
    the import closure never enters (test suites, GUI toolkits), and its (major, minor)."""
    py_files = [p for p in kept if p.endswith(".py") and rootfs.is_file(p)]
    stdlib = [f"{p}/lib/python{version}" for p in ("/usr", "/usr/local")]
    site_like = ("/site-packages/", "/dist-packages/")
    script_dirs = sorted({posixpath.dirname(p) for p in py_files
                          if not any(p.startswith(d + "/") for d in stdlib) and not any(s in p for s in site_like)})
    binaries = sorted(p for p in kept if p in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}")
                      or posixpath.basename(p).startswith(f"libpython{version}.so"))
    pypath = PythonPath(rootfs, search_path(rootfs, version, env, (first or []) + script_dirs),
                        builtin_modules(rootfs, binaries))
    never = tuple(f"{lib}/{skip}" for lib in stdlib for skip in _STDLIB_SKIP if skip not in ("site-packages",
                                                                                           "dist-packages"))
    major, minor = (int(n) for n in version.split(".")[:2])
    return pypath, never, (major, minor)


def main_scripts(rootfs, kept: set[str], pypath: PythonPath, processes, workdir: str) -> frozenset[str]:
    """The kept files the traced processes ran as Python's __main__: `python3 app.py`, `python3 -m pkg.mod`
    (pkg/mod.py, or pkg/__main__.py for a package), and scripts started by a `#!` line naming python."""
    out, relative = set(), set()
    for proc in processes:
        script, module = run_as_main(proc.argv, proc.exe)
        if script is None and module is None and proc.exe and rootfs.is_file(proc.exe):
            with rootfs.open(proc.exe) as fh:
                first = fh.read(256).split(b"\n", 1)[0]
            script = proc.exe if first.startswith(b"#!") and b"python" in first else None
        if script:
            out.add(posixpath.normpath(posixpath.join(workdir, script)))
            if not script.startswith("/"):
                relative.add(posixpath.normpath(script))
        if module:
            found = pypath.find(f"{module}.__main__") or pypath.find(module)
            out.update(found[-1:] if found else ())
    # A shell may change directory before it starts the script (`cd /srv && python3 app.py`), which the trace
    # does not record: every kept file the relative name can reach counts. Taking one file too many as
    # __main__ only keeps more; missing the real one would cut what its main block runs.
    names = {posixpath.basename(r) for r in relative if not r.startswith("..")}
    if names:  # one pass over the kept paths, and none when every script was named absolutely
        out.update(p for p in kept if posixpath.basename(p) in names
                   and any(p.endswith("/" + r) for r in relative))
    return frozenset(p for p in out if p in kept and rootfs.is_file(p))


def _kept_whole(package: str | None) -> str:
    if package is None:
        return ("a top-level module, in no package to keep whole; name what it loads with --include-path if "
                "the probes do not reach it")
    return f"package {package} is kept whole"


def _python_packages(rootfs, kept: set[str], out: dict[str, Reason], metadata_only: bool = False) -> None:
    tops = {top for path in kept if (top := top_package(rootfs, path)) is not None}
    for top in sorted(tops):
        name = posixpath.basename(top)
        if not metadata_only:
            _walk(rootfs, top, out, f"python package {name}", lambda p: p.endswith((".py", ".so")), {"__pycache__"})
        site = posixpath.dirname(top)
        if posixpath.basename(site) in _SITE_DIRS:
            for meta in _dist_info_for(rootfs, site, name):
                _walk(rootfs, meta, out, f"metadata of python package {name}", lambda p: True)


def _dist_info_for(rootfs, site: str, package: str) -> list[str]:
    found = []
    for entry in rootfs.listdir(site):
        if not entry.endswith((".dist-info", ".egg-info")):
            continue
        meta = f"{site}/{entry}"
        for listing in ("top_level.txt", "RECORD"):
            if rootfs.is_file(f"{meta}/{listing}"):
                with rootfs.open(f"{meta}/{listing}") as fh:
                    text = fh.read(1 << 20).decode("utf-8", "replace")
                if any(line.split("/", 1)[0].split(",", 1)[0] == package for line in text.splitlines()):
                    found.append(meta)
                    break
    return found


def _node_imports(rootfs, kept: set[str], out: dict[str, Reason], warnings: list) -> None:
    """The require closure of every kept Node source; the whole package (or app directory) of a file that
    loads a computed name or is too big to scan, and the require closure of that package's sources too."""
    sources = sorted(p for p in kept if p.endswith(nodeimports.SOURCES) and rootfs.is_file(p))
    scanned: set[str] = set()
    while sources:
        found = nodeimports.require_closure(rootfs, sources)
        scanned |= set(sources) | set(found.keep)
        for path, why in found.keep.items():
            out.setdefault(path, why)
        for where in found.dynamic:
            warnings.append(SlimWarning("lang.dynamic-import",
                                        "loads a module named at run time: its package is kept whole", where))
        for path in found.unscanned:
            warnings.append(SlimWarning("lang.unparsed", "too big to scan: its whole package is kept", path))
        wholes = []
        for path in sorted({w.rsplit(":", 1)[0] for w in found.dynamic} | set(found.unscanned)):
            package = _node_package_dir(path) or _nearest_package_json(rootfs, path)
            if package:
                wholes.append(package)
                _walk(rootfs, package, out, f"node package {package.rsplit('node_modules/', 1)[-1]} (loads names "
                      "computed at run time)", lambda p: True, {"node_modules"})
        # the sources of a package kept whole load other packages too: follow them (once each)
        sources = sorted(p for p in out if p.endswith(nodeimports.SOURCES) and p not in scanned
                         and any(p.startswith(w + "/") for w in wholes))


def _node_package_dir(path: str) -> str | None:
    for root in nodeimports.GLOBAL_FOLDERS:
        if path.startswith(root + "/"):
            rest = path[len(root) + 1:].split("/")
            depth = 2 if rest[0].startswith("@") else 1
            if len(rest) > depth:
                return "/".join([root] + rest[:depth])
    parts = path.split("/")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "node_modules" and i + 1 < len(parts) - 1:
            end = i + 3 if parts[i + 1].startswith("@") else i + 2
            return "/".join(parts[:end])
    return None


def _node_packages(rootfs, kept: set[str], out: dict[str, Reason]) -> None:
    resolver = nodeimports.Resolver(rootfs)
    queue = sorted({d for d in (_node_package_dir(p) for p in kept) if d})
    # the app's own package.json (nearest above a kept script outside node_modules) names its dependencies
    for app in sorted({app for p in kept if p.endswith(nodeimports.SOURCES) and "/node_modules/" not in p
                       and (app := _nearest_package_json(rootfs, p)) is not None}):
        out.setdefault(f"{app}/package.json", LanguageRule("node application manifest"))
        queue.extend(d for d in (resolver.package_dir(n, app) for n in _node_dependencies(resolver, app)) if d)
    seen: set[str] = set()
    while queue:
        pkg = queue.pop()
        if pkg in seen or rootfs.stat(pkg) is None:
            continue
        seen.add(pkg)
        name = pkg.split("node_modules/", 1)[-1]
        _walk(rootfs, pkg, out, f"node package {name}", lambda p: True, {"node_modules"})
        queue.extend(d for d in (resolver.package_dir(n, pkg) for n in _node_dependencies(resolver, pkg)) if d)


def _node_dependencies(resolver: nodeimports.Resolver, pkg: str) -> list[str]:
    deps = (resolver.manifest(pkg) or {}).get("dependencies")
    return sorted(deps) if isinstance(deps, dict) else []


def _nearest_package_json(rootfs, path: str) -> str | None:
    directory = posixpath.dirname(path)
    while directory not in ("/", ""):
        if rootfs.is_file(f"{directory}/package.json"):
            return directory
        directory = posixpath.dirname(directory)
    return None

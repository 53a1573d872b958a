"""The module search path of a Python interpreter inside an image, worked out from the image (its prefix and
version, lib-dynload, site and dist-packages, .pth files, a virtual environment, PYTHONPATH, the script's
directory), and module lookup on it the way the import system does it. Pure: reads only the RootFS.
"""

from __future__ import annotations

import posixpath
import re

# CPython links the init function of each module built into the interpreter, PyInit_<name>, into the executable
# (or libpython) and exports it (the symbol's name is in .dynstr); extension modules carry theirs in their own
# .so under lib-dynload. The four that start differently (sys, builtins, marshal, _warnings) never fail either.
_PYINIT = re.compile(rb"(?<=\0)PyInit_([A-Za-z_][A-Za-z0-9_]*)(?=\0)")
_ALWAYS_BUILTIN = frozenset({"sys", "builtins", "marshal", "_warnings"})
_MAX_INTERPRETER = 64 << 20


class PythonPath:
    """The image interpreter's module search path, and module lookup on it (inside the image only)."""

    def __init__(self, rootfs, directories: list[str], builtins: frozenset[str] = frozenset()):
        self.rootfs = rootfs
        self.builtins = builtins  # modules built into the interpreter: importing them needs no file
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
            files: list[str] = []
            here = directory
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
                files = []  # not found under this directory
                break
            if files:
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

    def importable(self, name: str) -> bool:
        """Whether `import name` finds the module in the image: a file on the path, or built in."""
        return name in self.builtins or bool(self.find(name))

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


def top_package(rootfs, path: str) -> str | None:
    """The directory of the top-level package a file lies in (the highest of the directories above it that
    hold an __init__.py, without a gap); None for a module at a path root."""
    directory, top = posixpath.dirname(path), None
    while directory not in ("/", "") and rootfs.is_file(f"{directory}/__init__.py"):
        top, directory = directory, posixpath.dirname(directory)
    return top


def builtin_modules(rootfs, binaries: list[str]) -> frozenset[str]:
    """The modules built into the interpreter whose executable and libpython are `binaries` (the names of their
    exported PyInit_ functions); empty when none says (a stripped binary that exports nothing)."""
    names: set[str] = set()
    for path in binaries:
        entry = rootfs.stat(path)
        if entry is None or not rootfs.is_file(path) or entry.size > _MAX_INTERPRETER:
            continue
        with rootfs.open(path) as fh:
            names.update(m.decode() for m in _PYINIT.findall(fh.read(_MAX_INTERPRETER)))
    return frozenset(names | _ALWAYS_BUILTIN) if names else frozenset()


_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


def run_as_main(argv: tuple[str, ...] | list[str], exe: str = "") -> tuple[str | None, str | None]:
    """(script, module) a Python command line runs as __main__: `python3 -u app.py` -> ("app.py", None),
    `python3 -m http.server` -> (None, "http.server"); (None, None) for `-c`, stdin, or a program that is
    not Python."""
    if not argv or not _PYTHON.match(posixpath.basename(exe or argv[0])):
        return None, None
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        if arg == "--":
            return (args[0] if args else None), None
        if arg == "--check-hash-based-pycs":
            args = args[1:]
        elif arg.startswith("--"):
            continue  # --version, --help: no argument
        elif arg.startswith("-") and arg != "-":
            for n, flag in enumerate(arg[1:], 1):
                if flag in "cmWX":  # take the rest of the word, or the next argument
                    value = arg[n + 1:] or (args.pop(0) if args else "")
                    if flag in "cm":
                        return None, (value or None) if flag == "m" else None
                    break
        else:
            return (None if arg == "-" else arg), None
    return None, None

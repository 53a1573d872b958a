"""The static closure of a set of paths inside an image: what must be kept for them to work.

Each path, every symlink crossed on the way to it, the file it leads to, every parent directory, the ELF
interpreter and libraries of each ELF file, the interpreter chain of each script. Pure over a RootFS, and
deterministic: the same image and paths give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slim.model import PSEUDO_FILESYSTEMS, SlimWarning, within

from slim.closure.elf.resolver import Resolver
from slim.image.paths import ancestors
from slim.closure.shebang import env_command, parse_shebang, which

INPUT, SYMLINK, TARGET, PARENT, INTERPRETER, NEEDED, HWCAPS = (
    "input", "symlink-of", "target-of", "parent-of", "interpreter-of", "needed-by", "hwcaps-variant-of")


@dataclass(frozen=True, order=True)
class Reason:
    """Why a path is kept: its `kind` (input, parent, symlink, target, interpreter, needed, hwcaps) and the path that
    brought it in, for the report's "why is this file here"."""

    kind: str
    of: str = ""


@dataclass
class Closure:
    """What the static closure found: every path to keep with its reasons, and what was named but is absent (a
    missing library or interpreter means the slim image would fail exactly where the original would)."""

    keep: dict[str, set[Reason]] = field(default_factory=dict)
    missing_libraries: list[tuple[str, str]] = field(default_factory=list)  # (DT_NEEDED name, needed by)
    missing_paths: list[tuple[str, Reason]] = field(default_factory=list)  # named but absent from the image
    warnings: list[SlimWarning] = field(default_factory=list)

    def paths(self) -> list[str]:
        """Every kept path, directories kept as parents included, in a stable order."""
        return sorted(self.keep)

    def files(self) -> list[str]:
        """Kept paths except directories that are there only as someone's parent."""
        return sorted(p for p, why in self.keep.items() if any(r.kind != PARENT for r in why))


class ClosureBuilder:
    """Grows a closure path by path; `Resolver` caches make many calls over one image cheap."""

    def __init__(self, rootfs, env: dict[str, str] | None = None, workdir: str = "/"):
        self.rootfs = rootfs
        self.env = env or {}
        self.resolver = Resolver(rootfs, self.env, workdir)
        self.closure = Closure()
        self._expanded: set[str] = set()

    def add(self, path: str, reason: Reason = Reason(INPUT), scripts: bool = True) -> None:
        """Keep `path` and its closure. scripts=False: a `#!` line of `path` itself is not followed (a Python
        module kept so it can be imported is never executed, whatever its first line says)."""
        real = self._keep_chain(path, reason)
        if real is None or (not scripts and self._is_script(real)):
            return  # not marked expanded: should it also be run, its interpreter is followed then
        work = [real]  # real files whose dependencies are still to be followed
        while work:
            real = work.pop()
            if real in self._expanded:
                continue
            self._expanded.add(real)
            for dep, why, expand in self._dependencies(real):
                dep_real = self._keep_chain(dep, why)
                if dep_real is not None and expand:
                    work.append(dep_real)

    def _is_script(self, real: str) -> bool:
        entry = self.rootfs.lstat(real)
        if entry is None or not entry.is_file:
            return False
        with self.rootfs.open(real) as fh:
            return fh.read(2) == b"#!"

    def _keep(self, path: str, reason: Reason) -> None:
        self.closure.keep.setdefault(path, set()).add(reason)
        for parent in ancestors(path):
            if parent != "/":
                self.closure.keep.setdefault(parent, set()).add(Reason(PARENT, path))

    def _keep_chain(self, path: str, reason: Reason) -> str | None:
        """Keep `path`, the links crossed to reach it and what it leads to; return the real path if it exists."""
        res = self.rootfs.resolve(path)
        named = self.rootfs.lstat(path) is not None  # false for "bin/../lib/x": only the real file can carry it
        if named:
            self._keep(path, reason)
        for link in res.symlinks:
            self._keep(link, Reason(SYMLINK, path))
        if res.entry is None:
            if not within(res.path or "", PSEUDO_FILESYSTEMS):  # the runtime provides those
                self.closure.missing_paths.append((path, reason))
            return None
        if res.path != path:
            self._keep(res.path, Reason(TARGET, path) if named else reason)
        return res.path

    def _dependencies(self, real: str) -> list[tuple[str, Reason, bool]]:
        entry = self.rootfs.lstat(real)
        if entry is None or not entry.is_file or entry.size < 4:
            return []
        with self.rootfs.open(real) as fh:
            head = fh.read(256)
        if head[:4] == b"\x7fELF":
            return self._elf_dependencies(real)
        script = parse_shebang(head)
        if script is None:
            return []
        interpreter, arg = script
        out = [(interpreter, Reason(INTERPRETER, real), True)]
        if interpreter.rsplit("/", 1)[-1] == "env":
            command = env_command(arg)
            found = which(self.rootfs, command, self.env.get("PATH")) if command else None
            if found:
                out.append((found, Reason(INTERPRETER, real), True))
            elif command:
                self.closure.missing_paths.append((command, Reason(INTERPRETER, real)))
        return out

    def _elf_dependencies(self, real: str) -> list[tuple[str, Reason, bool]]:
        result = self.resolver.resolve(real)
        if result is None:
            return []
        out = []
        if result.interpreter is not None:
            out.append((result.interpreter.path, Reason(INTERPRETER, real), False))
        elif result.root.info.interpreter:
            self.closure.missing_paths.append((result.root.info.interpreter, Reason(INTERPRETER, real)))
        for obj in result.objects:
            # Libraries are covered by this object's closure already; no need to resolve each as a root.
            out.append((obj.path, Reason(NEEDED, obj.needed_by or real), False))  # only the root has no needed_by
            out.extend((v, Reason(HWCAPS, obj.path), False) for v in self.resolver.hwcaps_variants(obj.path))
        self.closure.missing_libraries.extend(result.missing)
        return out


def closure_of(rootfs, paths, env: dict[str, str] | None = None, workdir: str = "/") -> Closure:
    """The static closure of `paths` in `rootfs`: each path with its symlinks, parents, ELF dependencies and script
    interpreters, resolved with the image's ENV (LD_LIBRARY_PATH, PATH) and working directory."""
    builder = ClosureBuilder(rootfs, env, workdir)
    for path in sorted(set(paths)):
        builder.add(path)
    builder.closure.warnings.extend(builder.resolver.warnings)
    return builder.closure


def env_dict(env_list: list[str] | None) -> dict[str, str]:
    """An image config's ["K=V", ...] as a dict."""
    out = {}
    for item in env_list or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out

"""Resolve an ELF object's dependencies inside an image root the way the image's own loader would.

glibc (ld.so, `_dl_map_object`): for a DT_NEEDED name without '/': DT_RPATH of the loading object and of each
object up its loader chain (an object that has DT_RUNPATH contributes no DT_RPATH, and a loader with DT_RUNPATH
stops the walk), LD_LIBRARY_PATH, DT_RUNPATH of the loading object only, /etc/ld.so.cache, the default
directories; the last two not for an object flagged DF_1_NODEFLIB. Every directory is tried with its
glibc-hwcaps subdirectories first. Candidates of another class or machine are skipped. Objects are loaded
breadth-first, and a name already loaded (by DT_NEEDED name or soname) or a file already loaded is reused.

musl: LD_LIBRARY_PATH, then the RUNPATH (or RPATH) of each object up the needed-by chain, then the directories
of /etc/ld-musl-<arch>.path (default /lib:/usr/local/lib:/usr/lib); libc's reserved names are the loader itself.
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass, field

from slim.closure.elf.ldcache import FLAG_ELF_LIBC6, FLAG_X8664_LIB64, CacheEntry, LdCacheError, parse_ld_cache
from slim.closure.elf.ldconf import ld_conf_dirs
from slim.closure.elf.reader import EM_386, EM_X86_64, ElfError, ElfInfo, is_elf, read_elf
from slim.model import SlimWarning
from slim.rootfs import normalize

GLIBC, MUSL = "glibc", "musl"
HWCAPS_X86_64 = ("x86-64-v4", "x86-64-v3", "x86-64-v2")
_DEFAULT_DIRS = {
    EM_X86_64: ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"),
    EM_386: ("/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu", "/lib", "/usr/lib"),
}
_LIB_TOKEN = {EM_X86_64: "lib/x86_64-linux-gnu", EM_386: "lib/i386-linux-gnu"}
# AT_PLATFORM depends on the CPU the image will run on ("haswell" on AVX2 machines): try each, best first.
_PLATFORMS = {EM_X86_64: ("haswell", "xeon_phi", "x86_64"), EM_386: ("i686", "i586", "i486", "i386")}
_CACHE_FLAGS = {EM_X86_64: FLAG_ELF_LIBC6 | FLAG_X8664_LIB64, EM_386: FLAG_ELF_LIBC6}
_MUSL_DEFAULT = ("/lib", "/usr/local/lib", "/usr/lib")
_MUSL_RESERVED = {"c", "pthread", "rt", "m", "dl", "util", "xnet"}
_DST = re.compile(r"\$(ORIGIN|LIB|PLATFORM)\b|\$\{(ORIGIN|LIB|PLATFORM)\}")
_Found = tuple[str, str, ElfInfo]  # a library the search found: (path as found, real path, its ELF facts)


def _substitute(values: dict[str, str], match: re.Match[str]) -> str:
    """The value of the dynamic string token `match` ($ORIGIN or ${ORIGIN}, ...)."""
    return values[match.group(1) or match.group(2)]


@dataclass(frozen=True)
class LoadedObject:
    """One object the loader maps: the name it was asked for, the path it found, the file behind that path."""

    name: str
    path: str  # as found by the search (may pass through symlinks)
    real: str  # the file itself, symlinks resolved inside the root
    needed_by: str | None  # the file (real path) whose DT_NEEDED named it; None for the root object
    info: ElfInfo = field(repr=False, compare=False)


@dataclass(frozen=True)
class ObjectClosure:
    """Everything the loader maps to run one ELF object, and the needed names it would fail to find: the ELF part of
    what must be kept."""

    root: LoadedObject
    interpreter: LoadedObject | None
    objects: tuple[LoadedObject, ...]  # every library mapped, in load order (root and interpreter excluded)
    missing: tuple[tuple[str, str], ...]  # (DT_NEEDED name, path of the object that needs it)
    flavor: str


class Resolver:
    """Resolves inside one RootFS. Caches ELF facts and search results, so a whole image resolves quickly."""

    def __init__(self, rootfs, env: dict[str, str] | None = None, workdir: str = "/",
                 hwcaps: tuple[str, ...] = HWCAPS_X86_64):
        self.rootfs = rootfs
        env = env or {}
        self.ld_library_path = tuple(p for p in env.get("LD_LIBRARY_PATH", "").replace(";", ":").split(":") if p)
        self.workdir = workdir or "/"
        self.hwcaps = hwcaps
        self.warnings: list[SlimWarning] = []
        self._elf: dict[str, ElfInfo | None] = {}
        self._search: dict[tuple, _Found | None] = {}
        self._cache_entries: dict[str, list[CacheEntry]] | None = None
        self._conf_dirs: tuple[str, ...] | None = None
        self._musl_dirs: tuple[str, ...] | None = None
        self._image_flavor: str | None = None

    # --- facts about files ------------------------------------------------------------------
    def elf_info(self, path: str) -> ElfInfo | None:
        """ELF facts of the file at `path` (symlinks followed), None when it is no readable ELF file."""
        real = self.rootfs.realpath(path)
        if real is None:
            return None
        if real not in self._elf:
            self._elf[real] = self._read(real)
        return self._elf[real]

    def _read(self, real: str) -> ElfInfo | None:
        entry = self.rootfs.lstat(real)
        if entry is None or not entry.is_file or entry.size < 52:
            return None
        with self.rootfs.open(real) as fh:
            if not is_elf(fh.read(4)):
                return None
            try:
                return read_elf(fh, entry.size)
            except ElfError as exc:
                self.warnings.append(SlimWarning("elf.unreadable", f"unreadable ELF ({exc})", real))
                return None

    def flavor_of(self, info: ElfInfo) -> str:
        """Which loader's rules apply to an object (glibc or musl): its interpreter says so; a shared library, which
        names none, goes by the loaders the image holds."""
        interp = info.interpreter or ""
        if "ld-musl" in interp:
            return MUSL
        if interp:
            return GLIBC
        if self._image_flavor is None:
            self._image_flavor = self._flavor_of_image()
        return self._image_flavor

    def _flavor_of_image(self) -> str:
        # a shared library names no interpreter: go by the loaders the image has (once per image)
        has_musl = any(n.startswith("ld-musl-") for n in self.rootfs.listdir(self.rootfs.realpath("/lib") or "/lib"))
        has_glibc = self.rootfs.exists("/lib64/ld-linux-x86-64.so.2") or self.rootfs.exists("/lib/ld-linux.so.2")
        return MUSL if has_musl and not has_glibc else GLIBC

    # --- the closure of one object ----------------------------------------------------------
    def resolve(self, path: str) -> ObjectClosure | None:
        """Everything the loader maps to run the ELF at `path`, or None when `path` is no ELF file."""
        info = self.elf_info(path)
        real = self.rootfs.realpath(path)
        if info is None or real is None:
            return None
        flavor = self.flavor_of(info)
        root = LoadedObject(path, path, real, None, info)
        interpreter = self._interpreter(info)
        by_name, by_real = _mapped_first(root, interpreter)
        loaders: dict[str, LoadedObject] = {}  # path -> the object that loaded it (for RPATH chains)
        objects: list[LoadedObject] = []
        missing: list[tuple[str, str]] = []
        queue = [root]
        while queue:
            obj = queue.pop(0)
            for name in obj.info.needed:
                if name in by_name:
                    continue
                if flavor == MUSL and _musl_reserved(name):
                    libc = interpreter or self._musl_loader(name, obj)
                    if libc is not None:
                        if libc is not interpreter and libc.real not in by_real:
                            by_real[libc.real] = libc
                            objects.append(libc)
                        by_name[name] = by_real.get(libc.real, libc)
                        continue
                found = self._find(name, obj, loaders, root, flavor)
                if found is None:
                    missing.append((name, obj.real))
                    continue
                found_path, found_real, found_info = found
                existing = by_real.get(found_real)
                if existing is not None:  # same file under another name: mapped once
                    by_name[name] = existing
                    continue
                new = LoadedObject(name, found_path, found_real, obj.real, found_info)
                by_name[name] = new
                if new.info.soname:
                    by_name.setdefault(new.info.soname, new)
                by_real[found_real] = new
                loaders[new.path] = obj
                objects.append(new)
                queue.append(new)
        return ObjectClosure(root, interpreter, tuple(objects), tuple(missing), flavor)

    def _object_at(self, name: str, path: str, needed_by: str | None) -> LoadedObject | None:
        real = self.rootfs.realpath(path)
        info = self.elf_info(path) if real else None
        return LoadedObject(name, path, real, needed_by, info) if info is not None else None

    def _interpreter(self, info: ElfInfo) -> LoadedObject | None:
        # The kernel maps PT_INTERP itself: it is never opened through the search path.
        return self._object_at(info.interpreter, info.interpreter, None) if info.interpreter else None

    def _musl_loader(self, name: str, needed_by: LoadedObject) -> LoadedObject | None:
        """musl's libc is its loader: a library with no PT_INTERP of its own gets it for "libc.so" and kin."""
        return self._object_at(name, "/lib/ld-musl-x86_64.so.1", needed_by.real)

    # --- searching for one name --------------------------------------------------------------
    def _find(self, name: str, loader: LoadedObject, loaders: dict, root: LoadedObject, flavor: str) -> _Found | None:
        if "/" in name:
            for candidate in self._expand(name, loader, root):
                found = self._try_file(candidate, loader.info)
                if found:
                    return found
            return None
        if flavor == MUSL:
            return self._search_dirs(name, self._musl_dirs_for(loader, loaders, root), loader.info, False)
        chain_dirs: list[str] = []
        if not loader.info.runpath:
            obj: LoadedObject | None = loader
            while obj is not None:
                if not obj.info.runpath:
                    chain_dirs.extend(x for d in obj.info.rpath for x in self._expand(d, obj, root))
                obj = loaders.get(obj.path)
        chain_dirs.extend(self.ld_library_path)
        chain_dirs.extend(x for d in loader.info.runpath for x in self._expand(d, loader, root))
        found = self._search_dirs(name, tuple(chain_dirs), loader.info, True)
        if found is not None or loader.info.nodeflib:
            return found
        found = self._from_cache(name, loader.info)
        if found is not None:
            return found
        return self._search_dirs(name, self._system_dirs(loader.info), loader.info, True)

    def _musl_dirs_for(self, loader, loaders, root) -> tuple[str, ...]:
        dirs = list(self.ld_library_path)
        obj = loader
        while obj is not None:
            dirs.extend(x for d in (obj.info.runpath or obj.info.rpath) for x in self._expand(d, obj, root))
            obj = loaders.get(obj.path)
        if self._musl_dirs is None:
            self._musl_dirs = self._read_musl_path()
        return tuple(dirs) + self._musl_dirs

    def _read_musl_path(self) -> tuple[str, ...]:
        for arch_file in ("/etc/ld-musl-x86_64.path",):
            if self.rootfs.is_file(arch_file):
                with self.rootfs.open(arch_file) as fh:
                    text = fh.read(1 << 16).decode("utf-8", "replace")
                return tuple(p for p in text.replace("\n", ":").split(":") if p.strip())
        return _MUSL_DEFAULT

    def _system_dirs(self, info: ElfInfo) -> tuple[str, ...]:
        defaults = _DEFAULT_DIRS.get(info.machine, ("/lib", "/usr/lib"))
        if self._cache() or self.rootfs.is_file("/etc/ld.so.cache"):
            return defaults
        # No cache in the image: the directories ldconfig would have cached, then the defaults.
        if self._conf_dirs is None:
            self._conf_dirs = tuple(ld_conf_dirs(self.rootfs))
        return self._conf_dirs + defaults

    def _search_dirs(self, name: str, dirs: tuple[str, ...], info: ElfInfo, hwcaps: bool) -> _Found | None:
        key = (name, dirs, info.abi, hwcaps)
        if key not in self._search:
            self._search[key] = self._first_in(name, dirs, info, hwcaps)
        return self._search[key]

    def _first_in(self, name, dirs, info, hwcaps):
        subdirs = self.hwcaps if hwcaps and info.machine == EM_X86_64 and info.elf_class == 64 else ()
        for d in dirs:
            d = d if d.startswith("/") else posixpath.join(self.workdir, d)
            for sub in subdirs:
                found = self._try_file(posixpath.join(d, "glibc-hwcaps", sub, name), info)
                if found:
                    return found
            found = self._try_file(posixpath.join(d, name), info)
            if found:
                return found
        return None

    def _try_file(self, path: str, loader_info: ElfInfo) -> _Found | None:
        # No lexical normpath: "bin/../lib" must follow a symlinked "bin" as the kernel does.
        path = normalize(path)
        real = self.rootfs.realpath(path)
        if real is None:
            return None
        info = self.elf_info(real)
        if info is None or info.abi != loader_info.abi:
            return None  # not ELF, or another class/machine: the loader skips it and searches on
        return path, real, info

    def _cache(self) -> dict[str, list[CacheEntry]]:
        if self._cache_entries is None:
            self._cache_entries = {}
            if self.rootfs.is_file("/etc/ld.so.cache"):
                try:
                    with self.rootfs.open("/etc/ld.so.cache") as fh:
                        for e in parse_ld_cache(fh):
                            self._cache_entries.setdefault(e.name, []).append(e)
                except LdCacheError as exc:
                    self.warnings.append(SlimWarning("elf.bad-ld-cache", str(exc), "/etc/ld.so.cache"))
        return self._cache_entries

    def _from_cache(self, name: str, info: ElfInfo) -> _Found | None:
        entries = self._cache().get(name, ())
        flags = _CACHE_FLAGS.get(info.machine)
        candidates = [e for e in entries if flags is None or e.flags == flags]
        ranked = sorted((e for e in candidates if e.hwcaps in self.hwcaps), key=lambda e: self.hwcaps.index(e.hwcaps))
        ranked += [e for e in candidates if e.hwcaps is None]
        for entry in ranked:
            found = self._try_file(entry.path, info)
            if found:
                return found
        return None

    def _expand(self, text: str, obj: LoadedObject, root: LoadedObject) -> list[str]:
        """`text` with $ORIGIN, $LIB, $PLATFORM substituted; several results when $PLATFORM has several values."""
        # the main program's origin is its real location (/proc/self/exe); a library's, where it was found
        origin = posixpath.dirname(obj.real if obj is root else obj.path)
        platforms = _PLATFORMS.get(obj.info.machine, ("",)) if "PLATFORM" in text else ("",)
        out = []
        for platform in platforms:
            values = {"ORIGIN": origin, "LIB": _LIB_TOKEN.get(obj.info.machine, "lib"), "PLATFORM": platform}
            out.append(_DST.sub(functools.partial(_substitute, values), text))
        return out

    def hwcaps_variants(self, path: str) -> list[str]:
        """Other glibc-hwcaps builds of the library at `path` (kept too, so the image runs on any CPU level)."""
        directory, name = posixpath.split(path)
        if "/glibc-hwcaps/" in path:
            directory = directory.split("/glibc-hwcaps/")[0]
        out = [posixpath.join(directory, "glibc-hwcaps", sub, name) for sub in HWCAPS_X86_64]
        out.append(posixpath.join(directory, name))
        return [p for p in out if p != path and self.rootfs.exists(p)]


def _musl_reserved(name: str) -> bool:
    # musl answers these names with itself: "libc.so", "libm.so.6", "libpthread.so.0" ...
    if not name.startswith("lib"):
        return False
    stem = name[3:].split(".so", 1)
    return len(stem) == 2 and stem[0] in _MUSL_RESERVED and (stem[1] == "" or stem[1].startswith("."))


def _mapped_first(root: LoadedObject, interpreter: LoadedObject | None):
    """(by name, by real path) of what is mapped before any DT_NEEDED is looked up: the object itself and the
    interpreter, which answer to their sonames (and the interpreter to its file name) without a search."""
    by_name: dict[str, LoadedObject] = {}
    by_real: dict[str, LoadedObject] = {root.real: root}
    if interpreter is not None:
        by_real.setdefault(interpreter.real, interpreter)
        for name in (interpreter.info.soname, posixpath.basename(interpreter.path)):
            if name:
                by_name.setdefault(name, interpreter)
    if root.info.soname:
        by_name[root.info.soname] = root
    return by_name, by_real

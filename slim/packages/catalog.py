"""Which packages an image holds, which files each owns, and the trimmed database for a minimized image.

A package counts as kept when any file it owns (regular file or symlink, through the image's symlinks, e.g.
merged /usr) is kept. The trimmed database lists only kept packages, so scanners see exactly what is inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slim.model import SlimWarning

from slim.packages import apk, dpkg

DB_PATHS = ("/var/lib/dpkg", "/lib/apk/db")  # replaced wholesale by the trimmed database


class KeptPaths:
    """Membership in a set of kept paths, compared as real files inside the root: a database may name
    "/lib/x86_64-linux-gnu/libz.so.1" while the kept file is its merged-/usr twin under /usr/lib."""

    def __init__(self, rootfs, paths):
        self.rootfs = rootfs
        self.paths = set(paths)
        self.real = {rootfs.realpath(p) or p for p in self.paths}

    def __contains__(self, path: str) -> bool:
        return path in self.paths or (self.rootfs.realpath(path) or path) in self.real

    def holds_file(self, path: str) -> bool:
        """Whether `path` leads to a non-directory that is kept: what `in` tells for a path that leads to a file,
        with the path resolved once, not twice (a catalog asks it of every path its packages own)."""
        found = self.rootfs.resolve(path)
        if found.entry is None or found.entry.is_dir:
            return False  # directories, and links to them ("/bin" under merged /usr), are shared by all
        return path in self.paths or found.path in self.real


def _kept_paths(rootfs, paths) -> KeptPaths:
    return paths if isinstance(paths, KeptPaths) else KeptPaths(rootfs, paths)


@dataclass(frozen=True)
class Package:
    """A package as both databases list it: its name, version and the paths it owns."""

    name: str
    version: str
    files: tuple[str, ...]  # absolute paths as the database lists them (directories excluded later)


@dataclass
class Catalog:
    """The image's package database read once: which packages own which files, for the planner (what to trim), the
    inventory (what scanners will see) and the trimmed database written into the slim image."""

    kind: str | None  # "dpkg", "apk" or None (no database)
    packages: list[Package] = field(default_factory=list)
    warnings: list[SlimWarning] = field(default_factory=list)
    # a package's stanza and its md5sums file, read again only for the packages the trimmed database keeps
    _dpkg: dict[str, tuple[dpkg.Stanza, str | None]] = field(default_factory=dict, repr=False)
    _apk: dict[str, apk.ApkPackage] = field(default_factory=dict, repr=False)

    def dpkg_field(self, name: str, field_name: str) -> str:
        """A field of a dpkg package's stanza ("" when absent)."""
        found = self._dpkg.get(name)
        return found[0].fields.get(field_name, "") if found else ""

    def apk_field(self, name: str, letter: str) -> str:
        """A one-letter field of an apk package's header ("A" is the architecture)."""
        found = self._apk.get(name)
        prefix = f"{letter}:"
        return next((line[2:] for line in found.header if line.startswith(prefix)), "") if found else ""

    def owned(self) -> frozenset[str]:
        """Every path some package lists (files and directories alike)."""
        return frozenset(path for pkg in self.packages for path in pkg.files)

    def kept(self, rootfs, kept_paths) -> list[Package]:
        """Packages with at least one owned non-directory path kept. `kept_paths`: a set or a KeptPaths."""
        holds_file = _kept_paths(rootfs, kept_paths).holds_file
        return [pkg for pkg in self.packages if any(holds_file(path) for path in pkg.files)]

    def trimmed(self, rootfs, kept: list[Package], kept_paths) -> dict[str, bytes]:
        """path -> bytes of the trimmed database files. `kept_paths`: a set or a KeptPaths."""
        is_kept = _kept_paths(rootfs, kept_paths)
        files: dict[str, bytes] = {}
        if self.kind == "dpkg":
            # distroless keeps one stanza per package under status.d/, and its md5sums beside it
            for pkg in kept:
                stanza, sums_file = self._dpkg[pkg.name]
                files[f"{dpkg.STATUS_D}/{pkg.name}"] = stanza.text.encode("utf-8")
                sums = _first_file(rootfs, [sums_file] if sums_file else [],
                                   lambda fh: dpkg.parse_md5sums(fh, [])) or []  # warned about when first read
                kept_sums = [(d, p) for d, p in sums if p in is_kept]
                if kept_sums:
                    files[f"{dpkg.STATUS_D}/{pkg.name}.md5sums"] = dpkg.format_md5sums(kept_sums)
        elif self.kind == "apk":
            files[apk.INSTALLED] = apk.format_installed([self._apk[p.name] for p in kept], is_kept.__contains__)
        return files


def read_catalog(rootfs) -> Catalog:
    """The catalog of whichever database the image has (apk first, then dpkg); an empty one of kind None when it has
    neither (distroless static, scratch)."""
    if rootfs.is_file(apk.INSTALLED):
        return _read_apk(rootfs)
    if rootfs.is_file(dpkg.STATUS) or rootfs.stat(dpkg.STATUS_D) is not None:
        return _read_dpkg(rootfs)
    return Catalog(None)


def _read_apk(rootfs) -> Catalog:
    with rootfs.open(apk.INSTALLED) as fh:
        parsed = apk.parse_installed(fh)
    cat = Catalog("apk", warnings=parsed.warnings)
    for p in parsed.packages:
        cat.packages.append(Package(p.name, p.version, tuple(map(rootfs.path_of, p.files))))
        cat._apk[p.name] = p
    return cat


def _read_dpkg(rootfs) -> Catalog:
    cat = Catalog("dpkg")
    stanzas: list[tuple[dpkg.Stanza, str]] = []
    if rootfs.is_file(dpkg.STATUS):
        with rootfs.open(dpkg.STATUS) as fh:
            parsed = dpkg.parse_stanzas(fh)
        cat.warnings += parsed.warnings
        stanzas += [(s, "") for s in parsed.stanzas]
    status_d = rootfs.realpath(dpkg.STATUS_D)
    for name in rootfs.listdir(status_d) if status_d else []:
        if name.endswith(".md5sums") or not rootfs.is_file(f"{status_d}/{name}"):
            continue
        with rootfs.open(f"{status_d}/{name}") as fh:
            parsed = dpkg.parse_stanzas(fh, f"{dpkg.STATUS_D}/{name}")
        cat.warnings += parsed.warnings
        stanzas += [(s, f"{status_d}/{name}") for s in parsed.stanzas]
    # one listing of info/ instead of two look-ups per package: a database of 100k packages (or one claiming to
    # be) costs a set membership each, and an image without info/ (distroless) costs nothing
    info = rootfs.realpath(dpkg.INFO)
    in_info = set(rootfs.listdir(info)) if info else set()
    for stanza, source in stanzas:
        if not stanza.installed:
            continue
        arch = stanza.fields.get("Architecture", "")
        listed = _first_file(rootfs, [f"{dpkg.INFO}/{n}" for n in (f"{stanza.name}:{arch}.list", f"{stanza.name}.list")
                                      if n in in_info],
                             lambda fh: dpkg.parse_file_list(fh, cat.warnings)) or []
        sums_file = next((path for path in [f"{dpkg.INFO}/{n}" for n in (f"{stanza.name}:{arch}.md5sums",
                                                                        f"{stanza.name}.md5sums") if n in in_info]
                          + ([f"{source}.md5sums"] if source else []) if rootfs.is_file(path)), None)
        sums = _first_file(rootfs, [sums_file] if sums_file else [],
                           lambda fh: dpkg.parse_md5sums(fh, cat.warnings)) or []
        # distroless images have no .list files: their md5sums name the files
        owned = tuple(map(rootfs.path_of, dict.fromkeys(listed + [p for _, p in sums])))
        cat.packages.append(Package(stanza.name, stanza.fields.get("Version", ""), owned))
        # not the sums themselves: at 500k files they hold 100 MB, and only the kept packages' are written
        cat._dpkg[stanza.name] = (stanza, sums_file)
    return cat


def _first_file(rootfs, paths: list[str], parse):
    for path in paths:
        if path and rootfs.is_file(path):
            with rootfs.open(path) as fh:
                return parse(fh)
    return None


def is_db_path(path: str) -> bool:
    """Whether a path lies in a package database directory, which the trimmed database replaces wholesale."""
    return any(path == p or path.startswith(p + "/") for p in DB_PATHS)


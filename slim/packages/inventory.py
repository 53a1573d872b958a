"""What software an image holds, as scanners see it: the distribution (os-release), OS packages from the dpkg
or apk database, Python distributions from their `*.dist-info` / `*.egg-info` metadata, Node packages from
their `package.json` files, Go modules from binaries, Ruby gems from their installed gemspecs (`gems`) and Java
packages from archives (`jars`). Each component has a package URL (purl) in the form scanners match advisories on.

Pure: a RootFS in, an Inventory out.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser

from packageurl import PackageURL

from slim.packages.osrelease import read_os
from slim.packages import apk, gems, gobuildinfo, jars
from slim.packages.catalog import Catalog, read_catalog
from slim.model import FILE, SlimWarning

DEB, APK, PYPI, NPM, GOLANG, GEM, MAVEN = "deb", "apk", "pypi", "npm", "golang", "gem", "maven"
KINDS = (DEB, APK, PYPI, NPM, GOLANG, GEM, MAVEN)
MAX_METADATA = 1 << 20  # a METADATA or package.json bigger than this is no package's (and is skipped)


@dataclass(frozen=True)
class Distro:
    """The distribution os-release names: scanners match OS packages against that distribution's advisories."""

    id: str  # "debian", "alpine"
    version_id: str  # "12", "3.20.3"
    pretty_name: str = ""

    @property
    def qualifier(self) -> str:
        """purl's distro qualifier: debian-12, alpine-3.20.3."""
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


@dataclass(frozen=True)
class Component:
    """One piece of software a scanner would list: an OS, Python or Node package, with where it was read from."""

    kind: str  # deb | apk | pypi | npm | golang | gem | maven
    name: str
    version: str
    location: str  # the database or metadata file it was read from
    arch: str = ""
    files: tuple[str, ...] = ()  # what the package database (or RECORD) says the package owns
    upstream: str = ""  # the source package ("util-linux", "bash@5.2.15-2") when it is not the package itself
    namespace: str = ""  # a Java package's Maven group id

    def purl(self, distro: Distro | None) -> str:
        """The package URL scanners match advisories on: deb and apk carry the distribution as a qualifier, npm
        scopes become the namespace."""
        if self.kind in (DEB, APK):
            qualifiers = {k: v for k, v in (("arch", self.arch), ("distro", distro.qualifier if distro else ""),
                                            ("upstream", self.upstream)) if v}
            namespace = distro.id if distro else ("debian" if self.kind == DEB else "alpine")
            return PackageURL(self.kind, namespace, self.name, self.version, qualifiers or None).to_string()
        if self.kind == NPM and self.name.startswith("@") and "/" in self.name:
            scope, _, name = self.name.partition("/")
            return PackageURL(NPM, scope, name, self.version).to_string()
        return PackageURL(self.kind, self.namespace or None, self.name, self.version or None).to_string()

    @property
    def key(self) -> tuple[str, str, str]:
        """Kind, name and version: what counts as the same package when two images are compared."""
        return self.kind, self.name, self.version


@dataclass
class Inventory:
    """What software an image holds, as an SBOM lists it: the distribution, the database kind and every component."""

    distro: Distro | None
    database: str | None  # "dpkg", "apk" or None
    components: list[Component] = field(default_factory=list)
    warnings: list[SlimWarning] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many components of each kind, for the compare report."""
        return {kind: sum(1 for c in self.components if c.kind == kind) for kind in KINDS}


def read_inventory(rootfs, catalog: Catalog | None = None) -> Inventory:
    """The inventory of a RootFS: OS packages from the catalog (read here unless given), and the language packages
    (Python, Node, Go, Ruby, Java) from their metadata files, binaries and archives anywhere in the tree (regular
    files only: a symlink to a jar is no second package), in a stable order."""
    catalog = catalog or read_catalog(rootfs)
    release = read_os(rootfs)
    distro = Distro(release.get("ID", ""), release.get("VERSION_ID", ""), release.get("PRETTY_NAME", "")) \
        if release.get("ID") else None
    out = Inventory(distro, catalog.kind, warnings=list(catalog.warnings))
    out.components += _os_packages(catalog)
    for entry in rootfs.walk():
        if entry.kind != FILE:
            continue
        path = entry.path
        name = posixpath.basename(path)
        parent = posixpath.dirname(path)
        if (name == "METADATA" and parent.endswith(".dist-info")) or (
                name == "PKG-INFO" and parent.endswith(".egg-info")):
            found = _python_distribution(rootfs, path, parent)
        elif path.endswith(".egg-info"):
            found = _python_distribution(rootfs, path, path)
        elif name == "package.json":
            found = _node_package(rootfs, path)
        elif gems.is_gemspec(path):
            found = _gem(rootfs, path)
        elif name.endswith(jars.ARCHIVES + jars.WRAPPERS):
            out.components += _java_packages(rootfs, path, out.warnings)
            continue
        elif entry.mode & 0o111 and entry.size > 1024:
            out.components += _go_modules(rootfs, path, entry.size)
            continue
        else:
            continue
        if found is not None:
            out.components.append(found)
    out.components.sort(key=lambda c: (KINDS.index(c.kind), c.name, c.version, c.location))
    return out


def _os_packages(catalog: Catalog) -> list[Component]:
    if catalog.kind == "dpkg":
        return [Component(DEB, p.name, p.version, "/var/lib/dpkg", catalog.dpkg_field(p.name, "Architecture"),
                          p.files, _dpkg_upstream(catalog.dpkg_field(p.name, "Source"))) for p in catalog.packages]
    if catalog.kind == "apk":
        return [Component(APK, p.name, p.version, apk.INSTALLED, catalog.apk_field(p.name, "A"), p.files,
                          origin if (origin := catalog.apk_field(p.name, "o")) != p.name else "")
                for p in catalog.packages]
    return []


def _dpkg_upstream(source: str) -> str:
    """dpkg's Source field, "util-linux" or "bash (5.2.15-2)" (a binary rebuilt without a new source), as
    name or name@version."""
    name, _, version = source.strip().partition(" ")
    version = version.strip().strip("()")
    return f"{name}@{version}" if name and version else name


def _read_small(rootfs, path: str) -> bytes | None:
    entry = rootfs.stat(path)
    if entry is None or entry.size > MAX_METADATA:
        return None
    with rootfs.open(path) as fh:
        return fh.read(MAX_METADATA)


def _go_modules(rootfs, path: str, size: int) -> list[Component]:
    """The modules a Go program was built from (its embedded build information), each located at the binary."""
    if size > gobuildinfo.MAX_BINARY:
        return []
    with rootfs.open(path) as fh:
        if fh.read(4) != b"\x7fELF":
            return []
        data = b"\x7fELF" + fh.read(size)
    return [Component(GOLANG, m.path, m.version, path) for m in gobuildinfo.modules(data)]


def _python_distribution(rootfs, metadata: str, info_dir: str) -> Component | None:
    """A distribution from its core metadata (Name, Version headers), with the files its RECORD (wheels) or
    installed-files.txt (eggs) lists, resolved against the directory they are relative to."""
    data = _read_small(rootfs, metadata)
    if data is None:
        return None
    headers = BytesHeaderParser().parsebytes(data)
    name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        return None
    files: list[str] = []
    site = posixpath.dirname(info_dir)
    record = _read_small(rootfs, f"{info_dir}/RECORD") if info_dir != metadata else None
    if record:
        for row in csv.reader(io.StringIO(record.decode("utf-8", "replace"))):
            if row and row[0]:
                files.append(posixpath.normpath(posixpath.join(site, row[0])))
    listing = _read_small(rootfs, f"{info_dir}/installed-files.txt") if info_dir != metadata else None
    if listing:
        files += [posixpath.normpath(posixpath.join(info_dir, line.strip()))
                  for line in listing.decode("utf-8", "replace").splitlines() if line.strip()]
    return Component(PYPI, name, version, metadata, files=tuple(dict.fromkeys(files)))


def _node_package(rootfs, path: str) -> Component | None:
    """A package.json with a name and a version (others are no package: an app's scripts, a test fixture)."""
    data = _read_small(rootfs, path)
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name.strip() or not version.strip():
        return None
    return Component(NPM, name.strip(), version.strip(), path)


def _gem(rootfs, path: str) -> Component | None:
    """A gem from its installed specification, located at the gemspec."""
    data = _read_small(rootfs, path)
    spec = gems.parse_gemspec(data) if data is not None else None
    return Component(GEM, spec.name, spec.version, path) if spec is not None else None


def _java_packages(rootfs, path: str, warnings: list[SlimWarning]) -> list[Component]:
    """The Java packages of an archive (and of the archives inside it); the archive is the file each one owns."""
    try:
        with rootfs.open(path) as fh:
            found, problems = jars.read_archive(fh, path)
    except OSError as e:  # the layer's pack file itself failed: the archive is unread, the inventory goes on
        found, problems = [], [f"{path}: not read as a Java archive: {e.strerror or e}"]
    warnings += [SlimWarning("inventory.java-archive", text) for text in problems]
    return [Component(MAVEN, p.name, p.version, p.location, files=(path,), namespace=p.group) for p in found]

"""Where Ruby in an image finds a feature: the load path its interpreter's rbconfig.rb names (site, vendor, the
standard library and its compiled extensions), RUBYLIB from the image's environment, and the installed gems with
their `require_paths` read from each specification (Ruby code, read with conservative patterns).

Pure: a RootFS and paths in, paths out.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

_FEATURE_EXTS = (".rb", ".so")
RUBY_EXE = re.compile(r"^/usr(?:/local)?/bin/ruby(?:\d+(?:\.\d+)*)?$")
# The files read here come from the image: no pattern has two adjacent runs that can trade characters (`\s*\(?\s*`)
# or a run that may scan to the end of the file once for every place it starts, so a hostile file costs linear time
_CONFIG = re.compile(r'^[ \t]*CONFIG\["(\w+)"\][ \t]*=[ \t]*(.*)$', re.M)
_TOPDIR = re.compile(r'TOPDIR[ \t]*=[ \t]*File\.dirname\(__FILE__\)\.chomp!\("([^"\n]{1,1024})"\)')
_NAME = re.compile(r"\.name\s*=\s*[\"']([^\"'\n]{1,1024})[\"']")
_VERSION = re.compile(r"\.version\s*=\s*[\"']([^\"'\n]{1,1024})[\"']")
_DEPENDS = re.compile(r"add_(?:runtime_)?dependency[\s(]*(?:%q<([^>\n]{1,256})>|[\"']([^\"'\n]{1,256})[\"'])")
# Debian's gem directories (rubygems-integration) beside the ones rbconfig implies
_DEBIAN_GEM_DIRS = ("/var/lib/gems/{v}", "/usr/local/lib/ruby/gems/{v}", "/usr/share/rubygems-integration/{v}",
                    "/usr/share/rubygems-integration/all", "/usr/lib/{arch}/rubygems-integration/{v}",
                    "/usr/lib/{arch}/ruby/gems/{v}")


@dataclass(frozen=True)
class Gem:
    """An installed gem, from its specification."""

    name: str
    version: str
    spec: str  # path of the .gemspec
    dirs: tuple[str, ...]  # its require paths, absolute
    depends: tuple[str, ...] = ()
    root: str = ""  # the gem's own directory (<gem dir>/gems/<name>-<version>)


def read_config(text: str, path: str) -> dict[str, str]:
    """rbconfig.rb's CONFIG, its `$(var)` references expanded; `prefix` from where the file lies, as Ruby does."""
    raw = {}
    for key, value in _CONFIG.findall(text):
        value = value.strip()
        m = re.fullmatch(r'"([^"]*)"|\'([^\']*)\'', value)
        if m:
            raw[key] = m.group(1) if m.group(1) is not None else m.group(2)
    top = _TOPDIR.search(text)
    directory = posixpath.dirname(path)
    if top and directory.endswith(top.group(1)):
        raw["prefix"] = directory[:-len(top.group(1))] or "/"
    else:
        raw.setdefault("prefix", "/usr")
    raw["DESTDIR"] = ""

    def expand(value: str, depth: int = 0) -> str:
        if depth > 20:
            return value
        return re.sub(r"\$\((\w+)\)", lambda m: expand(raw.get(m.group(1), ""), depth + 1), value)

    return {key: expand(value) for key, value in raw.items()}


def parse_gemspec(text: str, path: str) -> Gem | None:
    """A gem from its specification (Ruby code read with conservative patterns; unknown require_paths: lib)."""
    name, version = _NAME.search(text), _VERSION.search(text)
    if not name or not version:
        stem = posixpath.basename(path)[:-len(".gemspec")]
        m = re.fullmatch(r"(.+)-(\d[^-]*)", stem)
        if not m:
            return None
        name_s, version_s = m.group(1), m.group(2)
    else:
        name_s, version_s = name.group(1), version.group(1)
    paths = list_field(text, "require_paths")
    require_paths = re.findall(r"[\"']([^\"']+)[\"']", paths) if paths is not None else ["lib"]
    full = f"{name_s}-{version_s}"
    base = posixpath.dirname(posixpath.dirname(path))
    if posixpath.basename(posixpath.dirname(path)) == "default":
        base = posixpath.dirname(base)
    dirs = [posixpath.normpath(p if p.startswith("/") else f"{base}/gems/{full}/{p}") for p in require_paths]
    if re.search(r"\.extensions\s*=\s*\[\s*[\"']", text):
        dirs.append(f"{base}/extensions")  # made concrete by LoadPath (the platform directories under it)
    depends = _DEPENDS.findall(text)
    return Gem(name_s, version_s, path, tuple(dirs), tuple(a or b for a, b in depends), f"{base}/gems/{full}")


def list_field(text: str, field: str) -> str | None:
    """What lies between the brackets of a specification's first `.FIELD = [...]` (None when it has none); the
    closing bracket is found once, not by a pattern that would scan the rest of the file for every opening one."""
    opening = re.search(rf"\.{field}\s*=\s*\[", text)
    if opening is None:
        return None
    end = text.find("]", opening.end())
    return text[opening.end():end] if end >= 0 else None


class LoadPath:
    """Where Ruby in the image finds a feature: the load path directories, then the installed gems."""

    def __init__(self, rootfs, dirs: list[str], gems: list[Gem]):
        self.rootfs = rootfs
        self.dirs = [d for d in dict.fromkeys(dirs) if rootfs.stat(d) is not None]
        self.gems = sorted(gems, key=lambda g: (g.name, _version_key(g.version)), reverse=True)
        self._gem_dirs: list[tuple[Gem, str]] = []
        for gem in self.gems:
            for d in gem.dirs:
                if d.endswith("/extensions"):
                    full = f"{gem.name}-{gem.version}"
                    self._gem_dirs += [(gem, f"{d}/{plat}/{ver}/{full}") for plat in rootfs.listdir(d)
                                       for ver in rootfs.listdir(f"{d}/{plat}")]
                else:
                    self._gem_dirs.append((gem, d))
        self.stdlib: list[str] = []  # the standard library's directories (rubylibdir, rubyarchdir)
        self.by_name: dict[str, Gem] = {}
        for gem in self.gems:
            self.by_name.setdefault(gem.name, gem)

    def find(self, feature: str) -> tuple[str | None, Gem | None]:
        """The file `require feature` loads (first on the load path, else in a gem) and the gem it lies in."""
        names = [feature] if feature.endswith(_FEATURE_EXTS) else [feature + ext for ext in _FEATURE_EXTS]
        for d in self.dirs:
            for name in names:
                if self.rootfs.is_file(f"{d}/{name}"):
                    return f"{d}/{name}", self.gem_of(f"{d}/{name}")
        for gem, d in self._gem_dirs:
            for name in names:
                if self.rootfs.is_file(f"{d}/{name}"):
                    return f"{d}/{name}", gem
        return None, None

    def directory(self, prefix: str) -> str | None:
        """The directory a computed name's constant start ("rack/handler/") names on the load path or in a gem."""
        sub = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        if not sub:
            return None
        for d in self.dirs + [d for _, d in self._gem_dirs]:
            entry = self.rootfs.stat(f"{d}/{sub}")
            if entry is not None and entry.is_dir:
                return f"{d}/{sub}"
        return None

    def gem_of(self, path: str) -> Gem | None:
        """The gem whose require paths hold `path` (None: the standard library, vendor_ruby, the app)."""
        for gem, d in self._gem_dirs:
            if path.startswith(d + "/"):
                return gem
        return None

    def package_of(self, path: str) -> str | None:
        """What a name computed at run time in `path` keeps whole: its gem's directory, else the top-level
        library directory on the load path it lies in (lib/rubygems/x.rb: lib/rubygems); None for a file
        outside both (an app script)."""
        gem = self.gem_of(path)
        if gem is not None:
            return gem.root if self.rootfs.stat(gem.root) is not None else None
        for d in self.dirs:
            if path.startswith(d + "/"):
                top = path[len(d) + 1:].split("/", 1)[0]
                top = top[:-3] if top.endswith(".rb") else top
                candidate = f"{d}/{top}"
                entry = self.rootfs.stat(candidate)
                return candidate if entry is not None and entry.is_dir else None
        return None


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.-]", version))


def load_path(rootfs, rbconfig: str, env: dict[str, str]) -> LoadPath:
    """The load path of the interpreter whose rbconfig.rb is at `rbconfig`, with the image's RUBYLIB and gems."""
    config = read_config(rootfs.read_bytes(rbconfig, 1 << 20).decode("utf-8", "replace"), rbconfig)
    dirs = [d for d in env.get("RUBYLIB", "").split(":") if d.startswith("/")]
    dirs += [config.get(k, "") for k in ("sitelibdir", "sitearchdir", "sitedir", "vendorlibdir", "vendorarchdir",
                                         "vendordir", "rubylibdir", "rubyarchdir")]
    version, arch = config.get("ruby_version", ""), config.get("arch", "")
    gem_dirs = [d for d in (env.get("GEM_HOME", ""), *env.get("GEM_PATH", "").split(":")) if d.startswith("/")]
    gem_dirs.append(f"{config.get('rubylibprefix', '/usr/lib/ruby')}/gems/{version}")
    gem_dirs += [d.format(v=version, arch=arch) for d in _DEBIAN_GEM_DIRS]
    gems = []
    for gem_dir in dict.fromkeys(gem_dirs):
        specs = f"{gem_dir}/specifications"
        for name in rootfs.listdir(specs):
            if name.endswith(".gemspec") and rootfs.is_file(f"{specs}/{name}"):
                gem = parse_gemspec(rootfs.read_bytes(f"{specs}/{name}", 1 << 20).decode("utf-8", "replace"),
                                    f"{specs}/{name}")
                if gem:
                    gems.append(gem)
    path = LoadPath(rootfs, [d for d in dirs if d], gems)
    path.stdlib = [d for d in (config.get("rubylibdir", ""), config.get("rubyarchdir", "")) if d in path.dirs]
    return path


def find_rbconfig(rootfs, kept: set[str]) -> list[str]:
    """The rbconfig.rb of each Ruby interpreter kept: one the traced run read, else those beside the
    standard library's extension directories (/usr/lib/<triplet>/ruby/<ver>, <prefix>/lib/ruby/<ver>/<arch>)."""
    if not any(RUBY_EXE.match(p) for p in kept):
        return []
    read = sorted(p for p in kept if p.endswith("/rbconfig.rb") and rootfs.is_file(p))
    if read:
        return read
    found = []
    for lib in ("/usr/lib", "/usr/local/lib"):
        for triplet in rootfs.listdir(lib):
            for ver in rootfs.listdir(f"{lib}/{triplet}/ruby"):
                if rootfs.is_file(f"{lib}/{triplet}/ruby/{ver}/rbconfig.rb"):
                    found.append(f"{lib}/{triplet}/ruby/{ver}/rbconfig.rb")
        for ver in rootfs.listdir(f"{lib}/ruby"):
            for arch in rootfs.listdir(f"{lib}/ruby/{ver}"):
                if rootfs.is_file(f"{lib}/ruby/{ver}/{arch}/rbconfig.rb"):
                    found.append(f"{lib}/ruby/{ver}/{arch}/rbconfig.rb")
    return sorted(set(found))

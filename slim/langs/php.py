"""The static include closure of PHP code inside an image: what kept .php files include or require (paths made of
literals and `__DIR__`), the classes they name through Composer's autoloader (classmap, PSR-4, PSR-0, and the
files it loads on every request), recursively; the extensions the interpreter's php.ini and conf.d files load;
and the zone data PHP reads for DateTime when the code uses dates. A page or class a route loads only when it is
first hit is kept although the probes never reached it.

An include of a computed path (`include $file`) or a class named at run time (`new $class`) keeps the package
the file lies in whole: vendor/<vendor>/<package>, else the application directory (the one holding vendor/ or
composer.json, else the file's own).

Pure: a RootFS, the kept paths and the image's environment in, {path: why} out.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from slim.langs.phpcomposer import Autoload, read_autoload
from slim.langs.phpscan import scan
from slim.model import SlimWarning
from slim.langs.walk import SourceWalk
from slim.results import Autoloaded, LanguageRule, Reason, RequiredBy

MAX_SOURCE = 4 << 20
SOURCES = (".php", ".inc", ".phtml")
# which configuration directory each kind of PHP binary reads (Debian: /etc/php/<version>/<sapi>)
_SAPIS = ((re.compile(r"^/usr/bin/php(\d+\.\d+)$"), "cli"), (re.compile(r"^/usr/sbin/php-fpm(\d+\.\d+)$"), "fpm"),
          (re.compile(r"^/usr/lib/cgi-bin/php(\d+\.\d+)$"), "cgi"),
          (re.compile(r"^/usr/lib/apache2/modules/libphp(\d+\.\d+)\.so$"), "apache2"),
          (re.compile(r"^/usr/local/s?bin/php(?:-fpm)?()$"), "local"),
          (re.compile(r"^/usr/(?:s?bin)/php-?(?:fpm)?(\d+)$"), "alpine"))
_EXTENSION = re.compile(r"^\s*(?:zend_)?extension\s*=\s*\"?([^\";\s]+)\"?", re.M)
_EXTENSION_DIR = re.compile(r"^\s*extension_dir\s*=\s*\"?([^\";\s]+)\"?", re.M)
_ZONEINFO = "/usr/share/zoneinfo"
_ZONE_SKIP = frozenset({"right"})  # leap-second variants: PHP does not list them, and they double the size


@dataclass
class IncludeClosure:
    """What the include closure found: files to keep and why, packages kept whole (and where), the first place
    dates are used."""

    keep: dict[str, Reason] = field(default_factory=dict)
    dynamic: dict[str, str] = field(default_factory=dict)  # "file:line" -> directory kept whole
    unparsed: dict[str, str] = field(default_factory=dict)  # file the lexer could not read -> directory kept whole
    dates: str = ""  # "file:line" of the first use of the date/time API


def interpreters(kept: set[str]) -> list[tuple[str, str]]:
    """(version, sapi) of each PHP binary kept."""
    found = []
    for path in sorted(kept):
        for pattern, sapi in _SAPIS:
            m = pattern.match(path)
            if m:
                found.append((m.group(1) if m.groups() else "", sapi))
                break
    return found


def include_closure(rootfs, start: list[str]) -> IncludeClosure:
    """From the kept PHP sources `start`, every file their includes and their autoloaded classes load. Goes in
    rounds: the classes named are looked up once the autoloaders met so far are read, and what they load is
    scanned in the next round."""
    out = IncludeClosure()
    loaders: dict[str, Autoload] = {}
    walk = SourceWalk(start, out.keep, admit=rootfs.is_file)
    named: list[tuple[str, str, int]] = []  # (class, file, line) of every class the scanned code names
    while walk.queue:
        for file in walk:
            _visit(rootfs, file, out, loaders, walk, named)
        for cls, file, line in named:
            target = next((t for t in (loader.find(rootfs, cls) for loader in loaders.values()) if t), None)
            if target and target not in walk.seen:
                walk.queue.append((target, Autoloaded(cls, file, line)))
    return out


def _visit(rootfs, file: str, out: IncludeClosure, loaders: dict[str, Autoload], walk: SourceWalk,
           named: list) -> None:
    """Scan one kept file: queue what it includes, note the classes it names, read its vendor's autoloader."""
    queue = walk.queue
    vendor = _vendor_of(rootfs, file)
    if vendor and vendor not in loaders:
        loaders[vendor] = read_autoload(rootfs, vendor)
        queue += [(f, LanguageRule("loaded by Composer's autoloader on every request")) for f in loaders[vendor].files]
    if not file.endswith(SOURCES) or rootfs.stat(file).size > MAX_SOURCE:
        return
    found = scan(rootfs.read_bytes(file), file)
    if not found.clean:
        out.unparsed[file] = _whole(rootfs, file, f"{file} does not lex", walk)
    if found.dates and not out.dates:
        out.dates = f"{file}:{found.dates}"
    for target, line in found.includes:
        queue += [(p, RequiredBy(file, line)) for p in _resolve(rootfs, target, file)]
    # Composer's own loader includes the files its maps name: the autoload rules follow those
    for line in [] if "/vendor/composer/" in file else found.dynamic_includes + found.dynamic_classes:
        where = f"{file}:{line}"
        out.dynamic[where] = _whole(rootfs, file, f"{where} loads a file or class named at run time", walk)
    named += [(cls, file, line) for cls, line in found.classes]


def _resolve(rootfs, target: str, file: str) -> list[str]:
    """An include path: absolute as it is; relative, along the include path (".:/usr/share/php"), then the
    including file's own directory, as PHP looks."""
    if target.startswith("/"):
        return [posixpath.normpath(target)] if rootfs.is_file(posixpath.normpath(target)) else []
    for base in (posixpath.dirname(file), "/usr/share/php"):
        candidate = posixpath.normpath(f"{base}/{target}")
        if rootfs.is_file(candidate):
            return [candidate]
    return []


def _vendor_of(rootfs, file: str) -> str | None:
    """The Composer vendor directory `file` belongs to (vendor/autoload.php or anything under vendor/composer)."""
    if file.endswith("/vendor/autoload.php"):
        return posixpath.dirname(file)
    if "/vendor/composer/" in file:
        return file.split("/vendor/composer/", 1)[0] + "/vendor"
    return None


def package_of(rootfs, file: str) -> str:
    """What a load of a computed name in `file` keeps whole: vendor/<vendor>/<package>, a top directory of
    /usr/share/php, else the application directory (the nearest holding vendor/ or composer.json)."""
    if "/vendor/" in file:
        head, _, rest = file.rpartition("/vendor/")
        parts = rest.split("/")
        if len(parts) > 2:
            return f"{head}/vendor/{parts[0]}/{parts[1]}"
    if file.startswith("/usr/share/php/") and file.count("/") > 4:
        return "/".join(file.split("/")[:5])
    directory = posixpath.dirname(file)
    while directory not in ("/", ""):
        if rootfs.stat(f"{directory}/vendor") is not None or rootfs.is_file(f"{directory}/composer.json"):
            return directory
        directory = posixpath.dirname(directory)
    return posixpath.dirname(file)


def _whole(rootfs, file: str, because: str, walk: SourceWalk) -> str:
    directory = package_of(rootfs, file)
    # an application kept whole leaves out the vendor tree: its packages come by their own loads
    skipped = frozenset({"vendor", "tests", "test", ".git"})
    walk.whole(directory, because, lambda: [p for p in rootfs.below(directory, skipped) if p.endswith(SOURCES)])
    return directory


def extensions(rootfs, kept: set[str], env: dict[str, str]) -> dict[str, Reason]:
    """The ini files each kept PHP binary reads and the extension .so files they load."""
    out: dict[str, Reason] = {}
    for version, sapi in interpreters(kept):
        inis = _ini_files(rootfs, version, sapi, env)
        ext_dirs = _extension_dirs(rootfs, version)
        for ini in inis:
            out.setdefault(ini, LanguageRule(f"configuration php ({sapi}) reads at start"))
            text = rootfs.read_bytes(ini, 1 << 20).decode("utf-8", "replace")
            ext_dirs = [d.group(1) for d in _EXTENSION_DIR.finditer(text)] + ext_dirs
        for ini in inis:
            text = rootfs.read_bytes(ini, 1 << 20).decode("utf-8", "replace")
            for name in _EXTENSION.findall(text):
                so = name if name.endswith(".so") else f"{name}.so"
                candidates = [so] if so.startswith("/") else [f"{d}/{so}" for d in ext_dirs]
                found = next((c for c in candidates if rootfs.is_file(c)), None)
                if found:
                    out.setdefault(found, LanguageRule(f"PHP extension loaded by {ini}"))
    return out


def _ini_files(rootfs, version: str, sapi: str, env: dict[str, str]) -> list[str]:
    if sapi == "local":
        dirs = ["/usr/local/etc/php"]
    elif sapi == "alpine":
        dirs = [f"/etc/php{version}"]
    else:
        dirs = [f"/etc/php/{version}/{sapi}"]
    found = []
    for d in dirs:
        found += [f"{d}/php.ini"] if rootfs.is_file(f"{d}/php.ini") else []
        scan_dirs = [f"{d}/conf.d"] + [s for s in env.get("PHP_INI_SCAN_DIR", "").split(":") if s.startswith("/")]
        for conf in scan_dirs:
            found += [f"{conf}/{n}" for n in sorted(rootfs.listdir(conf)) if n.endswith(".ini")
                      and rootfs.is_file(f"{conf}/{n}")]
    return found


def _extension_dirs(rootfs, version: str) -> list[str]:
    """Where the build's extension_dir is (Debian: /usr/lib/php/<API date>; the official images:
    /usr/local/lib/php/extensions/<build>; Alpine: /usr/lib/php<version>/modules)."""
    dirs = [f"/usr/lib/php/{d}" for d in sorted(rootfs.listdir("/usr/lib/php")) if re.fullmatch(r"\d{8}", d)]
    dirs += [f"/usr/local/lib/php/extensions/{d}" for d in sorted(rootfs.listdir("/usr/local/lib/php/extensions"))]
    dirs.append(f"/usr/lib/php{version}/modules")
    return dirs


def zone_data(rootfs, where: str) -> dict[str, Reason]:
    """The time zone files PHP's DateTime reads (Debian's PHP reads the system's, not a copy of its own)."""
    reason = LanguageRule(f"zone data PHP reads for DateTime (dates are used at {where})")
    out: dict[str, Reason] = {p: reason for p in rootfs.below(_ZONEINFO, _ZONE_SKIP)}
    for path in ("/etc/localtime", "/etc/timezone"):
        if rootfs.lstat(path) is not None:
            out[path] = reason
    return out


def completion(rootfs, kept: set[str], env: dict[str, str], out: dict[str, Reason], warnings: list) -> None:
    """The imports level for PHP: when a PHP interpreter is kept, the include closure of every kept PHP source,
    the interpreter's ini files and extensions, and the zone data when the code uses dates."""
    if not interpreters(kept):
        return
    for path, why in extensions(rootfs, kept, env).items():
        out.setdefault(path, why)
    sources = sorted(p for p in kept if p.endswith(SOURCES) and rootfs.is_file(p))
    found = include_closure(rootfs, sources)
    for path, why in found.keep.items():
        out.setdefault(path, why)
    for where, directory in found.dynamic.items():
        warnings.append(SlimWarning("lang.dynamic-import",
                                    f"loads a file or class named at run time: {directory} is kept whole", where))
    for where, directory in found.unparsed.items():
        warnings.append(SlimWarning("lang.unparsed", f"could not read it: {directory} is kept whole", where))
    if found.dates and rootfs.stat(_ZONEINFO) is not None:
        for path, why in zone_data(rootfs, found.dates).items():
            out.setdefault(path, why)


def whole(rootfs, kept: set[str], env: dict[str, str], out: dict[str, Reason], full: bool) -> None:
    """The package and full levels for PHP: each Composer package and /usr/share/php library that keeps a file,
    whole, with the ini files and extensions; `full` adds every package of those vendor trees and all of
    /usr/share/php."""
    if not interpreters(kept):
        return
    for path, why in extensions(rootfs, kept, env).items():
        out.setdefault(path, why)
    sources = [p for p in kept if p.endswith(SOURCES)]
    tops = {package_of(rootfs, p) for p in sources if "/vendor/" in p or p.startswith("/usr/share/php/")}
    if full:
        tops |= {f"{_vendor_of(rootfs, p) or p.split('/vendor/', 1)[0] + '/vendor'}" for p in sources if "/vendor/" in p}
        tops |= {"/usr/share/php"} if any(p.startswith("/usr/share/php/") for p in sources) else set()
    for top in sorted(tops):
        reason = LanguageRule(f"php package {top}" + (" (full)" if full else ""))
        for p in rootfs.below(top, frozenset({"tests", "test", ".git"})):
            if p.endswith(SOURCES) and rootfs.is_file(p):
                out.setdefault(p, reason)

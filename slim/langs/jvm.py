"""The JVM's lazy parts: what a Java runtime opens class by class, long after the probes are done.

A JVM maps its module image and the jars of the classes it has loaded so far; a class first used later (the JSP
compiler on a page's first request, AWT's native library behind ImageIO) comes from a jar or a native library
the trace never saw. So when a JVM runs (a traced `java` process, or a kept libjvm.so) this keeps:
- the runtime's own lib/ whole (native libraries, the module image, time zone data, its config) and conf/;
- every entry of the class path as the JVM builds it: -cp/-classpath/--class-path (or CLASSPATH), -jar and
  each jar's manifest Class-Path (recursively), --module-path; a directory entry keeps the directory;
- Tomcat's loaders (common.loader, server.loader, shared.loader of catalina.properties, with ${catalina.home},
  ${catalina.base} and globs), its conf/ and each webapp (pages, WEB-INF/lib, WEB-INF/classes).
Jars are kept whole (a jar is one file); Debian's /usr/share/java links are kept with what they point to.
Pure: a RootFS, the kept paths and the traced processes in, paths to add out.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from urllib.parse import unquote

from slim.results import JavaRuntimePart, LanguageRule, OnClassPath, Reason

_LIBJVM = re.compile(r"^(/.+?)(?:/jre)?/lib/(?:[a-z0-9_]+/)?(?:server|client|minimal|zero)/libjvm\.so$")
# javac's signature data and the sources: no running program reads them; the class data archive for heaps
# over 32 GB (without compressed oops): a JVM that misses it starts without sharing, it does not fail
_RUNTIME_SKIP = {"ct.sym", "src.zip", "classes_nocoops.jsa"}
_WITH_VALUE = {"-p", "--module-path", "--upgrade-module-path", "--add-modules", "--add-opens", "--add-exports",
               "--add-reads", "--patch-module", "--limit-modules", "--source", "-d", "--describe-module"}
_LOADERS = ("common.loader", "server.loader", "shared.loader")
_BOOTSTRAP = "org.apache.catalina.startup.Bootstrap"
_MAX_MANIFEST = 1 << 20


def completion(rootfs, kept: set[str], env: dict[str, str], processes, out: dict[str, Reason],
               workdir: str = "/") -> None:
    """Add to `out` the lazy parts of every Java runtime that ran and the class path of every traced JVM."""
    homes = {m.group(1) for m in (_LIBJVM.match(p) for p in kept) if m}
    javas = [p for p in processes if posixpath.basename(p.exe or (p.argv[0] if p.argv else "")) == "java"]
    for proc in javas:
        real = rootfs.realpath(proc.exe) if proc.exe else None
        if real and real.endswith("/bin/java"):
            homes.add(posixpath.dirname(posixpath.dirname(real)))
    for home in sorted(homes):
        _runtime(rootfs, home, out)
    paths = _ClassPath(rootfs, out, workdir)
    for proc in javas:
        paths.of_command(list(proc.argv), env)


def loaded_by_the_launcher(rootfs, name: str, needed_by: str) -> bool:
    """Whether `name`, which a library of a Java runtime needs but no search path finds, is libjvm.so of that
    runtime: the launcher loads it from lib/server (or client...) first, and the loader then finds it by name
    among what is loaded, so the library is not missing."""
    # the runtime's libraries sit beside the variant directories: lib/ (9 and later), jre/lib/ARCH/ (8)
    directory = posixpath.dirname(needed_by)
    return name == "libjvm.so" and any(rootfs.is_file(f"{directory}/{variant}/libjvm.so")
                                       for variant in ("server", "client", "minimal", "zero"))


def _runtime(rootfs, home: str, out: dict[str, Reason]) -> None:
    reason = JavaRuntimePart(home)
    for top in (f"{home}/lib", f"{home}/conf", f"{home}/jre/lib"):
        for path in tree(rootfs, top, _RUNTIME_SKIP):
            out.setdefault(path, reason)


def tree(rootfs, top: str, skip=frozenset()) -> list[str]:
    """Every path below the directory `top`, and below each link in it to a directory (Debian links the
    runtime's conf/security and Tomcat's conf to /etc): what a program that opens files there can reach."""
    out, tops, seen = [], [top], set()
    while tops:
        directory = tops.pop()
        real = rootfs.realpath(directory)
        if real is None or real in seen:
            continue
        seen.add(real)
        for path in rootfs.below(directory, skip):
            out.append(path)
            entry = rootfs.lstat(path)
            if entry is not None and entry.is_symlink and (rootfs.stat(path) or entry).is_dir:
                tops.append(path)
    return out


class _ClassPath:
    """Keeps class path entries as one JVM would load from them, each jar's manifest followed once."""

    def __init__(self, rootfs, out: dict[str, Reason], workdir: str):
        self.rootfs, self.out, self.workdir = rootfs, out, workdir
        self._seen: set[str] = set()

    def of_command(self, argv: list[str], env: dict[str, str]) -> None:
        """The class path of one `java` command line (argv[0] is the launcher)."""
        props, class_path, main, i = {}, None, None, 1
        while i < len(argv):
            arg = argv[i]
            if arg in ("-cp", "-classpath", "--class-path") and i + 1 < len(argv):
                class_path, i = argv[i + 1], i + 2
                continue
            if arg.startswith("--class-path="):
                class_path = arg.split("=", 1)[1]
            elif arg in ("-p", "--module-path") and i + 1 < len(argv):
                self.entries(argv[i + 1], OnClassPath(f"{arg} of java"))
            elif arg == "-jar" and i + 1 < len(argv):
                self.entry(self._absolute(argv[i + 1]), OnClassPath("-jar of java"))
                return  # the jar's manifest is the whole class path: -cp is ignored with -jar
            elif arg.startswith("-D"):
                key, _, value = arg[2:].partition("=")
                props[key] = value
            elif not arg.startswith("-"):
                main = arg
                break
            i += 2 if arg in _WITH_VALUE else 1
        via = "-classpath of java" if class_path is not None else "CLASSPATH of the image"
        self.entries(class_path if class_path is not None else env.get("CLASSPATH", "."), OnClassPath(via))
        if main == _BOOTSTRAP or "catalina.home" in props:
            self.tomcat(props)

    def entries(self, value: str, reason: Reason) -> None:
        for item in value.split(":"):
            item = item or "."
            if item.endswith("/*") or item == "*":  # every jar in the directory, as the launcher expands it
                self.glob(self._absolute(item[:-1] or "."), reason)
            else:
                self.entry(self._absolute(item), reason)

    def glob(self, directory: str, reason: Reason) -> None:
        for name in self.rootfs.listdir(self.rootfs.realpath(directory) or directory):
            if name.lower().endswith(".jar"):
                self.entry(f"{directory.rstrip('/')}/{name}", reason)

    def entry(self, path: str, reason: Reason) -> None:
        """Keep one class path entry: a jar and what its manifest names, or a directory whole."""
        real = self.rootfs.realpath(path)
        entry = self.rootfs.stat(path)
        if entry is None or real is None or real == "/" or path in self._seen:
            return
        self._seen.add(path)
        self.out.setdefault(path, reason)
        if entry.is_dir:
            for child in tree(self.rootfs, path):
                self.out.setdefault(child, reason)
            return
        # Class-Path names are relative to the jar's location; Tomcat opens its jars by their canonical path,
        # so Debian's links in /usr/share/tomcat10/lib resolve them in /usr/share/java: try both
        for name in manifest_class_path(self.rootfs, real):
            for base in {posixpath.dirname(path), posixpath.dirname(real)}:
                target = name[len("file:"):] if name.startswith("file:") else posixpath.join(base, name)
                if self.rootfs.stat(target) is not None:
                    self.entry(posixpath.normpath(target), OnClassPath(f"Class-Path of {path}"))

    def tomcat(self, props: dict[str, str]) -> None:
        """Tomcat's own class loaders, its configuration and its webapps."""
        home = props.get("catalina.home", "")
        base = props.get("catalina.base", home)
        if not home:
            return
        props = {**props, "catalina.home": home, "catalina.base": base}
        conf = next((f"{d}/conf/catalina.properties" for d in (base, home)
                     if self.rootfs.is_file(f"{d}/conf/catalina.properties")), None)
        loaders = read_properties(self.rootfs, conf) if conf else {}
        for loader in _LOADERS:
            for item in split_loader(loaders.get(loader, "")):
                item = re.sub(r"\$\{([^}]+)\}", lambda m: props.get(m.group(1), m.group(0)), item)
                if "://" in item or "${" in item:
                    continue
                if item.endswith("*.jar"):
                    self.glob(item[:-len("*.jar")] or ".", OnClassPath(f"{loader} of {conf}"))
                else:
                    self.entry(item, OnClassPath(f"{loader} of {conf}"))
        self.entry(f"{base}/conf", LanguageRule("Tomcat's configuration, read as it deploys and serves"))
        for app_base in _app_bases(self.rootfs, base):
            for name in self.rootfs.listdir(self.rootfs.realpath(app_base) or app_base):
                app = f"{app_base}/{name}"
                if self.rootfs.stat(app) is not None and self.rootfs.stat(app).is_dir:
                    self.entry(app, LanguageRule(f"Tomcat webapp {app}: pages compiled and served on request, "
                                                 "WEB-INF/lib and WEB-INF/classes on its class path"))

    def _absolute(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.workdir, path))


def manifest_class_path(rootfs, jar: str) -> list[str]:
    """The Class-Path names of a jar's manifest, URL-decoded ([] when the jar or its manifest cannot be read)."""
    try:
        with rootfs.open(jar) as fh, zipfile.ZipFile(_Seekable(fh)) as archive:
            info = archive.getinfo("META-INF/MANIFEST.MF")
            if info.file_size > _MAX_MANIFEST:
                return []
            text = archive.read(info).decode("utf-8", "replace")
    except (KeyError, OSError, zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        return []
    # a manifest line goes on in the next line that starts with one space
    joined = re.sub(r"\r?\n ", "", text)
    for line in joined.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "class-path":
            return [unquote(v) for v in value.split()]
    return []


class _Seekable:
    """A RootFS file as zipfile wants it: a stream that says it can seek (it can)."""

    def __init__(self, fh):
        self._fh = fh

    def seekable(self) -> bool:
        return True

    def __getattr__(self, name):
        return getattr(self._fh, name)


def read_properties(rootfs, path: str) -> dict[str, str]:
    """A Java .properties file's keys and values (comments, continuation lines and `=`/`:` separators)."""
    with rootfs.open(path) as fh:
        text = fh.read(4 << 20).decode("latin-1")
    out, pending = {}, ""
    for raw in text.splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        if not pending and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        pending = ""
        m = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def split_loader(value: str) -> list[str]:
    """The entries of a catalina.properties loader: comma-separated, each optionally in double quotes."""
    return [item.strip().strip('"') for item in re.findall(r'"[^"]*"|[^,]+', value) if item.strip().strip('"')]


def _app_bases(rootfs, base: str) -> list[str]:
    found = []
    server_xml = f"{base}/conf/server.xml"
    if rootfs.is_file(server_xml):
        with rootfs.open(server_xml) as fh:
            text = fh.read(4 << 20).decode("utf-8", "replace")
        text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
        for app_base in re.findall(r'appBase\s*=\s*"([^"]*)"', text):
            found.append(app_base if app_base.startswith("/") else f"{base}/{app_base}")
    return sorted(set(found)) or [f"{base}/webapps"]

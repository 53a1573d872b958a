"""Data files a binary opens on demand, found by the paths it names in its read-only data.

A static Go server reads the zone database on its first time.LoadLocation and the CA bundle on its first
x509.SystemCertPool: nothing in the trace or the ELF closure shows either, but the binary carries the paths as
strings. This module holds the table of such well-known paths (each with the runtimes that read it, why, and a
cap on what it may add) and finds which of them a kept ELF file names and the image has. Pure over a RootFS.

Not in the table: /etc/hosts, /etc/resolv.conf and /etc/hostname (the engine mounts its own over them), and
/etc/passwd and /etc/group (the planner rewrites the accounts).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field

from slim.closure.elf.reader import ElfError, read_only_data

MiB = 1 << 20
_MAX_SCANNED = 256 * MiB  # read-only data read per file: more means a hostile or absurd file
# The C runtime names the zone database, locale archive and NSS files for everything it could ever do (tzset,
# setlocale, getservbyname): counting it would keep them in every image. What counts is a program or library
# that names a path for its own use. A static binary carries the C runtime inside: its markers say so, and the
# paths the C runtime names do not count for it.
_C_RUNTIME = re.compile(r"^(libc\.so|libc\.musl-|ld-linux|ld-musl-|ld64\.so|ld\.so)")
_C_RUNTIME_MARKERS = (b"GLIBC_TUNABLES", b"MUSL_LOCPATH", b"/share/zoneinfo/\0/etc/zoneinfo/")
C_RUNTIME_PATHS = frozenset({"/usr/share/zoneinfo/", "/etc/localtime", "/etc/services", "/etc/protocols",
                             "/etc/nsswitch.conf", "/usr/lib/locale/locale-archive"})


@dataclass(frozen=True)
class DataRule:
    """One kind of data: the `paths` a binary may name (a trailing "/" marks a directory, kept whole), the
    runtimes that read them, why, and the most bytes the rule may add to an image (`cap`). `fallback_of`: the
    rule applies only when that rule kept nothing for the same binary. `not_by`: file names of binaries that
    name the paths but read nothing there the image needs. `skip`: names below a kept directory left out."""

    name: str
    paths: tuple[str, ...]
    runtimes: str
    why: str
    cap: int
    fallback_of: str = ""
    not_by: str = ""
    skip: frozenset[str] = frozenset()

    def needles(self) -> list[tuple[bytes, str]]:
        """(bytes searched for, path kept) for each path; a directory is found with or without its "/"."""
        return [(p.rstrip("/").encode(), p) for p in self.paths]


RULES = (
    DataRule("zoneinfo", ("/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/zoneinfo/", "/etc/localtime"),
             "Go (time.LoadLocation), ICU, Java's tzdb fallbacks, programs with their own tz code",
             "the time zone database, read when a zone is loaded by name", 16 * MiB,
             # ICU and the JDK's libjava look there only for the name of the local zone (what /etc/localtime
             # links to); the zones themselves are in their own data (icudt*.dat, lib/tzdb.dat)
             not_by=r"^(libicu|libjava\.so)",
             # the leap-second variants, as big as the zones themselves: loaded only by a "right/..." name
             skip=frozenset({"right"})),
    DataRule("ca-bundle", ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                           "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem", "/etc/ssl/cert.pem",
                           "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                           # Debian's OpenSSL (OPENSSLDIR /usr/lib/ssl): a link to the bundle above, loaded by
                           # SSL_CTX_set_default_verify_paths (Python's ssl.create_default_context, Ruby, Perl)
                           "/usr/lib/ssl/cert.pem"),
             "Go (crypto/x509), rustls-native-certs, curl and TLS libraries built with a bundle path",
             "the system's trusted roots, read when the first TLS connection is verified", 4 * MiB),
    # the directories hold the same roots as the bundle update-ca-certificates (Debian, Alpine) or
    # update-ca-trust (Red Hat) wrote beside them: kept only where no bundle is
    DataRule("ca-directory", ("/etc/ssl/certs/", "/etc/pki/tls/certs/"),
             "Go (crypto/x509), OpenSSL's CApath users", "one file per trusted root, where no bundle is",
             8 * MiB, fallback_of="ca-bundle"),
    DataRule("services", ("/etc/services",), "Go (net), programs with their own resolver",
             "port numbers by service name", 1 * MiB),
    DataRule("protocols", ("/etc/protocols",), "Go (net)", "protocol numbers by name (raw sockets, lookups)",
             1 * MiB),
    DataRule("mime-types", ("/etc/mime.types",), "Go (mime), web servers", "file types by extension", 1 * MiB),
    DataRule("nsswitch", ("/etc/nsswitch.conf",), "Go (net, os/user), programs with their own resolver",
             "the order of host and user lookups", 1 * MiB),
    DataRule("locale-archive", ("/usr/lib/locale/locale-archive",), "programs that map locales themselves",
             "compiled locales", 16 * MiB),
)


@dataclass
class DataFound:
    """What the kept binaries name: path -> [(rule, binary)], and the bytes each rule adds, before its cap."""

    paths: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    by_rule: dict[str, set[str]] = field(default_factory=dict)  # rule -> paths it keeps (trees expanded)


class Scanner:
    """Which table paths each ELF file names, cached by the file's content (the same library in many images,
    or many names for one file, is read once)."""

    def __init__(self, rules: tuple[DataRule, ...] = RULES):
        self.rules = rules
        self._cache: dict[str, frozenset[str]] = {}

    def named(self, rootfs, path: str) -> frozenset[str]:
        """The table paths (as written in the table) that the ELF file at `path` names in its read-only data."""
        entry = rootfs.lstat(path)
        if entry is None or not entry.is_file or entry.size < 64 or _C_RUNTIME.match(posixpath.basename(path)):
            return frozenset()
        with rootfs.open(path) as fh:
            if fh.read(4) != b"\x7fELF":
                return frozenset()
            try:
                ranges = read_only_data(fh, entry.size)
            except ElfError:
                return frozenset()
            key = _content_key(fh, entry.size)
            if key not in self._cache:
                self._cache[key] = self._scan(fh, ranges)
        return self._cache[key]

    def _scan(self, fh, ranges: list[tuple[int, int]]) -> frozenset[str]:
        found: set[str] = set()
        budget, embeds_c_runtime = _MAX_SCANNED, False
        needles = [n for rule in self.rules for n in rule.needles()]
        for offset, length in sorted(ranges):
            length = min(length, budget)
            budget -= length
            fh.seek(offset)
            data = fh.read(length)
            found.update(path for needle, path in needles if path not in found and needle in data)
            embeds_c_runtime = embeds_c_runtime or any(marker in data for marker in _C_RUNTIME_MARKERS)
            if budget <= 0:
                break
        return frozenset(found - C_RUNTIME_PATHS if embeds_c_runtime else found)


def _content_key(fh, size: int) -> str:
    # size plus the first and last 64 KiB: enough to tell apart the files of one image, without reading all
    digest = hashlib.sha256(str(size).encode())
    fh.seek(0)
    digest.update(fh.read(1 << 16))
    fh.seek(max(size - (1 << 16), 0))
    digest.update(fh.read(1 << 16))
    return digest.hexdigest()


def data_named(rootfs, binaries, scanner: Scanner | None = None) -> DataFound:
    """For each ELF file in `binaries`, the table paths it names that the image has (a directory with every
    path below it), by rule."""
    scanner = scanner or Scanner()
    out = DataFound()
    for binary in sorted(binaries):
        named = scanner.named(rootfs, binary)
        if not named:
            continue
        kept_by_rule: dict[str, set[str]] = {}
        for rule in scanner.rules:
            if (rule.fallback_of and kept_by_rule.get(rule.fallback_of)) or (
                    rule.not_by and re.match(rule.not_by, posixpath.basename(binary))):
                continue
            kept = kept_by_rule.setdefault(rule.name, set())
            for path in rule.paths:
                if path in named:
                    kept |= _present(rootfs, path, rule.skip)
            for path in kept:
                out.paths.setdefault(path, []).append((rule.name, binary))
            if kept:
                out.by_rule.setdefault(rule.name, set()).update(kept)
    return out


def _present(rootfs, path: str, skip: frozenset[str]) -> set[str]:
    """`path` if the image has it; a directory ("/" at the end) with everything below it but `skip`."""
    if not path.endswith("/"):
        return {path} if rootfs.stat(path) is not None else set()
    top = path.rstrip("/")
    entry = rootfs.stat(top)
    if entry is None or not entry.is_dir:
        return set()
    return {top, *rootfs.below(top, skip)}

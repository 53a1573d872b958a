"""The Java packages in an image's archives: every `.jar`, `.war`, `.ear` (and the other JVM archive kinds Syft
reads) is a package named from its manifest, its pom.properties and its file name (`jarnames`); each other
pom.properties inside it (a shaded jar's dependencies) is a package of its own; archives inside archives (a war's
`WEB-INF/lib/*.jar`, a Spring Boot jar's `BOOT-INF/lib/`) are read the same way, and so are the archives inside a
`.zip`. Nested locations read `outer.war:WEB-INF/lib/inner.jar`, as Syft writes them.

Archives come from the image, so from anyone: nothing is extracted to disk, an archive is read only through its
central directory and the few members named above, and every read is bounded (directory size, member size, the
bytes inflated for one archive in all, nesting depth). An archive that breaks a bound or does not read as a zip is
skipped with a one-line warning; its name never becomes a path on the host.

Pure: a seekable stream in, packages and warnings out.
"""

from __future__ import annotations

import io
import posixpath
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from slim.packages.jarnames import (Manifest, PomProperties, artifact_fits_file_name, group_of, parse_manifest,
                                    parse_pom_properties, select_name, select_version, split_file_name)

ARCHIVES = (".jar", ".war", ".ear", ".par", ".sar", ".nar", ".jpi", ".hpi", ".kar", ".lpkg")
WRAPPERS = (".zip",)  # read only for the archives inside them
# zipfile holds about 700 bytes of objects per entry, some 11 times the directory's bytes. These bounds hold
# for the archives open at once (an archive and those it is nested in), not for each: about 180 MiB of
# directory objects and 64 MiB of nested archives' bytes at most, however deep or wide the nesting.
MAX_DIRECTORY = 16 << 20  # central directory bytes of the archives open at once: 60,000 entries take about 5 MiB
MAX_ENTRIES = 350_000  # what the end record claims (zipfile parses by size: at least 46 bytes an entry)
MAX_METADATA = 2 << 20  # a MANIFEST.MF or pom.properties bigger than this is skipped
MAX_NESTED = 64 << 20  # bytes of nested archives held in memory at once
MAX_INFLATED = 512 << 20  # bytes inflated for one archive in the image, nested ones included (time)
MAX_DEPTH = 4  # an ear's war's jar's jar is 3 deep
MAX_WARNINGS = 10  # lines for one archive in the image: a hostile one would otherwise give one per member
MANIFEST = "META-INF/MANIFEST.MF"
# what a malformed, truncated, encrypted or hostile zip makes zipfile raise
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
               RuntimeError, zlib.error, struct.error, KeyError, IndexError, OverflowError)


@dataclass(frozen=True)
class JavaPackage:
    """One Java package: its Maven coordinates (group is the purl namespace) and the archive it was read from."""

    name: str
    version: str  # "" when nothing in the archive names one
    group: str
    location: str  # the archive's path, `outer.war:WEB-INF/lib/inner.jar` for one inside another


class Unreadable(Exception):
    """An archive slim will not read: not a zip, or past a bound."""


@dataclass
class _Budget:
    left: int  # bytes still to be inflated for the archive being read
    directory: int  # central directory bytes the archives open at once may still have
    held: int  # bytes of nested archives that may still be held in memory at once


def read_archive(stream: BinaryIO, location: str) -> tuple[list[JavaPackage], list[str]]:
    """The packages of the archive at `location` (its path in the image) read from `stream`, and a warning line
    for each archive (it or one inside it) that could not be read."""
    warnings: list[str] = []
    wrapper = location.endswith(WRAPPERS)
    try:
        found = _read(_Seekable(stream), location, wrapper, 0, _Budget(MAX_INFLATED, MAX_DIRECTORY, MAX_NESTED), warnings)
    except Unreadable as e:
        return [], [f"{_printable(location)}: not read as a Java archive: {e}"]
    if len(warnings) > MAX_WARNINGS:
        more = len(warnings) - MAX_WARNINGS + 1
        warnings[MAX_WARNINGS - 1:] = [f"{_printable(location)}: {more} more warnings on the archives inside it"]
    return found, warnings


def _read(stream, location: str, wrapper: bool, depth: int, budget: _Budget, warnings: list[str]) -> list[JavaPackage]:
    size = _check_directory(stream, budget.directory)
    budget.directory -= size
    try:
        with zipfile.ZipFile(stream) as zf:
            names = sorted(set(zf.namelist()))
            found = [] if wrapper else _own_packages(zf, names, location, budget)
            nested = [n for n in names if n.endswith(ARCHIVES)]
            if nested and depth >= MAX_DEPTH:
                warnings.append(f"{_printable(location)}: archives nested deeper than {MAX_DEPTH} not read")
                return found
            for member in nested:
                found += _nested(zf, member, location, depth, budget, warnings)
            return found
    except _ZIP_ERRORS as e:
        raise Unreadable(_reason(e)) from e
    finally:
        budget.directory += size  # closed: its directory's objects go


def _nested(zf: zipfile.ZipFile, member: str, location: str, depth: int, budget: _Budget,
            warnings: list[str]) -> list[JavaPackage]:
    """The packages of an archive inside another, read into memory within the bounds."""
    inner = f"{location}:{member}"
    data = b""
    try:
        data = _member_bytes(zf, member, budget.held, budget)
        budget.held -= len(data)
        return _read(io.BytesIO(data), inner, False, depth + 1, budget, warnings)
    except Unreadable as e:
        warnings.append(f"{_printable(inner)}: not read as a Java archive: {e}")
    except _ZIP_ERRORS as e:
        warnings.append(f"{_printable(inner)}: not read as a Java archive: {_reason(e)}")
    finally:
        budget.held += len(data)  # read: its bytes go
    return []


def _own_packages(zf: zipfile.ZipFile, names: list[str], location: str, budget: _Budget) -> list[JavaPackage]:
    """The archive's own package (from its manifest; none without one, as Syft does) and one for each
    pom.properties that is not the archive's own."""
    if MANIFEST not in names:
        return []
    manifest = parse_manifest(_text(zf, MANIFEST, budget))
    if any(key == "Weave-Classes" for key, _ in manifest.main):
        return []  # an instrumentation jar that carries another library's classes: it is not that library
    poms = {posixpath.dirname(n): pom for n in names if n.endswith("pom.properties")
            if (pom := parse_pom_properties(_text(zf, n, budget))) is not None}
    file_name = location.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    own = _own_pom(poms, {posixpath.dirname(n) for n in names if n.endswith("pom.xml")}, file_name)
    name = own.artifact if own else select_name(manifest, file_name)
    version = own.version if own else select_version(manifest, file_name)
    return _with_poms(manifest, poms, name, version, location)


def _own_pom(poms: dict[str, PomProperties], with_xml: set[str], file_name: str) -> PomProperties | None:
    """The pom.properties that describes the archive itself: the last (by path) whose artifactId fits the file
    name, or the first such one that has a pom.xml beside it."""
    base = split_file_name(file_name)[0]
    artifacts = {p.artifact for p in poms.values()}
    chosen = None
    for directory in sorted(poms):
        if artifact_fits_file_name(poms[directory].artifact, base, artifacts):
            chosen = poms[directory]
            if directory in with_xml:
                break
    return chosen


def _with_poms(manifest: Manifest, poms: dict[str, PomProperties], name: str, version: str,
               location: str) -> list[JavaPackage]:
    """The main package, after the pom.properties that name it refined it, and the other pom.properties' packages."""
    own: PomProperties | None = None
    others = []
    for directory in sorted(poms):
        pom = poms[directory]
        same = (group_of(None, pom), pom.artifact, pom.version) == (group_of(manifest, own), name, version)
        if same or pom.artifact == name:
            name, version, own = pom.artifact, pom.version, own or pom
        else:
            others.append(JavaPackage(pom.artifact, pom.version, group_of(None, pom) or pom.artifact, location))
    main = [JavaPackage(name, version, group_of(manifest, own) or name, location)] if name else []
    return main + others


def _text(zf: zipfile.ZipFile, member: str, budget: _Budget) -> str:
    """A small text member ("" when it is bigger than MAX_METADATA)."""
    try:
        return _member_bytes(zf, member, MAX_METADATA, budget).decode("utf-8", "replace")
    except Unreadable:
        return ""


def _member_bytes(zf: zipfile.ZipFile, member: str, limit: int, budget: _Budget) -> bytes:
    """A member's bytes, refused before inflating when its recorded size breaks `limit` or the budget (zipfile
    never inflates past the recorded size, and checks the CRC at the end)."""
    info = zf.getinfo(member)
    if info.file_size > limit:
        raise Unreadable(f"{info.file_size} bytes, more than the {limit} slim reads")
    if info.file_size > budget.left:
        raise Unreadable(f"the {MAX_INFLATED} bytes slim inflates for one archive are used up")
    with zf.open(info) as fh:
        data = fh.read(info.file_size + 1)
    budget.left -= len(data)
    return data


def _check_directory(stream, room: int) -> int:
    """The size of a zip's central directory; refused before zipfile reads it when it is bigger than `room`
    (millions of entries would take gigabytes as zipfile's objects) or claims too many entries."""
    end = stream.seek(0, 2)
    start = max(0, end - (1 << 16) - 22)  # the end record, after a comment of at most 64 KiB
    stream.seek(start)
    tail = stream.read(end - start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise Unreadable("no zip end record")
    entries, size = struct.unpack_from("<HL", tail, at + 10)
    # zipfile takes the counts from a zip64 end record whenever its locator sits just before the end record,
    # whatever the 32-bit counts say: read them the same way, or a forged pair would pass one bound to zipfile
    if start + at >= 76:
        stream.seek(start + at - 76)
        record = stream.read(76)
        if record[56:60] == b"PK\x06\x07" and record[:4] == b"PK\x06\x06":
            entries, size = struct.unpack_from("<QQ", record, 32)
    if size > room or entries > MAX_ENTRIES:
        raise Unreadable(f"central directory of {entries} entries in {size} bytes, past slim's bounds")
    stream.seek(0)
    return size


class _Seekable:
    """A read-only stream as zipfile wants it (it asks `seekable()`, which image file readers need not have)."""

    def __init__(self, raw):
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        return self._raw.read(n)

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._raw.seek(pos, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def seekable(self) -> bool:
        return True


def _reason(error: Exception) -> str:
    return _printable(f"{type(error).__name__}: {error}")[:160]


def _printable(text: str) -> str:
    """A name from an archive as one safe line (control characters replaced), cut to a readable length."""
    return "".join(c if c.isprintable() else "?" for c in text)[:300]

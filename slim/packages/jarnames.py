"""What a Java archive is called, from its metadata: `META-INF/MANIFEST.MF`, `META-INF/maven/GROUP/ARTIFACT/
pom.properties`, and its file name (`tomcat10-catalina-10.1.55.jar` -> tomcat10-catalina, 10.1.55). The order of
preference is the one Syft uses, so the inventory names each archive as scanners do: the name from a pom.properties
whose artifactId fits the file name, else from a Maven bundle plugin's Bundle-SymbolicName, else from the file
name, else from the manifest; the version from that pom.properties, else the file name, else the manifest.

Pure: text in, names out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# a version part of a file name: a digit, `build` and digits, or `r`/`rc` and digits up to the end
_VERSION = re.compile(r"\d.*|build\d+.*|rc?\d+", re.IGNORECASE | re.ASCII)
_VERSION_EXACT_CASE = re.compile(r"\d.*|build\d+.*|rc?\d+", re.ASCII)
MAX_NAME = 1024  # longer is no archive's real name (the scan below is quadratic in it)
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.-]+")
# manifest fields that may hold a Maven group id, most telling first (the same fields Syft reads for its purls)
_GROUP_FIELDS = ("Group-Id", "Bundle-SymbolicName", "Extension-Name", "Specification-Vendor", "Implementation-Vendor",
                 "Implementation-Vendor-Id", "Implementation-Title", "Bundle-Activator")
_GROUP_FALLBACK_FIELDS = ("Automatic-Module-Name", "Main-Class", "Package")
_TOP_DOMAINS = ("com", "org", "net", "io", "be")
_NAME_FIELDS = ("Name", "Bundle-Name", "Short-Name", "Extension-Name", "Implementation-Title")
_VERSION_FIELDS = ("Implementation-Version", "Specification-Version", "Plugin-Version", "Bundle-Version")


@dataclass(frozen=True)
class Manifest:
    """A MANIFEST.MF: the main section and the per-entry sections, each a list of (key, value) in file order."""

    main: tuple[tuple[str, str], ...] = ()
    sections: tuple[tuple[tuple[str, str], ...], ...] = ()

    def get(self, key: str) -> str:
        """The main section's value of `key` ("" when absent)."""
        return next((v for k, v in self.main if k == key), "")

    def anywhere(self, key: str) -> str:
        """`key`'s value in the main section, else in the first entry section that has one."""
        for section in (self.main, *self.sections):
            value = next((v for k, v in section if k == key), "")
            if value:
                return value
        return ""


@dataclass(frozen=True)
class PomProperties:
    """The Maven coordinates a `pom.properties` records."""

    group: str
    artifact: str
    version: str
    extra: dict[str, str] = field(default_factory=dict, compare=False)


def parse_manifest(text: str) -> Manifest:
    """The sections of a manifest (JAR specification: `Key: value` lines, a line starting with a space continues
    the value above, a blank line ends a section); lines that are neither are skipped."""
    # a value's pieces are joined once its lines end: adding each continuation to the value would copy it per
    # line, quadratic in a hostile manifest of a million one-character continuations
    sections: list[list[tuple[str, list[str]]]] = []
    last_key = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.rstrip("\r")
        if not line:
            last_key = ""
            continue
        if line[0] == " ":
            if last_key:
                sections[-1][-1][1].append(line.strip())
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            continue
        if not last_key:
            sections.append([])
        sections[-1].append((key, [value.strip()]))
        last_key = key
    joined = [tuple((key, "".join(pieces)) for key, pieces in section) for section in sections]
    if not joined:
        return Manifest()
    return Manifest(joined[0], tuple(joined[1:]))


def parse_pom_properties(text: str) -> PomProperties | None:
    """groupId, artifactId and version of a pom.properties (`key=value` or `key: value` lines, `#` comments); None
    when a line is neither (the file is no pom.properties) or artifactId or version is missing."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip(" ").startswith("#"):
            continue
        at = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if at < 0:
            return None
        values[line[:at].strip()] = line[at + 1:].strip()
    artifact, version = values.get("artifactId", ""), values.get("version", "")
    if not artifact or not version:
        return None
    return PomProperties(values.get("groupId", ""), artifact, version, values)


def split_file_name(file_name: str) -> tuple[str, str]:
    """(name, version) from an archive's file name: `commons-lang3-3.12.0.jar` -> (commons-lang3, 3.12.0),
    `bootstrap.jar` -> (bootstrap, ""), `foo_1.2.jar` -> (foo, 1.2). The name is the shortest run of
    dash-separated words, each starting with a letter, that leaves a version after a dash; ("", "") when the
    name does not start with a letter. Written as a scan, not a regular expression, so a long hostile name costs
    linear time."""
    stem = file_name.rsplit("/", 1)[-1]
    if "." in stem:
        stem = stem[:stem.rindex(".")]
    if len(stem) > MAX_NAME:
        return "", ""
    name, version = "", ""
    for at, char in enumerate(stem):
        if char == "-" and _valid_name(stem[:at]) and _VERSION.fullmatch(stem[at + 1:]):
            name, version = stem[:at], stem[at + 1:]
            break
    else:
        if not _valid_name(stem):
            return "", ""
        name = stem
    if not version:  # some archives are named `name_1.2` or `name.1.2`
        for at, char in enumerate(name):
            if char in "._-" and _VERSION_EXACT_CASE.fullmatch(name[at + 1:]):
                return name[:at], name[at + 1:]
    return name, version


def _valid_name(text: str) -> bool:
    """Dash-separated words of letters, digits, `_` and `.`, each starting with a letter (a trailing dash allowed)."""
    if not _NAME_CHARS.fullmatch(text):
        return False
    words = text.split("-")
    if words[-1] == "":
        words = words[:-1]
    return bool(words) and all(w and w[0].isascii() and w[0].isalpha() for w in words)


def name_from_file_name(name: str) -> str:
    """A file-name name that looks like `group.artifact` gives its artifact (Eclipse's `org.eclipse.*` bundles are
    named so on purpose and stay whole)."""
    if "." not in name or name.startswith("org.eclipse."):
        return name
    fields = name.split(".")
    if all(f and _starts_identifier(f) for f in fields):
        return fields[-1]
    return name


def _starts_identifier(word: str) -> bool:
    """Whether `word` starts like a Java identifier (a letter, a currency symbol or a connector such as `_`)."""
    return unicodedata.category(word[0]) in ("Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Sc", "Pc")


def select_name(manifest: Manifest | None, file_name: str) -> str:
    """The archive's name when no pom.properties names it."""
    if manifest is not None and "Apache Maven Bundle Plugin" in manifest.get("Created-By"):
        symbolic = _without_directives(manifest.get("Bundle-SymbolicName"))
        if symbolic and symbolic != manifest.get("Implementation-Vendor-Id") and symbolic.split(".")[-1]:
            return symbolic.split(".")[-1]  # the plugin's symbolic name is GROUP.ARTIFACT
    name = name_from_file_name(split_file_name(file_name)[0])
    if name or manifest is None:
        return name
    return next((manifest.get(key) for key in _NAME_FIELDS if manifest.get(key)), "")


def select_version(manifest: Manifest | None, file_name: str) -> str:
    """The archive's version when no pom.properties gives one: the file name's, else the manifest's."""
    version = split_file_name(file_name)[1]
    if version or manifest is None:
        return version
    return next((manifest.anywhere(key) for key in _VERSION_FIELDS if manifest.anywhere(key)), "")


def group_of(manifest: Manifest | None, pom: PomProperties | None) -> str:
    """The Maven group id for the purl: the pom.properties', else the first (sorted) manifest value of the group
    fields that starts like a reversed domain name ("" when none does)."""
    if pom is not None:
        if pom.group:
            return _without_directives(pom.group)
        if "." in pom.artifact:
            return _without_directives(pom.artifact)
    if manifest is None:
        return ""
    for fields in (_GROUP_FIELDS, _GROUP_FALLBACK_FIELDS):
        found = sorted(_without_directives(v).split("#")[0].strip() for key in fields
                       for section in (manifest.main, *manifest.sections) for k, v in section
                       if k == key and v.startswith(_TOP_DOMAINS))
        if found:
            return found[0]
    return ""


def _without_directives(value: str) -> str:
    """An OSGi header value without its directives: `org.foo;singleton:=true` -> org.foo."""
    return value.split(";")[0].strip()


def artifact_fits_file_name(artifact: str, file_name: str, artifacts: set[str]) -> bool:
    """Whether a pom.properties' artifactId is the archive's own (a shaded jar carries others' too): equal to the
    file name's name when some pom.properties is, else a prefix-or-suffix fit."""
    if not artifact or not file_name:
        return False
    if file_name in artifacts:
        return artifact == file_name
    return artifact.startswith(file_name) or file_name.endswith(artifact)

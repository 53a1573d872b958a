"""Debian's package database: /var/lib/dpkg/status (or distroless-style status.d/ files), file lists and md5sums.

Parsers take streams and never fail on a malformed stanza: it is skipped with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slim.packages import stream as stream_mod
from slim.model import SlimWarning
from typing import BinaryIO
from collections.abc import Iterator

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"
INFO = "/var/lib/dpkg/info"


@dataclass(frozen=True)
class Stanza:
    """One package's stanza of a dpkg status file: its fields for lookups, and its text for a trimmed database that
    keeps every field scanners read."""

    fields: dict[str, str]
    text: str  # the stanza exactly as written, for a trimmed database that keeps every field

    @property
    def name(self) -> str:
        """The package name (the Package field)."""
        return self.fields.get("Package", "")

    @property
    def installed(self) -> bool:
        """Whether dpkg counts the package as installed; a removed package whose config files remain is not, and the
        catalog leaves it out."""
        # distroless status.d stanzas often carry no Status field: they are installed by construction
        return self.fields.get("Status", "install ok installed").split()[-1:] == ["installed"]


@dataclass
class ParsedStanzas:
    """The stanzas of a status file and the warnings about those that were skipped."""

    stanzas: list[Stanza] = field(default_factory=list)
    warnings: list[SlimWarning] = field(default_factory=list)


def parse_stanzas(stream: BinaryIO, where: str = STATUS) -> ParsedStanzas:
    """deb822 paragraphs: "Field: value" lines, continuation lines starting with a blank, blank-line separated.
    Read one paragraph at a time: the file may be any size."""
    out = ParsedStanzas()
    try:
        _parse_blocks(stream, where, out)
    except stream_mod.DatabaseTooBig:
        out.warnings.append(SlimWarning("dpkg.database-too-big",
                                        f"read only the first {stream_mod.MAX_DATABASE} bytes of stanzas", where))
    return out


def _parse_blocks(stream: BinaryIO, where: str, out: ParsedStanzas) -> None:
    for block in stream_mod.blocks(stream):
        if block is stream_mod.TOO_BIG:
            out.warnings.append(SlimWarning("dpkg.stanza-too-big", f"skipped a stanza over {stream_mod.MAX_BLOCK} bytes", where))
            continue
        lines = [line.decode("utf-8", "replace") for line in block]
        fields: dict[str, str] = {}
        last = None
        bad = False
        for line in lines:
            if line[:1] in (" ", "\t"):
                if last is None:
                    bad = True
                    break
                fields[last] += "\n" + line
                continue
            key, sep, value = line.partition(":")
            if not sep or not key or " " in key:
                bad = True
                break
            last = key
            fields[key] = value.strip()
        text = "\n".join(lines)
        if bad or "Package" not in fields:
            out.warnings.append(SlimWarning("dpkg.malformed-stanza", f"skipped a malformed stanza starting {text[:40]!r}", where))
            continue
        out.stanzas.append(Stanza(fields, text + "\n"))


def parse_file_list(stream: BinaryIO, warnings: list[SlimWarning] | None = None) -> list[str]:
    """A package's .list: one absolute path per line ("/." stands for the root)."""
    out = []
    for line in _bounded_lines(stream, warnings):
        path = line.decode("utf-8", "surrogateescape")
        if path and path != "/.":
            out.append(path)
    return out


def parse_md5sums(stream: BinaryIO, warnings: list[SlimWarning] | None = None) -> list[tuple[str, str]]:
    """(md5, absolute path) pairs from "md5  relative/path" lines."""
    out = []
    for line in _bounded_lines(stream, warnings):
        digest, _, path = line.decode("utf-8", "surrogateescape").partition("  ")
        if len(digest) == 32 and path:
            out.append((digest, "/" + path.lstrip("/")))
    return out


MAX_FILES_PER_PACKAGE = 500_000  # the biggest Debian packages list a few tens of thousands


def _bounded_lines(stream: BinaryIO, warnings: list[SlimWarning] | None) -> Iterator[bytes]:
    for n, line in enumerate(stream_mod.lines(stream)):
        if n >= MAX_FILES_PER_PACKAGE:
            if warnings is not None:
                warnings.append(SlimWarning("dpkg.list-too-long", f"read only the first {n} lines of a file list"))
            return
        if line is not stream_mod.TOO_BIG:
            yield line


def format_md5sums(pairs: list[tuple[str, str]]) -> bytes:
    """An md5sums file as dpkg writes it ("DIGEST path" without the leading slash), for the trimmed database."""
    return "".join(f"{digest}  {path.lstrip('/')}\n" for digest, path in pairs).encode("utf-8", "surrogateescape")

"""Debian's package database: /var/lib/dpkg/status (or distroless-style status.d/ files), file lists and md5sums.

Parsers take streams and never fail on a malformed stanza: it is skipped with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slim.model import SlimWarning
from typing import BinaryIO, Iterator

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"
INFO = "/var/lib/dpkg/info"


@dataclass(frozen=True)
class Stanza:
    fields: dict[str, str]
    text: str  # the stanza exactly as written, for a trimmed database that keeps every field

    @property
    def name(self) -> str:
        return self.fields.get("Package", "")

    @property
    def installed(self) -> bool:
        # distroless status.d stanzas often carry no Status field: they are installed by construction
        return self.fields.get("Status", "install ok installed").split()[-1:] == ["installed"]


@dataclass
class ParsedStanzas:
    stanzas: list[Stanza] = field(default_factory=list)
    warnings: list[SlimWarning] = field(default_factory=list)


def parse_stanzas(stream: BinaryIO, where: str = STATUS) -> ParsedStanzas:
    """deb822 paragraphs: "Field: value" lines, continuation lines starting with a blank, blank-line separated."""
    out = ParsedStanzas()
    for block in _blocks(stream.read().decode("utf-8", "replace")):
        fields: dict[str, str] = {}
        last = None
        bad = False
        for line in block.splitlines():
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
        if bad or "Package" not in fields:
            out.warnings.append(SlimWarning("dpkg.malformed-stanza", f"skipped a malformed stanza starting {block[:40]!r}", where))
            continue
        out.stanzas.append(Stanza(fields, block + "\n"))
    return out


def _blocks(text: str) -> Iterator[str]:
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.append(line)
        elif current:
            yield "\n".join(current)
            current = []
    if current:
        yield "\n".join(current)


def parse_file_list(stream: BinaryIO) -> list[str]:
    """A package's .list: one absolute path per line ("/." stands for the root)."""
    return [line for line in stream.read().decode("utf-8", "surrogateescape").splitlines() if line and line != "/."]


def parse_md5sums(stream: BinaryIO) -> list[tuple[str, str]]:
    """(md5, absolute path) pairs from "md5  relative/path" lines."""
    out = []
    for line in stream.read().decode("utf-8", "surrogateescape").splitlines():
        digest, _, path = line.partition("  ")
        if len(digest) == 32 and path:
            out.append((digest, "/" + path.lstrip("/")))
    return out


def format_md5sums(pairs: list[tuple[str, str]]) -> bytes:
    return "".join(f"{digest}  {path.lstrip('/')}\n" for digest, path in pairs).encode("utf-8", "surrogateescape")

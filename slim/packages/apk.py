"""Alpine's package database, /lib/apk/db/installed: one block per package of "X:value" lines.

P: name, V: version; files are F: (a directory) followed by R: (a file in it) lines, each R: followed by its
own attribute lines (a:, M:, Z:). Pruning keeps a block's header and only the F:/R: groups of kept files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slim.packages import stream as stream_mod
from slim.model import SlimWarning
from typing import BinaryIO

INSTALLED = "/lib/apk/db/installed"


@dataclass(frozen=True)
class ApkPackage:
    """One package block of apk's database, kept as its lines so a trimmed database writes back exactly what apk
    wrote, minus the files that are gone."""

    name: str
    version: str
    header: tuple[str, ...]  # every line before the first F:
    dirs: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]], ...]
    # (directory, its own attribute lines, ((file name, its attribute lines), ...))

    @property
    def files(self) -> list[str]:
        """The absolute paths of the files the package owns, what decides whether it is kept."""
        return ["/" + (d + "/" if d else "") + name for d, _, files in self.dirs for name, _ in files]


@dataclass
class ParsedApk:
    """The packages of an apk database and the warnings about blocks that could not be read."""

    packages: list[ApkPackage] = field(default_factory=list)
    warnings: list[SlimWarning] = field(default_factory=list)


def parse_installed(stream: BinaryIO) -> ParsedApk:
    """Parse /lib/apk/db/installed from a stream; a database bigger than the bound is read up to it, with a warning,
    so a hostile image cannot make slim hold it all."""
    out = ParsedApk()
    try:
        _parse_blocks(stream, out)
    except stream_mod.DatabaseTooBig:
        out.warnings.append(SlimWarning("apk.database-too-big",
                                        f"read only the first {stream_mod.MAX_DATABASE} bytes of blocks", INSTALLED))
    return out


def _parse_blocks(stream: BinaryIO, out: ParsedApk) -> None:
    for block in stream_mod.blocks(stream):  # one block at a time: the file may be any size
        if block is stream_mod.TOO_BIG:
            out.warnings.append(SlimWarning("apk.block-too-big", f"skipped a block over {stream_mod.MAX_BLOCK} bytes", INSTALLED))
            continue
        lines = [line.decode("utf-8", "surrogateescape") for line in block if line]
        if not lines:
            continue
        if any(len(line) < 2 or line[1] != ":" for line in lines):
            out.warnings.append(SlimWarning("apk.malformed-block", f"skipped a malformed block starting {lines[0][:40]!r}", INSTALLED))
            continue
        header: list[str] = []
        dirs: list[list] = []
        for line in lines:
            key, value = line[0], line[2:]
            if key == "F":
                dirs.append([value, [], []])
            elif key == "R" and dirs:
                dirs[-1][2].append([value, []])
            elif dirs and dirs[-1][2] and key in "aMZ":
                dirs[-1][2][-1][1].append(line)
            elif dirs and key in "aMZ":
                dirs[-1][1].append(line)
            else:
                header.append(line)
        name = next((line[2:] for line in header if line.startswith("P:")), "")
        if not name:
            out.warnings.append(SlimWarning("apk.malformed-block", "skipped a block without P:", INSTALLED))
            continue
        version = next((line[2:] for line in header if line.startswith("V:")), "")
        out.packages.append(ApkPackage(name, version, tuple(header), tuple(
            (d, tuple(attrs), tuple((f, tuple(a)) for f, a in files)) for d, attrs, files in dirs)))


def format_installed(packages: list[ApkPackage], keep_file) -> bytes:
    """The database holding `packages`, each listing only the files `keep_file(path)` accepts."""
    blocks = []
    for pkg in packages:
        lines = list(pkg.header)
        for directory, attrs, files in pkg.dirs:
            kept = [(f, a) for f, a in files if keep_file("/" + (directory + "/" if directory else "") + f)]
            if not kept:
                continue
            lines.append("F:" + directory)
            lines.extend(attrs)
            for name, file_attrs in kept:
                lines.append("R:" + name)
                lines.extend(file_attrs)
        blocks.append("\n".join(lines) + "\n")
    return ("\n".join(blocks) + "\n").encode("utf-8", "surrogateescape")

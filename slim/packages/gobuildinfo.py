"""The modules a Go program was built from, read from the build information the Go linker embeds in every binary
(since Go 1.18 inline in the `.go.buildinfo` data): the toolchain (`stdlib` at `go1.X.Y`), the main module and
each dependency. Scanners list these (a static Go server has no package database entry for what it links), so
the SBOM lists them too.

Pure: bytes in, modules out; anything that does not parse is no Go binary.
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"\xff Go buildinf:"
_HEADER = 32  # magic (14), pointer size (1), flags (1), then padding to 32
_INLINE = 0x2  # the flag of Go 1.18 and later: version and module strings follow the header
_SENTINEL = 16  # the module string is wrapped in 16 bytes on each side
MAX_BINARY = 256 << 20  # a file bigger than this is not read for build information


@dataclass(frozen=True)
class GoModule:
    """One module of a Go binary: its path and version ("(devel)" for a main module built from a checkout)."""

    path: str
    version: str


def modules(data: bytes) -> list[GoModule]:
    """The modules of the Go binary `data` (stdlib first, then the main module, then dependencies); [] when it
    is no Go binary, or one built before Go 1.18 (whose build information is pointers, not inline strings)."""
    at = data.find(MAGIC)
    while at != -1:
        if at % 16 == 0:  # the build information is 16-byte aligned; the string elsewhere is only data
            found = _parse(data, at)
            if found is not None:
                return found
        at = data.find(MAGIC, at + 1)
    return []


def _parse(data: bytes, at: int) -> list[GoModule] | None:
    if len(data) < at + _HEADER or not data[at + 15] & _INLINE:
        return None
    pos = at + _HEADER
    version, pos = _string(data, pos)
    info, pos = _string(data, pos)
    if version is None or info is None or not version.startswith("go"):
        return None
    if len(info) >= 2 * _SENTINEL:
        info = info[_SENTINEL:-_SENTINEL]
    return [GoModule("stdlib", version), *_listed(info)]


def _listed(info: str) -> list[GoModule]:
    """The main module and the dependencies named by the module lines (`path`, `mod`, `dep`, `=>` replacing
    the dependency above it)."""
    main_path, main, deps = "", None, []
    for line in info.splitlines():
        fields = line.split("\t")
        if fields[0] == "path" and len(fields) > 1:
            main_path = fields[1]
        elif fields[0] == "mod" and len(fields) > 2:
            main = GoModule(fields[1], fields[2] or "(devel)")
        elif fields[0] == "dep" and len(fields) > 2:
            deps.append(GoModule(fields[1], fields[2]))
        elif fields[0] == "=>" and len(fields) > 2 and deps:
            deps[-1] = GoModule(fields[1], fields[2])  # what the build really used
    if main is None and main_path:
        main = GoModule(main_path, "(devel)")  # `go build file.go`: no module, only a package path
    return ([main] if main else []) + deps


def _string(data: bytes, pos: int) -> tuple[str | None, int]:
    """A uvarint-length-prefixed string at `pos`, and the position after it; None when it runs past the data."""
    length, shift = 0, 0
    while pos < len(data) and shift < 35:
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    else:
        return None, pos
    if pos + length > len(data):
        return None, pos
    return data[pos:pos + length].decode("utf-8", "replace"), pos + length

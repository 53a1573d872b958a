"""Composer's autoloader as the files it generates describe it: vendor/composer/autoload_classmap.php,
autoload_psr4.php, autoload_namespaces.php (PSR-0), autoload_files.php and autoload_static.php (the same maps as
static arrays of one class). They are PHP arrays of string keys and path expressions (`$vendorDir . '/x'`,
`__DIR__ . '/..' . '/x'`), read here without running PHP.

Pure: a RootFS and a vendor directory in, the class -> file lookups out.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from slim.langs.phplex import blank
from slim.langs.phpscan import evaluate

_ENTRY = re.compile(rb"'((?:[^'\\]|\\.)*)'\s*=>\s*")
_STATIC = re.compile(rb"static\s+\$(\w+)\s*=")
_FILES = {"classmap": "autoload_classmap.php", "psr4": "autoload_psr4.php", "psr0": "autoload_namespaces.php",
          "files": "autoload_files.php"}
_STATIC_NAMES = {"classMap": "classmap", "prefixDirsPsr4": "psr4", "prefixesPsr0": "psr0", "files": "files"}


@dataclass
class Autoload:
    """The maps of one vendor directory: class -> file, namespace prefix -> directories (PSR-4, PSR-0), and the
    files loaded on every request."""

    vendor: str
    classmap: dict[str, str] = field(default_factory=dict)
    psr4: dict[str, list[str]] = field(default_factory=dict)
    psr0: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def find(self, rootfs, cls: str) -> str | None:
        """The file the autoloader loads for the fully qualified class `cls`, if the maps name one."""
        if cls in self.classmap:
            return self.classmap[cls]
        for prefix in sorted(self.psr4, key=len, reverse=True):
            if cls.startswith(prefix):
                relative = cls[len(prefix):].replace("\\", "/") + ".php"
                for directory in self.psr4[prefix]:
                    if rootfs.is_file(f"{directory}/{relative}"):
                        return f"{directory}/{relative}"
        namespace, _, short = cls.rpartition("\\")
        relative = (namespace.replace("\\", "/") + "/" if namespace else "") + short.replace("_", "/") + ".php"
        for prefix in sorted(self.psr0, key=len, reverse=True):
            if cls.startswith(prefix):
                for directory in self.psr0[prefix]:
                    if rootfs.is_file(f"{directory}/{relative}"):
                        return f"{directory}/{relative}"
        return None


def read_autoload(rootfs, vendor: str) -> Autoload:
    """The autoload maps Composer wrote in `vendor`/composer (both the per-kind files and autoload_static.php)."""
    out = Autoload(vendor)
    composer = f"{vendor}/composer"
    variables = {"vendorDir": vendor, "baseDir": posixpath.dirname(vendor)}
    for kind, name in _FILES.items():
        path = f"{composer}/{name}"
        if rootfs.is_file(path):
            _merge(out, kind, _entries(rootfs.read_bytes(path, 32 << 20), path, variables))
    static = f"{composer}/autoload_static.php"
    if rootfs.is_file(static):
        source = rootfs.read_bytes(static, 32 << 20)
        marks = list(_STATIC.finditer(source))
        for k, mark in enumerate(marks):
            static_kind = _STATIC_NAMES.get(mark.group(1).decode())
            end = marks[k + 1].start() if k + 1 < len(marks) else len(source)
            if static_kind:
                _merge(out, static_kind, _entries(source[mark.end():end], static, variables))
    return out


def _merge(out: Autoload, kind: str, entries: list[tuple[str, list[str]]]) -> None:
    for key, values in entries:
        if kind == "classmap" and values:
            out.classmap.setdefault(key, posixpath.normpath(values[0]))
        elif kind in ("psr4", "psr0"):
            getattr(out, kind).setdefault(key, []).extend(posixpath.normpath(v) for v in values)
        elif kind == "files":
            out.files += [posixpath.normpath(v) for v in values if v not in out.files]


def _entries(source: bytes, path: str, variables: dict[str, str]) -> list[tuple[str, list[str]]]:
    """'key' => value pairs of the array text; a value is one path expression or an array of them."""
    code, bare, _ = blank(source if source.lstrip().startswith(b"<?") else b"<?php " + source)
    offset = len(code) - len(source)
    code, bare = code[offset:], bare[offset:]
    marks = list(_ENTRY.finditer(code))
    out = []
    for k, mark in enumerate(marks):
        end = marks[k + 1].start() if k + 1 < len(marks) else len(code)
        key = mark.group(1).replace(b"\\\\", b"\\").decode("utf-8", "replace")
        value, shape = code[mark.end():end], bare[mark.end():end]
        out.append((key, _paths(value, shape, path, variables)))
    return out


def _paths(value: bytes, shape: bytes, path: str, variables: dict[str, str]) -> list[str]:
    """The path expressions of one array value: `X . 'y'`, or `array(0 => X . 'y', ...)` / `[X . 'y']`."""
    found = []
    inner = re.match(rb"\s*(?:array\s*\(|\[)", shape)
    if inner:
        value, shape = value[inner.end():], shape[inner.end():]
    for piece, piece_shape in _split(value, shape):
        piece, piece_shape = _drop_index(piece), _drop_index(piece_shape)
        text = piece.strip().rstrip(b",);]").strip()
        if text:
            result = evaluate(text, piece_shape.strip()[:len(text)], path, variables)
            if result is not None:
                found.append(result)
    return found


def _split(value: bytes, shape: bytes) -> list[tuple[bytes, bytes]]:
    pieces, start, depth = [], 0, 0
    for k, c in enumerate(shape):
        depth += (c in b"([") - (c in b")]")
        if (c == 0x2C and depth == 0) or depth < 0:
            pieces.append((value[start:k], shape[start:k]))
            start = k + 1
            if depth < 0:
                return pieces
    pieces.append((value[start:], shape[start:]))
    return pieces


def _drop_index(piece: bytes) -> bytes:
    m = re.match(rb"\s*\d+\s*=>", piece)
    return b" " * m.end() + piece[m.end():] if m else piece

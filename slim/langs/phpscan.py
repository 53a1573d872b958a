"""What one PHP source says it loads: `include`/`require`(`_once`) with paths made of literals, `__DIR__`,
`__FILE__` and `dirname()`, and the classes it names where PHP's autoloader may be asked for them (`new X`, `X::`,
`extends`, `implements`, `instanceof`, `catch`, `use`), resolved against the file's namespace and imports.

Pure: bytes in, names out. The lexer is slim.langs.phplex.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from dataclasses import dataclass, field

from slim.langs.phplex import blank

_INCLUDE = re.compile(rb"(?<![\w$>:\\])(include_once|require_once|include|require)\b", re.I)
_NAME = rb"\\?[A-Za-z_]\w*(?:\\[A-Za-z_]\w*)*"
_NAMESPACE = re.compile(rb"(?<![\w$>:\\])namespace\s+(" + _NAME + rb")\s*[;{]")
_USE = re.compile(rb"(?<![\w$>:\\])use\s+(?!\()(?:function\s|const\s)?([^;{(]*(?:\{[^}]*\})?)\s*;")
_REFS = re.compile(rb"(?<![\w$>:\\])(?:new\s+|extends\s+|instanceof\s+)(" + _NAME + rb")"
                   rb"|(?<![\w$>:\\])(" + _NAME + rb")\s*::"
                   rb"|(?<![\w$>:\\])implements\s+(" + _NAME + rb"(?:\s*,\s*" + _NAME + rb")*)"
                   rb"|(?<![\w$>:\\])catch\s*\(\s*(" + _NAME + rb"(?:\s*\|\s*" + _NAME + rb")*)")
_DYNAMIC_CLASS = re.compile(rb"(?<![\w$>:\\])new\s+\$|(?<![\w>])\$\w+\s*::\s*(?!class\b)\w+\s*\(")
_SPECIAL = {"self", "static", "parent", "class"}
_DATE_API = re.compile(rb"(?<![\w$>:\\])(?:\\?(?:DateTime|DateTimeImmutable|DateTimeZone|DatePeriod)\b|"
                       rb"(?:date_default_timezone_set|date_create|date_create_immutable|timezone_open|strtotime|"
                       rb"mktime|date|localtime|getdate|strftime)\s*\()")


@dataclass
class Scan:
    """What a PHP source loads: literal includes (path, line), computed ones (line), the classes it names
    (fully qualified name, line), the lines where a class name is computed, and where it uses dates."""

    includes: list[tuple[str, int]] = field(default_factory=list)
    dynamic_includes: list[int] = field(default_factory=list)
    classes: list[tuple[str, int]] = field(default_factory=list)
    dynamic_classes: list[int] = field(default_factory=list)
    dates: int = 0  # the first line using the date/time API (0: none)
    clean: bool = True


def scan(source: bytes, path: str, variables: dict[str, str] | None = None) -> Scan:
    """The loads of the PHP file at `path`; `variables` are the values of variables an include may name
    (Composer's $vendorDir and $baseDir)."""
    code, bare, clean = blank(source)
    out = Scan(clean=clean)
    _line = line_index(bare)
    for m in _INCLUDE.finditer(bare):
        end = _statement_end(bare, m.end())
        line = _line(m.start())
        value = evaluate(code[m.end():end], bare[m.end():end], path, variables or {})
        if value is None:
            out.dynamic_includes.append(line)
        else:
            out.includes.append((value, line))
    out.classes = _class_refs(bare, _line)
    out.dynamic_classes = [_line(m.start()) for m in _DYNAMIC_CLASS.finditer(bare)]
    date = _DATE_API.search(bare)
    out.dates = _line(date.start()) if date else 0
    return out


def line_index(text: bytes):
    """offset -> line number, by bisecting the newline offsets once found (a count per call is quadratic)."""
    newlines = [m.start() for m in re.finditer(rb"\n", text)]
    return lambda offset: bisect.bisect_left(newlines, offset) + 1


def _statement_end(bare: bytes, i: int) -> int:
    """The `;` (or `?>`) ending the statement that starts at i, outside parentheses."""
    depth = 0
    for k in range(i, len(bare)):
        c = bare[k]
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth < 0:
                return k  # include inside a call's argument: `f(require 'x')`
        elif depth == 0 and (c == 0x3B or bare.startswith(b"?>", k) or bare.startswith(b" as ", k)):
            return k  # `foreach (require 'map.php' as $x)` ends at `as`
    return len(bare)


def evaluate(expr: bytes, bare: bytes, path: str, variables: dict[str, str]) -> str | None:
    """The path an include expression names when it is made of literals, __DIR__, __FILE__, dirname() and the
    given variables joined with `.`; None when any part is computed."""
    text, shape = expr.strip(), bare.strip()
    while text.startswith(b"(") and _matching(shape, 0) == len(shape) - 1:
        text, shape = text[1:-1].strip(), shape[1:-1].strip()
    parts, start, depth = [], 0, 0
    for k, c in enumerate(shape):
        depth += (c == 0x28) - (c == 0x29)
        if c == 0x2E and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    parts.append(text[start:])
    values = [_part(p.strip(), path, variables) for p in parts]
    known = [v for v in values if v is not None]
    return "".join(known) if len(known) == len(values) else None


def _matching(shape: bytes, i: int) -> int:
    depth = 0
    for k in range(i, len(shape)):
        depth += (shape[k] == 0x28) - (shape[k] == 0x29)
        if depth == 0:
            return k
    return -1


def _part(part: bytes, path: str, variables: dict[str, str]) -> str | None:
    if part == b"__DIR__":
        return posixpath.dirname(path)
    if part == b"__FILE__":
        return path
    if len(part) >= 2 and part[:1] == part[-1:] and part[:1] in (b"'", b'"'):
        body = part[1:-1]
        if part[:1] == b'"' and b"$" in body:
            return None
        return body.replace(b"\\\\", b"\\").replace(b"\\'", b"'").decode("utf-8", "replace")
    if part.startswith(b"$") and part[1:].decode("ascii", "replace") in variables:
        return variables[part[1:].decode()]
    m = re.fullmatch(rb"\\?dirname\s*\((.*?)(?:,\s*(\d+))?\)", part, re.S)
    if m:
        inner = _part(m.group(1).strip(), path, variables)
        if inner is None:
            return None
        for _ in range(int(m.group(2) or 1)):
            inner = posixpath.dirname(inner)
        return inner
    return None


def _class_refs(bare: bytes, _line) -> list[tuple[str, int]]:
    """(fully qualified class name, line) of each class the code names where the autoloader may load it."""
    marks = list(_NAMESPACE.finditer(bare))
    spaces = [(m.start(), m.group(1).decode().lstrip("\\")) for m in marks]
    top = 1 if any(bare[m.end() - 1:m.end()] == b"{" for m in marks) else 0  # `namespace X { ... }` nests
    aliases: dict[str, str] = {}
    found: list[tuple[str, int]] = []
    for m in _USE.finditer(bare):
        for name, alias in _use_clause(m.group(1).decode("utf-8", "replace")):
            if _depth(bare, m.start()) <= top:
                aliases[alias.lower()] = name
                found.append((name, _line(m.start())))
            else:  # `use SomeTrait;` inside a class body names a class to load
                found.append((_qualify(name, _namespace_at(spaces, m.start()), aliases), _line(m.start())))
    for m in _REFS.finditer(bare):
        group = next(g for g in m.groups() if g is not None).decode("utf-8", "replace")
        for name in re.split(r"\s*[,|]\s*", group.strip()):
            if name.lower() not in _SPECIAL:
                found.append((_qualify(name, _namespace_at(spaces, m.start()), aliases), _line(m.start())))
    return found


def _use_clause(clause: str) -> list[tuple[str, str]]:
    """`A\\B as C, D` and `A\\{B, C as D}` -> [(fully qualified name, alias), ...]."""
    clause = " ".join(clause.split())
    group = re.fullmatch(r"(.*?)\\?\{(.*)\}", clause)
    items = [f"{group.group(1).rstrip(chr(92))}\\{x.strip()}" for x in group.group(2).split(",") if x.strip()] \
        if group else [x.strip() for x in clause.split(",") if x.strip()]
    out = []
    for item in items:
        name, _, alias = item.partition(" as ")
        name = name.strip().lstrip("\\")
        out.append((name, alias.strip() or name.rsplit("\\", 1)[-1]))
    return out


def _qualify(name: str, namespace: str, aliases: dict[str, str]) -> str:
    if name.startswith("\\"):
        return name[1:]
    first, _, rest = name.partition("\\")
    if first.lower() in aliases:
        return aliases[first.lower()] + (f"\\{rest}" if rest else "")
    return f"{namespace}\\{name}" if namespace else name


def _namespace_at(spaces: list[tuple[int, str]], offset: int) -> str:
    current = ""
    for start, name in spaces:
        if start > offset:
            break
        current = name
    return current


def _depth(bare: bytes, offset: int) -> int:
    return bare.count(b"{", 0, offset) - bare.count(b"}", 0, offset)

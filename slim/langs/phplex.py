"""A rough PHP lexer: enough to find includes and class references of a source file, not to parse it.

`blank()` returns two copies of the source of the same length (newlines kept, so offsets and line numbers stay):
in the first the text outside `<?php ... ?>`, the comments and the heredoc bodies are spaces; in the second the
insides of string literals are spaces too. A construct is looked for in the second and its argument read from
the first. It says when a string, comment or heredoc never closes: the caller then keeps the file's whole
package rather than trust the scan.
"""

from __future__ import annotations

import re

_OPEN = re.compile(rb"<\?(?:php\b|=)?", re.I)
_SPECIAL = frozenset(b"?#/'\"`<")
_NEXT = re.compile(rb"[?#/'\"`<]")
_HEREDOC = re.compile(rb"<<<[ \t]*(?:([A-Za-z_]\w*)|'([A-Za-z_]\w*)'|\"([A-Za-z_]\w*)\")\r?\n")


def blank(source: bytes) -> tuple[bytes, bytes, bool]:
    """(code without HTML, comments and heredoc bodies; the same without string insides; everything closed)."""
    out = bytearray(source)
    spans: list[tuple[int, int]] = []
    n, i = len(source), 0
    while i < n:
        m = _OPEN.search(source, i)
        if m is None:
            _spaces(out, i, n)
            break
        _spaces(out, i, m.start())
        i = _php(source, m.end(), out, spans)
        if i < 0:
            return _done(out, spans, False)
    return _done(out, spans, True)


def _php(source: bytes, i: int, out: bytearray, spans: list[tuple[int, int]]) -> int:
    """Lex PHP code from i to its `?>` (or the end); returns the offset after it, -1 if a literal never closes."""
    n = len(source)
    while i < n:
        c = source[i]
        if c not in _SPECIAL:  # skip to the next byte that can start a comment, a literal or `?>`
            m = _NEXT.search(source, i)
            i = m.start() if m else n
            continue
        if c == 0x3F and source.startswith(b"?>", i):
            return i + 2
        if (c == 0x23 and source[i + 1:i + 2] != b"[") or (c == 0x2F and source[i + 1:i + 2] == b"/"):
            end = _line_comment_end(source, i)
            _spaces(out, i, end)
            i = end
        elif c == 0x2F and source[i + 1:i + 2] == b"*":
            end = source.find(b"*/", i + 2)
            if end < 0:
                _spaces(out, i, n)
                return -1
            _spaces(out, i, end + 2)
            i = end + 2
        elif c in b"'\"`":
            end = _close(source, i + 1, c)
            if end < 0:
                return -1
            spans.append((i + 1, end - 1))
            i = end
        elif c == 0x3C and (heredoc := _HEREDOC.match(source, i)) is not None:
            label = next(g for g in heredoc.groups() if g is not None)
            close = re.compile(rb"^[ \t]*" + re.escape(label) + rb"\b", re.M).search(source, heredoc.end())
            if close is None:
                _spaces(out, heredoc.end(), n)
                return -1
            _spaces(out, heredoc.end(), close.start())
            i = close.end()
        else:
            i += 1
    return n


def _line_comment_end(source: bytes, i: int) -> int:
    """A `//` or `#` comment ends at the line's end or at `?>`, whichever comes first."""
    end = source.find(b"\n", i)
    end = len(source) if end < 0 else end
    close = source.find(b"?>", i, end)
    return close if close >= 0 else end


def _close(source: bytes, i: int, quote: int) -> int:
    n = len(source)
    while i < n:
        c = source[i]
        if c == 0x5C:
            i += 2
            continue
        if c == quote:
            return i + 1
        i += 1
    return -1


def _spaces(out: bytearray, start: int, end: int) -> None:
    for k in range(start, end):
        if out[k] != 0x0A:
            out[k] = 0x20


def _done(out: bytearray, spans: list[tuple[int, int]], clean: bool) -> tuple[bytes, bytes, bool]:
    bare = bytearray(out)
    for start, end in spans:
        _spaces(bare, start, end)
    return bytes(out), bytes(bare), clean

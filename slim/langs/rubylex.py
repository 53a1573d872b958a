"""A rough Ruby lexer: enough to find the `require`, `load` and `autoload` calls of a source file, not to parse it.

`blank()` returns the source with its comments, `=begin`/`=end` blocks, heredoc bodies and `__END__` data
replaced by spaces (newlines kept, so offsets and line numbers stay), and string, regexp and %-literals left as
they are. A word inside a string can only keep one file too many; a quote inside a comment or a regexp, left
unlexed, could swallow the code after it, so those are what the lexer takes care to skip. It says when it ended
inside a literal it could not close: the caller then keeps the file's whole gem rather than trust the scan.
"""

from __future__ import annotations

import re

_HEREDOC = re.compile(rb"<<([~-]?)(?:([A-Z_][A-Za-z0-9_]*)|'([^'\n]+)'|\"([^\"\n]+)\"|`([^`\n]+)`)")
_SPECIAL = frozenset(b"\n#'\"`<%/?$:")
_NEXT = re.compile(rb"[\n#'\"`<%/?$:]")
_PAIRS = {ord("("): ord(")"), ord("["): ord("]"), ord("{"): ord("}"), ord("<"): ord(">")}
_PERCENT_KINDS = b"qQwWiIrsx"
_VALUE_END = b")]}\"'`"  # after these (and words, numbers) a `/` divides; elsewhere it starts a regexp
_REGEX_WORDS = {b"if", b"unless", b"when", b"and", b"or", b"not", b"return", b"then", b"elsif", b"while",
                b"until", b"puts", b"print", b"p", b"split", b"scan", b"match", b"sub", b"gsub", b"index",
                b"include?", b"start_with?", b"end_with?", b"grep"}


def blank(source: bytes) -> tuple[bytes, bytes, bool]:
    """(source with comments and heredoc bodies blanked, the same with the insides of literals blanked too,
    whether every literal was closed). A call is looked for in the second, its argument read from the first."""
    out = bytearray(source)
    spans: list[tuple[int, int]] = []
    n, i = len(source), 0
    pending: list[tuple[bytes, bool]] = []  # heredocs opened on this line: (terminator, indented)
    line_start = True
    while i < n:
        c = source[i]
        if line_start:
            line_start = False
            end = _line_start_block(source, i, out)
            if end is not None:  # =begin ... =end, or __END__ (n: the rest is data; -1: =begin never ends)
                if end < 0 or end == n:
                    return _done(out, spans, end == n)
                i = end
                continue
        if c not in _SPECIAL:  # most of a file: skip to the next byte that can start something
            m = _NEXT.search(source, i)
            i = m.start() if m else n
            continue
        if c == 0x0A:  # newline: heredoc bodies opened on the line start here
            line_start = True
            i = _heredoc_bodies(source, i + 1, pending, out)
            pending = []
            if i < 0:
                return _done(out, spans, False)
            continue
        if c == 0x23:  # '#': a comment to the end of the line
            end = source.find(b"\n", i)
            end = n if end < 0 else end
            _spaces(out, i, end)
            i = end
            continue
        m = _HEREDOC.match(source, i) if c == 0x3C and _heredoc_here(source, i) else None
        if m is not None:
            terminator = next(g for g in m.groups()[1:] if g is not None)
            pending.append((terminator, bool(m.group(1))))
            i = m.end()
            continue
        end = _skip_literal(source, i)
        if end is None:
            i += 1
            continue
        if end < 0:
            return _done(out, spans, False)
        spans.append((i + 1, end - 1))
        i = end
    return _done(out, spans, not pending)


def _line_start_block(source: bytes, i: int, out: bytearray) -> int | None:
    """At a line's start: blank an `=begin`/`=end` comment (past it; -1 if it never ends) or the data after
    `__END__` (the source's length); None when the line starts neither."""
    n = len(source)
    if source.startswith(b"=begin", i) and (i + 6 == n or source[i + 6] in b" \t\r\n"):
        end = _line_after(source, re.compile(rb"^=end\b.*$", re.M), i)
        _spaces(out, i, n if end is None else end)
        return -1 if end is None else end
    if source.startswith(b"__END__", i) and source[i + 7:i + 8] in (b"", b"\n", b"\r"):
        _spaces(out, i, n)
        return n
    return None


def _done(out: bytearray, spans: list[tuple[int, int]], clean: bool) -> tuple[bytes, bytes, bool]:
    bare = bytearray(out)
    for start, end in spans:
        _spaces(bare, start, end)
    return bytes(out), bytes(bare), clean


def _heredoc_bodies(source: bytes, i: int, pending: list[tuple[bytes, bool]], out: bytearray) -> int:
    """Blank the bodies of the heredocs opened on the line before offset i; past them (-1: one never ends)."""
    for terminator, indented in pending:
        end = _heredoc_end(source, i, terminator, indented)
        if end is None:
            _spaces(out, i, len(source))
            return -1
        _spaces(out, i, end)
        i = end
    return i


def _skip_literal(source: bytes, i: int) -> int | None:
    """Past the string, regexp, %-literal, character literal or special global (`$'`) starting at i; None when
    none starts there; -1 when it never closes."""
    c = source[i]
    if c in b"'\"`":
        return _close(source, i + 1, c, c, interpolates=c != 0x27)
    if c == 0x24 and i + 1 < len(source) and source[i + 1] in b"'\"`&~+!@;/\\,.=:<>$?*0":
        return i + 2  # $' $` $" ... are variables, not quotes
    if c == 0x3A and i + 1 < len(source) and source[i + 1] in b"/%`" and (i == 0 or source[i - 1] != 0x3A):
        return i + 2  # the symbols :/ :% :`
    if c == 0x25 and _percent_literal(source, i):
        return _percent(source, i)
    if c == 0x2F and _regex_here(source, i):
        return _close(source, i + 1, 0x2F, 0x2F, interpolates=True)
    if c == 0x3F and i + 1 < len(source) and source[i + 1] in b"'\"`#" and _char_literal(source, i):
        return i + 2
    return None


def _spaces(out: bytearray, start: int, end: int) -> None:
    for k in range(start, end):
        if out[k] != 0x0A:
            out[k] = 0x20


def _line_after(source: bytes, pattern: re.Pattern, start: int) -> int | None:
    m = pattern.search(source, start)
    return None if m is None else m.end()


def _heredoc_end(source: bytes, start: int, terminator: bytes, indented: bool) -> int | None:
    """Offset of the end of the terminator line of a heredoc whose body starts at `start` (None: never ends)."""
    lead = rb"[ \t]*" if indented else b""
    m = re.compile(rb"^" + lead + re.escape(terminator) + rb"\r?$", re.M).search(source, start)
    return None if m is None else m.end()


def _heredoc_here(source: bytes, i: int) -> bool:
    """`<<~EOS` opens a heredoc; `a << b`, `x <<= 1` and `class << self` do not (a bare `<<NAME` does when
    it follows an operator, a comma, a bracket or a space: appending a constant without a space is rare)."""
    if not _HEREDOC.match(source, i) or source[max(0, i - 6):i].rstrip().endswith(b"class"):
        return False
    if source[i + 2:i + 3] in (b"~", b"-", b"'", b'"', b"`"):
        return True
    return (source[i - 1:i] if i else b"") in (b"", b" ", b"\t", b"(", b",", b"=", b"[", b"\n")


def _word_before(source: bytes, i: int) -> bytes:
    j = i
    while j > 0 and source[j - 1] in b" \t":
        j -= 1
    k = j
    while k > 0 and (chr(source[k - 1]).isalnum() or source[k - 1] in b"_?!"):
        k -= 1
    return source[k:j]


def _prev_char(source: bytes, i: int) -> int | None:
    j = i
    while j > 0 and source[j - 1] in b" \t":
        j -= 1
    return source[j - 1] if j > 0 else None


def _value_before(source: bytes, i: int) -> bool:
    """Whether what precedes offset i ends a value (so `/` or `%` there is an operator)."""
    word = _word_before(source, i)
    if word:
        return word not in _REGEX_WORDS
    prev = _prev_char(source, i)
    return prev is not None and (prev in _VALUE_END or chr(prev).isalnum() or prev == 0x5F)


def _regex_here(source: bytes, i: int) -> bool:
    """After an operator, a bracket or a keyword `/` starts a regexp; after a value it divides, except in
    `split /,/` (a method name, a space, then a slash glued to what follows)."""
    nxt = source[i + 1:i + 2]
    if not nxt:
        return False
    if not _value_before(source, i):
        return True
    if nxt == b"=":
        return False  # x /= 2
    word = _word_before(source, i)
    spaced = i > 0 and source[i - 1] in b" \t"
    return spaced and nxt not in (b" ", b"\t", b"\n") and bool(word) and not word[:1].isdigit()


def _percent_literal(source: bytes, i: int) -> bool:
    nxt = source[i + 1:i + 2]
    if nxt and nxt[0] in _PERCENT_KINDS:
        delim = source[i + 2:i + 3]
        return bool(delim) and not delim.isalnum() and delim not in b" \t\r\n="
    if not nxt or nxt[0] not in b"([{<|!/^":
        return False
    return not _value_before(source, i)


def _percent(source: bytes, i: int) -> int:
    j = i + 1
    kind = source[j]
    if kind in _PERCENT_KINDS:
        j += 1
    opener = source[j]
    closer = _PAIRS.get(opener, opener)
    return _close(source, j + 1, opener, closer, interpolates=kind not in b"qwis")


def _char_literal(source: bytes, i: int) -> bool:
    """`?'` is the one-character string "'", not the end of a method name like `empty?`."""
    prev = source[i - 1:i]
    return prev in (b"", b" ", b"\t", b"(", b",", b"[", b"=", b"\n")


def _close(source: bytes, i: int, opener: int, closer: int, interpolates: bool) -> int:
    """Offset just past the literal's closing delimiter (nested pairs and `#{...}` counted); -1 if none."""
    n, depth = len(source), 0
    while i < n:
        c = source[i]
        if c == 0x5C:
            i += 2
            continue
        if interpolates and c == 0x23 and source[i + 1:i + 2] == b"{":
            i = _interpolation_end(source, i + 2)
            if i < 0:
                return -1
            continue
        if c == closer and depth == 0:
            return i + 1
        if opener != closer:
            if c == opener:
                depth += 1
            elif c == closer:
                depth -= 1
        i += 1
    return -1


def _interpolation_end(source: bytes, i: int) -> int:
    """Past the `}` closing an interpolation started before i; literals inside are skipped."""
    n, depth = len(source), 0
    while i < n:
        c = source[i]
        if c == 0x7B:
            depth += 1
        elif c == 0x7D:
            if depth == 0:
                return i + 1
            depth -= 1
        end = _skip_literal(source, i)
        if end is None:
            i += 1
        elif end < 0:
            return -1
        else:
            i = end
    return -1

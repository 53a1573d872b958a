"""Text from an image (file names, history lines, labels, app output) is attacker-controlled: on a terminal it
must never act as rich markup or as escape sequences. Everything dynamic that slim prints goes through here."""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape

# bidirectional overrides and isolates reorder what follows them on screen ("Trojan Source")
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}


def _shown(ch: str) -> str:
    code = ord(ch)
    if code < 0x20 or 0x7F <= code < 0xA0:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (kept by surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code in _BIDI or 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}"
    return ch


def visible(text: object) -> str:
    """`text` on one line with every control character shown as an escape (\\x1b, \\n, \\u202e)."""
    s = str(text)
    if s.isprintable() and s.isascii():
        return s
    return "".join(_shown(ch) for ch in s)


def safe(text: object) -> str:
    """`text` for rich markup: control characters shown, brackets escaped."""
    return escape(visible(text))


def console(stderr: bool = False, quiet: bool = False) -> Console:
    """A console for slim's output. In CI (`CI` set) no colors and no animations, as when not on a terminal:
    logs stay plain lines."""
    in_ci = bool(os.environ.get("CI"))
    # emoji=False: app output quoted in a summary must not turn `:x:` (every passwd line has one) into an emoji
    return Console(stderr=stderr, quiet=quiet, highlight=False, emoji=False, no_color=in_ci or None,
                   force_terminal=False if in_ci else None)


def file_name(text: str) -> str:
    """An image name or tag as a file name: "web:1.2-slim" -> "web-1.2-slim" (one character for one)."""
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text).strip("-") or "image"

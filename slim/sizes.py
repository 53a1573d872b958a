"""Sizes as people write them on a command line: 80MB, 1.5GiB, 512k, 1000000."""

from __future__ import annotations

import re

from slim.errors import UsageError

_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
    # single letters are binary, as in `docker run --memory 512m`
    "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str, option: str) -> int:
    """Bytes in `text`; UsageError naming `option` when it is no size."""
    m = _SIZE.match(text or "")
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS:
        raise UsageError(f"{option} {text!r}: expected a size such as 80MB, 1.5GiB or 512m")
    return int(float(m.group(1)) * _UNITS[unit])


def human(n: float | None) -> str:
    """1234567 -> "1.2 MB" (decimal units, as `docker images` shows sizes)."""
    if n is None:
        return "unknown"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"

"""Parse glibc's binary /etc/ld.so.cache (format "glibc-ld.so.cache1.1", with the glibc-hwcaps extension).

Layout (glibc's dl-cache.h): a 48-byte header (magic+version, nlibs, len_strings, flags, extension offset),
`nlibs` entries of 24 bytes (flags, key, value, osversion, hwcap), then strings. Offsets are from the start of
the new-format header. An old "ld.so-1.7.0" table may come first; it is skipped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

OLD_MAGIC = b"ld.so-1.7.0"
NEW_MAGIC = b"glibc-ld.so.cache1.1"
EXTENSION_MAGIC = 0xEAA42174
EXTENSION_TAG_HWCAPS = 1
HWCAP_EXTENSION_BIT = 1 << 62
FLAG_ELF_LIBC6 = 0x0003
FLAG_X8664_LIB64 = 0x0300
_MAX_CACHE = 64 << 20


class LdCacheError(Exception):
    """An ld.so.cache that cannot be read as one: the resolver warns and goes on without the cache, as the loader
    would."""

    pass


@dataclass(frozen=True)
class CacheEntry:
    """One library the image's ldconfig recorded: the loader finds a DT_NEEDED name here before the default
    directories, so libraries in unusual places are found only through it."""

    name: str  # the soname key, e.g. "libc.so.6"
    path: str  # where ldconfig found it
    flags: int
    hwcaps: str | None  # glibc-hwcaps subdirectory the entry belongs to ("x86-64-v3"), None for the base entry


def parse_ld_cache(stream: BinaryIO) -> list[CacheEntry]:
    """Every entry of an ld.so.cache stream, with the glibc-hwcaps subdirectory each belongs to; LdCacheError when
    the bytes are no cache or an offset points outside them."""
    data = stream.read(_MAX_CACHE)
    start = 0
    if data.startswith(OLD_MAGIC):
        # old format: magic(11) + pad + nlibs(u32) then 12-byte entries; the new table follows, 8-aligned
        if len(data) < 16:
            raise LdCacheError("truncated old-format header")
        nlibs, = struct.unpack_from("<I", data, 12)
        start = 16 + nlibs * 12
        start = (start + 7) & ~7
        if data[start:start + len(NEW_MAGIC)] != NEW_MAGIC:
            raise LdCacheError("old-format cache without the new table: not supported")
    if data[start:start + len(NEW_MAGIC)] != NEW_MAGIC:
        raise LdCacheError("not an ld.so.cache (bad magic)")
    if len(data) < start + 48:
        raise LdCacheError("truncated header")
    nlibs, _ = struct.unpack_from("<II", data, start + 20)  # then the string table's length, not needed
    ext_offset, = struct.unpack_from("<I", data, start + 32)
    if start + 48 + nlibs * 24 > len(data):
        raise LdCacheError(f"{nlibs} entries do not fit in {len(data)} bytes")
    hwcap_names = _hwcap_subdirs(data, start, ext_offset)

    def string(off: int) -> str:
        off += start
        if not 0 <= off < len(data):
            raise LdCacheError(f"string offset {off} out of range")
        end = data.find(b"\0", off)
        return data[off: end if end >= 0 else len(data)].decode("utf-8", "surrogateescape")

    entries = []
    for i in range(nlibs):
        flags, key, value, _, hwcap = struct.unpack_from("<iIIIQ", data, start + 48 + i * 24)
        sub = None
        if hwcap & HWCAP_EXTENSION_BIT:
            index = hwcap & 0xFFFFFFFF
            sub = hwcap_names[index] if index < len(hwcap_names) else None
            if sub is None:
                continue  # an hwcaps entry we cannot name cannot be matched; the loader skips it too
        entries.append(CacheEntry(string(key), string(value), flags, sub))
    return entries


def _hwcap_subdirs(data: bytes, start: int, ext_offset: int) -> list[str]:
    if not ext_offset:
        return []
    base = start + ext_offset
    if base + 8 > len(data) or struct.unpack_from("<I", data, base)[0] != EXTENSION_MAGIC:
        return []
    count, = struct.unpack_from("<I", data, base + 4)
    names: list[str] = []
    for i in range(min(count, 64)):
        if base + 8 + (i + 1) * 16 > len(data):
            break
        tag, _, offset, size = struct.unpack_from("<IIII", data, base + 8 + i * 16)
        if tag != EXTENSION_TAG_HWCAPS:
            continue
        for j in range(min(size // 4, 1024)):
            pos = start + offset + j * 4
            if pos + 4 > len(data):
                break
            str_off, = struct.unpack_from("<I", data, pos)
            str_off += start
            end = data.find(b"\0", str_off)
            names.append(data[str_off:end].decode("utf-8", "replace") if 0 <= str_off < len(data) and end > 0 else "")
    return names

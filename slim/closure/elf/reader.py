"""Read the loader-relevant facts of one ELF file from a stream.

Everything comes from the program headers (PT_INTERP, PT_DYNAMIC, PT_LOAD), like the loader itself reads it,
so binaries with stripped section headers work. Every offset and count is checked against the file size, so
truncated or hostile files give ElfError, never a crash, a hang or a huge allocation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

ELF_MAGIC = b"\x7fELF"
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
DT_FLAGS_1 = 0x6FFFFFFB
DF_1_NODEFLIB = 0x800
EM_X86_64, EM_386, EM_AARCH64 = 62, 3, 183
_MAX_PHDRS = 4096  # real files have a dozen; more means a hostile header
_MAX_DYN = 1 << 16
_MAX_STRTAB = 16 << 20
_MAX_INTERP = 4096
_MAX_SHDRS = 1 << 16
SHT_NOBITS = 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
PF_X, PF_W = 0x1, 0x2


class ElfError(Exception):
    """The file is not an ELF file slim can read; the message says why."""


@dataclass(frozen=True)
class ElfInfo:
    """What the loader reads from an ELF file before mapping it: its interpreter, the libraries it needs and where to
    look for them, and what a library must match to be loadable by it."""

    elf_class: int  # 32 or 64
    little_endian: bool
    machine: int  # e_machine, e.g. 62 for x86-64
    elf_type: int  # e_type: 2 executable, 3 shared object or PIE
    interpreter: str | None
    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]  # DT_RPATH entries, split on ':'
    runpath: tuple[str, ...]  # DT_RUNPATH entries
    nodeflib: bool  # DF_1_NODEFLIB: skip the cache and default directories for this object's needs
    dynamic: bool  # has a PT_DYNAMIC segment

    @property
    def abi(self) -> tuple[int, bool, int]:
        """What must match for a library to be loadable by this object: class, byte order, machine."""
        return (self.elf_class, self.little_endian, self.machine)


def is_elf(head: bytes) -> bool:
    """Whether the first bytes of a file are the ELF magic, so only ELF files are handed to the reader."""
    return head[:4] == ELF_MAGIC


def read_elf(stream: BinaryIO, size: int) -> ElfInfo:
    """Parse the ELF in `stream` (seekable, `size` bytes long)."""
    ident = _read_at(stream, 0, 64 if size >= 64 else size, size)
    if len(ident) < 52 or ident[:4] != ELF_MAGIC:
        raise ElfError("not an ELF file" if ident[:4] != ELF_MAGIC else "truncated ELF header")
    cls, data = ident[4], ident[5]
    if cls not in (1, 2) or data not in (1, 2):
        raise ElfError(f"bad ELF class/data bytes ({cls}, {data})")
    end = "<" if data == 1 else ">"
    is64 = cls == 2
    if is64:
        if len(ident) < 64:
            raise ElfError("truncated ELF header")
        e_type, machine = struct.unpack_from(end + "HH", ident, 16)
        phoff, = struct.unpack_from(end + "Q", ident, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", ident, 54)
        ph_fmt, ph_min = end + "IIQQQQ", 48  # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz
    else:
        e_type, machine = struct.unpack_from(end + "HH", ident, 16)
        phoff, = struct.unpack_from(end + "I", ident, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", ident, 42)
        ph_fmt, ph_min = end + "IIIII", 20  # p_type, p_offset, p_vaddr, p_paddr, p_filesz
    if phnum > _MAX_PHDRS or (phnum and phentsize < ph_min):
        raise ElfError(f"implausible program header table ({phnum} entries of {phentsize} bytes)")
    table = _read_at(stream, phoff, phnum * phentsize, size)
    loads, interp, dynamic = [], None, None
    for i in range(phnum):
        fields = struct.unpack_from(ph_fmt, table, i * phentsize)
        if is64:
            p_type, _, p_offset, p_vaddr, _, p_filesz = fields
        else:
            p_type, p_offset, p_vaddr, _, p_filesz = fields
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_INTERP and interp is None:
            raw = _read_at(stream, p_offset, min(p_filesz, _MAX_INTERP), size)
            interp = _decode(raw.split(b"\0", 1)[0])
        elif p_type == PT_DYNAMIC and dynamic is None:
            dynamic = (p_offset, p_filesz)
    base = dict(elf_class=64 if is64 else 32, little_endian=data == 1, machine=machine, elf_type=e_type,
                interpreter=interp)
    if dynamic is None:
        return ElfInfo(**base, needed=(), soname=None, rpath=(), runpath=(), nodeflib=False, dynamic=False)
    return ElfInfo(**base, **_read_dynamic(stream, size, dynamic, loads, is64, end), dynamic=True)


def read_only_data(stream: BinaryIO, size: int) -> list[tuple[int, int]]:
    """The (file offset, length) of each part of the file that is loaded read-only and not executable:
    .rodata and its kin from the section headers (a stripped Go binary keeps them); from the program headers
    (PT_LOAD without PF_W or PF_X) when the file has no section headers."""
    ident = _read_at(stream, 0, min(64, size), size)
    if len(ident) < 52 or ident[:4] != ELF_MAGIC or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise ElfError("not an ELF file")
    end, is64 = ("<" if ident[5] == 1 else ">"), ident[4] == 2
    if is64:
        shoff, = struct.unpack_from(end + "Q", ident, 40)
        shentsize, shnum = struct.unpack_from(end + "HH", ident, 58)
        sh_fmt, sh_min = end + "IIQQQQ", 40  # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size
    else:
        shoff, = struct.unpack_from(end + "I", ident, 32)
        shentsize, shnum = struct.unpack_from(end + "HH", ident, 46)
        sh_fmt, sh_min = end + "IIIIII", 24
    if not shoff or not shnum:
        return _read_only_segments(stream, size, ident, end, is64)
    if shnum > _MAX_SHDRS or shentsize < sh_min:
        raise ElfError(f"implausible section header table ({shnum} entries of {shentsize} bytes)")
    table = _read_at(stream, shoff, shnum * shentsize, size)
    out = []
    for i in range(shnum):
        _, sh_type, flags, _, offset, length = struct.unpack_from(sh_fmt, table, i * shentsize)
        if flags & SHF_ALLOC and not flags & (SHF_WRITE | SHF_EXECINSTR) and sh_type != SHT_NOBITS and length:
            if offset + length > size:
                raise ElfError(f"section {i} lies beyond the end of the file")
            out.append((offset, length))
    return out


def _read_only_segments(stream, size, ident, end, is64) -> list[tuple[int, int]]:
    if is64:
        phoff, = struct.unpack_from(end + "Q", ident, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", ident, 54)
        fmt = end + "IIQQQQ"  # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz
    else:
        phoff, = struct.unpack_from(end + "I", ident, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", ident, 42)
        fmt = end + "IIIIIII"  # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags
    if phnum > _MAX_PHDRS or (phnum and phentsize < struct.calcsize(fmt)):
        raise ElfError(f"implausible program header table ({phnum} entries of {phentsize} bytes)")
    table = _read_at(stream, phoff, phnum * phentsize, size)
    out = []
    for i in range(phnum):
        fields = struct.unpack_from(fmt, table, i * phentsize)
        if is64:
            p_type, flags, offset, _, _, length = fields
        else:
            p_type, offset, _, _, length, _, flags = fields
        if p_type == PT_LOAD and not flags & (PF_W | PF_X) and length and offset + length <= size:
            out.append((offset, length))
    return out


def _read_dynamic(stream, size, dynamic, loads, is64, end) -> dict:
    entsize = 16 if is64 else 8
    fmt = end + ("qQ" if is64 else "iI")
    count = min(dynamic[1] // entsize, _MAX_DYN)
    raw = _read_at(stream, dynamic[0], count * entsize, size)
    tags: list[tuple[int, int]] = []
    for i in range(count):
        tag, val = struct.unpack_from(fmt, raw, i * entsize)
        if tag == DT_NULL:
            break
        tags.append((tag, val))
    strtab_addr = next((v for t, v in tags if t == DT_STRTAB), None)
    strsz = next((v for t, v in tags if t == DT_STRSZ), 0)
    strings = b""
    if strtab_addr is not None:
        offset = _vaddr_to_offset(strtab_addr, loads)
        if offset is None:
            raise ElfError("DT_STRTAB lies outside every loaded segment")
        strings = _read_at(stream, offset, min(strsz, _MAX_STRTAB, max(size - offset, 0)), size)

    def string(off: int) -> str:
        if off >= len(strings):
            raise ElfError(f"string offset {off} beyond the string table ({len(strings)} bytes)")
        return _decode(strings[off: strings.find(b"\0", off) if b"\0" in strings[off:] else len(strings)])

    def paths(tag: int) -> tuple[str, ...]:
        return tuple(p for t, v in tags if t == tag for p in string(v).split(":") if p)

    soname = next((string(v) for t, v in tags if t == DT_SONAME), None)
    flags_1 = next((v for t, v in tags if t == DT_FLAGS_1), 0)
    return dict(needed=tuple(string(v) for t, v in tags if t == DT_NEEDED), soname=soname, rpath=paths(DT_RPATH),
                runpath=paths(DT_RUNPATH), nodeflib=bool(flags_1 & DF_1_NODEFLIB))


def _vaddr_to_offset(vaddr: int, loads) -> int | None:
    for p_vaddr, p_offset, p_filesz in loads:
        if p_vaddr <= vaddr < p_vaddr + p_filesz:
            return vaddr - p_vaddr + p_offset
    return None


def _read_at(stream: BinaryIO, offset: int, length: int, size: int) -> bytes:
    if offset < 0 or length < 0 or offset + length > size:
        raise ElfError(f"truncated: needs bytes {offset}..{offset + length} of {size}")
    stream.seek(offset)
    data = stream.read(length)
    if len(data) != length:
        raise ElfError("truncated while reading")
    return data


def _decode(raw: bytes) -> str:
    # Paths are bytes to the loader; surrogateescape keeps any non-UTF-8 name round-trippable.
    return raw.decode("utf-8", "surrogateescape")

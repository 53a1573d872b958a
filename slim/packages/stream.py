"""Read package databases from an image piece by piece, with bounds.

A database comes from the image, so it can be any size: a 1 GB status file must not become 1 GB of memory.
Lines and blank-line separated blocks are yielded one at a time; one longer than the bound is skipped whole
(the caller warns), and reading goes on at the next one.
"""

from __future__ import annotations

from typing import BinaryIO
from collections.abc import Iterator

MAX_BLOCK = 16 << 20  # a stanza or apk block: real ones are a few KiB, an apk block listing 50,000 files ~4 MiB
MAX_LINE = 64 << 10  # a path or field line
MAX_DATABASE = 24 << 20  # all blocks of one database held in memory (~7x as Python objects); big real ones are ~10 MiB
_CHUNK = 1 << 16

TOO_BIG = None  # what lines() and blocks() yield in place of something over the bound


def lines(stream: BinaryIO, max_line: int = MAX_LINE) -> Iterator[bytes | None]:
    """The stream's lines without their newline; TOO_BIG for each line longer than `max_line`."""
    partial = b""  # the line the last chunk ended in (never more than max_line: a longer one is skipped)
    skipping = False
    while chunk := stream.read(_CHUNK):
        parts = chunk.split(b"\n")
        if len(parts) == 1:  # the line goes on in the next chunk
            if not skipping:
                partial += chunk
                if len(partial) > max_line:
                    partial, skipping = b"", True
            continue
        first = b"" if skipping else partial + parts[0]
        yield TOO_BIG if skipping or len(first) > max_line else first
        whole = parts[1:-1]
        # a database has a million lines: checked for length all at once, and handed on whole, they cost a
        # fifth of what one by one does
        if not whole or max(map(len, whole)) <= max_line:
            yield from whole
        else:
            yield from (TOO_BIG if len(line) > max_line else line for line in whole)
        partial, skipping = (b"", True) if len(parts[-1]) > max_line else (parts[-1], False)
    if skipping:
        yield TOO_BIG
    elif partial:
        yield partial


class DatabaseTooBig(Exception):
    """More than MAX_DATABASE bytes of blocks: the caller keeps what it has and warns."""


def blocks(stream: BinaryIO, max_block: int = MAX_BLOCK) -> Iterator[list[bytes] | None]:
    """Blank-line separated blocks as lists of lines; TOO_BIG for a block over `max_block` bytes. Raises
    DatabaseTooBig once the blocks yielded add up to more than MAX_DATABASE bytes."""
    total = 0
    for block in _blocks(stream, max_block):
        if block is not TOO_BIG:
            total += sum(len(line) + 1 for line in block)
            if total > MAX_DATABASE:
                raise DatabaseTooBig()
        yield block


def _blocks(stream: BinaryIO, max_block: int) -> Iterator[list[bytes] | None]:
    current: list[bytes] = []
    size = 0
    oversized = False
    for line in lines(stream):
        if line is not None and not line.strip():
            if oversized:
                yield TOO_BIG
            elif current:
                yield current
            current, size, oversized = [], 0, False
            continue
        if oversized:
            continue
        if line is None:
            current, oversized = [], True
            continue
        size += len(line) + 1
        if size > max_block:
            current, oversized = [], True
            continue
        current.append(line)
    if oversized:
        yield TOO_BIG
    elif current:
        yield current

"""Tar streams from anyone: a member's claimed size is checked against what the stream can still hold before a
byte of it is read or skipped, and a stream that ends early ends the read at once.

Python's tarfile, reading a stream, passes over a member's data by asking for it block by block, and goes on
asking after the stream has ended: a header claiming 2^62 bytes in a layer of 512 bytes kept slim busy for
days. The data of a pax or GNU long-name header is read whole into memory: one claiming a gigabyte took that
much memory. `GuardedStream` sits between the (decompressed) bytes and tarfile; `check_member` runs as each
member comes out of the tar, before tarfile reads or skips its data.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from slim.errors import ImageFormatError

# What the headers in front of one member (pax records, GNU long names, a sparse map) may take; real ones take
# a few KiB. It also bounds what is read after the last member, so it must stay above the trailer allowance.
MAX_HEADER_BYTES = 16 << 20
_NAME_SHOWN = 80


class GuardedStream:
    """A forward-only stream that counts what it delivered (`size`) and knows how far the tar's members
    reach (`owed`, set by `check_member`): an end of data before that point, or headers running on past it
    by more than MAX_HEADER_BYTES, is an ImageFormatError instead of an endless or unbounded read."""

    def __init__(self, raw: BinaryIO, what: str):
        self._raw = raw
        self.what = what
        self.size = 0
        self.owed = 0

    def read(self, n: int = -1) -> bytes:
        """Read from the underlying stream, counting; raises when the data ends before the members' claimed end, or
        when headers run on too far past it."""
        data = self._raw.read(n if n >= 0 else 1 << 20)
        self.size += len(data)
        if not data and n != 0 and self.size < self.owed:
            raise ImageFormatError(f"{self.what}: truncated: the data ends at byte {self.size}, a member claims "
                                   f"to reach byte {self.owed}")
        if self.size > self.owed + MAX_HEADER_BYTES:
            raise ImageFormatError(f"{self.what}: a member's tar headers take more than {MAX_HEADER_BYTES} bytes")
        return data


def check_member(tar, member, stream: GuardedStream, limit: int | None = None, room: int | None = None) -> None:
    """Refuse `member` when its data cannot be there: it would end past `limit` (the length of the plain tar,
    when known) or need more than `room` (what the unpacked-size budget leaves) still to be read. Called as
    the member comes out of `tar`, before its data is read or skipped."""
    end = tar.offset  # where the next header starts: getting there reads or skips all of this member's data
    name = member.name[:_NAME_SHOWN]
    if limit is not None and end > limit:
        raise ImageFormatError(f"{stream.what}: member {name!r} claims {member.size} bytes, more than the "
                               f"{limit} bytes the data holds")
    if room is not None and end - stream.size > room:
        raise ImageFormatError(f"{stream.what}: member {name!r} claims {member.size} bytes, more than "
                               f"--max-unpacked-size leaves ({room} bytes)")
    stream.owed = max(stream.owed, end)


def file_length(fh) -> int | None:
    """The length of a regular file behind `fh`, or None (a pipe, the engine's stream, an in-memory object)."""
    try:
        st = os.fstat(fh.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None

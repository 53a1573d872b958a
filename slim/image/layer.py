"""Unpack one layer tar stream into entries plus blob files in slim's work directory.

No name taken from the tar ever becomes a host path: file bytes are written to blob files whose names slim
chooses (a counter), and links and device nodes are recorded as entries only. That is what keeps untrusted
layers from writing or reading anywhere on the host.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import zlib
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from slim.errors import ImageFormatError
from slim.image.paths import member_path
from slim.image.targuard import GuardedStream, check_member
from slim.model import BLOCK, CHAR, DIR, FIFO, FILE, HARDLINK, SYMLINK, Entry, SlimWarning

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"

_KINDS = {
    tarfile.REGTYPE: FILE,
    tarfile.AREGTYPE: FILE,
    tarfile.CONTTYPE: FILE,
    tarfile.DIRTYPE: DIR,
    tarfile.SYMTYPE: SYMLINK,
    tarfile.LNKTYPE: HARDLINK,
    tarfile.CHRTYPE: CHAR,
    tarfile.BLKTYPE: BLOCK,
    tarfile.FIFOTYPE: FIFO,
    tarfile.GNUTYPE_SPARSE: FILE,
}
_MAX_TRAILER = 1 << 20  # tar writers pad to a record (10 KiB by default); 1 MiB of zeros is far beyond that
MAX_SPARSE_FILE = 256 << 20  # a sparse member is expanded on unpacking; beyond this it is skipped
_MTIME_RANGE = (-(1 << 63), (1 << 63) - 1)


@dataclass
class UnpackedLayer:
    """One layer as entries (in tar order), whiteouts and opaque directories, with its digest and size."""

    name: str
    entries: list[Entry] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)  # in-image paths deleted from lower layers
    opaque_dirs: list[str] = field(default_factory=list)  # directories whose lower contents are hidden
    warnings: list[SlimWarning] = field(default_factory=list)
    digest: str = ""  # the diff ID the image config states for it (set by the reader that knows the config)
    size_bytes: int = 0
    content_digest: str = ""  # sha256 of the uncompressed tar, when it was asked for
    pack_file: str = ""  # the uncompressed tar as read (the pack file its entries point into)


class _TeeReader(GuardedStream):
    """Wraps the uncompressed tar stream: its size, and a copy of every byte into the layer's pack file.

    The pack file is then the uncompressed layer itself, so a member's bytes are found at its `offset_data`
    without copying each file out on its own (thousands of small copies cost more than one sequential write).
    Every byte is charged to the run's budget, so no layer can fill the disk; what a member claims is checked
    before it is read (GuardedStream), so no layer can keep the reader going past its end.
    """

    def __init__(self, raw: BinaryIO, pack: BinaryIO, budget, name: str, hasher=None):
        super().__init__(raw, f"layer {name}")
        self._pack = pack
        self._budget = budget
        self._name = name
        self.hasher = hasher

    def read(self, n: int = -1) -> bytes:
        data = super().read(n)
        if self._budget is not None:
            self._budget.charge(len(data), f"layer {self._name}")
        self._pack.write(data)
        if self.hasher is not None:
            self.hasher.update(data)
        return data

    def finish(self) -> str | None:
        """Read what follows the tar's end-of-archive: zero padding counts toward the layer's size; anything
        else, or more than any writer pads, is not read at all. Returns a warning text when data was left."""
        trailing = 0
        while True:
            data = self.read(1 << 16)
            if not data:
                return None
            trailing += len(data)
            if data.strip(b"\0") or trailing > _MAX_TRAILER:
                return f"layer {self._name}: data after the tar's end was ignored"


class Prefixed:
    """A stream with some already-read bytes put back in front, so sniffing the format consumes nothing."""

    def __init__(self, head: bytes, raw: BinaryIO):
        self._head = head
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        """Read the put-back bytes first, then the underlying stream, as if nothing had been read before."""
        if not self._head:
            return self._raw.read(n)
        if n < 0:
            data, self._head = self._head + self._raw.read(), b""
            return data
        data, self._head = self._head[:n], self._head[n:]
        if len(data) < n:
            data += self._raw.read(n - len(data))
        return data


def decompressed(stream: BinaryIO) -> BinaryIO:
    """Open gzip/bzip2/xz transparently: layers come plain or compressed depending on who wrote them."""
    head = stream.read(6)
    # forward-only: the decompressors and tarfile's stream mode call only read() on it
    prefixed = cast(BinaryIO, Prefixed(head, stream))
    if head.startswith(b"\x1f\x8b"):
        import gzip

        return cast(BinaryIO, gzip.GzipFile(fileobj=prefixed, mode="rb"))
    if head.startswith(b"BZh"):
        import bz2

        return cast(BinaryIO, bz2.BZ2File(prefixed))
    if head.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(prefixed))
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        raise ImageFormatError("zstd-compressed layers are not supported; re-save the image with gzip layers")
    return prefixed


def looks_like_layer(head: bytes) -> bool:
    """True when the first bytes of a blob are a tar header or a compressed stream (gzip, bzip2, xz, zstd)."""
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or head[:4] == b"\x28\xb5\x2f\xfd":
        return True
    if len(head) >= 512 and not head.strip(b"\0"):
        return True  # an empty layer is just the tar trailer: zero blocks
    return len(head) >= 263 and head[257:262] == b"ustar"


def unpack_layer(stream: BinaryIO, pack_file: str, name: str, budget=None, hash_content: bool = False,
                 length: int | None = None) -> UnpackedLayer:
    """Read a layer tar (plain or compressed) from `stream`; all file bytes go, one after another, to `pack_file`.

    One pack file per layer, not one host file per image file: creating thousands of small files costs far more
    than the copying, and no name from the layer ever has to become a host name. `budget` (the Workspace)
    is charged every byte written. With `hash_content` the uncompressed bytes are hashed (`content_digest`), for
    inputs whose config's diff IDs are to be checked (files from anyone; the engine has checked its own).
    `length` is the blob's stored length when known: an uncompressed layer's members must end within it.
    """
    if budget is not None:
        budget.check_open()
    os.makedirs(os.path.dirname(pack_file), exist_ok=True)
    layer = UnpackedLayer(name=name, pack_file=pack_file)
    same: dict = {}  # one object per distinct value (see _entry)
    hasher = hashlib.sha256() if hash_content else None
    try:
        with open(pack_file, "wb") as pack, open(pack_file + ".sparse", "wb") as sparse:
            plain = decompressed(stream)
            limit = length if isinstance(plain, Prefixed) else None  # a compressed layer's tar length is unknown
            tee = _TeeReader(plain, pack, budget, name, hasher)
            with tarfile.open(fileobj=cast(BinaryIO, tee), mode="r|") as tar:  # it is read forward only
                for member in tar:
                    room = budget.max_unpacked - budget.unpacked if budget is not None else None
                    check_member(tar, member, tee, limit, room)
                    _add_member(tar, member, layer, pack_file, sparse, budget, same)
                    # tarfile keeps every header it read, even streaming: 350 MB at 500k files; the entries are
                    # all slim needs (its iteration goes on past the list's end, reading the next header)
                    tar.members.clear()  # type: ignore[attr-defined]  # on every TarFile, not in the stubs
            trailing = tee.finish()
    except (tarfile.TarError, EOFError, OSError, ValueError, OverflowError, zlib.error, lzma.LZMAError) as exc:
        raise ImageFormatError(f"layer {name}: corrupt or truncated tar ({type(exc).__name__}: {exc})") from exc
    if trailing:
        _warn(layer, "layer.trailing-data", trailing)
    if hasher is not None and not trailing:
        layer.content_digest = "sha256:" + hasher.hexdigest()
    layer.size_bytes = tee.size
    return layer


def _add_member(tar: tarfile.TarFile, member: tarfile.TarInfo, layer: UnpackedLayer, pack_file: str,
                sparse: BinaryIO, budget, same: dict) -> None:
    if member.size < 0:
        # the stream position depends on the size: nothing after this member can be trusted
        raise ImageFormatError(f"layer {layer.name}: a member claims a negative size")
    path = member_path(member.name)
    if path is None:
        return _warn(layer, "layer.unsafe-name", f"skipped unsafe member name {member.name!r}")
    if _is_whiteout(path, layer):
        return None
    kind = _KINDS.get(member.type)
    if kind is None:
        return _warn(layer, "layer.unsupported-type", f"skipped {member.name!r}: unsupported tar type {member.type!r}")
    if path == "/" and kind != DIR:
        return _warn(layer, "layer.root-not-dir", "skipped a non-directory entry for the root")
    linkname = member.linkname
    if kind == HARDLINK:
        target = member_path(member.linkname)
        if target is None:
            return _warn(layer, "layer.unsafe-hardlink",
                         f"skipped hardlink {member.name!r} -> {member.linkname!r}: unsafe target")
        linkname = target
    if kind == SYMLINK and "\0" in linkname:
        return _warn(layer, "layer.unsafe-symlink", f"skipped symlink {member.name!r}: its target holds a NUL byte")
    if member.sparse is not None and kind == FILE and member.size > MAX_SPARSE_FILE:
        return _warn(layer, "layer.sparse-too-big",
                     f"skipped sparse file {member.name!r}: {member.size} bytes once expanded")
    blob, offset = _stored_bytes(tar, member, kind, pack_file, sparse, budget)
    mtime = _mtime(member.mtime)
    if mtime is None:
        _warn(layer, "layer.bad-mtime", f"{member.name!r}: modification time out of range, set to 0")
    layer.entries.append(_entry(member, path, kind, linkname, blob, offset, mtime or 0, same))
    return None


def _warn(layer: UnpackedLayer, code: str, message: str) -> None:
    layer.warnings.append(SlimWarning(code, message, layer.name))


def _is_whiteout(path: str, layer: UnpackedLayer) -> bool:
    """Records a whiteout or opaque marker; True when `path` was one (it is no entry of its own)."""
    base = path.rsplit("/", 1)[-1]
    if base == OPAQUE_MARKER:
        layer.opaque_dirs.append(path.rsplit("/", 1)[0] or "/")
        return True
    if base.startswith(WHITEOUT_PREFIX):
        if not base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):  # ".wh..wh.*" are aufs internals, not deletions
            layer.whiteouts.append(path[: -len(base)] + base[len(WHITEOUT_PREFIX):])
        return True
    return False


def _stored_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo, kind: str, pack_file: str,
                  sparse: BinaryIO, budget) -> tuple[str | None, int]:
    """Where a file's bytes are: in the layer's pack at the member's data offset, or, for a sparse member
    (whose stored bytes are not the file's bytes), expanded into the side pack."""
    if kind != FILE:
        return None, 0
    if member.sparse:
        offset = sparse.tell()
        source = tar.extractfile(member)
        if source is None:  # tarfile gives None for members that are not regular files
            raise ImageFormatError(f"sparse member {member.name!r} holds no file data")
        while chunk := source.read(1 << 20):
            if budget is not None:
                budget.charge(len(chunk), f"sparse file {member.name!r}")
            sparse.write(chunk)
        return sparse.name, offset
    return pack_file, member.offset_data


def _entry(member: tarfile.TarInfo, path: str, kind: str, linkname: str, blob: str | None, offset: int,
           mtime: int, same: dict) -> Entry:
    # Modes, owners, times and owner names repeat from member to member, yet tarfile makes a new object for
    # each: held once per distinct value, 500k entries take 30 MB less. The inode is the member's data offset,
    # unique in the layer (every member has a header of its own) and the very object blob_offset holds.
    return Entry(
        path=path,
        kind=kind,
        mode=same.setdefault(member.mode & 0o7777, member.mode & 0o7777),
        uid=same.setdefault(member.uid, member.uid),
        gid=same.setdefault(member.gid, member.gid),
        size=member.size if kind == FILE else 0,
        mtime=same.setdefault(mtime, mtime),
        linkname=linkname if kind in (SYMLINK, HARDLINK) else "",
        devmajor=member.devmajor if kind in (CHAR, BLOCK) else 0,
        devminor=member.devminor if kind in (CHAR, BLOCK) else 0,
        uname=same.setdefault(member.uname, member.uname),
        gname=same.setdefault(member.gname, member.gname),
        xattrs=tuple(sorted((k, v) for k, v in member.pax_headers.items() if k.startswith("SCHILY.xattr."))),
        blob=blob,
        blob_offset=offset,
        inode=member.offset_data if kind == FILE else 0,
    )


def _mtime(value) -> int | None:
    """A PAX mtime may be any decimal, "inf" and "nan" included: None when it is no usable time."""
    try:
        t = int(value)
    except (ValueError, OverflowError, TypeError):
        return None
    return t if _MTIME_RANGE[0] <= t <= _MTIME_RANGE[1] else None

"""Unpack one layer tar stream into entries plus blob files in slim's work directory.

No name taken from the tar ever becomes a host path: file bytes are written to blob files whose names slim
chooses (a counter), and links and device nodes are recorded as entries only. That is what keeps untrusted
layers from writing or reading anywhere on the host.
"""

from __future__ import annotations

import lzma
import zlib
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO

from slim.errors import ImageFormatError
from slim.image.paths import member_path
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
}


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


class _TeeReader:
    """Wraps the uncompressed tar stream: its size, and a copy of every byte into the layer's pack file.

    The pack file is then the uncompressed layer itself, so a member's bytes are found at its `offset_data`
    without copying each file out on its own (thousands of small copies cost more than one sequential write).
    """

    def __init__(self, raw: BinaryIO, pack: BinaryIO):
        self._raw = raw
        self._pack = pack
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._pack.write(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class Prefixed:
    """A stream with some already-read bytes put back in front, so sniffing the format consumes nothing."""

    def __init__(self, head: bytes, raw: BinaryIO):
        self._head = head
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
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
    prefixed = Prefixed(head, stream)
    if head.startswith(b"\x1f\x8b"):
        import gzip

        return gzip.GzipFile(fileobj=prefixed, mode="rb")
    if head.startswith(b"BZh"):
        import bz2

        return bz2.BZ2File(prefixed)
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(prefixed)
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


def unpack_layer(stream: BinaryIO, pack_file: str, name: str) -> UnpackedLayer:
    """Read a layer tar (plain or compressed) from `stream`; all file bytes go, one after another, to `pack_file`.

    One pack file per layer, not one host file per image file: creating thousands of small files costs far more
    than the copying, and no name from the layer ever has to become a host name.
    """
    os.makedirs(os.path.dirname(pack_file), exist_ok=True)
    layer = UnpackedLayer(name=name)
    try:
        with open(pack_file, "wb") as pack, open(pack_file + ".sparse", "wb") as sparse:
            tee = _TeeReader(decompressed(stream), pack)
            with tarfile.open(fileobj=tee, mode="r|") as tar:
                for member in tar:
                    _add_member(tar, member, layer, pack_file, sparse)
            tee.drain()  # the size counts the tar's trailing zero blocks too
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise ImageFormatError(f"layer {name}: corrupt or truncated tar ({exc})") from exc
    layer.size_bytes = tee.size
    return layer


def _add_member(tar: tarfile.TarFile, member: tarfile.TarInfo, layer: UnpackedLayer, pack_file: str,
                sparse: BinaryIO) -> None:
    path = member_path(member.name)
    if path is None:
        return _skip(layer, "layer.unsafe-name", f"skipped unsafe member name {member.name!r}")
    if _is_whiteout(path, layer):
        return None
    kind = _KINDS.get(member.type)
    if kind is None:
        return _skip(layer, "layer.unsupported-type", f"skipped {member.name!r}: unsupported tar type {member.type!r}")
    if path == "/" and kind != DIR:
        return _skip(layer, "layer.root-not-dir", "skipped a non-directory entry for the root")
    linkname = member.linkname
    if kind == HARDLINK:
        linkname = member_path(member.linkname)
        if linkname is None:
            return _skip(layer, "layer.unsafe-hardlink",
                         f"skipped hardlink {member.name!r} -> {member.linkname!r}: unsafe target")
    blob, offset = _stored_bytes(tar, member, kind, pack_file, sparse)
    layer.entries.append(_entry(member, path, kind, linkname, blob, offset, inode=len(layer.entries)))
    return None


def _skip(layer: UnpackedLayer, code: str, message: str) -> None:
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
                  sparse: BinaryIO) -> tuple[str | None, int]:
    """Where a file's bytes are: in the layer's pack at the member's data offset, or, for a sparse member
    (whose stored bytes are not the file's bytes), expanded into the side pack."""
    if kind != FILE:
        return None, 0
    if member.sparse:
        offset = sparse.tell()
        shutil.copyfileobj(tar.extractfile(member), sparse, 1 << 20)
        return sparse.name, offset
    return pack_file, member.offset_data


def _entry(member: tarfile.TarInfo, path: str, kind: str, linkname: str, blob: str | None, offset: int,
           inode: int) -> Entry:
    return Entry(
        path=path,
        kind=kind,
        mode=member.mode & 0o7777,
        uid=member.uid,
        gid=member.gid,
        size=member.size if kind == FILE else 0,
        mtime=int(member.mtime),
        linkname=linkname if kind in (SYMLINK, HARDLINK) else "",
        devmajor=member.devmajor if kind in (CHAR, BLOCK) else 0,
        devminor=member.devminor if kind in (CHAR, BLOCK) else 0,
        uname=member.uname,
        gname=member.gname,
        xattrs=tuple(sorted((k, v) for k, v in member.pax_headers.items() if k.startswith("SCHILY.xattr."))),
        blob=blob,
        blob_offset=offset,
        inode=inode,
    )

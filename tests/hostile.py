"""Hostile images, generated: one builder per class of attack on slim's image readers.

Each builder writes its input under `where` and returns the image reference to hand to slim. Inputs stay
small on disk (compression and sparse headers make them claim far more than they hold). `canary` is a host
directory that hostile names and links point at: slim must never write there or read from it.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zlib

from tarbuild import config_for, layer, sha

PLAIN = layer(("etc", "dir"), ("etc/os-release", "file", b"ID=debian\n"), ("bin", "dir"),
              ("bin/sh", "file", (b"\x7fELF", 0o755)))


def member(tar: tarfile.TarFile, name: str, data: bytes = b"", kind=tarfile.REGTYPE, pax=None, **attrs) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mtime = kind, len(data) if kind == tarfile.REGTYPE else 0, 1700000000
    info.pax_headers = dict(pax or {})
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def raw_layer(build) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    return buf.getvalue()


def archive_with(layers: list[bytes], config: bytes | None = None, manifest=None, extra: dict | None = None) -> bytes:
    """A legacy docker-archive whose config and manifest.json may be replaced by anything."""
    config = config if config is not None else config_for(layers)
    names = [f"{sha(blob)}/layer.tar" for blob in layers]
    manifest = manifest if manifest is not None else [{"Config": "config.json", "RepoTags": ["h:1"], "Layers": names}]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in zip(names, layers, strict=True):
            member(tar, name, data)
        member(tar, "config.json", config)
        member(tar, "manifest.json", manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode())
        for name, data in (extra or {}).items():
            member(tar, name, data)
    return buf.getvalue()


def write(where: str, name: str, data: bytes) -> str:
    path = os.path.join(where, name)
    with open(path, "wb") as fh:
        fh.write(data)
    return "docker-archive:" + path


def config_with(**fields) -> bytes:
    cfg = json.loads(config_for([PLAIN]))
    for key, value in fields.items():
        if key == "run":
            cfg["config"] = value
        elif key.startswith("run_"):
            cfg["config"][key[4:]] = value
        else:
            cfg[key] = value
    return json.dumps(cfg).encode()


# --- the envelope: JSON of the wrong shape -------------------------------------------------------------

def envelope_cases():
    yield "manifest-entry-not-object", lambda w, c: write(w, "a.tar", archive_with([PLAIN], manifest=[1]))
    yield "config-path-not-string", lambda w, c: write(w, "a.tar", archive_with([PLAIN], manifest=[{"Config": 5}]))
    yield "config-not-object", lambda w, c: write(w, "a.tar", archive_with([PLAIN], config=b"[1, 2]"))
    yield "history-entry-not-object", lambda w, c: write(w, "a.tar", archive_with([PLAIN], config_with(history=[1])))
    yield "env-not-kv", lambda w, c: write(w, "a.tar", archive_with([PLAIN], config_with(run_Env=["SECRETVALUE"])))
    yield "env-not-list", lambda w, c: write(w, "a.tar", archive_with([PLAIN], config_with(run_Env="A=1")))
    yield "labels-not-object", lambda w, c: write(w, "a.tar", archive_with([PLAIN], config_with(run_Labels=[1])))
    yield "run-config-not-object", lambda w, c: write(w, "a.tar", archive_with([PLAIN], config_with(run=7)))
    yield "diff-ids-not-strings", lambda w, c: write(w, "a.tar", archive_with([PLAIN], config_with(rootfs={"diff_ids": [1]})))
    yield "manifest-deeply-nested", lambda w, c: write(w, "a.tar", archive_with([PLAIN], manifest=b"[" * 200000))
    yield "config-over-size-limit", lambda w, c: write(w, "a.tar", archive_with(
        [PLAIN], config=b'{"pad": "' + b"x" * (17 << 20) + b'"}'))
    yield "oci-descriptor-not-object", lambda w, c: oci_layout(w, index={"manifests": [1]})
    yield "oci-config-not-object", lambda w, c: oci_layout(w, config=b'"text"')
    yield "oci-manifest-not-object", lambda w, c: oci_layout(w, manifest=b"[]")


def oci_layout(where: str, index=None, config: bytes | None = None, manifest: bytes | None = None,
               layers: list[bytes] | None = None, tamper=None) -> str:
    """An OCI layout directory; `tamper(layout, digests)` may then replace blobs with anything."""
    layers = layers or [PLAIN]
    config = config if config is not None else config_for(layers)
    manifest = manifest if manifest is not None else json.dumps(
        {"schemaVersion": 2, "config": {"digest": "sha256:" + sha(config), "size": len(config)},
         "layers": [{"digest": "sha256:" + sha(blob), "size": len(blob)} for blob in layers]}).encode()
    layout = os.path.join(where, "layout")
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    for blob in [*layers, config, manifest]:
        with open(os.path.join(layout, "blobs", "sha256", sha(blob)), "wb") as fh:
            fh.write(blob)
    index = index if index is not None else {"schemaVersion": 2, "manifests": [
        {"digest": "sha256:" + sha(manifest), "size": len(manifest)}]}
    with open(os.path.join(layout, "index.json"), "w") as fh:
        json.dump(index, fh)
    if tamper:
        tamper(layout, [sha(blob) for blob in layers])
    return "oci:" + layout


# --- blobs that are not files ------------------------------------------------------------------------------

def _replace_blob(make):
    def tamper(layout, digests):
        path = os.path.join(layout, "blobs", "sha256", digests[0])
        os.unlink(path)
        make(path)
    return tamper


def blob_cases():
    yield "blob-is-fifo", lambda w, c: oci_layout(w, tamper=_replace_blob(os.mkfifo))
    yield "blob-is-directory", lambda w, c: oci_layout(w, tamper=_replace_blob(os.mkdir))
    yield "blob-symlink-to-dev-zero", lambda w, c: oci_layout(w, tamper=_replace_blob(lambda p: os.symlink("/dev/zero", p)))
    yield "blob-symlink-to-host-file", lambda w, c: oci_layout(
        w, tamper=_replace_blob(lambda p: os.symlink(os.path.join(c, "host-layer.tar"), p)))
    yield "blobs-dir-symlink", lambda w, c: oci_layout(w, tamper=_link_blobs_dir(c))
    yield "index-is-fifo", lambda w, c: oci_layout(w, tamper=lambda layout, d: (
        os.unlink(os.path.join(layout, "index.json")), os.mkfifo(os.path.join(layout, "index.json"))))
    yield "archive-is-fifo", lambda w, c: (os.mkfifo(os.path.join(w, "f.tar")), "docker-archive:" + os.path.join(w, "f.tar"))[1]


def _link_blobs_dir(canary):
    def tamper(layout, digests):
        import shutil
        moved = os.path.join(canary, "blobs")
        shutil.move(os.path.join(layout, "blobs"), moved)
        os.symlink(moved, os.path.join(layout, "blobs"))
    return tamper


# --- layers ---------------------------------------------------------------------------------------------------

DEPTH = 3000


def deep(parents: bool, whiteouts: bool = False) -> bytes:
    def build(tar):
        path = ""
        for _ in range(DEPTH):
            path = f"{path}d/" if path else "d/"
            if parents:
                member(tar, path.rstrip("/"), kind=tarfile.DIRTYPE, mode=0o755)
        member(tar, path + "leaf", b"x")
        if whiteouts:
            member(tar, path + ".wh.leaf")
            member(tar, path[: len(path) // 2] + ".wh..wh..opq")
    return raw_layer(build)


def layer_cases():
    yield "deep-tree-with-parents", lambda w, c: write(w, "a.tar", archive_with([PLAIN, deep(True)]))
    yield "deep-tree-without-parents", lambda w, c: write(w, "a.tar", archive_with([deep(False)]))
    yield "deep-tree-whiteouts", lambda w, c: write(w, "a.tar", archive_with([deep(False), deep(False, True)]))
    yield "deep-tree-removed-by-whiteout", lambda w, c: write(w, "a.tar", archive_with(
        [deep(True), raw_layer(lambda t: member(t, ".wh.d"))]))
    for value in ("inf", "nan", "1e400", "-1e30", "99999999999999999999999"):
        yield f"pax-mtime-{value}", lambda w, c, v=value: write(w, "a.tar", archive_with(
            [raw_layer(lambda t: member(t, "f", b"x", pax={"mtime": v}))]))
    yield "markup-and-escapes-in-names", lambda w, c: write(w, "a.tar", archive_with([raw_layer(lambda t: (
        member(t, "[/yellow]", b"x"), member(t, "../[/yellow]x", b"x"), member(t, "a\x1b]0;pwned\x07b", b"x"),
        member(t, "../\x1b[2J\nrm", b"x")))], config_with(history=[{"created_by": "[/red]\x1b[31m evil"}])))
    yield "huge-size-claim", lambda w, c: write(w, "a.tar", archive_with([_claims_size(8 << 30)]))
    yield "outer-huge-size-claim", lambda w, c: write(w, "a.tar", _claims_size(8 << 30))
    yield "gzip-trailing-garbage", lambda w, c: write(w, "a.tar", archive_with([_trailing(300 << 20)]))
    yield "sparse-claims-12GiB", lambda w, c: write(w, "a.tar", archive_with([raw_layer(lambda t: member(
        t, "big", b"x" * 512, pax={"GNU.sparse.size": str(12 << 30), "GNU.sparse.numblocks": "1",
                                   "GNU.sparse.offset": "0", "GNU.sparse.numbytes": "512"}))]))
    yield "sparse-small-kept", lambda w, c: write(w, "a.tar", archive_with([raw_layer(lambda t: member(
        t, "small", b"y" * 512, pax={"GNU.sparse.size": str(1 << 20), "GNU.sparse.numblocks": "1",
                                     "GNU.sparse.offset": "4096", "GNU.sparse.numbytes": "512"}))]))
    yield "negative-size", lambda w, c: write(w, "a.tar", archive_with([raw_layer(lambda t: (
        member(t, "neg", pax={"size": "-1000"}), member(t, "after", b"x")))]))
    yield "nul-in-name", lambda w, c: write(w, "a.tar", archive_with([raw_layer(lambda t: (
        member(t, "etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
        member(t, "x", b"evil:x:0:0::/:/bin/sh\n", pax={"path": "etc/passwd\x00smuggled"})))]))
    yield "names-escaping-the-root", lambda w, c: write(w, "a.tar", archive_with([raw_layer(lambda t: (
        member(t, "../../../../" + c.strip("/") + "/written", b"x"), member(t, c + "/written-abs", b"x"),
        member(t, "link", kind=tarfile.SYMTYPE, linkname=c), member(t, "link/through-link", b"x"),
        member(t, "hard", kind=tarfile.LNKTYPE, linkname="../../" + c.strip("/") + "/secret")))]))
    yield "digest-mismatch", lambda w, c: write(w, "a.tar", archive_with(
        [PLAIN], config_with(rootfs={"type": "layers", "diff_ids": ["sha256:" + "0" * 64]})))
    yield "huge-dpkg-stanza", lambda w, c: write(w, "a.tar", archive_with([_dpkg_status()]))
    yield "huge-dpkg-database", lambda w, c: write(w, "a.tar", archive_with([_dpkg_database(64 << 20)]))
    yield from size_claim_cases()
    yield "pax-header-claims-1GiB", lambda w, c: write(w, "a.tar", archive_with([_pax_claim(1 << 30, 400 << 20)]))


HUGE = 1 << 62  # a base-256 size field: tarfile would pass over it block by block, for ever


def size_claim_cases():
    """A member claiming 2^62 bytes, the data ending right after its header: in a plain layer, a gzip layer, an
    OCI layout's layer blob, and the archive itself (a member of a type tarfile does not know, so it skips it)."""
    yield "claims-2^62-plain-layer", lambda w, c: write(w, "a.tar", archive_with([_claims_size(HUGE, b"")]))
    yield "claims-2^62-gzip-layer", lambda w, c: write(w, "a.tar", archive_with(
        [gzip.compress(_claims_size(HUGE, b""), mtime=0)]))
    yield "claims-2^62-oci-layer", lambda w, c: oci_layout(w, layers=[_claims_size(HUGE, b"")])
    yield "claims-2^62-archive-member", lambda w, c: write(w, "a.tar", _claims_size(HUGE, b"", kind=b"Z")
                                                            + archive_with([PLAIN]))


def _claims_size(size: int, data: bytes = b"x" * 1024, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo("claims")
    info.size, info.type = size, kind
    return info.tobuf(tarfile.GNU_FORMAT) + data  # a header promising gigabytes, then a few bytes


def _pax_claim(size: int, zeros: int) -> bytes:
    """A gzip layer: a pax header whose records claim `size` bytes, then `zeros` zero bytes (a few MB packed).
    tarfile reads a pax header's records whole into memory."""
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, size
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    out = [z.compress(info.tobuf(tarfile.USTAR_FORMAT))]
    chunk = bytes(1 << 20)
    out += [z.compress(chunk) for _ in range(zeros >> 20)]
    out.append(z.flush())
    return b"".join(out)


def _trailing(nbytes: int) -> bytes:
    """A gzip layer: a valid tar, then `nbytes` of non-zero data after its end, compressed to little."""
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    out = [z.compress(PLAIN)]
    chunk = b"\x01" * (1 << 20)
    for _ in range(nbytes >> 20):
        out.append(z.compress(chunk))
    out.append(z.flush())
    return b"".join(out)


def _dpkg_status() -> bytes:
    """A status file whose middle stanza is 40 MB (a gzip layer of ~100 KB)."""
    normal = b"Package: ok%d\nStatus: install ok installed\nVersion: 1\n\n"
    text = normal % 1 + b"Package: huge\nDescription: x\n" + b" " + b"y" * (40 << 20) + b"\n\n" + normal % 2
    data = raw_layer(lambda t: (member(t, "var/lib/dpkg", kind=tarfile.DIRTYPE, mode=0o755),
                                member(t, "var/lib/dpkg/status", text)))
    return gzip.compress(data, 1, mtime=0)


def _dpkg_database(nbytes: int) -> bytes:
    """A status file of `nbytes` made of ordinary stanzas (a gzip layer of well under 1 MB)."""
    stanza = b"Package: p\nStatus: install ok installed\nVersion: 1.0\nDescription: a package\n" + b" more\n" * 20 + b"\n"
    data = stanza * (nbytes // len(stanza))
    return gzip.compress(raw_layer(lambda t: (member(t, "var/lib/dpkg", kind=tarfile.DIRTYPE, mode=0o755),
                                              member(t, "var/lib/dpkg/status", data))), 1, mtime=0)


def all_cases():
    for group in (envelope_cases, blob_cases, layer_cases):
        yield from group()

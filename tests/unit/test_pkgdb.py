"""Package databases from fixture trees copying real paths and content: parse, ownership, trimming."""

import io
import os

from elfroot import rootfs_of
from slim.image.paths import ancestors
from slim.model import DIR, FILE, SYMLINK, Entry
from slim.packages import apk, dpkg
from slim.packages.catalog import read_catalog

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "pkgdb")


def with_files(root, *paths, links=()):
    """The fixture tree plus (empty) files at `paths` and symlinks, as an image would hold them."""
    changes = {p: Entry(p, FILE, size=0, blob=os.devnull, inode=n + 1000) for n, p in enumerate(paths)}
    for path in paths:
        changes.update({d: Entry(d, DIR) for d in ancestors(path) if d != "/" and root.lstat(d) is None})
    changes.update({p: Entry(p, SYMLINK, linkname=t) for p, t in links})
    return root.derive(changes)


def test_debian_status_with_file_lists():
    root = with_files(rootfs_of(f"{FIXTURES}/debian"), "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
                      "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6", "/usr/share/doc/zlib1g/copyright",
                      links=[("/lib", "usr/lib")])
    cat = read_catalog(root)
    assert cat.kind == "dpkg"
    assert sorted(p.name for p in cat.packages) == ["base-files", "dash", "libsqlite3-0", "zlib1g"]
    # zlib's list names /lib/x86_64-linux-gnu/libz.so.1.2.13; the file is under /usr/lib (merged /usr)
    kept = cat.kept(root, {"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"})
    assert [p.name for p in kept] == ["zlib1g"]
    files = cat.trimmed(root, kept, {"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"})
    assert set(files) == {"/var/lib/dpkg/status.d/zlib1g", "/var/lib/dpkg/status.d/zlib1g.md5sums"}
    assert files["/var/lib/dpkg/status.d/zlib1g"].startswith(b"Package: zlib1g\n")
    assert b"Version: 1:1.2.13" in files["/var/lib/dpkg/status.d/zlib1g"]
    # md5sums restricted to the kept file: the docs are gone
    assert files["/var/lib/dpkg/status.d/zlib1g.md5sums"] == b"c7c774d91213e966a04b2e51c787be23  lib/x86_64-linux-gnu/libz.so.1.2.13\n"


def test_a_linked_directory_does_not_make_every_package_kept():
    root = with_files(rootfs_of(f"{FIXTURES}/debian"), links=[("/lib", "usr/lib"), ("/usr/lib", "/usr/lib2")])
    cat = read_catalog(root)
    assert cat.kept(root, {"/lib"}) == []


def test_distroless_status_d_round_trips():
    root = with_files(rootfs_of(f"{FIXTURES}/distroless"), "/lib/x86_64-linux-gnu/libz.so.1.2.13")
    cat = read_catalog(root)
    assert sorted(p.name for p in cat.packages) == ["libsqlite3-0", "zlib1g"]
    zlib = next(p for p in cat.packages if p.name == "zlib1g")
    assert "/lib/x86_64-linux-gnu/libz.so.1.2.13" in zlib.files  # known from md5sums: no .list files here
    kept = cat.kept(root, {"/lib/x86_64-linux-gnu/libz.so.1.2.13"})
    assert [p.name for p in kept] == ["zlib1g"]


def test_malformed_stanzas_are_warnings():
    parsed = dpkg.parse_stanzas(io.BytesIO(b"Package: ok\nStatus: install ok installed\n\n continuation first\n\nno colon here\n"))
    assert [s.name for s in parsed.stanzas] == ["ok"] and len(parsed.warnings) == 2


def test_alpine_installed_database():
    with open(f"{FIXTURES}/alpine/lib/apk/db/installed", "rb") as fh:
        parsed = apk.parse_installed(fh)
    assert len(parsed.packages) == 14 and not parsed.warnings
    musl = next(p for p in parsed.packages if p.name == "musl")
    assert musl.version == "1.2.5-r0" and "/lib/ld-musl-x86_64.so.1" in musl.files
    busybox = next(p for p in parsed.packages if p.name == "busybox")
    keep = {"/lib/ld-musl-x86_64.so.1", "/bin/busybox"}
    text = apk.format_installed([musl, busybox], lambda path: path in keep).decode()
    back = apk.parse_installed(io.BytesIO(text.encode())).packages
    assert [p.name for p in back] == ["musl", "busybox"]
    assert back[0].files == ["/lib/ld-musl-x86_64.so.1"] and back[1].files == ["/bin/busybox"]
    assert "C:Q1" in text and "a:0:0:755" in text  # checksums and modes of kept files survive


def test_alpine_catalog_counts_kept_packages():
    root = with_files(rootfs_of(f"{FIXTURES}/alpine"), "/lib/ld-musl-x86_64.so.1", "/bin/busybox")
    cat = read_catalog(root)
    assert cat.kind == "apk" and len(cat.packages) == 14
    kept = cat.kept(root, {"/lib/ld-musl-x86_64.so.1"})
    assert [p.name for p in kept] == ["musl"]
    files = cat.trimmed(root, kept, {"/lib/ld-musl-x86_64.so.1"})
    assert list(files) == ["/lib/apk/db/installed"] and files["/lib/apk/db/installed"].startswith(b"C:")

"""What keeps slim's memory and time in proportion to an image's files (bench/scale.py, docs/scale.md), pinned
without timing anything: values shared instead of copied once per entry, look-ups counted, and the build's
slow engine steps overlapped with the rest."""

from __future__ import annotations

import io
import os

from fake_engine import FakeEngine
from elfroot import rootfs_of
from slim import pipeline
from slim.image import source
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.image.reference import parse_reference
from slim.image.sink import TEMPORARY_REPOSITORY, Output, temporary_tag
from slim.image.stage import Unstaging
from slim.packages.catalog import read_catalog
from slim.plan.keep import PlanOptions
from slim.progress import Phases
from slim.rootfs import RootFS, normalize
from slim.run.options import RunOptions
from slim.workspace import Workspace
from tarbuild import layer, legacy_archive


def test_entries_of_a_layer_share_their_repeated_values(ws):
    data = layer(("srv", "dir"), ("srv/a", "file", b"a"), ("srv/b", "file", b"b"), ("srv/empty", "file", b""),
                 ("srv/c", "file", (b"c", 0o644, 1000, 1000)), ("srv/d", "file", (b"d", 0o644, 1000, 1000)))
    unpacked = unpack_layer(io.BytesIO(data), ws.path("layers", "0.pack"), "L")
    files = [e for e in unpacked.entries if e.kind == "file"]
    # tarfile makes a new int for every header field: one object per distinct value is 30 MB at 500k files
    assert len({id(e.mode) for e in files}) == 1 and len({id(e.mtime) for e in files}) == 1
    assert files[3].uid is files[4].uid and files[3].uid == 1000
    # the inode is the data offset itself, still one per file (the empty one too), not a second int each
    assert all(e.inode is e.blob_offset for e in files) and len({e.inode for e in files}) == len(files)
    assert flatten([unpacked]).bytes_of(e.path for e in files) == 4


def test_a_view_lists_directories_with_its_own_path_strings():
    root = flatten_of(("usr/bin/env", "file", b"e"), ("usr/bin/cat", "file", b"c"))
    children = root.children("/usr/bin")
    assert children == ["/usr/bin/cat", "/usr/bin/env"] and all(p is root.lstat(p).path for p in children)
    assert root.listdir("/usr/bin") == ["cat", "env"] and root.listdir("/usr//bin/") == ["cat", "env"]
    path = "/usr/bin/env"
    assert normalize(path) is path  # a normal path is not split and joined again
    assert normalize("usr//bin/./env") == path


def test_a_catalog_holds_the_image_paths_and_resolves_each_owned_path_once(tmp_path):
    root, files = _dpkg_tree(tmp_path, packages=6, files_each=5)
    catalog = read_catalog(root)
    owned = [p for pkg in catalog.packages for p in pkg.files]
    # the paths a database lists again are the view's own strings, not copies (40 MB at 500k files)
    assert all(p is root.lstat(p).path for p in owned if root.lstat(p) is not None)
    counting = _Counting(root)
    assert catalog.kept(counting, set()) == []
    # each owned path resolved once (a stat and a realpath each were twice): nothing kept, so every path is asked
    assert counting.resolved == len(owned)
    counting.resolved = 0
    kept = catalog.kept(counting, {files[7]})
    assert [p.name for p in kept] == ["pkg1"] and counting.resolved <= len(owned)


def test_a_build_from_a_file_reads_it_while_the_engine_loads_it_and_unstages_in_the_background(tmp_path,
                                                                                               monkeypatch):
    engine = FakeEngine()
    archive = tmp_path / "in.tar"
    archive.write_bytes(legacy_archive([layer(("app/run", "file", (b"program", 0o755)))], "in:1"))
    started_at: list[int] = []

    class Reading(source.Reading):
        def __init__(self, *args):
            started_at.append(len(engine.calls))  # how much the engine had been asked before the reading began
            super().__init__(*args)

    monkeypatch.setattr(pipeline, "Reading", Reading)
    with Workspace(str(tmp_path / "work")) as ws:
        options = pipeline.BuildOptions(run=RunOptions("", cmd=("/app/run",)), plan=PlanOptions(),
                                        output=Output("docker"), tags=("in:1-slim",), harden=False)
        report = pipeline.build(parse_reference(f"docker-archive:{archive}"), options, ws, engine, Phases())
    loads = [n for n, call in enumerate(engine.calls) if call.startswith("load ")]
    assert started_at and loads and started_at[0] <= loads[0]  # reading began before the engine loaded the file
    staged = [c for c in engine.calls if c.startswith(f"remove_image {TEMPORARY_REPOSITORY}/")]
    assert len(staged) == 1 and not [t for t in engine.tags if t.startswith(TEMPORARY_REPOSITORY)]
    assert "unstage" in report.facts.seconds and report.passed is True


def test_unstaging_takes_only_the_temporary_tags_and_waits_for_their_removal():
    engine = FakeEngine()
    staged = temporary_tag()
    created = [staged, "out:1"]
    removal = Unstaging(engine, created)
    assert created == ["out:1"] and removal.tags == [staged]
    assert removal.wait() >= 0 and engine.calls == [f"remove_image {staged}"]
    nothing = Unstaging(engine, ["out:1"])
    assert nothing.wait() == 0 and engine.calls == [f"remove_image {staged}"]


class _Counting:
    """A view that counts its resolutions (what the catalog asks of it)."""

    def __init__(self, root: RootFS):
        self.root, self.resolved = root, 0

    def resolve(self, path: str, follow_last: bool = True):
        self.resolved += 1
        return self.root.resolve(path, follow_last)

    def realpath(self, path: str):
        self.resolved += 1
        return self.root.realpath(path)

    def stat(self, path: str):
        self.resolved += 1
        return self.root.stat(path)


def flatten_of(*members) -> RootFS:
    with Workspace() as ws:
        return flatten([unpack_layer(io.BytesIO(layer(*members)), ws.path("layers", "0.pack"), "L")])


def _dpkg_tree(tmp_path, packages: int, files_each: int) -> tuple[RootFS, list[str]]:
    """A host tree with a dpkg database (status, .list and .md5sums) owning files_each files per package."""
    top = tmp_path / "root"
    info = top / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    status, files = [], []
    for p in range(packages):
        mine = [f"/usr/share/p{p}/f{n}" for n in range(files_each)]
        for path in mine:
            os.makedirs(top / path.lstrip("/").rsplit("/", 1)[0], exist_ok=True)
            (top / path.lstrip("/")).write_bytes(path.encode())
        files += mine
        status.append(f"Package: pkg{p}\nStatus: install ok installed\nVersion: 1.{p}\nArchitecture: amd64\n")
        (info / f"pkg{p}.list").write_text("/.\n/usr\n/usr/share\n" + f"/usr/share/p{p}\n" + "\n".join(mine) + "\n")
        (info / f"pkg{p}.md5sums").write_text("".join(f"{'0' * 32}  {f.lstrip('/')}\n" for f in mine))
    (top / "var/lib/dpkg/status").write_text("\n".join(status))
    return rootfs_of(str(top)), files

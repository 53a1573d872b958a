"""Unpacking layer tars and flattening them, including hostile input."""

import io
import os

import pytest

from slim.errors import ImageFormatError
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from tarbuild import layer


def unpack(ws, data, name="L"):
    return unpack_layer(io.BytesIO(data), ws.path("layers", f"{name}{len(os.listdir(ws.root))}.pack"), name)


def test_plain_and_gzip_layers_give_the_same_entries(ws):
    members = [("usr", "dir"), ("usr/bin", "dir"), ("usr/bin/tool", "file", (b"#!/bin/sh\n", 0o755))]
    plain = unpack(ws, layer(*members))
    gz = unpack(ws, layer(*members, gz=True))
    assert [e.path for e in plain.entries] == ["/usr", "/usr/bin", "/usr/bin/tool"]
    assert plain.size_bytes == gz.size_bytes == len(layer(*members))
    tool = plain.entries[-1]
    assert tool.mode == 0o755 and tool.size == 10
    assert flatten([plain]).read_bytes("/usr/bin/tool") == b"#!/bin/sh\n"


def test_whiteout_removes_a_subtree_of_lower_layers(ws):
    lower = unpack(ws, layer(("etc/app/a.conf", "file", b"a"), ("etc/app/sub/b", "file", b"b"), ("etc/keep", "file", b"k")))
    upper = unpack(ws, layer(("etc/.wh.app", "file")))
    root = flatten([lower, upper])
    assert root.lstat("/etc/app") is None and root.lstat("/etc/app/sub/b") is None
    assert root.lstat("/etc/keep") is not None
    assert not any(".wh." in e.path for e in root.walk())


def test_opaque_dir_hides_lower_contents_but_keeps_its_own_layer(ws):
    lower = unpack(ws, layer(("srv/old", "file", b"old"), ("srv/deep/x", "file", b"x")))
    upper = unpack(ws, layer(("srv", "dir"), ("srv/.wh..wh..opq", "file"), ("srv/new", "file", b"new")))
    root = flatten([lower, upper])
    assert sorted(root.listdir("/srv")) == ["new"]


def test_file_in_upper_layer_replaces_directory_and_its_children(ws):
    lower = unpack(ws, layer(("opt/thing/inner", "file", b"i")))
    upper = unpack(ws, layer(("opt/thing", "file", b"now a file")))
    root = flatten([lower, upper])
    assert root.lstat("/opt/thing").is_file and root.lstat("/opt/thing/inner") is None


def test_hardlinks_share_one_blob_even_across_layers(ws):
    lower = unpack(ws, layer(("bin/perl", "file", b"ELF..."),))
    upper = unpack(ws, layer(("bin/perl5.36", "hardlink", "bin/perl"), ("bin/dangling", "hardlink", "bin/nothing")))
    root = flatten([lower, upper])
    assert root.lstat("/bin/perl5.36").content_key == root.lstat("/bin/perl").content_key
    assert root.lstat("/bin/dangling") is None
    assert any("dangling" in str(w) for w in root.warnings)


def test_device_nodes_are_recorded_never_created(ws):
    lay = unpack(ws, layer(("dev/null", "char", (1, 3)), ("run/fifo", "fifo")))
    root = flatten([lay])
    assert root.lstat("/dev/null").kind == "char" and root.lstat("/dev/null").devminor == 3
    for dirpath, _, files in os.walk(ws.root):
        for f in files:
            assert os.path.isfile(os.path.join(dirpath, f)) and not os.path.islink(os.path.join(dirpath, f))


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "/etc/absolute", "./../x"])
def test_unsafe_member_names_are_skipped_with_a_warning(ws, tmp_path, name):
    lay = unpack(ws, layer((name, "file", b"evil"), ("ok", "file", b"fine")))
    assert [e.path for e in lay.entries] == ["/ok"]
    assert any(name in str(w) for w in lay.warnings)
    assert not (tmp_path / "escape").exists()


def test_a_path_through_a_symlink_that_escapes_stays_inside_the_root(ws, tmp_path):
    sentinel = tmp_path / "outside"
    sentinel.mkdir()
    lay = unpack(ws, layer(("evil", "symlink", str(sentinel)), ("evil/planted", "file", b"x"),
                           ("up", "symlink", "../../../../../../.."), ("up/etc/passwd", "file", b"root2")))
    root = flatten([lay])
    assert list(sentinel.iterdir()) == []
    # Written through the links, inside the root, as Docker would: the host path becomes an image path.
    assert root.lstat(str(sentinel) + "/planted").is_file
    assert root.read_bytes("/etc/passwd") == b"root2"


def test_a_hardlink_pointing_outside_is_refused(ws):
    lay = unpack(ws, layer(("x", "hardlink", "../../etc/shadow"), ("y", "hardlink", "/etc/shadow")))
    assert lay.entries == [] and len(lay.warnings) == 2


def test_truncated_layer_is_a_clear_error(ws):
    data = layer(("big", "file", os.urandom(5000)))
    with pytest.raises(ImageFormatError, match=r"truncated|corrupt"):
        unpack(ws, data[:3000])


def test_corrupt_gzip_is_a_clear_error(ws):
    data = bytearray(layer(("f", "file", b"y" * 4000), gz=True))
    data[30:60] = b"\xff" * 30
    with pytest.raises(ImageFormatError):
        unpack(ws, bytes(data))


def test_zstd_layers_are_refused_with_a_reason(ws):
    with pytest.raises(ImageFormatError, match="zstd"):
        unpack(ws, b"\x28\xb5\x2f\xfd" + b"\0" * 100)


def test_empty_files_are_not_mistaken_for_hardlinks_of_their_neighbours(ws, tmp_path):
    from slim.image.assemble import write_layer

    lay = unpack(ws, layer(("a-empty", "file", b""), ("b-data", "file", b"payload"), ("c-empty", "file", b"")))
    root = flatten([lay])
    keys = {root.lstat(p).content_key for p in ("/a-empty", "/b-data", "/c-empty")}
    assert len(keys) == 3
    out = tmp_path / "layer.tar"
    write_layer(root, ["/a-empty", "/b-data", "/c-empty"], str(out))
    back = flatten([unpack(ws, out.read_bytes(), "back")])
    assert back.read_bytes("/b-data") == b"payload" and back.lstat("/b-data").size == 7


def test_file_capabilities_survive_flatten_and_write(ws, tmp_path):
    import tarfile as tf

    from slim.image.assemble import write_layer

    cap = "\x01\x00\x00\x02\x00\x20\x00\x00"  # cap_net_raw+ep, as setcap writes it (PAX stores it as text)
    buf = io.BytesIO()
    with tf.open(fileobj=buf, mode="w", format=tf.PAX_FORMAT) as tar:
        info = tf.TarInfo("usr/bin/ping")
        info.size, info.mode = 4, 0o755
        info.pax_headers = {"SCHILY.xattr.security.capability": cap}
        tar.addfile(info, io.BytesIO(b"ping"))
    root = flatten([unpack(ws, buf.getvalue())])
    assert root.lstat("/usr/bin/ping").xattrs == (("SCHILY.xattr.security.capability", cap),)
    out = tmp_path / "out.tar"
    write_layer(root, ["/usr/bin/ping"], str(out))
    with tf.open(out) as tar:
        assert tar.getmember("usr/bin/ping").pax_headers["SCHILY.xattr.security.capability"] == cap

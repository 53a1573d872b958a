"""docker-archive (legacy and OCI-in-archive) and OCI layout reading; writing and reading back."""

import io
import json
import os
import tarfile

import pytest
from click.testing import CliRunner

from slim.cli import main
from slim.errors import ImageFormatError, ImageNotFound
from slim.image.archive import read_docker_archive, write_docker_archive
from slim.image.assemble import assemble
from slim.image.oci import read_oci_layout, write_oci_layout
from tarbuild import layer, legacy_archive, oci_archive

BASE = layer(("bin", "dir"), ("bin/sh", "file", (b"\x7fELF-sh", 0o755)), ("etc", "dir"),
             ("etc/os-release", "file", b'ID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'),
             ("etc/gone", "file", b"g"))
TOP = layer(("etc/.wh.gone", "file"), ("app", "dir"), ("app/run", "file", (b"#!/bin/sh\necho hi\n", 0o755)), gz=True)


@pytest.mark.parametrize("builder", [legacy_archive, oci_archive])
def test_both_archive_layouts_read_to_the_same_filesystem(ws, builder):
    image = read_docker_archive(io.BytesIO(builder([BASE, TOP])), ws, "t")
    root = image.rootfs()
    assert root.read_bytes("/app/run").startswith(b"#!/bin/sh")
    assert root.lstat("/etc/gone") is None
    assert [unpacked.digest for unpacked in image.layers] == image.config["rootfs"]["diff_ids"]
    assert image.run_config.cmd == ("/bin/sh",)
    assert image.repo_tags == ["test:1"]


def test_legacy_duplicate_layer_symlink_is_followed(ws):
    image = read_docker_archive(io.BytesIO(legacy_archive([BASE, BASE], duplicate_as_symlink=True)), ws, "t")
    assert len(image.layers) == 2 and image.layers[0] is image.layers[1]


def test_archive_without_manifest_is_a_clear_error(ws):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("random.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(ImageFormatError, match=r"manifest\.json"):
        read_docker_archive(io.BytesIO(buf.getvalue()), ws, "t")


def test_manifest_naming_a_missing_layer_is_a_clear_error(ws):
    data = legacy_archive([BASE])
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=buf, mode="w") as dst:
        for m in src:
            if not m.name.endswith("layer.tar"):
                dst.addfile(m, src.extractfile(m))
    with pytest.raises(ImageFormatError, match="does not hold"):
        read_docker_archive(io.BytesIO(buf.getvalue()), ws, "t")


def test_truncated_archive_is_a_clear_error(ws):
    data = legacy_archive([BASE, TOP])
    with pytest.raises(ImageFormatError):
        read_docker_archive(io.BytesIO(data[: len(data) // 2 + 7]), ws, "t")


def test_wrong_tag_is_image_not_found(ws):
    with pytest.raises(ImageNotFound):
        read_docker_archive(io.BytesIO(legacy_archive([BASE])), ws, "t", want_tag="other:2")


def _assembled(ws, sub="a"):
    image = read_docker_archive(io.BytesIO(oci_archive([BASE, TOP])), ws, "t")
    root = image.rootfs()
    paths = ["/app/run", "/etc/os-release"]
    from slim.workspace import Workspace
    inner = Workspace(ws.mkdir(sub))
    return assemble(root, paths, image.config, "t", image.image_id, inner), inner


def test_written_archive_reads_back_as_docker_and_as_oci(ws, tmp_path):
    assembled, inner = _assembled(ws)
    target = tmp_path / "out.tar"
    with open(target, "wb") as fh:
        write_docker_archive(assembled, inner, fh, ["out:1"])
    with open(target, "rb") as fh:
        back = read_docker_archive(fh, ws, "back")
    assert back.image_id == assembled.image_id
    assert back.layers[0].digest == assembled.layer_digest
    assert sorted(e.path for e in back.rootfs().walk()) == ["/", "/app", "/app/run", "/etc", "/etc/os-release"]
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(target) as tar:
        tar.extractall(layout, filter="data")
    assert read_oci_layout(str(layout), ws, "oci", "out:1").image_id == assembled.image_id


def test_assembly_is_deterministic_and_carries_config(ws):
    first, _ = _assembled(ws, "one")
    second, _ = _assembled(ws, "two")
    assert first.layer_digest == second.layer_digest and first.image_id == second.image_id
    config = json.loads(first.config_bytes)
    assert config["config"]["Cmd"] == ["/bin/sh"] and config["config"]["Labels"]["slim.source.image"] == "t"
    assert config["rootfs"]["diff_ids"] == [first.layer_digest]


def test_oci_layout_written_and_read_back(ws, tmp_path):
    assembled, inner = _assembled(ws)
    layout = str(tmp_path / "oci")
    write_oci_layout(assembled.blob_files(inner), assembled.manifest_digest, len(assembled.manifest_bytes), layout, ["x:1"])
    image = read_oci_layout(layout, ws, "oci:" + layout)
    assert image.image_id == assembled.image_id and image.repo_tags == ["x:1"]


def test_oci_digest_with_path_traversal_is_refused(ws, tmp_path):
    layout = tmp_path / "evil"
    layout.mkdir()
    (layout / "index.json").write_text(json.dumps({"manifests": [{"digest": "sha256:../../../../etc/passwd"}]}))
    with pytest.raises(ImageFormatError, match="malformed digest"):
        read_oci_layout(str(layout), ws, "oci")


def test_cli_inspect_archive_json_and_exit_codes(tmp_path):
    path = tmp_path / "img.tar"
    path.write_bytes(legacy_archive([BASE, TOP]))
    runner = CliRunner()
    result = runner.invoke(main, ["-q", "inspect", "--json", f"docker-archive:{path}"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["os"]["ID"] == "debian" and len(doc["layers"]) == 2
    assert doc["file_count"] == 3  # /bin/sh, /etc/os-release, /app/run: /etc/gone is whited out
    missing = runner.invoke(main, ["-q", "inspect", f"docker-archive:{tmp_path}/nope.tar"])
    assert missing.exit_code == 3 and "no such file" in missing.stderr
    (tmp_path / "junk.tar").write_bytes(os.urandom(3000))
    junk = runner.invoke(main, ["-q", "inspect", f"docker-archive:{tmp_path}/junk.tar"])
    assert junk.exit_code == 4 and junk.stderr.startswith("slim: error:")

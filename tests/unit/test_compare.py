"""slim compare's figures and outputs (JSON shape slim.compare/1, Markdown, packages only in one image), and the
exposure scan on a fixture tree that copies a Debian base: setuid passwd tools, device nodes under /dev, the
sticky /tmp, and a world-writable file and directory an image should not have."""

from __future__ import annotations

import io

from slim.checks.exposure import Exposure, scan
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.report.compare import ImageSummary, comparison_json, markdown_table, only_in
from tarbuild import layer

NONE = Exposure((), (), (), (), ())


def summary(reference, docker, layers, compressed, packages, keys, **kw) -> ImageSummary:
    return ImageSummary(reference=reference, docker_bytes=docker, layer_bytes=layers, compressed_bytes=compressed,
                        layers=kw.get("n", 1), files=kw.get("files", 10), content_bytes=layers, packages=packages,
                        package_keys=frozenset(keys), distribution=kw.get("distro"), user=kw.get("user", "root"),
                        runs_as_root=kw.get("user", "root") == "root", healthcheck=False,
                        exposure=kw.get("exposure", NONE))


DEBIAN = summary("web:debian", 162_000_000, 168_000_000, 66_900_000, {"deb": 2, "apk": 0, "pypi": 0, "npm": 0, "golang": 0},
                 {("deb", "libc6", "2.36"), ("deb", "bash", "5.2")}, distro="Debian GNU/Linux 12 (bookworm)",
                 exposure=Exposure(("/usr/bin/bash",), ("/usr/bin/apt",), ("/usr/bin/su",), (), ()))
SLIM = summary("docker-archive:/tmp/web|slim.tar", None, 25_300_000, 9_000_000,
               {"deb": 1, "apk": 0, "pypi": 0, "npm": 0, "golang": 0}, {("deb", "libc6", "2.36")}, user="app")


def test_json_shape_and_ratios_to_the_first_image():
    doc = comparison_json([DEBIAN, SLIM])
    assert doc["schema"] == "slim.compare/1"
    first, second = doc["images"]
    assert set(first) >= {"reference", "docker_bytes", "layer_bytes", "compressed_bytes", "files", "packages"}
    assert first["packages"] == {"count": 2, "deb": 2, "apk": 0, "pypi": 0, "npm": 0, "golang": 0}
    assert second["docker_bytes"] is None and second["ratio_to_first"]["docker_bytes"] is None
    assert second["ratio_to_first"]["compressed_bytes"] == round(9_000_000 / 66_900_000, 4)
    assert second["ratio_to_first"]["packages"] == 0.5
    assert (first["shells"], first["package_managers"], first["setuid"]) == (["/usr/bin/bash"], ["/usr/bin/apt"],
                                                                              ["/usr/bin/su"])
    assert (first["runs_as_root"], second["runs_as_root"]) == (True, False)


def test_markdown_table_escapes_cells():
    text = markdown_table([DEBIAN, SLIM])
    header, rule, *rows = text.splitlines()
    assert header == "| | `web:debian` | `docker-archive:/tmp/web\\|slim.tar` |"
    assert rule == "|---|---:|---:|"
    assert "| size (Docker) | 162.0 MB | - |" in rows
    assert "| layers, gzip (registry) | 66.9 MB | 9.0 MB (0.13x) |" in rows
    assert all(row.count("|") == 4 for row in rows)  # one cell per image, whatever the text holds


def test_packages_only_in_one_image():
    assert only_in([DEBIAN, SLIM]) == {"web:debian": ["deb bash 5.2"], SLIM.reference: []}


def test_exposure_of_a_debian_like_tree(ws):
    data = layer(
        ("bin", "symlink", "usr/bin"), ("usr/bin/bash", "file", (b"\x7fELF", 0o755)),
        ("usr/bin/sh", "symlink", "dash"), ("usr/bin/dash", "file", (b"\x7fELF", 0o755)),
        ("usr/bin/apt-get", "file", (b"\x7fELF", 0o755)), ("usr/bin/pip", "symlink", "pip3.11"),  # dangling
        ("usr/bin/passwd", "file", (b"\x7fELF", 0o4755)), ("usr/sbin/unix_chkpwd", "file", (b"\x7fELF", 0o2755)),
        ("tmp", "dir", (0o1777, 0, 0)), ("var/tmp", "dir", (0o1777, 0, 0)), ("dev/null", "file", (b"", 0o666)),
        ("srv/upload", "dir", (0o777, 0, 0)), ("etc/app.conf", "file", (b"x", 0o666)),
    )
    found = scan(flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "x.pack"), "x")]))
    assert found.shells == ("/usr/bin/bash", "/usr/bin/dash", "/usr/bin/sh")
    assert found.package_managers == ("/usr/bin/apt-get",)  # the dangling pip link runs nothing
    assert (found.setuid, found.setgid) == (("/usr/bin/passwd",), ("/usr/sbin/unix_chkpwd",))
    assert sorted(found.world_writable) == ["/etc/app.conf", "/srv/upload"]

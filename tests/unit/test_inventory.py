"""The inventory (slim sbom, slim compare) on fixture trees that copy real layouts and content: a distroless-style
status.d with md5sums and no .list files, a pip-installed wheel (dist-info with METADATA and RECORD), a
setuptools egg-info, an npm tree with a scoped package, an Alpine `installed` database; and the CycloneDX
document made from it, checked against the CycloneDX 1.5 schema."""

from __future__ import annotations

import io
import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from slim.packages.inventory import APK, DEB, GEM, GOLANG, MAVEN, NPM, PYPI, read_inventory
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.report.sbom import cyclonedx_json
from tarbuild import layer

# copied from Debian bookworm's /var/lib/dpkg/status (fields slim does not read shortened)
BSDUTILS = b"""Package: bsdutils
Essential: yes
Status: install ok installed
Priority: required
Architecture: amd64
Multi-Arch: foreign
Source: util-linux (2.38.1-5+deb12u3)
Version: 1:2.38.1-5+deb12u3
Description: basic utilities from 4.4BSD-Lite
"""
TZDATA = b"""Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
"""
OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
SITE = "usr/local/lib/python3.11/site-packages"
# as pip writes them for `pip install requests==2.31.0`
METADATA = b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nSummary: Python HTTP for Humans.\n\nbody\n"
RECORD = (b"requests-2.31.0.dist-info/INSTALLER,sha256=zuuue4knoyJ-UwPPXg8fezS7VCrXJQrAP7zeNuwvFQg,4\n"
          b"requests-2.31.0.dist-info/METADATA,,\nrequests/__init__.py,sha256=x,4965\nrequests/api.py,sha256=y,6449\n"
          b"../../../bin/normalizer,sha256=z,250\n")
# Alpine 3.20's /lib/apk/db/installed, musl-utils' entry shortened
MUSL_UTILS = b"""P:musl-utils
V:1.2.5-r0
A:x86_64
S:36219
o:musl
D:scanelf so:libc.musl-x86_64.so.1
F:sbin
R:ldconfig
a:0:0:755
F:usr/bin
R:getent
R:iconv

P:busybox
V:1.36.1-r29
A:x86_64
o:busybox
F:bin
R:busybox

"""


def debian_tree(ws):
    data = layer(
        ("etc/os-release", "file", OS_RELEASE),
        ("var/lib/dpkg/status.d/bsdutils", "file", BSDUTILS),
        ("var/lib/dpkg/status.d/bsdutils.md5sums", "file", b"0123456789abcdef0123456789abcdef  usr/bin/logger\n"),
        ("var/lib/dpkg/status.d/tzdata", "file", TZDATA),
        ("usr/bin/logger", "file", b"\x7fELF"),
        (f"{SITE}/requests-2.31.0.dist-info/METADATA", "file", METADATA),
        (f"{SITE}/requests-2.31.0.dist-info/RECORD", "file", RECORD),
        (f"{SITE}/requests/__init__.py", "file", b""),
        ("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", "file", b"Metadata-Version: 1.2\nName: six\n"
                                                                               b"Version: 1.16.0\n"),
        ("usr/lib/python3/dist-packages/broken.dist-info/METADATA", "file", b"Metadata-Version: 2.1\nName: broken\n"),
        ("app/package.json", "file", json.dumps({"name": "web", "version": "2.0.0", "private": True}).encode()),
        ("app/node_modules/express/package.json", "file", json.dumps({"name": "express", "version": "4.18.2"}).encode()),
        ("app/node_modules/@types/node/package.json", "file", json.dumps({"name": "@types/node",
                                                                          "version": "20.1.0"}).encode()),
        ("app/node_modules/express/lib/package.json", "file", json.dumps({"type": "commonjs"}).encode()),
        ("app/node_modules/bad/package.json", "file", b"{not json"),
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "deb.pack"), "deb")])


def test_every_kind_of_package_with_the_purl_scanners_match(ws):
    found = read_inventory(debian_tree(ws))
    assert (found.distro.id, found.distro.version_id, found.database) == ("debian", "12", "dpkg")
    by_name = {c.name: c for c in found.components}
    assert sorted((c.kind, c.name, c.version) for c in found.components) == [
        (DEB, "bsdutils", "1:2.38.1-5+deb12u3"), (DEB, "tzdata", "2024a-0+deb12u1"),
        (NPM, "@types/node", "20.1.0"), (NPM, "express", "4.18.2"), (NPM, "web", "2.0.0"),
        (PYPI, "requests", "2.31.0"), (PYPI, "six", "1.16.0")]
    assert found.counts() == {DEB: 2, APK: 0, PYPI: 2, NPM: 3, GOLANG: 0, GEM: 0, MAVEN: 0}
    # the purls Syft writes for the same packages
    assert by_name["bsdutils"].purl(found.distro) == ("pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64"
                                                      "&distro=debian-12&upstream=util-linux%402.38.1-5%2Bdeb12u3")
    assert by_name["tzdata"].purl(found.distro) == "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12"
    assert by_name["@types/node"].purl(found.distro) == "pkg:npm/%40types/node@20.1.0"
    assert by_name["requests"].purl(found.distro) == "pkg:pypi/requests@2.31.0"
    # what each owns: the md5sums of a distroless status.d, a wheel's RECORD (relative to site-packages)
    assert by_name["bsdutils"].files == ("/usr/bin/logger",)
    assert f"/{SITE}/requests/api.py" in by_name["requests"].files
    assert "/usr/local/bin/normalizer" in by_name["requests"].files


def test_alpine_database(ws):
    data = layer(("etc/os-release", "file", b"ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n"),
                 ("lib/apk/db/installed", "file", MUSL_UTILS))
    found = read_inventory(flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "apk.pack"), "apk")]))
    utils, busybox = sorted(found.components, key=lambda c: c.name, reverse=True)
    assert utils.purl(found.distro) == ("pkg:apk/alpine/musl-utils@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"
                                        "&upstream=musl")
    assert busybox.purl(found.distro) == "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3"
    assert utils.files == ("/sbin/ldconfig", "/usr/bin/getent", "/usr/bin/iconv")


def test_the_sbom_is_valid_cyclonedx_and_the_same_for_the_same_image(ws):
    found = read_inventory(debian_tree(ws))
    text = cyclonedx_json(found, "web:1", "sha256:" + "ab" * 32)
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(text) is None
    doc = json.loads(text)
    assert doc["specVersion"] == "1.5" and doc["metadata"]["component"]["type"] == "container"
    [os_component] = [c for c in doc["components"] if c["type"] == "operating-system"]
    packages = [c for c in doc["components"] if c["type"] == "library"]
    assert (os_component["name"], os_component["version"]) == ("debian", "12") and len(packages) == 7
    [image] = [d for d in doc["dependencies"] if d["ref"] == "image:web:1"]
    assert len(image["dependsOn"]) == 8  # the image holds the distribution and every package
    logger = next(c for c in packages if c["name"] == "bsdutils")
    assert logger["evidence"]["occurrences"] == [{"location": "/usr/bin/logger"}]
    again = cyclonedx_json(read_inventory(debian_tree(ws)), "web:1", "sha256:" + "ab" * 32)
    drop_time = lambda t: {**json.loads(t), "metadata": {**json.loads(t)["metadata"], "timestamp": None}}  # noqa: E731
    assert drop_time(text) == drop_time(again)

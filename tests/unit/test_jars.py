"""Java archives in the inventory. The metadata is copied from real archives (tests/fixtures/java/): MANIFEST.MF
of Debian's Tomcat 10 jars in the tomcat-jsp sample (tomcat10-catalina with a Bundle-SymbolicName, bootstrap.jar
whose version is only in its manifest, ca-certificates-java.jar with none, the JDK's jrt-fs.jar), and Maven
Central's jopt-simple 5.0.4 (a Maven bundle plugin manifest) and velocity-engine-core 2.3 (which shades
commons-io: two pom.properties). The archives are built from them here; what each must be called is what Syft
1.18.1 listed for the very same files (`syft dir:` on them), so the SBOM agrees with the scanners'.

Archives are hostile input: a zip bomb, a corrupt or truncated archive, a name that climbs out of the root, a
directory too big to list and archives nested without end each give at most a warning line, never a crash, a
file on the host or unbounded memory."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.packages import jars
from slim.packages.inventory import MAVEN, read_inventory
from slim.packages.jarnames import parse_manifest, parse_pom_properties, split_file_name
from tarbuild import layer

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "java")
WAR_MANIFEST = b"Manifest-Version: 1.0\r\nCreated-By: Maven WAR Plugin 3.4.0\r\nBuild-Jdk-Spec: 17\r\n\r\n"
JOPT_POM = "META-INF/maven/net.sf.jopt-simple/jopt-simple/pom.properties"


def fixture(name: str, member: str = "META-INF/MANIFEST.MF") -> bytes:
    with open(os.path.join(FIXTURES, name, member), "rb") as fh:
        return fh.read()


def archive(*members: tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def jar(name: str, *extra: tuple[str, bytes]) -> bytes:
    """An archive holding a fixture directory's files (its metadata, as the real archive has it)."""
    root = os.path.join(FIXTURES, name)
    members = [(os.path.relpath(os.path.join(d, f), root), fixture(name, os.path.relpath(os.path.join(d, f), root)))
               for d, _, files in os.walk(root) for f in sorted(files)]
    return archive(*members, *extra)


def listed(data: bytes, location: str) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    found, warnings = jars.read_archive(io.BytesIO(data), location)
    return sorted((p.name, p.version, p.group, p.location) for p in found), warnings


# what Syft 1.18.1 listed for these archives: name, version ("UNKNOWN" in Syft's output when none), purl namespace
SYFT = {
    "/usr/share/tomcat10/bin/bootstrap.jar": [("bootstrap", "10.1.55", "org.apache.catalina.startup.Bootstrap")],
    "/usr/share/ca-certificates-java/ca-certificates-java.jar": [
        ("ca-certificates-java", "", "org.debian.security.UpdateCertificates")],
    "/usr/lib/jvm/java-17-openjdk-amd64/lib/jrt-fs.jar": [("jrt-fs", "17.0.19", "jrt-fs")],
    "/usr/share/java/tomcat10-catalina-10.1.55.jar": [("tomcat10-catalina", "10.1.55", "org.apache.tomcat-catalina")],
    "/app/velocity.jar": [("commons-io", "2.8.0", "commons-io"),
                          ("velocity-engine-core", "2.3", "org.apache.velocity")],
}


@pytest.mark.parametrize("location, expected", sorted(SYFT.items()))
def test_archives_are_named_as_syft_names_them(location, expected):
    name = {"bootstrap.jar": "bootstrap", "ca-certificates-java.jar": "ca-certificates-java", "jrt-fs.jar": "jrt-fs",
            "tomcat10-catalina-10.1.55.jar": "tomcat10-catalina-10.1.55",
            "velocity.jar": "velocity-engine-core-2.3"}[location.rsplit("/", 1)[1]]
    found, warnings = listed(jar(name), location)
    assert found == [(*p, location) for p in expected] and warnings == []


def test_a_war_lists_its_libraries_and_a_zip_the_archives_inside():
    war = archive(("META-INF/MANIFEST.MF", WAR_MANIFEST),
                  ("WEB-INF/lib/velocity-engine-core-2.3.jar", jar("velocity-engine-core-2.3")),
                  ("WEB-INF/lib/jopt-simple-5.0.4.jar", jar("jopt-simple-5.0.4")), ("index.jsp", b"<html/>"))
    lib = "/srv/app-1.0.war:WEB-INF/lib/"
    assert listed(war, "/srv/app-1.0.war") == ([
        ("app", "1.0", "app", "/srv/app-1.0.war"),
        ("commons-io", "2.8.0", "commons-io", lib + "velocity-engine-core-2.3.jar"),
        ("jopt-simple", "5.0.4", "net.sf.jopt-simple", lib + "jopt-simple-5.0.4.jar"),
        ("velocity-engine-core", "2.3", "org.apache.velocity", lib + "velocity-engine-core-2.3.jar")], [])
    bundle = archive(("lib/jopt-simple-5.0.4.jar", jar("jopt-simple-5.0.4")), ("README", b"x"))
    assert listed(bundle, "/opt/bundle.zip") == (
        [("jopt-simple", "5.0.4", "net.sf.jopt-simple", "/opt/bundle.zip:lib/jopt-simple-5.0.4.jar")], [])


def test_an_archive_without_a_manifest_names_no_package_as_in_syft():
    alone = archive((JOPT_POM, fixture("jopt-simple-5.0.4", JOPT_POM)))
    assert listed(alone, "/x/no-manifest-1.0.jar") == ([], [])


def test_the_maven_bundle_plugin_names_the_artifact():
    # jopt-simple's manifest: Created-By Apache Maven Bundle Plugin, Bundle-SymbolicName net.sf.jopt-simple.jopt-simple
    found, _ = listed(jar("jopt-simple-5.0.4"), "/x/renamed.jar")
    assert found == [("jopt-simple", "5.0.4", "net.sf.jopt-simple", "/x/renamed.jar")]


def test_real_manifest_sections_and_continuations():
    catalina = parse_manifest(fixture("tomcat10-catalina-10.1.55").decode())
    assert catalina.get("Bundle-SymbolicName") == "org.apache.tomcat-catalina"
    assert catalina.get("Bundle-Version") == "10.1.55"
    assert catalina.get("Export-Package").startswith("org.apache.catalina;uses:=\"jakarta.servlet,")
    assert "\r" not in catalina.get("Export-Package") and " " not in catalina.get("Export-Package")[:200]
    assert parse_manifest(fixture("ca-certificates-java").decode()).get("Class-Path") == ""
    sectioned = parse_manifest("Manifest-Version: 1.0\n\nName: a/b/\nImplementation-Version: 2.1\n")
    assert sectioned.get("Implementation-Version") == "" and sectioned.anywhere("Implementation-Version") == "2.1"


def test_real_pom_properties():
    pom = parse_pom_properties(fixture("velocity-engine-core-2.3",
                                       "META-INF/maven/org.apache.velocity/velocity-engine-core/pom.properties")
                               .decode())
    assert (pom.group, pom.artifact, pom.version) == ("org.apache.velocity", "velocity-engine-core", "2.3")
    jopt = parse_pom_properties(fixture("jopt-simple-5.0.4", JOPT_POM).decode())  # starts with two # comments
    assert (jopt.group, jopt.artifact, jopt.version) == ("net.sf.jopt-simple", "jopt-simple", "5.0.4")
    assert parse_pom_properties("artifactId=x\nnot a property line\nversion=1\n") is None
    assert parse_pom_properties("groupId=g\nartifactId=x\n") is None  # no version: no package


@pytest.mark.parametrize("file_name, expected", [
    # the samples' names, and one invented name per shape of the rule (separator, build/r versions, a nested
    # location, a version-like part inside the name, a long qualified version)
    ("tomcat10-i18n-pt-BR-10.1.55.jar", ("tomcat10-i18n-pt-BR", "10.1.55")),
    ("bootstrap.jar", ("bootstrap", "")),
    ("acme-widgets.2.0.1.xyz", ("acme-widgets", "2.0.1")),
    ("acme-widgets_2.0.1.jar", ("acme-widgets", "2.0.1")),
    ("acme-extra-part-widgets-2.0.1-rc3.ear", ("acme-extra-part-widgets", "2.0.1-rc3")),
    ("/shop.war:WEB-INF/lib/sshkit-build77-shop-2.jar", ("sshkit", "build77-shop-2")),
    ("collections-r09.jar", ("collections", "r09")),
    ("acme-mail-api_2.1_spec-3.0.4.Final.jar", ("acme-mail-api_2.1_spec", "3.0.4.Final")),
    ("acme-dav-2.0.1-beta-1.1.4b-shop.jar", ("acme-dav", "2.0.1-beta-1.1.4b-shop")),
    ("org.eclipse.jdt.core_3.32.0.jar", ("org.eclipse.jdt.core", "3.32.0")),
    ("1.0.jar", ("", "")),
    ("a" * 5000 + "!.jar", ("", "")),  # long and hostile: refused at once, no quadratic scan
])
def test_file_names(file_name, expected):
    assert split_file_name(file_name) == expected


def test_the_inventory_lists_each_archive_file_once(ws):
    """Regular files only: Debian's versionless symlinks (tomcat10-catalina.jar -> tomcat10-catalina-10.1.55.jar)
    are no second package, as in Syft's listing of the sample."""
    data = layer(("usr/share/java/tomcat10-catalina-10.1.55.jar", "file", jar("tomcat10-catalina-10.1.55")),
                 ("usr/share/java/tomcat10-catalina.jar", "symlink", "tomcat10-catalina-10.1.55.jar"),
                 ("usr/share/tomcat10/bin/bootstrap.jar", "file", (jar("bootstrap"), 0o755)),
                 ("usr/share/java/broken.jar", "file", b"PK\x03\x04 not really"))
    found = read_inventory(flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "jars.pack"), "jars")]))
    assert [(c.kind, c.name, c.version, c.location, c.files, c.purl(found.distro)) for c in found.components] == [
        (MAVEN, "bootstrap", "10.1.55", "/usr/share/tomcat10/bin/bootstrap.jar",
         ("/usr/share/tomcat10/bin/bootstrap.jar",), "pkg:maven/org.apache.catalina.startup.Bootstrap/bootstrap@10.1.55"),
        (MAVEN, "tomcat10-catalina", "10.1.55", "/usr/share/java/tomcat10-catalina-10.1.55.jar",
         ("/usr/share/java/tomcat10-catalina-10.1.55.jar",),
         "pkg:maven/org.apache.tomcat-catalina/tomcat10-catalina@10.1.55")]
    assert [w.message for w in found.warnings] == ["/usr/share/java/broken.jar: not read as a Java archive: "
                                                   "no zip end record"]


# hostile archives


def test_a_zip_bomb_inside_a_war_is_refused_before_it_is_inflated():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("META-INF/MANIFEST.MF", WAR_MANIFEST)
        zf.writestr("WEB-INF/lib/jopt-simple-5.0.4.jar", jar("jopt-simple-5.0.4"))
        with zf.open("WEB-INF/lib/bomb.jar", "w", force_zip64=True) as fh:  # 129 MiB of zeros, 130 KB stored
            zeros = bytes(1 << 20)
            for _ in range((jars.MAX_NESTED >> 20) + 1):
                fh.write(zeros)
    assert len(buf.getvalue()) < 1 << 20
    found, warnings = listed(buf.getvalue(), "/srv/app.war")
    assert [f[0] for f in found] == ["app", "jopt-simple"]  # the rest of the war is still listed
    assert warnings == [f"/srv/app.war:WEB-INF/lib/bomb.jar: not read as a Java archive: {jars.MAX_NESTED + (1 << 20)} "
                        f"bytes, more than the {jars.MAX_NESTED} slim reads"]


def test_nested_archives_share_one_inflation_budget(monkeypatch):
    monkeypatch.setattr(jars, "MAX_INFLATED", 3 * len(jar("jopt-simple-5.0.4")))
    war = archive(*[(f"WEB-INF/lib/jopt-simple-5.0.{i}.jar", jar("jopt-simple-5.0.4")) for i in range(6)])
    found, warnings = listed(war, "/w.war")
    assert 0 < len(found) < 6 and len(warnings) == 6 - len(found)
    assert all("bytes slim inflates for one archive are used up" in w for w in warnings)


@pytest.mark.parametrize("data, reason", [
    (b"", "no zip end record"),
    (os.urandom(4096).replace(b"PK", b"pk"), "no zip end record"),
    (jar("bootstrap")[:-30], "no zip end record"),  # truncated: the end record is cut
    (jar("bootstrap")[:200] + jar("bootstrap")[-22:], "BadZipFile"),  # the directory points at nothing
    # an end record claiming a central directory of 4 GiB (zipfile would try to list it)
    (b"PK\x05\x06" + struct.pack("<4HLLH", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFF0, 0, 0), "past slim's bounds"),
])
def test_a_corrupt_archive_is_one_warning(data, reason):
    found, warnings = listed(data, "/lib/bad.jar")
    assert found == [] and len(warnings) == 1 and warnings[0].startswith("/lib/bad.jar: not read as a Java archive")
    assert reason in warnings[0] and "\n" not in warnings[0]


def test_a_zip64_record_cannot_hide_a_directory_past_the_bounds(monkeypatch):
    """zipfile takes the counts of a zip64 end record whenever one is there, whatever the 32-bit record says: a
    forged small 32-bit record must not let a directory past the bounds through."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(3000):
            zf.writestr(f"f{i:06d}", b"")
    data = buf.getvalue()
    at = data.rfind(b"PK\x05\x06")
    entries, size, offset = struct.unpack_from("<HLL", data, at + 10)
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)
    small = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, 10, offset, 0)
    forged = data[:at] + zip64 + locator + small
    assert len(zipfile.ZipFile(io.BytesIO(forged)).namelist()) == 3000  # what zipfile would list
    monkeypatch.setattr(jars, "MAX_DIRECTORY", size // 2)
    found, warnings = listed(forged, "/lib/forged.jar")
    assert found == [] and warnings == [f"/lib/forged.jar: not read as a Java archive: central directory of "
                                        f"{entries} entries in {size} bytes, past slim's bounds"]


def test_an_archive_of_many_broken_archives_is_a_few_lines():
    """A war of 500 members named .jar that are no zips: a few warning lines, not one per member."""
    war = archive(("META-INF/MANIFEST.MF", WAR_MANIFEST), *[(f"WEB-INF/lib/x{i:03d}.jar", b"no zip") for i in range(500)])
    found, warnings = listed(war, "/srv/app.war")
    assert [f[0] for f in found] == ["app"] and len(warnings) == jars.MAX_WARNINGS
    assert warnings[0] == "/srv/app.war:WEB-INF/lib/x000.jar: not read as a Java archive: no zip end record"
    assert warnings[-1] == f"/srv/app.war: {500 - jars.MAX_WARNINGS + 1} more warnings on the archives inside it"


def test_a_manifest_of_a_million_continuation_lines_reads_in_linear_time():
    """2 MiB of one-character continuations (2 KB deflated): before, each line copied the value so far, about
    seven seconds for one manifest, and a war holds hundreds of such jars within the inflation budget."""
    import time

    text = "Manifest-Version: 1.0\nName: a\n" + " b\n" * 700_000
    started = time.process_time()
    manifest = parse_manifest(text)
    assert time.process_time() - started < 1.5
    assert manifest.get("Name") == "a" + "b" * 700_000


def test_names_that_climb_out_or_carry_control_characters_stay_strings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    war = archive(("../../../../evil-1.0.jar", jar("jopt-simple-5.0.4")),
                  ("WEB-INF/lib/bad\nname\x1b[31m.jar", b"not a zip"))
    found, warnings = listed(war, "/srv/app.war")
    assert found == [("jopt-simple", "5.0.4", "net.sf.jopt-simple", "/srv/app.war:../../../../evil-1.0.jar")]
    assert warnings == ["/srv/app.war:WEB-INF/lib/bad?name?[31m.jar: not read as a Java archive: no zip end record"]
    assert list(tmp_path.iterdir()) == [] and not os.path.exists("/evil-1.0.jar")  # nothing was extracted


def test_nesting_stops_at_a_depth():
    inner = jar("jopt-simple-5.0.4")
    for level in range(jars.MAX_DEPTH + 2):
        inner = archive((f"lib/level{level}.jar", inner))
    found, warnings = listed(inner, "/deep.jar")
    assert found == [] and len(warnings) == 1 and f"nested deeper than {jars.MAX_DEPTH}" in warnings[0]


WAR = archive(("META-INF/MANIFEST.MF", WAR_MANIFEST), ("WEB-INF/lib/jopt-simple-5.0.4.jar", jar("jopt-simple-5.0.4")))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(WAR) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, len(WAR)))
def test_a_damaged_archive_never_raises(flips, cut):
    """Bytes changed anywhere (headers, directory, compressed data) and the tail cut: packages or warnings, never an
    exception, and every warning one line."""
    data = bytearray(WAR[:cut] if cut > 22 else WAR)
    for at, value in flips:
        data[at % len(data)] = value
    found, warnings = jars.read_archive(io.BytesIO(bytes(data)), "/srv/app.war")
    assert all("\n" not in w for w in warnings) and all(isinstance(p, jars.JavaPackage) for p in found)


def test_slim_sbom_lists_an_archive_and_warns_once_for_a_broken_one(tmp_path):
    from click.testing import CliRunner

    from slim.cli import main
    from tarbuild import legacy_archive

    war = archive(("META-INF/MANIFEST.MF", WAR_MANIFEST), ("WEB-INF/lib/jopt-simple-5.0.4.jar", jar("jopt-simple-5.0.4")))
    image = tmp_path / "image.tar"
    image.write_bytes(legacy_archive([layer(("srv/app-1.0.war", "file", war), ("srv/broken.jar", "file", b"PK"))]))
    result = CliRunner().invoke(main, ["sbom", f"docker-archive:{image}"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert sorted(c["purl"] for c in doc["components"] if c["type"] == "library") == [
        "pkg:maven/app/app@1.0", "pkg:maven/net.sf.jopt-simple/jopt-simple@5.0.4"]
    assert [line for line in result.stderr.splitlines() if "warning" in line] == [
        "warning: /srv/broken.jar: not read as a Java archive: no zip end record"]


def test_the_directory_bound_holds_for_the_archives_open_at_once(monkeypatch):
    """zipfile keeps about 700 bytes of objects per entry while an archive is open, and a nested archive is
    open inside its parents. Before: each archive was checked on its own, so four nested levels of directories
    each just under the bound held four times the memory the bound was meant for (831 MiB measured for three
    levels of 450,000 entries)."""
    def level(inner: bytes | None, tag: str) -> bytes:
        members = [(f"{tag}/{i:05d}.class", b"") for i in range(2000)]
        return archive(("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\nImplementation-Title: " + tag.encode()
                        + b"\nImplementation-Version: 1\n\n"), *members, *([("lib/inner.jar", inner)] if inner else []))
    inner = level(None, "inner")
    middle = level(inner, "middle")
    outer = level(middle, "outer")
    at = outer.rfind(b"PK\x05\x06")
    size = struct.unpack_from("<L", outer, at + 12)[0]
    monkeypatch.setattr(jars, "MAX_DIRECTORY", int(size * 2.5))  # two levels fit at once, not three
    found, warnings = listed(outer, "/srv/app.jar")
    assert [f[3] for f in found] == ["/srv/app.jar", "/srv/app.jar:lib/inner.jar"]
    assert len(warnings) == 1 and warnings[0].startswith(
        "/srv/app.jar:lib/inner.jar:lib/inner.jar: not read as a Java archive: central directory of 2001 entries")
    alone, none = listed(inner, "/srv/inner.jar")  # the same archive on its own is read
    assert [f[3] for f in alone] == ["/srv/inner.jar"] and none == []

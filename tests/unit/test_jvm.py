"""The JVM's lazy parts (slim.langs.jvm) on a tree laid out as Debian's openjdk-17 and tomcat10 lay it out: the
runtime under /usr/lib/jvm, jars in /usr/share/java with versioned names and links, Tomcat's lib/ of links to
them, catalina.properties with its loaders, a webapp; the java command line as the tracer records it."""

from __future__ import annotations

import io
import zipfile

from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.langs import levels
from slim.langs.jvm import manifest_class_path, read_properties, split_loader
from slim.model import ProcessInfo
from tarbuild import layer

JDK = "/usr/lib/jvm/java-17-openjdk-amd64"
TOMCAT_ARGV = ("/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
               "-Djava.util.logging.config.file=/var/lib/tomcat10/conf/logging.properties",
               "-classpath", "/usr/share/tomcat10/bin/bootstrap.jar:/usr/share/tomcat10/bin/tomcat-juli.jar",
               "-Dcatalina.base=/var/lib/tomcat10", "-Dcatalina.home=/usr/share/tomcat10",
               "-Djava.io.tmpdir=/tmp", "org.apache.catalina.startup.Bootstrap", "start")
CATALINA_PROPERTIES = b"""# the loaders Tomcat builds at start
package.access=sun.,org.apache.catalina.,\\
  org.apache.jasper.
common.loader="${catalina.base}/lib","${catalina.base}/lib/*.jar","${catalina.home}/lib","${catalina.home}/lib/*.jar"
server.loader=
shared.loader=/opt/shared/*.jar
"""


def jar(class_path: str = "", long: bool = False) -> bytes:
    manifest = "Manifest-Version: 1.0\r\n"
    if class_path:
        # manifests wrap at 72 bytes: a continuation line starts with one space
        line = f"Class-Path: {class_path}"
        manifest += "\r\n ".join(line[i:i + 70] for i in range(0, len(line), 70)) + "\r\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", manifest)
        z.writestr("a/B.class", b"\xca\xfe\xba\xbe" + (b"x" * 100 if long else b""))
    return buf.getvalue()


def with_parents(*members):
    """Members and a directory entry for each parent, as a real image's layer has them."""
    parents = sorted({"/".join(m[0].split("/")[:i]) for m in members for i in range(1, m[0].count("/") + 1)})
    named = {m[0] for m in members}
    return [(d, "dir") for d in parents if d not in named] + list(members)


R = JDK.lstrip("/")  # a layer's names are relative


def tree(ws):
    data = layer(*with_parents(
        (f"{R}/bin/java", "file", (b"\x7fELF-java", 0o755)),
        (f"{R}/lib/server/libjvm.so", "file", b"\x7fELF-jvm"), (f"{R}/lib/libawt.so", "file", b"\x7fELF-awt"),
        (f"{R}/lib/modules", "file", b"jimage"), (f"{R}/lib/tzdb.dat", "file", b"tzdb"),
        (f"{R}/lib/ct.sym", "file", b"for javac only"), (f"{R}/lib/server/classes_nocoops.jsa", "file", b"cds"), ("etc/java-17-openjdk/security/java.security", "file", b"x"),
        (f"{R}/conf", "dir"), (f"{R}/conf/security", "symlink", "/etc/java-17-openjdk/security"),
        ("usr/share/java/tomcat10-jasper-10.1.jar", "file", jar("eclipse-jdt-core.jar tomcat10-el-api.jar")),
        ("usr/share/java/tomcat10-jasper.jar", "symlink", "tomcat10-jasper-10.1.jar"),
        ("usr/share/java/eclipse-jdt-core-3.32.jar", "file", jar()),
        ("usr/share/java/eclipse-jdt-core.jar", "symlink", "eclipse-jdt-core-3.32.jar"),
        ("usr/share/java/tomcat10-el-api.jar", "file", jar()),
        ("usr/share/java/unrelated.jar", "file", jar()),
        ("usr/share/tomcat10/bin/bootstrap.jar", "file", jar()),
        ("usr/share/tomcat10/bin/tomcat-juli.jar", "symlink", "../../java/tomcat10-el-api.jar"),
        ("usr/share/tomcat10/lib/jasper.jar", "symlink", "../../java/tomcat10-jasper.jar"),
        ("etc/tomcat10/catalina.properties", "file", CATALINA_PROPERTIES),
        ("etc/tomcat10/server.xml", "file", b'<Server><!-- <Host appBase="old"/> --><Host appBase="webapps"/></Server>'),
        ("var/lib/tomcat10/conf", "symlink", "/etc/tomcat10"), ("var/lib/tomcat10/lib", "dir"),
        ("var/lib/tomcat10/webapps/app/hello.jsp", "file", b"<%= 1 + 1 %>"),
        ("var/lib/tomcat10/webapps/app/WEB-INF/lib/helper.jar", "file", jar()),
        ("var/lib/tomcat10/webapps/app/WEB-INF/classes/a/Util.class", "file", b"\xca\xfe\xba\xbe"),
        ("opt/shared/one.jar", "file", jar()), ("opt/shared/notes.txt", "file", b"not a jar"),
        ("srv/app/app.jar", "file", jar("lib/dep.jar classes/ missing.jar my%20lib.jar", long=True)),
        ("srv/app/lib/dep.jar", "file", jar("../lib/deeper.jar")), ("srv/app/lib/deeper.jar", "file", jar()),
        ("srv/app/classes/x/Y.class", "file", b"\xca\xfe"), ("srv/app/my lib.jar", "file", jar()),
        ("srv/cp/a.jar", "file", jar()), ("srv/cp/b.jar", "file", jar()), ("srv/cp/conf/app.properties", "file", b""),
    ))
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "jvm.pack"), "jvm")])


def java(*argv: str, exe: str = f"{JDK}/bin/java") -> ProcessInfo:
    return ProcessInfo(pid=7, ppid=1, argv=(exe, *argv), exe=exe)


def complete(root, processes, kept=frozenset(), env=None, level=levels.IMPORTS):
    return levels.completion(root, set(kept), level, env or {}, [], processes=tuple(processes))


def test_the_runtime_that_ran_is_kept_but_the_compilers_data(ws):
    root = tree(ws)
    out = complete(root, [java("-version")])
    assert {f"{JDK}/lib/libawt.so", f"{JDK}/lib/modules", f"{JDK}/lib/tzdb.dat", f"{JDK}/lib/server/libjvm.so",
            "/etc/java-17-openjdk/security/java.security"} <= set(out)
    assert f"{JDK}/lib/ct.sym" not in out and f"{JDK}/lib/server/classes_nocoops.jsa" not in out
    assert out[f"{JDK}/lib/libawt.so"].text() == f"part of the Java runtime {JDK}, loaded lazily"
    assert out[f"{JDK}/lib/libawt.so"].category == "closure"  # counted as the runtime's closure, like a library
    # no java ran, but a kept libjvm.so says a runtime did (an entrypoint that runs one)
    assert f"{JDK}/lib/libawt.so" in complete(root, [], kept={f"{JDK}/lib/server/libjvm.so"})
    assert complete(root, [java("-version")], level=levels.OFF) == {}


def test_tomcat_loaders_manifests_through_debian_links_and_webapps(ws):
    root = tree(ws)
    out = complete(root, [java(*TOMCAT_ARGV[1:])])
    # the compiler a JSP needs: named only by jasper's manifest, resolved beside the jar's real path
    assert out["/usr/share/java/eclipse-jdt-core.jar"].text() == \
        "on the class path: Class-Path of /usr/share/tomcat10/lib/jasper.jar"
    assert out["/usr/share/tomcat10/lib/jasper.jar"].text() == \
        "on the class path: common.loader of /var/lib/tomcat10/conf/catalina.properties"
    assert out["/usr/share/tomcat10/bin/bootstrap.jar"].text() == "on the class path: -classpath of java"
    assert out["/opt/shared/one.jar"].text().startswith("on the class path: shared.loader of")
    for path in ("/var/lib/tomcat10/webapps/app/hello.jsp", "/var/lib/tomcat10/webapps/app/WEB-INF/lib/helper.jar",
                 "/var/lib/tomcat10/webapps/app/WEB-INF/classes/a/Util.class", "/etc/tomcat10/server.xml"):
        assert path in out, path
    assert "/opt/shared/notes.txt" not in out and "/usr/share/java/unrelated.jar" not in out


def test_jar_manifests_are_followed_recursively_and_directories_kept_whole(ws):
    root = tree(ws)
    out = complete(root, [java("-Xmx64m", "-jar", "app.jar", "-cp", "ignored")], env={})
    assert "/srv/app/app.jar" not in out  # relative to the working directory, which is / here
    out = levels.completion(root, set(), levels.IMPORTS, {}, [], processes=(java("-jar", "app.jar"),),
                            workdir="/srv/app")
    assert {"/srv/app/app.jar", "/srv/app/lib/dep.jar", "/srv/app/lib/deeper.jar", "/srv/app/classes/x/Y.class",
            "/srv/app/my lib.jar"} <= set(out)
    out = complete(root, [java("-cp", "/srv/cp/*:/srv/cp/conf", "Main")])
    assert {"/srv/cp/a.jar", "/srv/cp/b.jar", "/srv/cp/conf/app.properties"} <= set(out)


def test_classpath_from_the_image_env_and_no_root_directory(ws):
    root = tree(ws)
    out = complete(root, [java("Main")], env={"CLASSPATH": "/srv/cp/a.jar:."})
    assert out["/srv/cp/a.jar"].text() == "on the class path: CLASSPATH of the image"
    assert not any(p.startswith(("/etc/tomcat10", "/srv/app")) for p in out)  # "." is / here: never kept whole


def test_manifest_and_properties_parsers(ws):
    root = tree(ws)
    assert manifest_class_path(root, "/srv/app/app.jar") == ["lib/dep.jar", "classes/", "missing.jar", "my lib.jar"]
    assert manifest_class_path(root, "/opt/shared/notes.txt") == []  # not a zip: nothing, no error
    props = read_properties(root, "/etc/tomcat10/catalina.properties")
    assert props["package.access"] == "sun.,org.apache.catalina.,org.apache.jasper."
    assert split_loader(props["common.loader"]) == ["${catalina.base}/lib", "${catalina.base}/lib/*.jar",
                                                    "${catalina.home}/lib", "${catalina.home}/lib/*.jar"]
    assert props["server.loader"] == "" and split_loader("") == []


def test_libjvm_is_not_missing_for_the_runtimes_own_libraries(ws):
    """libjava.so needs libjvm.so and no search path of it finds lib/server: the launcher loaded it first."""
    from slim.langs.jvm import loaded_by_the_launcher

    root = tree(ws)
    assert loaded_by_the_launcher(root, "libjvm.so", f"{JDK}/lib/libawt.so")
    assert not loaded_by_the_launcher(root, "libjvm.so", "/usr/lib/x86_64-linux-gnu/libother.so")
    assert not loaded_by_the_launcher(root, "libjvm.so", "/opt/nojava/lib/libx.so")
    assert not loaded_by_the_launcher(root, "libz.so.1", f"{JDK}/lib/libawt.so")

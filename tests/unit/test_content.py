"""App content the probes did not ask for (slim.plan.content), on a fixture tree that copies a real image: nginx
from Debian with a site COPY'd to /var/www/site, Debian's own default page under /var/www/html, a Node app
with node_modules, and system files the app reads (/etc/hostname, the loader cache)."""

from __future__ import annotations

import io

from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.model import EXEC, LISTDIR, READ, FileAccess, Trace
from slim.plan.content import app_content, content_directories
from tarbuild import layer

# what nginx-common's file list says it owns (as /var/lib/dpkg/info/nginx-common.list has it), and base-files'
OWNED = frozenset({"/", "/etc", "/etc/nginx", "/etc/nginx/nginx.conf", "/usr", "/usr/share", "/usr/share/nginx",
                   "/usr/share/nginx/html", "/usr/share/nginx/html/index.html", "/var", "/var/www", "/srv", "/opt",
                   "/usr/sbin/nginx"})


def tree(ws):
    data = layer(
        ("usr/sbin/nginx", "file", (b"\x7fELF-nginx", 0o755)),
        ("etc/nginx/nginx.conf", "file", b"events {}\n"), ("etc/hostname", "file", b"box\n"),
        ("etc/ld.so.cache", "file", b"ld.so-1.7.0"), ("etc/other.conf", "file", b"x"),
        ("usr/share/nginx/html/index.html", "file", b"<h1>Welcome to nginx</h1>"),
        ("usr/share/nginx/html/extra.html", "file", b"not owned, but in a directory a package made"),
        ("var/www/site/index.html", "file", b"<a href=/about.html>about</a>"),
        ("var/www/site/about.html", "file", b"<h1>about</h1>"),
        ("var/www/site/css/site.css", "file", b"body{}"),
        ("var/www/site/deploy.sh", "file", (b"#!/bin/bash\necho deploy\n", 0o755)),
        ("srv/big/one.bin", "file", b"a" * 600), ("srv/big/two.bin", "file", b"b" * 600),
        ("srv/notes.txt", "file", b"read"), ("srv/other.txt", "file", b"not app content"),
        ("www/index.html", "file", b"<h1>home</h1>"), ("www/check.py", "file", b"import json\n"),
        ("opt/app/server.js", "file", b"require('./routes')"), ("opt/app/routes.js", "file", b""),
        ("opt/app/node_modules/big/index.js", "file", b"// the require closure decides"),
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "content.pack"), "content")])


def trace_of(*accesses):
    return Trace(accesses=tuple(FileAccess(p, k, True) for p, k in accesses))


def test_directories_of_unowned_files_the_app_read(ws):
    root = tree(ws)
    trace = trace_of(("/usr/sbin/nginx", EXEC), ("/etc/nginx/nginx.conf", READ), ("/etc/hostname", READ),
                     ("/etc/ld.so.cache", READ), ("/var/www/site/index.html", READ), ("/var/www/site/css", LISTDIR),
                     ("/usr/share/nginx/html/index.html", READ), ("/opt/app/server.js", READ),
                     ("/opt/app/node_modules/big/index.js", READ))
    # /etc is a system tree, nginx's html directory is a package's, node_modules is the require closure's
    assert content_directories(root, trace, OWNED) == ["/opt/app", "/var/www/site"]
    found = app_content(root, trace, OWNED, kept={"/var/www/site/index.html", "/opt/app/server.js"})
    assert sorted(found.files) == ["/opt/app/routes.js", "/var/www/site/about.html", "/var/www/site/css/site.css",
                                   "/var/www/site/deploy.sh"]
    assert found.files["/var/www/site/about.html"].text() == "beside files the app read in /var/www/site"
    assert found.directories == {"/opt/app": 0, "/var/www/site": 14 + 6 + 24} and found.warnings == []


def test_a_directory_over_the_cap_adds_nothing_and_says_so(ws):
    root = tree(ws)
    found = app_content(root, trace_of(("/srv/big/one.bin", READ)), OWNED, kept={"/srv/big/one.bin"}, cap=500)
    assert found.files == {} and found.directories == {"/srv/big": 0}
    assert [(w.code, w.path) for w in found.warnings] == [("content.cap", "/srv/big")]
    found = app_content(root, trace_of(("/srv/big/one.bin", READ)), OWNED, kept={"/srv/big/one.bin"}, cap=600)
    assert list(found.files) == ["/srv/big/two.bin"]


def test_a_top_level_directory_the_image_made_is_content_a_standard_one_is_not(ws):
    # python3 -m http.server in WORKDIR /www serves every file there; /srv is the standard's, too wide
    root = tree(ws)
    trace = trace_of(("/www/index.html", READ), ("/srv/notes.txt", READ))
    assert content_directories(root, trace, frozenset()) == ["/www"]
    found = app_content(root, trace, frozenset(), kept={"/www/index.html"})
    assert list(found.files) == ["/www/check.py"] and "/srv/other.txt" not in found.files


def test_without_a_package_database_system_trees_still_never_count(ws):
    root = tree(ws)
    trace = trace_of(("/etc/hostname", READ), ("/usr/share/nginx/html/index.html", READ))
    assert content_directories(root, trace, frozenset()) == ["/usr/share/nginx/html"]

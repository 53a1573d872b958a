"""The Node require closure (level `imports`) on a fixture tree that copies a real npm layout: an app with
node_modules, a scoped package with conditional `exports`, `main` pointing into lib/, index.js lookups,
relative requires with and without extensions, ES module imports, a lazy require inside a handler, and a
package Debian installs in /usr/share/nodejs."""

from __future__ import annotations

import io
import json

from slim.langs import levels, nodeimports
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from tarbuild import layer

SERVER = b'''// Express-style app
const http = require('http');
const fs = require("node:fs");
const greeter = require('greeter');
const { parse } = require("@acme/qs");
import esm from "esm-only";
export { helper } from './lib/helpers';
require('./config.json');
function report(req, res) {
  const csv = require('csv-writer');   // lazily, inside a handler: the probes never get here
  return csv;
}
const plugin = require(process.env.PLUGIN);   // named at run time
/* require('commented-out') is kept too: one module too many, never one too few */
'''


def manifest(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def tree(ws):
    app = "opt/app"
    nm = f"{app}/node_modules"
    data = layer(
        ("usr/bin/node", "file", (b"\x7fELF-node", 0o755)),
        (f"{app}/package.json", "file", manifest({"name": "app", "dependencies": {"greeter": "1", "unused": "1"}})),
        (f"{app}/server.js", "file", SERVER),
        (f"{app}/config.json", "file", b"{}"),
        (f"{app}/lib/helpers.js", "file", b"module.exports = require('../util');\n"),
        (f"{app}/util/index.js", "file", b"exports.x = 1;\n"),
        (f"{app}/unreached.js", "file", b"require('never')\nrequire('lazy-dep')\n"),
        (f"{nm}/lazy-dep/package.json", "file", manifest({"name": "lazy-dep"})),
        (f"{nm}/lazy-dep/index.js", "file", b"module.exports = 1;\n"),
        (f"{nm}/greeter/package.json", "file", manifest({"name": "greeter", "main": "lib/index"})),
        (f"{nm}/greeter/lib/index.js", "file", b"const f = require('./format');\n"),
        (f"{nm}/greeter/lib/format.js", "file", b"module.exports = s => s;\n"),
        (f"{nm}/greeter/lib/unused.js", "file", b"// nobody requires this\n"),
        (f"{nm}/greeter/README.md", "file", b"# greeter\n"),
        (f"{nm}/@acme/qs/package.json", "file", manifest(
            {"name": "@acme/qs", "exports": {".": {"import": "./esm/index.mjs", "require": "./cjs/index.cjs"},
                                             "./package.json": "./package.json"}})),
        (f"{nm}/@acme/qs/esm/index.mjs", "file", b"export * from './parse.mjs';\n"),
        (f"{nm}/@acme/qs/esm/parse.mjs", "file", b"export const parse = 1;\n"),
        (f"{nm}/@acme/qs/cjs/index.cjs", "file", b"module.exports = {};\n"),
        (f"{nm}/@acme/qs/test/spec.js", "file", b"require('mocha')\n"),
        (f"{nm}/csv-writer/package.json", "file", manifest({"name": "csv-writer", "type": "module"})),
        (f"{nm}/csv-writer/index.js", "file", b"import { stringify } from 'stringify-pkg';\n"),
        (f"{nm}/unused/package.json", "file", manifest({"name": "unused"})),
        (f"{nm}/unused/index.js", "file", b""),
        ("usr/share/nodejs/esm-only/package.json", "file", manifest({"name": "esm-only", "exports": "./main.js"})),
        ("usr/share/nodejs/esm-only/main.js", "file", b"export default 1;\n"),
        ("usr/share/nodejs/stringify-pkg/package.json", "file", manifest({"name": "stringify-pkg"})),
        ("usr/share/nodejs/stringify-pkg/index.js", "file", b"export function stringify() {}\n"),
        ("usr/share/nodejs/commented-out/index.js", "file", b""),
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "node.pack"), "node")])


def test_literal_loads_are_found_with_their_lines():
    found, dynamic = nodeimports.specifiers_of(SERVER)
    names = [s for s, _ in found]
    assert names[:7] == ["http", "node:fs", "greeter", "@acme/qs", "esm-only", "./lib/helpers", "./config.json"]
    assert ("csv-writer", 10) in found and "commented-out" in names
    assert dynamic == [13]
    assert nodeimports.is_builtin("node:fs") and nodeimports.is_builtin("fs/promises")
    assert not nodeimports.is_builtin("@acme/fs") and not nodeimports.is_builtin("greeter")


def test_exports_conditions_and_patterns():
    exports = {".": {"import": "./esm/i.mjs", "default": ["./cjs/i.js"]}, "./feat/*": {"node": "./src/*.js"}}
    assert nodeimports._export_targets(exports, ".") == ["./esm/i.mjs", "./cjs/i.js"]
    assert nodeimports._export_targets(exports, "./feat/x") == ["./src/x.js"]
    assert nodeimports._export_targets("./main.js", ".") == ["./main.js"]
    assert nodeimports._export_targets({"require": "./r.js"}, ".") == ["./r.js"]


def test_the_closure_keeps_what_is_required_and_nothing_else(ws):
    root = tree(ws)
    warnings: list = []
    out = levels.completion(root, {"/usr/bin/node", "/opt/app/server.js"}, levels.IMPORTS, {}, warnings)
    nm = "/opt/app/node_modules"
    for path in ("/opt/app/package.json", "/opt/app/config.json", "/opt/app/lib/helpers.js", "/opt/app/util/index.js",
                 f"{nm}/greeter/package.json", f"{nm}/greeter/lib/index.js", f"{nm}/greeter/lib/format.js",
                 f"{nm}/@acme/qs/package.json", f"{nm}/@acme/qs/esm/index.mjs", f"{nm}/@acme/qs/esm/parse.mjs",
                 f"{nm}/@acme/qs/cjs/index.cjs", f"{nm}/csv-writer/package.json", f"{nm}/csv-writer/index.js",
                 "/usr/share/nodejs/esm-only/main.js", "/usr/share/nodejs/stringify-pkg/index.js",
                 "/usr/share/nodejs/commented-out/index.js"):
        assert path in out, path
    assert out[f"{nm}/csv-writer/index.js"].text() == "required at /opt/app/server.js:10"
    for path in (f"{nm}/greeter/lib/unused.js", f"{nm}/greeter/README.md", f"{nm}/@acme/qs/test/spec.js",
                 f"{nm}/unused/index.js"):
        assert path not in out, path
    # require(process.env.PLUGIN): a warning, and the app directory is kept whole (without node_modules)
    assert [w.code for w in warnings] == ["lang.dynamic-import"]
    assert "/opt/app/unreached.js" in out
    # and what the files of a directory kept whole load is kept too
    assert out[f"{nm}/lazy-dep/index.js"].text() == "required at /opt/app/unreached.js:2"


def test_package_level_still_keeps_whole_dependency_packages(ws):
    root = tree(ws)
    out = levels.completion(root, {"/usr/bin/node", "/opt/app/server.js"}, levels.PACKAGE)
    assert "/opt/app/node_modules/unused/index.js" in out and "/opt/app/node_modules/greeter/README.md" in out

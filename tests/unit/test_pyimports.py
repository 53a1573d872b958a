"""The Python import closure (level `imports`) on fixture trees that copy real layouts: Debian's python3.11 with
lib-dynload, dist-packages with relative imports, a .pth file, lazy imports inside functions."""

from __future__ import annotations

import io

from slim.langs import levels, pyimports
from slim.langs.pypath import PythonPath
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from tarbuild import layer

LIB = "usr/lib/python3.11"
APP = b'''import json
from http import server
def handler():
    import email.utils          # lazily, inside a function: the probes may never get here
    from . import missing_is_fine
try:
    import ujson
except ImportError:
    ujson = None
import importlib
plugin = importlib.import_module("pkg.plugin")
other = importlib.import_module(NAME)
'''


def tree(ws):
    data = layer(
        ("usr/bin/python3.11", "file", (b"\x7fELF-python", 0o755)),
        (f"{LIB}/os.py", "file", b"import posixpath\n"), (f"{LIB}/posixpath.py", "file", b""),
        (f"{LIB}/json/__init__.py", "file", b"from .decoder import JSONDecoder\n"),
        (f"{LIB}/json/decoder.py", "file", b"import re\n"), (f"{LIB}/re/__init__.py", "file", b""),
        (f"{LIB}/json/tool.py", "file", b"# never imported\n"),
        (f"{LIB}/http/__init__.py", "file", b""), (f"{LIB}/http/server.py", "file", b"import socketserver\n"),
        (f"{LIB}/socketserver.py", "file", b"import selectors\n"), (f"{LIB}/selectors.py", "file", b"import math\n"),
        (f"{LIB}/lib-dynload/math.cpython-311-x86_64-linux-gnu.so", "file", b"\x7fELF-ext"),
        (f"{LIB}/email/__init__.py", "file", b""), (f"{LIB}/email/utils.py", "file", b"import datetime\ndef _t():\n    from test import support\n"),
        (f"{LIB}/test/__init__.py", "file", b""), (f"{LIB}/test/support/__init__.py", "file", b"# test suite\n"),
        (f"{LIB}/datetime.py", "file", b""), (f"{LIB}/tkinter/__init__.py", "file", b"# not needed\n"),
        (f"{LIB}/importlib/__init__.py", "file", b""),
        ("usr/lib/python3/dist-packages/pkg/__init__.py", "file", b"from .core import run\n"),
        ("usr/lib/python3/dist-packages/pkg/core.py", "file", b"from ..pkg import util\nfrom . import util as u\n"),
        ("usr/lib/python3/dist-packages/pkg/util.py", "file", b""),
        ("usr/lib/python3/dist-packages/pkg/plugin.py", "file", b"print 'python 2'\n"),
        ("usr/lib/python3/dist-packages/pkg/unused.py", "file", b""),
        ("usr/lib/python3/dist-packages/extra.pth", "file", b"# comment\n/opt/vendor\nimport site\n"),
        ("opt/vendor/vendored.py", "file", b""),
        ("app/main.py", "file", APP + b"import vendored\nimport pkg\n"),
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "py.pack"), "py")])


def test_imports_found_in_every_scope_and_resolved_relative():
    found, dynamic = pyimports.imports_of(APP, "")
    names = {i.name for i in found}
    assert {"json", "http", "email.utils", "ujson", "importlib", "pkg.plugin"} <= names
    assert dynamic == [(12, "")]
    rel, _ = pyimports.imports_of(b"from ..pkg import util\nfrom . import u\n", "pkg")
    assert sorted((i.name, i.names) for i in rel) == [("pkg", ("u",)), ("pkg", ("util",))]


def test_the_closure_keeps_what_is_imported_and_nothing_else(ws):
    root = tree(ws)
    kept = {"/usr/bin/python3.11", "/app/main.py"}
    warnings: list = []
    out = levels.completion(root, kept, levels.IMPORTS, {}, warnings)
    for path in (f"/{LIB}/json/__init__.py", f"/{LIB}/json/decoder.py", f"/{LIB}/re/__init__.py",
                 f"/{LIB}/http/server.py", f"/{LIB}/socketserver.py", f"/{LIB}/selectors.py",
                 f"/{LIB}/lib-dynload/math.cpython-311-x86_64-linux-gnu.so", f"/{LIB}/email/utils.py",
                 f"/{LIB}/datetime.py", "/usr/lib/python3/dist-packages/pkg/core.py",
                 "/usr/lib/python3/dist-packages/pkg/util.py", "/opt/vendor/vendored.py"):
        assert path in out, path
    assert out[f"/{LIB}/email/utils.py"].text() == "imported at /app/main.py:4"
    assert f"/{LIB}/json/tool.py" not in out and f"/{LIB}/tkinter/__init__.py" not in out
    assert f"/{LIB}/test/support/__init__.py" not in out  # the test suites stay out, as at the full level
    # pkg.plugin does not parse (Python 2): its package is kept whole, with a warning; so is a dynamic import's
    assert "/usr/lib/python3/dist-packages/pkg/unused.py" in out
    codes = sorted(w.code for w in warnings)
    assert codes == ["lang.dynamic-import", "lang.unparsed"]


def test_imports_level_adds_less_than_full(ws):
    root = tree(ws)
    kept = {"/usr/bin/python3.11", "/app/main.py"}
    imports = levels.completion(root, kept, levels.IMPORTS, {}, [])
    full = levels.completion(root, kept, levels.FULL)
    assert f"/{LIB}/json/tool.py" in full and f"/{LIB}/json/tool.py" not in imports


def test_branches_that_never_run_on_import_in_a_linux_container_are_skipped():
    source = b'''import os
if __name__ == "__main__":
    import unittest
if TYPE_CHECKING:
    import typing_extensions
if sys.platform == "win32":
    import winreg
else:
    import fcntl
if os.name == "nt":
    import nt
'''
    found, _ = pyimports.imports_of(source, "")
    assert sorted(i.name for i in found) == ["fcntl", "os"]


def test_private_functions_only_the_main_block_calls_are_skipped():
    # pickle.py's shape: `_test` imports doctest (and with it unittest and asyncio) and only the script calls it
    source = b'''import io
def _test():
    import doctest
    _helper()
def _helper():
    import pdb
def _used():
    import shlex
def _by_name():
    import gzip
def main():
    import argparse
__all__ = ["_by_name"]
CALLBACK = _used
if __name__ == "__main__":
    _test()
    main()
'''
    found, _ = pyimports.imports_of(source, "")
    # main is public: another module may call it; _used runs on import; _by_name is named in __all__
    assert sorted(i.name for i in found) == ["argparse", "gzip", "io", "shlex"]


def test_an_import_fallback_is_followed_only_when_what_it_replaces_is_missing(ws):
    # decimal.py's shape: the C accelerator, else the pure-Python module
    source = b'''try:
    from _decimal import *
    from _decimal import __version__
except ImportError:
    from _pydecimal import *
try:
    import ujson as json
except ImportError:
    import json
try:
    import _missing_accel
    setup()
except ImportError:
    import needed_anyway
'''
    found, _ = pyimports.imports_of(source, "")
    by_name = {i.name: i.unless for i in found}
    assert by_name["_pydecimal"] == ("_decimal", "_decimal") and by_name["json"] == ("ujson",)
    assert by_name["needed_anyway"] == ()  # that try body calls code: its handler is always followed
    data = layer(
        (f"{LIB}/decimal.py", "file", source), (f"{LIB}/_pydecimal.py", "file", b""),
        (f"{LIB}/lib-dynload/_decimal.cpython-311-x86_64-linux-gnu.so", "file", b"\x7fELF-ext"),
        (f"{LIB}/json/__init__.py", "file", b""), (f"{LIB}/needed_anyway.py", "file", b""),
    )
    root = flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "fb.pack"), "fb")])
    pypath = PythonPath(root, [f"/{LIB}", f"/{LIB}/lib-dynload"])
    kept = pyimports.import_closure(root, pypath, [f"/{LIB}/decimal.py"]).keep
    assert f"/{LIB}/lib-dynload/_decimal.cpython-311-x86_64-linux-gnu.so" in kept
    assert f"/{LIB}/_pydecimal.py" not in kept  # the accelerator is in the image
    assert f"/{LIB}/json/__init__.py" in kept  # ujson is not
    assert f"/{LIB}/needed_anyway.py" in kept


def test_statements_whose_word_import_is_on_a_later_line_are_found():
    # the scan skips blocks whose lines never say "import": a statement's word may sit on any of its lines
    source = b'''def handler():
    from email \\
        import utils
    plugin = importlib.import_module(
        "pkg.plugin")
    class Inner:
        def method(self):
            return __import__(
                "zlib")
def untouched():
    return 1
'''
    found, _ = pyimports.imports_of(source, "")
    assert sorted(i.name for i in found) == ["email", "pkg.plugin", "zlib"]


def test_a_name_built_at_run_time_is_known_by_its_constant_start():
    # encodings/__init__.py's shape, and the other ways code builds a module name
    source = b'''mod = __import__('encodings.' + modname, fromlist=_import_tail, level=0)
backend = importlib.import_module(f"app.backends.{name}.base")
plugin = import_module("app.plugins.{}".format(name))
sibling = import_module("." + name, package=__name__)
anything = import_module("%s.%s" % (package, name))
chained = import_module("app.x." + a + "." + b)
'''
    dynamic = pyimports.scan(source).dynamic
    prefixes = [prefix for _, prefix in sorted(dynamic)]
    assert prefixes == ["encodings.", "app.backends.", "app.plugins.", ".", "", "app.x."]
    assert [pyimports.dynamic_package(p, "app.core") for p in prefixes] == [
        "encodings", "app.backends", "app.plugins", "app.core", None, "app.x"]
    assert pyimports.dynamic_package("enc", "") is None  # 'enc' + name: any top-level module
    assert pyimports.dynamic_package(".", "") is None  # no package to be relative to


def test_a_package_kept_whole_is_the_one_the_name_names_and_its_imports_are_followed(ws):
    site = "usr/lib/python3/dist-packages"
    data = layer(
        (f"{LIB}/codecs.py", "file", b""), (f"{LIB}/bz2.py", "file", b"import _bz2\n"),
        (f"{LIB}/lib-dynload/_bz2.cpython-311-x86_64-linux-gnu.so", "file", b"\x7fELF-ext"),
        (f"{LIB}/encodings/__init__.py", "file", b"import codecs\ndef search(n):\n    return __import__('encodings.' + n)\n"),
        (f"{LIB}/encodings/utf_8.py", "file", b"import codecs\n"),
        (f"{LIB}/encodings/bz2_codec.py", "file", b"import bz2\n"),  # no probe decodes bz2; a request may
        (f"{site}/app/__init__.py", "file", b""),
        (f"{site}/app/core.py", "file", b"import importlib\ndef load(n):\n    return importlib.import_module(f'app.plugins.{n}')\n"),
        (f"{site}/app/plugins/__init__.py", "file", b""), (f"{site}/app/plugins/csv_out.py", "file", b""),
        (f"{site}/app/unrelated.py", "file", b""),
        (f"{site}/app/plugins/tests/__init__.py", "file", b""),
        (f"{site}/app/plugins/tests/test_csv.py", "file", b"import pytest\n"), (f"{site}/pytest.py", "file", b""),
        ("srv/run.py", "file", b"import app.core\ndef hook(name):\n    return __import__(name)\n"),
    )
    root = flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "dyn.pack"), "dyn")])
    pypath = PythonPath(root, ["/srv", f"/{LIB}", f"/{LIB}/lib-dynload", f"/{site}"])
    found = pyimports.import_closure(root, pypath, ["/srv/run.py", f"/{LIB}/encodings/__init__.py"])
    assert f"/{LIB}/encodings/bz2_codec.py" in found.keep
    # what a module of the whole package imports is kept too: bz2 and its extension module
    assert f"/{LIB}/bz2.py" in found.keep and f"/{LIB}/lib-dynload/_bz2.cpython-311-x86_64-linux-gnu.so" in found.keep
    assert f"/{site}/app/plugins/csv_out.py" in found.keep
    assert f"/{site}/app/unrelated.py" not in found.keep  # the name says app.plugins, not all of app
    # nor its test suite (and the test framework that would come with it)
    assert f"/{site}/app/plugins/tests/test_csv.py" not in found.keep and f"/{site}/pytest.py" not in found.keep
    assert found.dynamic == {f"/{LIB}/encodings/__init__.py:3": f"/{LIB}/encodings",
                             f"/{site}/app/core.py:3": f"/{site}/app/plugins",
                             "/srv/run.py:3": None}  # a top-level script: no package to keep

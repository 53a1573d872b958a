"""Python imports of names built at run time that the code spells out (six's moved modules, literal tables of
lazy submodules, call sites), and the branches that can never run in the image (TYPE_CHECKING, __main__,
other platforms, other interpreter versions), on fixture trees that copy the shapes of real modules."""

from __future__ import annotations

import io

from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.langs import levels, pybranches, pyimports
from slim.langs.pypath import PythonPath
from slim.results import ImportedBy, NamedInCode, PartOfWholePackage
from tarbuild import layer

LIB = "usr/lib/python3.11"
SITE = "usr/lib/python3/dist-packages"
# six.py 1.16's shape: a table of MovedModule/MovedAttribute and one __import__(name) that loads them
SIX = b'''import sys
PY3 = sys.version_info[0] == 3
def _import_module(name):
    """Import module, returning the module after the last dot."""
    __import__(name)
    return sys.modules[name]
class MovedModule(object):
    def __init__(self, name, old, new=None):
        self.mod = new if new is not None else name
    def _resolve(self):
        return _import_module(self.mod)
class MovedAttribute(object):
    def __init__(self, name, old_mod, new_mod, old_attr=None, new_attr=None):
        self.mod = new_mod if new_mod is not None else name
_moved_attributes = [
    MovedAttribute("cStringIO", "cStringIO", "io", "StringIO"),
    MovedModule("queue", "Queue"),
    MovedModule("http_client", "httplib", "http.client"),
    MovedModule("tkinter", "Tkinter"),
]
'''


def rootfs(ws, *files):
    data = layer(*[(path, "file", content) for path, content in files])
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "n.pack"), "n")])


def closure(root, start, version=(3, 11)):
    pypath = PythonPath(root, ["/srv", f"/{LIB}", f"/{LIB}/lib-dynload", f"/{SITE}"])
    return pyimports.import_closure(root, pypath, start, (f"/{LIB}/tkinter",), version=version)


def test_the_modules_in_sixs_table_are_followed_not_kept_whole(ws):
    # Debian's urllib3 1.26: `from six.moves import queue`; six loads it by a name from its table
    root = rootfs(ws, (f"{SITE}/six.py", SIX), (f"{LIB}/queue.py", b"import threading\n"),
                  (f"{LIB}/threading.py", b""), (f"{LIB}/io.py", b""), (f"{LIB}/http/__init__.py", b""),
                  (f"{LIB}/http/client.py", b""), (f"{LIB}/tkinter/__init__.py", b""), (f"{LIB}/unrelated.py", b""),
                  ("srv/app.py", b"from six.moves import queue\n"))
    found = closure(root, ["/srv/app.py"])
    six = f"/{SITE}/six.py"
    # before: six.py is a top-level module, nothing was kept for its __import__(name) and queue was missing
    assert found.keep[f"/{LIB}/queue.py"] == NamedInCode(six, 17)
    assert found.keep[f"/{LIB}/threading.py"] == ImportedBy(f"/{LIB}/queue.py", 1)  # and what it imports
    assert {f"/{LIB}/io.py", f"/{LIB}/http/client.py"} <= set(found.keep)
    assert f"/{LIB}/unrelated.py" not in found.keep and f"/{LIB}/tkinter/__init__.py" not in found.keep
    assert found.dynamic == {}  # a set was found: no warning, nothing kept whole


def test_a_literal_table_of_plugins_keeps_those_plugins_not_the_package(ws):
    core = b'''import importlib
PLUGINS = ("csv_out", "json_out")
def load(name):
    return importlib.import_module(f"app.plugins.{name}")
'''
    root = rootfs(ws, (f"{SITE}/app/__init__.py", b""), (f"{SITE}/app/core.py", core),
                  (f"{SITE}/app/plugins/__init__.py", b""), (f"{SITE}/app/plugins/csv_out.py", b""),
                  (f"{SITE}/app/plugins/json_out.py", b""), (f"{SITE}/app/plugins/never_named.py", b""),
                  ("srv/run.py", b"import app.core\n"))
    found = closure(root, ["/srv/run.py"])
    assert found.keep[f"/{SITE}/app/plugins/csv_out.py"] == NamedInCode(f"/{SITE}/app/core.py", 2)
    assert f"/{SITE}/app/plugins/json_out.py" in found.keep
    # before: app.plugins was kept whole for the f-string
    assert f"/{SITE}/app/plugins/never_named.py" not in found.keep and found.dynamic == {}


def test_pep_562_lazy_submodules_and_call_sites_name_what_is_loaded(ws):
    # scipy/__init__.py's shape: __getattr__ loads the submodules listed in a literal
    init = b'''import importlib as _importlib
submodules = ['linalg', 'fft']
__all__ = submodules + ['test', 'show_config']
def __getattr__(name):
    if name in submodules:
        return _importlib.import_module(f'sci.{name}')
    raise AttributeError(name)
'''
    loader = b'''from importlib import import_module
def backend(name):
    return import_module("." + name, __package__)
DEFAULT = backend("fast")
def _named_dict(module="sci.loader.by_default"):  # numpy's _makenamedict(module='numpy')
    return __import__(module)
'''
    root = rootfs(ws, (f"{SITE}/sci/__init__.py", init), (f"{SITE}/sci/linalg.py", b""),
                  (f"{SITE}/sci/fft/__init__.py", b""), (f"{SITE}/sci/huge_unlisted.py", b""),
                  (f"{SITE}/sci/loader/__init__.py", loader), (f"{SITE}/sci/loader/fast.py", b""),
                  (f"{SITE}/sci/loader/slow.py", b""), (f"{SITE}/sci/loader/by_default.py", b""),
                  ("srv/run.py", b"import sci\nimport sci.loader\n"))
    found = closure(root, ["/srv/run.py"])
    assert {f"/{SITE}/sci/linalg.py", f"/{SITE}/sci/fft/__init__.py", f"/{SITE}/sci/loader/fast.py",
            f"/{SITE}/sci/loader/by_default.py"} <= set(found.keep)
    assert f"/{SITE}/sci/huge_unlisted.py" not in found.keep and f"/{SITE}/sci/loader/slow.py" not in found.keep


def test_without_a_named_set_the_package_is_still_kept_whole(ws):
    # encodings/__init__.py's shape: the codec name comes from the caller, the module lists none
    init = b"_import_tail = ['*']\ndef search(n):\n    return __import__('encodings.' + n, fromlist=_import_tail)\n"
    # pydoc's shape: a top-level module with tables of words; without a constant start they are not modules
    pydoc = b"import sys\nTOPICS = {'pdb': 'DEBUGGING', 'queue': ''}\ndef locate(path):\n    return __import__(path)\n"
    root = rootfs(ws, (f"{LIB}/encodings/__init__.py", init), (f"{LIB}/encodings/cp1252.py", b""),
                  (f"{LIB}/pydoc.py", pydoc), (f"{LIB}/pdb.py", b""), (f"{LIB}/queue.py", b""),
                  ("srv/run.py", b"import encodings\nimport pydoc\n"))
    found = closure(root, ["/srv/run.py"])
    assert isinstance(found.keep[f"/{LIB}/encodings/cp1252.py"], PartOfWholePackage)
    assert f"/{LIB}/pdb.py" not in found.keep and f"/{LIB}/queue.py" not in found.keep
    assert found.dynamic[f"/{LIB}/pydoc.py:4"] is None


VERSIONED = b'''import sys
from typing import TYPE_CHECKING
PY2 = sys.version_info[0] == 2
if sys.version_info >= (3, 8):
    from importlib import metadata
else:
    import importlib_metadata as metadata
if sys.version_info[:2] < (3, 11):
    import tomli
elif sys.version_info >= (3, 11) and sys.platform != "emscripten":
    import tomllib
if PY2:
    import cPickle
if not PY2:
    import pickle
if TYPE_CHECKING:
    import typing_only
if sys.platform.startswith(("win", "cygwin")):
    import winreg
elif sys.platform in ("darwin",):
    import macmod
else:
    import fcntl
if os.name != "posix":
    import nt
if __name__ == "__main__":
    import argparse
'''


def test_version_branches_are_decided_by_the_images_interpreter_and_the_cuts_recorded(ws):
    names = ("importlib/__init__.py", "importlib/metadata.py", "importlib_metadata.py", "tomli.py", "tomllib.py",
             "cPickle.py", "pickle.py", "typing.py", "typing_only.py", "winreg.py", "macmod.py", "fcntl.py",
             "nt.py", "argparse.py")
    root = rootfs(ws, *[(f"{LIB}/{n}", b"") for n in names], ("srv/run.py", VERSIONED))
    scan = pyimports.scan(VERSIONED)  # one scan, cached by content, whatever the interpreter
    by_rule = {rule: sorted(m for r, m, *_ in scan.cut if r == rule) for rule in pybranches.RULES}
    assert by_rule == {"type_checking": ["typing_only"], "main": ["argparse"], "platform": ["macmod", "nt", "winreg"],
                       "version": [], "constant": [], "builtin_fallback": []}
    kept = {v: {p.rsplit("/", 1)[1] for p in closure(root, ["/srv/run.py"], v).keep} for v in ((3, 11), (3, 7))}
    assert kept[(3, 11)] == {"__init__.py", "metadata.py", "tomllib.py", "pickle.py", "typing.py", "fcntl.py"}
    assert kept[(3, 7)] == {"importlib_metadata.py", "tomli.py", "pickle.py", "typing.py", "fcntl.py"}
    found = closure(root, ["/srv/run.py"], (3, 11))
    cut = {rule: sorted(p.rsplit("/", 1)[1] for p, _ in files) for rule, files in found.cut.items()}
    assert cut == {"main": ["argparse.py"], "platform": ["macmod.py", "nt.py", "winreg.py"],
                   "type_checking": ["typing_only.py"], "version": ["cPickle.py", "importlib_metadata.py", "tomli.py"]}
    # without a known interpreter every version branch is followed
    assert {"tomli.py", "tomllib.py"} <= {p.rsplit("/", 1)[1] for p in closure(root, ["/srv/run.py"], None).keep}


def test_version_tests_compare_like_sys_version_info():
    holds = pybranches._atom_holds
    assert holds(("info", ">=", (3, 11)), (3, 11)) and not holds(("info", "<", (3, 11)), (3, 11))
    assert holds(("info", ">", (3,)), (3, 11)) and not holds(("info", "==", (3, 11)), (3, 11))  # it is longer
    assert holds(("info", "<", (3, 11, 2)), (3, 11)) is None  # the micro release is not known
    assert holds(("info", "<", (3, 12, 0)), (3, 11)) and holds(("major", "==", (3,)), (3, 11))
    assert not holds(("minor", "<", (8,)), (3, 11))
    assert pybranches.holds(False, (3, 11)) is False and pybranches.holds((), None)


def test_the_report_gets_what_each_cut_kept_out(ws):
    root = rootfs(ws, ("usr/bin/python3.11", b"\x7fELF"), (f"{LIB}/fcntl.py", b""), (f"{LIB}/typing.py", b""),
                  (f"{LIB}/argparse.py", b"import gettext\n"), (f"{LIB}/gettext.py", b"x" * 1000),
                  (f"{LIB}/winreg.py", b"y" * 300), ("srv/run.py", b'''import sys
if sys.platform == "win32":
    import winreg
if sys.version_info < (3, 0):
    import fcntl
if __name__ == "__main__":
    import argparse
'''))
    cuts: dict[str, int] = {}
    out = levels.completion(root, {"/usr/bin/python3.11", "/srv/run.py"}, levels.IMPORTS, {}, [], cuts=cuts)
    assert f"/{LIB}/argparse.py" not in out and f"/{LIB}/winreg.py" not in out
    # argparse and what it imports; winreg; fcntl is cut for 3.0 but nothing else keeps it either
    assert cuts == {"main": len(b"import gettext\n") + 1000, "platform": 300, "version": 0, "type_checking": 0,
                    "constant": 0, "builtin_fallback": 0}

"""Python imports that can never run in the image, beyond the branch rules of test_pynames: the `except
ImportError:` fallbacks of imports of modules built into the image's interpreter, and `if 0:`/`if False:`
blocks; and the modules that run as __main__, for which the __main__ rule does not hold. Fixtures copy the text of Debian's Python 3.11 (random.py, threading.py, lib2to3's driver.py) and
excerpts of the exported symbol names of its /usr/bin/python3.11."""

from __future__ import annotations

import io

from slim.closure.hostfs import HostFS
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.langs import levels, pybranches, pyimports
from slim.langs.pypath import PythonPath, builtin_modules, run_as_main
from slim.model import ProcessInfo
from slim.results import ImportedBy
from tarbuild import layer

LIB = "usr/lib/python3.11"
# Names next to each other in the .dynstr of Debian's /usr/bin/python3.11 (3.11.2): the string table packs the
# names with one NUL between them, so each name's NUL ends it and starts the next one.
DYNSTR = (b"\x7fELF\x02\x01\x01\x00yComplex_RealAsDouble\x00PyMem_GetAllocator\x00PyInit__sha512\x00_Py_open\x00"
          b"PyFloat_FromDouble\x00PyExc_OverflowError\x00PyInit__thread\x00PyInit__locale\x00_PyObject_GetMethod\x00")
# Debian's python3.11 with _sha512 built as a shared extension instead (python.org's default build): its
# interpreter exports no PyInit__sha512
DYNSTR_NO_SHA = DYNSTR.replace(b"PyInit__sha512\x00", b"")
# random.py of Python 3.11, lines 59-66
RANDOM = b'''import os as _os
import _random

try:
    # hashlib is pretty heavy to load, try lean internal module first
    from _sha512 import sha512 as _sha512
except ImportError:
    # fallback to official implementation
    from hashlib import sha512 as _sha512
'''
# threading.py of Python 3.11, lines 1266-1274 and 1601-1604
THREADING = b'''try:
    from _thread import (_excepthook as excepthook,
                         _ExceptHookArgs as ExceptHookArgs)
except ImportError:
    # Simple Python implementation if _thread._excepthook() is not available
    from traceback import print_exception as _print_exception
    from collections import namedtuple

    _ExceptHookArgs = namedtuple(
        'ExceptHookArgs',
        'exc_type exc_value exc_traceback thread')

try:
    from _thread import _local as local
except ImportError:
    from _threading_local import local
'''
# lib2to3/pgen2/driver.py of Python 3.11, lines 118-130, with an import in its `if False:` block
DRIVER = b'''import logging
def load_grammar(gt="Grammar.txt", gp=None, save=True, force=False, logger=None):
    if force or not _newer(gp, gt):
        logger.info("Generating grammar tables from %s", gt)
        g = pgen.generate_grammar(gt)
        # the pickle files mismatch, when built on different architectures.
        # don't save these for now. An alternative solution might be to
        # include the multiarch triplet into the file name
        if False:
            import pickle
            logger.info("Writing grammar tables to %s", gp)
    if 0:
        import pprint
    elif 1:
        import json
    else:
        import csv
DEBUG = False
if DEBUG:  # any code may set the module's DEBUG first: followed
    import pdb
'''


def rootfs(ws, *files):
    data = layer(*[(path, "file", content) for path, content in files])
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "n.pack"), "n")])


def stdlib(ws, interpreter: bytes, *files):
    names = ("hashlib.py", "traceback.py", "collections/__init__.py", "_threading_local.py", "logging/__init__.py",
             "pickle.py", "pprint.py", "json/__init__.py", "csv.py", "pdb.py")
    return rootfs(ws, ("usr/bin/python3.11", interpreter), *[(f"{LIB}/{n}", b"x" * 100) for n in names], *files)


def test_the_modules_built_into_the_interpreter_are_read_from_its_exported_names(ws):
    root = rootfs(ws, ("usr/bin/python3.11", DYNSTR), ("usr/bin/other", b"\x7fELF\x00PyInit_nope\x00"))
    # a regular expression that took the NUL ending one name missed the next (PyInit__locale after _thread)
    assert builtin_modules(root, ["/usr/bin/python3.11"]) == {"_sha512", "_thread", "_locale", "sys", "builtins",
                                                              "marshal", "_warnings"}
    assert builtin_modules(root, []) == frozenset()
    assert builtin_modules(rootfs(ws, ("usr/bin/python3.11", b"\x7fELF stripped")), ["/usr/bin/python3.11"]) == set()


def test_this_hosts_interpreter_agrees_with_sys_builtin_module_names():
    import glob
    import os
    import sys
    binaries = [os.path.realpath(sys.executable), *glob.glob(f"{sys.base_prefix}/lib/libpython3*.so*")]
    assert builtin_modules(HostFS(), binaries) == set(sys.builtin_module_names)


def test_a_fallback_for_a_module_built_into_the_interpreter_is_never_followed(ws):
    root = stdlib(ws, DYNSTR, ("srv/random.py", RANDOM), ("srv/threading.py", THREADING))
    cuts: dict[str, int] = {}
    kept = {"/usr/bin/python3.11", "/srv/random.py", "/srv/threading.py"}
    out = levels.completion(root, kept, levels.IMPORTS, {}, [], cuts=cuts)
    # before: _sha512 and _thread have no file, so their fallbacks (hashlib, traceback, collections,
    # _threading_local) were followed: pyimports.import_closure's `all(pypath.find(name) ...)`
    assert not {f"/{LIB}/hashlib.py", f"/{LIB}/traceback.py", f"/{LIB}/collections/__init__.py",
                f"/{LIB}/_threading_local.py"} & set(out)
    assert cuts[pybranches.BUILTIN_FALLBACK] == 400


def test_a_fallback_is_followed_when_the_interpreter_lacks_the_module(ws):
    root = stdlib(ws, DYNSTR_NO_SHA, ("srv/random.py", RANDOM))
    cuts: dict[str, int] = {}
    out = levels.completion(root, {"/usr/bin/python3.11", "/srv/random.py"}, levels.IMPORTS, {}, [], cuts=cuts)
    assert f"/{LIB}/hashlib.py" in out and cuts[pybranches.BUILTIN_FALLBACK] == 0
    # an unknown interpreter (no kept binary to read): every fallback is followed, as before
    pypath = PythonPath(root, [f"/{LIB}"])
    assert f"/{LIB}/hashlib.py" in pyimports.import_closure(root, pypath, ["/srv/random.py"]).keep


def test_literal_tests_cut_their_dead_branch_and_a_flag_bound_to_a_literal_does_not(ws):
    scan = pyimports.scan(DRIVER)
    # before: `if False:` and `if 0:` were unknown tests, so pickle, pprint and csv were followed
    assert sorted(m for rule, m, *_ in scan.cut if rule == pybranches.CONSTANT) == ["csv", "pickle", "pprint"]
    assert {m for m, *_ in scan.imports} == {"logging", "json", "pdb"}
    root = stdlib(ws, DYNSTR, ("srv/driver.py", DRIVER))
    cuts: dict[str, int] = {}
    out = levels.completion(root, {"/usr/bin/python3.11", "/srv/driver.py"}, levels.IMPORTS, {}, [], cuts=cuts)
    assert {f"/{LIB}/pdb.py", f"/{LIB}/json/__init__.py"} <= set(out) and f"/{LIB}/pickle.py" not in out
    assert cuts[pybranches.CONSTANT] == 300


# sysconfig.py of Python 3.11 (lines 500-502, 563-565, 878-893, shortened): _generate_posix_vars runs only from
# _main, which only the __main__ block calls; a comment in _init_posix names it
SYSCONFIG = '''\ufeffimport sys
def _generate_posix_vars():
    """Generate the Python module containing build-time variables."""
    import pprint

def _init_posix(vars):
    """Initialize the module as appropriate for POSIX systems."""
    # _sysconfigdata is generated at build time, see _generate_posix_vars()
    name = _get_sysconfigdata_name()  # é, then a comment: _generate_posix_vars
    s = "# not a comment: _generate_posix_vars"

def _main():
    """Display all information sysconfig detains."""
    if '--generate-posix-vars' in sys.argv:
        _generate_posix_vars()
        return

if __name__ == '__main__':
    _main()
'''.encode()


def test_a_comment_naming_a_function_does_not_keep_what_only_the_main_block_runs():
    # before: any mention kept the function, the comment in _init_posix too, so pprint was followed
    scan = pyimports.scan(SYSCONFIG.replace(b'    s = "# not a comment: _generate_posix_vars"\n', b""))
    assert [(rule, m) for rule, m, *_ in scan.cut] == [(pybranches.MAIN, "pprint")]
    assert {m for m, *_ in scan.imports} == {"sys"}
    # a string may be getattr's name: it still counts
    assert {m for m, *_ in pyimports.scan(SYSCONFIG).imports} == {"sys", "pprint"}
    assert pybranches._blank_comments(b"x = 1  # a\n# b\n") == b"x = 1     \n   \n"


def test_a_function_the_else_of_the_main_block_calls_runs_on_import():
    """`else:` of `if __name__ == "__main__":` runs on every import: what only it calls is followed."""
    source = b'''def _register():
    import plugin_registry
def _cli():
    import argparse
if __name__ == "__main__":
    _cli()
else:
    _register()
'''
    scan = pyimports.scan(source)
    assert [m for m, *_ in scan.imports] == ["plugin_registry"]  # before: cut as run only by the main block
    assert [(rule, m) for rule, m, *_ in scan.cut] == [(pybranches.MAIN, "argparse")]


# http/server.py of Python 3.11 (lines 1265-1273, shortened): what `python3 -m http.server` runs as __main__
HTTP_SERVER = b'''import socket
def test(HandlerClass=None, ServerClass=None, protocol="HTTP/1.0", port=8000, bind=None):
    pass
if __name__ == '__main__':
    import argparse
    import contextlib

    parser = argparse.ArgumentParser()
'''
# an entry script that builds its server in a private function only the __main__ block calls, with a request
# handler that imports lazily (the shape of samples/python-web's server.py, moved into a function)
SERVER = b'''from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
def _serve():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            import csv
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
if __name__ == "__main__":
    _serve()
'''


def test_the_command_line_says_which_file_python_runs_as_main():
    assert run_as_main(("python3", "-u", "/srv/app/server.py", "--port", "8")) == ("/srv/app/server.py", None)
    assert run_as_main(("/usr/bin/python3.11", "-W", "ignore", "-X", "dev", "app.py")) == ("app.py", None)
    assert run_as_main(("python3", "-m", "http.server", "8000")) == (None, "http.server")
    assert run_as_main(("python3", "-OO", "-Wignore", "-um", "pkg")) == (None, "pkg")
    assert run_as_main(("python3", "-c", "import app")) == run_as_main(("python3", "-")) == (None, None)
    assert run_as_main(("node", "server.py")) == run_as_main(()) == (None, None)


def test_what_only_the_main_block_of_a_module_run_as_main_calls_is_followed(ws):
    root = stdlib(ws, DYNSTR, (f"{LIB}/http/__init__.py", b""), (f"{LIB}/http/server.py", HTTP_SERVER),
                  (f"{LIB}/argparse.py", b"x" * 100), (f"{LIB}/contextlib.py", b""), (f"{LIB}/socket.py", b""),
                  ("srv/app/server.py", SERVER), ("usr/local/bin/serve", b"#!/usr/bin/python3\n" + SERVER),
                  ("srv/app/lib.py", SERVER))
    kept = {"/usr/bin/python3.11", f"/{LIB}/http/server.py", "/srv/app/server.py", "/usr/local/bin/serve",
            "/srv/app/lib.py"}
    runs = [ProcessInfo(1, None, ("python3", "-m", "http.server"), "/usr/bin/python3.11"),
            ProcessInfo(2, 1, ("python3", "server.py"), "/usr/bin/python3.11"),
            ProcessInfo(3, 1, ("/usr/local/bin/serve",), "/usr/local/bin/serve")]
    out = levels.completion(root, kept, levels.IMPORTS, {}, [], processes=runs, workdir="/srv/app")
    # before: the __main__ rule held for every module, so argparse and the handler's csv were cut
    assert isinstance(out[f"/{LIB}/argparse.py"], ImportedBy) and out[f"/{LIB}/argparse.py"].line == 5
    assert out[f"/{LIB}/csv.py"] == ImportedBy("/srv/app/server.py", 5)
    # a script with no .py, started by its #! line, is scanned and runs as __main__ too
    serve = levels.completion(root, kept - {"/srv/app/server.py"}, levels.IMPORTS, {}, [], processes=runs[2:])
    assert serve[f"/{LIB}/csv.py"] == ImportedBy("/usr/local/bin/serve", 6)
    # a module only imported (lib.py) is never __main__: its main block's imports stay cut
    alone = levels.completion(root, kept - {"/srv/app/server.py", "/usr/local/bin/serve"}, levels.IMPORTS, {}, [],
                              processes=runs[:1], workdir="/srv/app")
    assert f"/{LIB}/csv.py" not in alone
    assert levels.main_scripts(root, kept, PythonPath(root, [f"/{LIB}"]), runs, "/srv/app") == {
        f"/{LIB}/http/server.py", "/srv/app/server.py", "/usr/local/bin/serve"}


def test_a_package_run_with_python_m_is_found_from_the_working_directory(ws):
    main = b'''def _main():
    from app import report
if __name__ == "__main__":
    _main()
'''
    root = stdlib(ws, DYNSTR, ("srv/app/__init__.py", b""), ("srv/app/__main__.py", main),
                  ("srv/app/report.py", b"import csv\n"))
    kept = {"/usr/bin/python3.11", "/srv/app/__init__.py", "/srv/app/__main__.py"}
    runs = [ProcessInfo(1, None, ("python3", "-m", "app"), "/usr/bin/python3.11")]
    # before: /srv was not on the path, so app/__main__.py was not known to run as __main__: its _main's
    # import was cut, and the route that needs report.py (and csv) would fail
    out = levels.completion(root, kept, levels.IMPORTS, {}, [], processes=runs, workdir="/srv")
    assert out["/srv/app/report.py"] == ImportedBy("/srv/app/__main__.py", 2) and f"/{LIB}/csv.py" in out
    # from / the working directory is not put on the path: every file would seem to lie in a package
    assert "/srv/app/report.py" not in levels.completion(root, kept, levels.IMPORTS, {}, [], processes=runs)


def test_the_plan_resolves_what_ran_as_main_from_the_runs_working_directory(ws):
    """`slim build IMAGE --workdir /srv/app` runs `python3 server.py` in /srv/app while the image's WORKDIR is
    /: the trace's working directory, not the image's, says which file ran as __main__."""
    from slim.checks.users import read_accounts
    from slim.model import EXEC, READ, FileAccess, RunConfig, Trace
    from slim.plan.keep import PlanOptions, plan_keep

    root = stdlib(ws, DYNSTR, ("srv/app/server.py", SERVER))
    trace = Trace(accesses=(FileAccess("/usr/bin/python3.11", EXEC, True), FileAccess("/srv/app/server.py", READ, True)),
                  processes=(ProcessInfo(1, None, ("python3", "server.py"), "/usr/bin/python3.11"),),
                  argv=("python3", "server.py"), workdir="/srv/app")
    keep = plan_keep(root, RunConfig(), trace, read_accounts(root), PlanOptions())
    # before: the image's WORKDIR (/) was taken, /server.py is no file, and the handler's import was cut
    assert keep.reasons[f"/{LIB}/csv.py"] == [ImportedBy("/srv/app/server.py", 5)]


def test_a_script_started_after_the_shell_changed_directory_still_runs_as_main(ws):
    """`sh -c "cd /srv/app && python3 server.py"` from WORKDIR /: the trace does not record the `cd`, so the
    relative name is matched against the kept files. Before: /server.py was looked for, server.py was not
    taken as __main__, and the request handler's lazy import (csv) was cut."""
    root = stdlib(ws, DYNSTR, ("srv/app/server.py", SERVER))
    kept = {"/usr/bin/python3.11", "/srv/app/server.py"}
    runs = [ProcessInfo(1, None, ("sh", "-c", "cd /srv/app && python3 server.py"), "/bin/sh"),
            ProcessInfo(2, 1, ("python3", "server.py"), "/usr/bin/python3.11")]
    out = levels.completion(root, kept, levels.IMPORTS, {}, [], processes=runs, workdir="/")
    assert out[f"/{LIB}/csv.py"] == ImportedBy("/srv/app/server.py", 5)

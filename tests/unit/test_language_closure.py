"""What language completion costs includes the libraries its files link: a Python extension module that only
the import closure keeps (Debian's `_dbm`, which links libdb) brings its library as language, not as the
closure of what the trace needs. Real gcc-compiled files, the host's loader and libc."""

from __future__ import annotations

import os

import pytest

from elfroot import base_root, compile_exe, compile_so, rootfs_of
from slim.checks.users import read_accounts
from slim.langs import pybranches
from slim.model import EXEC, READ, FileAccess, RunConfig, Trace
from slim.plan.keep import PlanOptions, plan_keep
from slim.results import CLOSURE, LANGUAGE

LIBDIR = "/usr/lib/x86_64-linux-gnu"
DYNLOAD = "/usr/lib/python3.11/lib-dynload"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    top = str(tmp_path_factory.mktemp("lang-closure"))
    base_root(top)
    compile_exe(top, "/usr/bin/python3.11", "int main(void) { return 0; }\n")
    compile_so(top, f"{LIBDIR}/libdb-5.3.so", "int db_open(void) { return 1; }\n")
    compile_so(top, f"{DYNLOAD}/_dbm.cpython-311-x86_64-linux-gnu.so",
               "int db_open(void);\nint PyInit__dbm(void) { return db_open(); }\n", f"-L{top}{LIBDIR}", "-ldb-5.3")
    for rel, text in (("usr/lib/python3.11/os.py", "import sys\n"),
                      ("usr/lib/python3.11/dbm/__init__.py", ""),
                      ("usr/lib/python3.11/dbm/ndbm.py", "from _dbm import *\n"),
                      ("srv/app.py", "import os\n\ndef handler():\n    import dbm.ndbm\n")):
        os.makedirs(os.path.dirname(f"{top}/{rel}"), exist_ok=True)
        with open(f"{top}/{rel}", "w") as fh:
            fh.write(text)
    return top


def plan(root: str, level: str):
    fs = rootfs_of(root)
    trace = Trace(accesses=(FileAccess("/usr/bin/python3.11", EXEC, True), FileAccess("/srv/app.py", READ, True),
                            FileAccess("/usr/lib/python3.11/os.py", READ, True)),
                  argv=("/usr/bin/python3.11", "/srv/app.py"))
    return fs, plan_keep(fs, RunConfig(), trace, read_accounts(fs), PlanOptions(lang_completion=level))


def test_the_library_an_imported_extension_links_counts_as_language(root):
    """Before: libdb was `closure` (so in traced_and_closure_bytes, the measure's denominator) and
    bytes_by_level["imports"] left it out."""
    fs, keep = plan(root, "imports")
    dbm = f"{DYNLOAD}/_dbm.cpython-311-x86_64-linux-gnu.so"
    assert keep.category(dbm) == LANGUAGE
    assert keep.category(f"{LIBDIR}/libdb-5.3.so") == LANGUAGE
    assert [r.text() for r in keep.reasons[f"{LIBDIR}/libdb-5.3.so"]] == [f"needed-by {dbm}"]
    assert keep.category(f"{LIBDIR}/libc.so.6") == CLOSURE  # the interpreter the trace ran needs it too
    added = fs.bytes_of({"/usr/lib/python3.11/dbm/__init__.py", "/usr/lib/python3.11/dbm/ndbm.py", dbm,
                         f"{LIBDIR}/libdb-5.3.so"})
    assert keep.language_cost["imports"] == added
    assert keep.language_cost["off"] == 0
    # the chosen level's other results come with it: every cut rule reported, whole packages named
    assert set(keep.cuts) == set(pybranches.RULES) and keep.kept_whole == {}


def test_at_level_off_the_library_is_not_kept(root):
    _, keep = plan(root, "off")
    assert f"{LIBDIR}/libdb-5.3.so" not in keep.reasons

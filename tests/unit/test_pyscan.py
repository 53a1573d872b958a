"""Scanning modules in worker processes and through the content-keyed cache gives exactly the closure the
plain one-process scan gives, on real code: this host's Debian python3.11 standard library."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from slim import cleanup
from slim.langs import pyimports, pyscan
from slim.langs.pypath import PythonPath
from slim.closure.hostfs import HostFS

STDLIB = "/usr/lib/python3.11"
START = [f"{STDLIB}/http/server.py", f"{STDLIB}/logging/handlers.py", f"{STDLIB}/email/message.py"]


def closure(scan_many):
    rootfs = HostFS()
    pypath = PythonPath(rootfs, [STDLIB, f"{STDLIB}/lib-dynload"])
    return pyimports.import_closure(rootfs, pypath, START, scan_many=scan_many)


@pytest.fixture(scope="module")
def plain():
    assert os.path.isfile(START[0]), "the host's Debian python3.11 (scripts/setup installs it) is the fixture"
    found = closure(pyimports.scan_serially)
    assert len(found.keep) > 100  # the standard library really was walked
    return found


@pytest.fixture
def always_parallel(monkeypatch):
    monkeypatch.setattr(pyscan, "_PARALLEL_FROM", 0)
    monkeypatch.setattr(pyscan, "_BATCH_BYTES", 64 << 10)  # many batches: their results must all come back


def test_workers_and_cache_give_the_plain_closure(plain, tmp_path, always_parallel):
    """Slow by nature (seconds): it parses the import closure of this host's real standard library twice,
    through worker processes, cold and from the cache."""
    with pyscan.ModuleScanner(pyscan.ScanCache(str(tmp_path / "scans.sqlite")), workers=2) as cold:
        assert closure(cold).keep == plain.keep
    assert cold.parsed > 100 and cold.cached == 0 and cold.warnings() == []
    with pyscan.ModuleScanner(pyscan.ScanCache(str(tmp_path / "scans.sqlite")), workers=2) as warm:
        found = closure(warm)
    assert found.keep == plain.keep and (found.dynamic, found.unparsed) == (plain.dynamic, plain.unparsed)
    assert warm.parsed == 0 and warm.cached == cold.parsed


def test_an_unparsable_module_is_cached_as_unparsable(tmp_path):
    sources = {"/py2.py": b"print 'python 2'\n", "/ok.py": b"import os\n"}
    for _ in range(2):
        with pyscan.ModuleScanner(pyscan.ScanCache(str(tmp_path / "scans.sqlite")), workers=1) as scanner:
            got = scanner(sources)
        assert got == {"/py2.py": None, "/ok.py": pyimports.Scan([("os", 0, (), 1, (), ())], [], [], [])}
    assert scanner.cached == 2


def test_a_damaged_cache_turns_itself_off_with_a_warning(plain, tmp_path):
    """Slow by nature (seconds): each damaged cache is shown to give the same closure of the host's real
    standard library, parsed in full since nothing can be cached."""
    damaged = tmp_path / "scans.sqlite"
    damaged.write_bytes(b"not a database" * 100)
    with pyscan.ModuleScanner(pyscan.ScanCache(str(damaged)), workers=1) as scanner:
        assert closure(scanner).keep == plain.keep
    assert [w.code for w in scanner.warnings()] == ["lang.scan-cache"]
    unwritable = tmp_path / "file-not-dir"
    unwritable.write_text("")
    with pyscan.ModuleScanner(pyscan.ScanCache(str(unwritable / "scans.sqlite")), workers=1) as scanner:
        assert closure(scanner).keep == plain.keep
    assert [w.code for w in scanner.warnings()] == ["lang.scan-cache"]


def test_the_cache_lives_where_the_environment_says(monkeypatch, tmp_path):
    monkeypatch.setenv("SLIM_CACHE_DIR", str(tmp_path / "c"))
    assert pyscan.scan_cache_file() == str(tmp_path / "c" / pyscan.CACHE_FILE)
    monkeypatch.delenv("SLIM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pyscan.scan_cache_file() == str(tmp_path / "xdg" / "slim" / pyscan.CACHE_FILE)


def test_cleanup_all_removes_the_cache_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SLIM_CACHE_DIR", str(tmp_path))
    with pyscan.ModuleScanner(pyscan.ScanCache(pyscan.scan_cache_file()), workers=1) as scanner:
        scanner({"/a.py": b"import os\n"})
    assert os.path.exists(pyscan.scan_cache_file())
    assert cleanup.find_work_dirs(str(tmp_path / "work"), everything=False).cache_files == []
    found = cleanup.find_work_dirs(str(tmp_path / "work"), everything=True)
    assert pyscan.scan_cache_file() in found.cache_files
    cleanup.remove(None, found)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(pyscan.CACHE_FILE)]


def test_workers_end_when_their_parent_is_killed(tmp_path):
    # A SIGKILLed build cannot shut its pool down: the workers must not wait for work forever.
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from slim.langs import pyscan
        scanner = pyscan.ModuleScanner(workers=2)
        pool = scanner._workers()
        pids = [pool.submit(os.getpid).result() for _ in range(8)]
        print(" ".join(map(str, sorted(set(pids)))), flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert workers
    parent.kill()
    parent.wait()
    for pid in workers:
        for _ in range(50):
            if not _alive(pid):
                break
            subprocess.run(["sleep", "0.1"])
        assert not _alive(pid), f"worker {pid} outlived its killed parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended; only reaping is left
    except FileNotFoundError:
        return False

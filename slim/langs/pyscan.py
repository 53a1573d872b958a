"""Scanning thousands of Python modules for their imports without waiting for CPython's parser one file at a
time: a persistent cache keyed by each file's content, and worker processes for what the cache lacks.

Why: parsing is ~95% of the import closure's time (CPython's parser reads ~4-6 MB/s of source here, and a
large app reaches 40 MB of it), and the same files (a base image's standard library, pinned dependencies)
come back in every build. The result never depends on how a module was scanned: a cached scan is the scan
that pyimports.scan gave for the same bytes, under the same scanner format and the same parsing Python.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import hashlib
import json
import multiprocessing
import os
import signal
import sqlite3
import sys
import time

from slim.langs import pyimports
from slim.model import SlimWarning

# Bump when pyimports.scan's output changes for the same source: older cached scans are then never read.
SCAN_FORMAT = 8  # 4: version conditions, cut imports, names spelled out; 5: default arguments too; 6: if 0;
# 7: comments do not mention functions; 8: what the else of a main block calls runs
# The parsing Python's minor version is part of the key: a newer grammar parses what an older one rejects.
_KEY_SUFFIX = f":{SCAN_FORMAT}:{sys.version_info[0]}.{sys.version_info[1]}".encode()
_PARALLEL_FROM = 512 << 10  # bytes of uncached source below which starting workers costs more than it saves
_BATCH_BYTES = 256 << 10  # a worker's task (~60 ms of parsing): at a wave's end no worker waits long
_MAX_ROWS = 400_000  # about 200 MB of cache at most; the least recently used rows go first
CACHE_FILE = "python-imports.sqlite"


def cache_directory() -> str:
    """Where slim keeps what it may reuse between runs: $SLIM_CACHE_DIR, else $XDG_CACHE_HOME/slim, else
    ~/.cache/slim."""
    return (os.environ.get("SLIM_CACHE_DIR")
            or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "slim"))


def scan_cache_file() -> str:
    """Where the import scan cache lives, for the scanner and for `slim cleanup --all`."""
    return os.path.join(cache_directory(), CACHE_FILE)


class ScanCache:
    """Scans by content digest in one SQLite file. Any trouble with the file (read-only home, a damaged
    database, a lock held too long) turns the cache off for this run and is reported by `problem`; the
    closure is then only slower."""

    def __init__(self, path: str):
        self.path = path
        self.problem: str | None = None
        self._db: sqlite3.Connection | None = None
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self._db = sqlite3.connect(path, timeout=10, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a concurrent build's writes
            self._db.execute("CREATE TABLE IF NOT EXISTS scans (digest BLOB PRIMARY KEY, scan TEXT NOT NULL, "
                             "used INTEGER NOT NULL)")
        except (OSError, sqlite3.Error) as exc:
            self._disable(exc)

    def _disable(self, exc: Exception) -> None:
        self.problem = str(exc) or type(exc).__name__
        if self._db is not None:
            self._db.close()
        self._db = None

    def get_many(self, digests: list[bytes]) -> dict[bytes, pyimports.Scan | None]:
        """The cached scans of those digests that are in the cache (None as a value: the module could not be parsed,
        remembered too). A database fault turns the cache off and answers nothing."""
        if self._db is None or not digests:
            return {}
        found: dict[bytes, pyimports.Scan | None] = {}
        try:
            for start in range(0, len(digests), 500):  # SQLite's limit on bound parameters
                chunk = digests[start:start + 500]
                rows = self._db.execute(f"SELECT digest, scan FROM scans WHERE digest IN ({','.join('?' * len(chunk))})",
                                        chunk).fetchall()
                found.update((digest, _loaded(text)) for digest, text in rows)
        except (sqlite3.Error, ValueError, TypeError) as exc:
            self._disable(exc)
            return {}
        return found

    def put_many(self, scans: dict[bytes, pyimports.Scan | None], used: list[bytes]) -> None:
        """Store new scans and mark the `used` ones as used today, in one transaction."""
        if self._db is None or not (scans or used):
            return
        today = _today()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO scans VALUES (?, ?, ?)",
                                     [(d, json.dumps(s), today) for d, s in scans.items()])
                self._db.executemany("UPDATE scans SET used = ? WHERE digest = ? AND used < ?",
                                     [(today, d, today) for d in used])
                extra = self._db.execute("SELECT COUNT(*) FROM scans").fetchone()[0] - _MAX_ROWS
                if extra > 0:
                    self._db.execute("DELETE FROM scans WHERE digest IN (SELECT digest FROM scans ORDER BY used "
                                     "LIMIT ?)", (extra,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self._disable(exc)

    def close(self) -> None:
        """Close the database; later calls find the cache off."""
        if self._db is not None:
            self._db.close()
            self._db = None


def _today() -> int:
    return int(time.time() // 86400)


def _loaded(text: str) -> pyimports.Scan | None:
    data = json.loads(text)
    if data is None:
        return None
    raw, dynamic, named, cut = data
    return pyimports.Scan(
        [(m, int(level), tuple(names), int(line), tuple(unless), tuple((a[0], a[1], tuple(a[2])) for a in when))
         for m, level, names, line, unless, when in raw],
        [(int(line), str(prefix)) for line, prefix in dynamic],
        [(int(line), str(name), str(kind)) for line, name, kind in named],
        [(str(rule), m, int(level), tuple(names), int(line)) for rule, m, level, names, line in cut])


def digest(source: bytes) -> bytes:
    """The cache key of a module's source: its sha256 with the scan format and this Python's version, since a scan
    made under another format or another Python's grammar may differ."""
    return hashlib.sha256(source).digest() + _KEY_SUFFIX


class ModuleScanner:
    """A `scan_many` for pyimports.import_closure: cached scans first, then the rest parsed by worker
    processes when there is enough of it (in this process otherwise). Use as a context manager: the workers
    and the cache are closed at the end, however it ends."""

    def __init__(self, cache: ScanCache | None = None, workers: int | None = None):
        self.cache = cache
        self.workers = workers if workers is not None else len(os.sched_getaffinity(0))
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.parsed = self.cached = 0  # modules, for the report and the benchmark

    def __enter__(self) -> ModuleScanner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def warnings(self) -> list[SlimWarning]:
        """A warning when the cache was turned off in this run, so a slow build says why."""
        if self.cache is None or self.cache.problem is None:
            return []
        return [SlimWarning("lang.scan-cache", f"import scans are not cached in this run ({self.cache.problem})",
                            self.cache.path)]

    def close(self) -> None:
        """Stop the worker processes and close the cache; the scanner may not be used afterwards."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self.cache is not None:
            self.cache.close()

    def __call__(self, sources: dict[str, bytes]) -> dict[str, pyimports.Scan | None]:
        keys = {path: digest(source) for path, source in sources.items()}
        known = self.cache.get_many(sorted(set(keys.values()))) if self.cache else {}
        # one parse per content: vendored copies and empty __init__.py files come many times
        missing = {keys[path]: source for path, source in sources.items() if keys[path] not in known}
        fresh = self._parse(missing)
        if self.cache:
            self.cache.put_many(fresh, list(known))
        scans = {**known, **fresh}
        from_cache = sum(1 for key in keys.values() if key in known)
        self.cached += from_cache
        self.parsed += len(keys) - from_cache
        return {path: scans[key] for path, key in keys.items()}

    def _parse(self, sources: dict[bytes, bytes]) -> dict[bytes, pyimports.Scan | None]:
        """Scans of {digest: source}, keyed alike."""
        if self.workers < 2 or sum(map(len, sources.values())) < _PARALLEL_FROM:
            return pyimports.scan_serially(sources)
        batches, batch, size = [], {}, 0
        for key, source in sorted(sources.items(), key=lambda kv: -len(kv[1])):  # big files first: even finish
            batch[key], size = source, size + len(source)
            if size >= _BATCH_BYTES:
                batches.append(batch)
                batch, size = {}, 0
        batches += [batch] if batch else []
        try:
            out: dict[bytes, pyimports.Scan | None] = {}
            for result in self._workers().map(pyimports.scan_serially, batches):
                out.update(result)
            return out
        except (OSError, concurrent.futures.process.BrokenProcessPool):
            # no way to start processes here (a sandbox), or a worker died (out of memory): slower, same result
            self.workers = 0
            return pyimports.scan_serially(sources)

    def _workers(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            # fork, not spawn or forkserver: those run the parent's main script again in every worker (0.7 s
            # for slim's command line, and a script without a __main__ guard would start builds there). The
            # workers only parse and pickle, so the locks other threads may hold at the fork do not reach them.
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_start)
        return self._pool


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _worker_start() -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and shuts the workers down. SIGTERM (sent
    # to the group by `timeout` and CI runners) ends a worker at once: the parent's handler, inherited through
    # the fork, would unwind the parent's cleanup in here. A worker holds nothing to clean up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A parent killed outright (SIGKILL, a lost CI job) cannot shut its pool down, and a worker waiting for
    # work would wait forever: the kernel ends it when the parent goes. If that is not possible here, the
    # worker still ends with the parent's normal exit.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        os._exit(0)  # the parent was already gone before prctl took effect

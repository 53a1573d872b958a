"""Hostile images against `slim inspect` and `slim squash`: every case ends in exit 0 (with warnings) or exit 4
with one line, never a traceback, within a time and memory bound, with nothing written outside the work
directory and nothing read from outside the input (the canary directory that hostile names point at).

Each run is a separate process, so a hang is a timeout here and memory is the child's peak RSS."""

from __future__ import annotations

import gzip
import io
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

import hostile
from fake_engine import FakeEngine
from slim.errors import ImageFormatError
from slim.image.layer import unpack_layer
from slim.image.reference import parse_reference
from slim.image.stage import stage_in_engine
from tarbuild import layer

TIME_LIMIT = 30  # seconds per run; a hang shows as a timeout
RSS_LIMIT = 300 << 20
CASES = dict(hostile.all_cases())
# Cases that push tens of MiB or tens of thousands of entries through slim (seconds each, most of the unit
# suite's time): they run with the integration tests (tests/integration/test_hostile_heavy.py).
HEAVY = frozenset({"huge-dpkg-database", "huge-dpkg-stanza", "deep-tree-with-parents", "deep-tree-whiteouts",
                   "deep-tree-removed-by-whiteout", "deep-tree-without-parents"})
SIZE_CLAIMS = {  # case -> the one-line refusal
    "claims-2^62-plain-layer": "claims 4611686018427387904 bytes, more than the 512 bytes the data holds",
    # a gzip layer's tar length is unknown: the budget bounds it
    "claims-2^62-gzip-layer": "claims 4611686018427387904 bytes, more than --max-unpacked-size leaves",
    "claims-2^62-oci-layer": "claims 4611686018427387904 bytes, more than the 512 bytes the data holds",
    "claims-2^62-archive-member": r"claims 4611686018427387904 bytes, more than the \d+ bytes the data holds",
}
SIZE_CLAIM_LIMIT = 8  # seconds: a refusal takes ~1 s (mostly the interpreter's start), more on a busy machine


def _tree(top: str) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[path] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def canary(tmp_path):
    """A host directory hostile names point at, holding a file that looks like a layer."""
    path = tmp_path / "canary"
    path.mkdir()
    (path / "secret").write_bytes(b"host secret\n")
    (path / "host-layer.tar").write_bytes(layer(("HOST-FILE-WAS-READ", "file", b"x")))
    return str(path)


def run_slim(args: list[str], work: str, time_limit: float = TIME_LIMIT) -> subprocess.CompletedProcess:
    """Run slim; its peak RSS is sampled from /proc (VmHWM, which only grows): rusage would count the test
    process's own memory, which the child shares until it execs."""
    env = dict(os.environ, SLIM_WORK_DIR=work, COLUMNS="200")
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "slim", *args], stdout=out, stderr=err, env=env)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _high_water(proc.pid))
            if time.monotonic() - started > time_limit:
                proc.kill()
                proc.wait()
                raise AssertionError(f"slim {' '.join(args)} ran longer than {time_limit}s")
            time.sleep(0.01)
        out.seek(0), err.seek(0)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
    done.seconds, done.peak_rss = time.monotonic() - started, peak
    return done


def _high_water(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def check_outcome(done: subprocess.CompletedProcess, case: str) -> None:
    err = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, f"{case}: {err[-2000:]}"
    assert done.returncode in (0, 4), f"{case}: exit {done.returncode}: {err[-500:]}"
    if done.returncode == 4:
        assert err.count("\n") == 1 and err.startswith("slim: error: "), f"{case}: {err!r}"
    assert "\x1b" not in err + done.stdout.decode("utf-8", "replace"), f"{case}: raw escape sequence printed"
    assert done.peak_rss < RSS_LIMIT, f"{case}: peak RSS {done.peak_rss >> 20} MiB"


@pytest.mark.parametrize("case", sorted(set(CASES) - set(SIZE_CLAIMS) - HEAVY))
def test_hostile_image(case, tmp_path, canary):
    _, squashed = inspect_and_squash(case, tmp_path, canary)
    if squashed.returncode == 0:
        check_output_layer(f"{tmp_path}/out/s.tar", case)


@pytest.mark.parametrize("case", sorted(SIZE_CLAIMS))
def test_a_size_claim_beyond_the_data_is_refused_at_once(case, tmp_path, canary):
    """A member claiming 2^62 bytes where the data ends after its header. Before: tarfile passed over the
    claim block by block after the data had ended, and slim inspect and slim squash ran at 100% CPU until
    killed; now the claim is checked against what the data holds (or the unpacked-size budget) first."""
    for done in inspect_and_squash(case, tmp_path, canary, SIZE_CLAIM_LIMIT):
        assert done.returncode == 4 and re.search(SIZE_CLAIMS[case], done.stderr.decode()), done.stderr
        assert done.seconds < SIZE_CLAIM_LIMIT


def inspect_and_squash(case: str, tmp_path, canary: str, time_limit: float = TIME_LIMIT):
    """`slim inspect` and `slim squash` of one case, each checked: a clean outcome, the canary untouched, the
    work directory removed, nothing of the host read."""
    inputs, work, out = tmp_path / "in", tmp_path / "work", tmp_path / "out"
    for d in (inputs, work, out):
        d.mkdir()
    ref = CASES[case](str(inputs), canary)
    before = _tree(canary)
    inspected = run_slim(["inspect", ref], str(work), time_limit)
    check_outcome(inspected, case)
    squashed = run_slim(["squash", ref, "-t", "h:squashed", "-o", f"docker-archive:{out}/s.tar"], str(work),
                        time_limit)
    check_outcome(squashed, case)
    assert _tree(canary) == before, f"{case}: the canary directory changed"
    assert os.listdir(work) == [], f"{case}: work directory left: {os.listdir(work)}"
    for done in (inspected, squashed):
        assert b"HOST-FILE-WAS-READ" not in done.stdout + done.stderr
    return inspected, squashed


def check_output_layer(path: str, case: str) -> None:
    """The written image holds one entry per path, no name a reader would cut at a NUL, nothing from the host."""
    with tarfile.open(path) as outer:
        blobs = [m for m in outer if m.isfile() and m.name.startswith("blobs/")]
        for blob in blobs:
            data = outer.extractfile(blob).read()
            if data[257:262] != b"ustar":
                continue
            with tarfile.open(fileobj=io.BytesIO(data)) as inner:
                names = [m.name.rstrip("/") for m in inner]
            assert len(names) == len(set(names)), f"{case}: duplicate entries in the output layer"
            assert not [n for n in names if "\0" in n or n.startswith(("/", "../")) or "/../" in n], case
            assert "HOST-FILE-WAS-READ" not in names


EXPECTED = {  # cases whose outcome is known exactly: the exit code and a word of the message or warning
    "config-over-size-limit": (4, "bigger than"),
    "env-not-kv": (4, "config.Env[0] must be a K=V string"),
    "manifest-entry-not-object": (4, "manifest.json: [0] must be object"),
    "blob-is-fifo": (4, "not a regular file"),
    "blob-symlink-to-host-file": (4, "not a regular file"),
    "blobs-dir-symlink": (4, "not a regular file"),
    "negative-size": (4, "negative size"),
    "nul-in-name": (0, "unsafe member name"),
    "sparse-claims-12GiB": (0, "sparse"),
    "gzip-trailing-garbage": (0, "after the tar's end"),
    "digest-mismatch": (0, "diff ID"),
    "huge-dpkg-stanza": (0, "stanza over"),
    "huge-dpkg-database": (0, "first 25165824 bytes"),
    "markup-and-escapes-in-names": (0, "[/yellow]x"),
    "pax-header-claims-1GiB": (4, "tar headers take more than"),
}


@pytest.mark.parametrize("case", sorted(set(EXPECTED) - HEAVY))
def test_hostile_image_message(case, tmp_path, canary):
    check_message(case, tmp_path, canary)


def check_message(case: str, tmp_path, canary: str) -> None:
    """`slim inspect` of one case ends with its expected exit code and message, and quotes no config value."""
    inputs, work = tmp_path / "in", tmp_path / "work"
    inputs.mkdir(), work.mkdir()
    done = run_slim(["inspect", CASES[case](str(inputs), canary)], str(work))
    code, text = EXPECTED[case]
    err = done.stderr.decode("utf-8", "replace") + done.stdout.decode("utf-8", "replace")
    assert (done.returncode, text in err) == (code, True), err[-1500:]
    assert "SECRETVALUE" not in err  # a config value is never quoted


def test_unpacked_size_cap_is_exit_4(tmp_path):
    ref = hostile.write(str(tmp_path), "a.tar", hostile.archive_with([layer(("big", "file", b"z" * (2 << 20)))]))
    work = tmp_path / "work"
    work.mkdir()
    done = run_slim(["--max-unpacked-size", "1MB", "inspect", ref], str(work))
    assert done.returncode == 4 and b"--max-unpacked-size" in done.stderr, done.stderr
    assert os.listdir(work) == []
    bad = run_slim(["--max-unpacked-size", "lots", "inspect", ref], str(work))
    assert bad.returncode == 2 and bad.stderr.count(b"\n") == 1


def test_secret_values_in_env_and_history_are_never_printed(tmp_path):
    """Names of secret-looking variables are shown; their values appear in no output of slim inspect."""
    config = hostile.config_with(run_Env=["PATH=/bin", "DB_PASSWORD=hunter2-value", "GITHUB_TOKEN=ghp_abcdef123456"],
                                 history=[{"created_by": "/bin/sh -c #(nop)  ENV API_KEY=sk-live-999 MODE=prod"}])
    ref = hostile.write(str(tmp_path), "a.tar", hostile.archive_with([hostile.PLAIN], config))
    work = tmp_path / "work"
    work.mkdir()
    for args in (["inspect", ref], ["inspect", "--json", ref]):
        done = run_slim(args, str(work))
        text = (done.stdout + done.stderr).decode()
        assert done.returncode == 0, text
        for value in ("hunter2-value", "ghp_abcdef123456", "sk-live-999"):
            assert value not in text
    assert "DB_PASSWORD=<redacted>" in text and "MODE=prod" in text and "PATH=/bin" in text


def test_a_compressed_layer_ending_before_its_claim_stops_at_its_end(ws):
    """A gzip layer's tar length is unknown, so a claim within the unpacked-size budget cannot be refused up
    front: reading stops where the data ends. Before: tarfile went on asking for the claimed 30 GiB block by
    block after the end (14 s here; for a claim of 2^62, for ever)."""
    info = tarfile.TarInfo("claims")
    info.size = 30 << 30
    blob = gzip.compress(info.tobuf(tarfile.GNU_FORMAT), mtime=0)
    started = time.monotonic()
    with pytest.raises(ImageFormatError, match=f"truncated: the data ends at byte 512, a member claims to reach "
                                               f"byte {512 + (30 << 30)}"):
        unpack_layer(io.BytesIO(blob), ws.path("layers", "0.pack"), "l", budget=ws)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("case, message", [
    ("claims-2^62-archive-member", "claims 4611686018427387904 bytes"),
    ("junk", "not a readable docker-archive"),
])
def test_staging_a_file_input_reads_it_with_the_same_guard(case, message, ws, tmp_path, canary):
    """slim build loads a docker-archive into the engine before reading it, through a copy made with tarfile.
    Before: the member claiming 2^62 bytes spun there, and bytes that are no tar were a traceback."""
    if case == "junk":
        ref = hostile.write(str(tmp_path), "junk.tar", bytes(range(256)) * 12)
    else:
        ref = CASES[case](str(tmp_path), canary)

    def too_slow(signum, frame):
        raise AssertionError("staging still reads after 10 s")
    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(10)
    try:
        with pytest.raises(ImageFormatError, match=re.escape(message)):
            stage_in_engine(parse_reference(ref), ws, FakeEngine(), [])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

"""The strace parser on a recorded trace of the Python sample and on a fixture of the awkward cases."""

import os

from slim.model import CHDIR, CREATE, DELETE, EXEC, LISTDIR, READ, READLINK, STAT
from tracers.strace_parser import parse_strace

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "strace")
IGNORE = ("/slim-tracer", "/slim-trace")


def parse(name, cwd="/"):
    with open(os.path.join(FIXTURES, name), encoding="utf-8", errors="surrogateescape") as fh:
        return parse_strace(fh, cwd, IGNORE)


def has(trace, path, kind, ok=True, resolved=None):
    return any(a.path == path and a.kind == kind and a.ok == ok and (resolved is None or a.resolved == resolved)
               for a in trace.accesses)


def test_recorded_python_app_trace():
    t = parse("python-web.trace", "/srv/app")
    assert has(t, "/usr/bin/python3", EXEC)
    # modules Python only stat-ed: removing them would break import
    assert has(t, "/usr/lib/python3.11/sqlite3/__init__.py", STAT)
    assert has(t, "/usr/lib/python3.11/sqlite3/__init__.so", STAT, ok=False)
    assert has(t, "/lib/x86_64-linux-gnu/libsqlite3.so.0", READ, resolved="/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6")
    assert has(t, "/srv/app/notes/store.py", READ)
    assert [p.argv for p in t.processes] == [("python3", "/srv/app/server.py")]  # the server thread is no process
    assert t.syscalls["openat"] > 50 and "accept4" in t.syscalls
    assert t.ports == {8080}  # the run profile's NET_BIND_SERVICE decision reads these
    assert not t.warnings


def test_edge_cases():
    t = parse("edge-cases.trace", "/data")
    assert has(t, "/srv/data/input.csv", READ)  # relative to the cwd after chdir
    assert has(t, "/srv/data", CHDIR)
    assert has(t, "/srv/data/rel/file.txt", READ, ok=False)  # open() without a dirfd: the tracked cwd
    assert has(t, '/usr/share/locale/a"quote\\back slashé.mo', READ, ok=False)  # escapes and octal UTF-8
    assert has(t, "/usr/lib/x86_64-linux-gnu/libz.so.1", READ, resolved="/usr/lib/x86_64-linux-gnu/libz.so.1.2.13")
    assert has(t, "/bin/sh", STAT)
    assert has(t, "/usr/lib/python3.11/json", LISTDIR)
    assert has(t, "/proc/self/exe", READLINK)
    assert has(t, "/srv/app/notes/store.py", READ)  # relative to a directory fd
    assert has(t, "/tmp/out.txt", CREATE) and has(t, "/tmp/out.txt", DELETE) and has(t, "/tmp/final.txt", CREATE)
    assert has(t, "/proc/self/exe", EXEC, resolved="/app/run.sh")  # what the process was running
    assert not any(a.path.startswith("/slim-tracer") for a in t.accesses)  # the bundle never shows
    procs = {p.pid: p for p in t.processes}
    assert procs[101].ppid == 100 and procs[101].argv == ("gawk", "-F,", '{print "x\\ty"}')
    assert procs[100].argv == ("bash", "-c", "true")
    assert 103 not in procs  # a thread
    assert t.syscalls["openat"] == 7 and t.syscalls["wait4"] == 1 and t.syscalls["exit_group"] == 1


def test_identity_switches_are_recorded():
    t = parse("edge-cases.trace", "/data")
    assert t.uids == {33} and t.gids == {33}  # the failed setresuid changed nothing


def test_several_outputs_make_one_result_each_starting_in_the_working_directory():
    from tracers.strace_parser import parse_strace_files

    main = ['10    chdir("/var") = 0', '10    openat(AT_FDCWD</var>, "log/app.log", O_RDONLY) = 3</var/log/app.log>']
    probe = ['20    open("data.txt", O_RDONLY) = 3</srv/data.txt>',
             '20    openat(AT_FDCWD</var>, "log/app.log", O_RDONLY) = 3</var/log/app.log>']
    t = parse_strace_files([main, probe], "/srv")
    assert has(t, "/srv/data.txt", READ)  # the --exec process starts in WORKDIR, not where the app went
    log = next(a for a in t.accesses if a.path == "/var/log/app.log")
    assert log.count == 2 and log.pids == (10, 20)
    assert t.syscalls == {"chdir": 1, "open": 1, "openat": 2}


def test_malformed_escapes_in_strings_are_kept_not_fatal():
    """Found by bench/fuzz.py: a backslash before a byte that is not UTF-8, a short \\x, a non-ASCII digit."""
    from tracers.strace_parser import parse_strace

    lines = [b'5 stat("/a\\\xd1r/os.py", {st_mode=S_IFREG|0644, st_size=1, ...}) = 0'.decode("utf-8", "surrogateescape"),
             '5 stat("/b\\xZ", {st_mode=S_IFREG|0644, st_size=1, ...}) = 0',
             '5 stat("/c\\\u0663", {st_mode=S_IFREG|0644, st_size=1, ...}) = 0']
    paths = {a.path for a in parse_strace(lines).accesses}
    assert "/a\udcd1r/os.py" in paths and "/bxZ" in paths and "/c\u0663" in paths

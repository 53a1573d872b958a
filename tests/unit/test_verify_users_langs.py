"""Table-driven tests of pure pieces the build leans on: comparing two runs, accounts, language completion,
the typed run configuration."""

from __future__ import annotations

import io

import pytest

from slim.langs import levels
from slim.checks.users import parse_passwd, read_accounts, reduce_accounts, resolve_user
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.model import ProbeResult, RunConfig, RunOutcome
from slim.run.verify import differences
from tarbuild import layer

OK = ProbeResult("http", "http://172.17.0.2:8080/", True, 200, "aa", 2, static=False)


def outcome(mode="probe", exit_code=0, stdout="", *probes, stopped=None):
    """A run's outcome; a server (any mode but exit) was still running when slim stopped it, unless said."""
    return RunOutcome(mode, exit_code, stdout, tuple(probes), mode != "exit" if stopped is None else stopped)


@pytest.mark.parametrize("original, slim, expected", [
    (outcome("exit", 0, "x"), outcome("exit", 0, "x"), []),
    (outcome("exit", 0, "x"), outcome("exit", 1, "x"), ["exit code: original 0, slim 1"]),
    (outcome("exit", 0, "x"), outcome("exit", 0, "y"), ["stdout differs: from character 0: original 'x', slim 'y'"]),
    (outcome("exit", 0, "a long shared beginning, then a"), outcome("exit", 0, "a long shared beginning, then b"),
     ["stdout differs: from character 30: original 'red beginning, then a', slim 'red beginning, then b'"]),
    # before: with no probe, a server that could not even start in the slim image "passed"
    (outcome("probe", 143), outcome("probe", 127, stopped=False),
     ["the original was still running when it was stopped, the slim image had exited by itself (exit code 127)"]),
    (outcome("timeout", 0, "done", stopped=False), outcome("timeout", 1, "", stopped=False),
     ["exit code: original 0, slim 1", "stdout differs: from character 0: original 'done', slim ''"]),
    (outcome("probe", 0), outcome("probe", 137), []),  # a server's exit code is how it was stopped: not compared
    (outcome("probe", 0, "", OK), outcome("probe", 0, "", OK.__class__(**{**OK.__dict__, "target": "http://172.17.0.9:8080/"})), []),
    (outcome("probe", 0, "", OK), outcome("probe", 0, "", ProbeResult("http", OK.target, True, 500)),
     ["http :8080/: original status 200, slim status 500"]),
    (outcome("probe", 0, "", OK), outcome("probe", 0, ""), ["http :8080/: only the original was probed"]),
    (outcome("probe", 0, "", ProbeResult("http", OK.target, True, 200, "aa", 2, static=True)),
     outcome("probe", 0, "", ProbeResult("http", OK.target, True, 200, "bb", 3, static=True)),
     ["http :8080/: static body differs (2 bytes before, 3 after)"]),
    (outcome("probe", 0, "", ProbeResult("exec", "check", True, 0)),
     outcome("probe", 0, "", ProbeResult("exec", "check", False, detail="boom")),
     ["exec check: original exit code 0, slim no answer (boom)"]),
])
def test_differences(original, slim, expected):
    assert differences(original, slim) == expected


PASSWD = ("root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
          "app:x:10001:10001::/home/app:/usr/sbin/nologin\nbroken line\n")
GROUP = "root:x:0:\nwww-data:x:33:\napp:x:10001:\nstaff:x:50:\n"


@pytest.mark.parametrize("spec, expected", [
    ("", (0, 0)), ("root", (0, 0)), ("app", (10001, 10001)), ("10001", (10001, 10001)), ("app:50", (10001, 50)),
    ("4242", (4242, None)), ("nobody-here", (None, None)),
])
def test_resolve_user(spec, expected):
    assert resolve_user(spec, parse_passwd(PASSWD)) == expected


def test_accounts_are_reduced_to_root_and_those_in_use():
    passwd, group, names = reduce_accounts(PASSWD, GROUP, {10001}, set())
    assert names == ["root", "app"] and "www-data" not in passwd
    assert [line.split(":")[0] for line in group.splitlines()] == ["root", "app"]  # app's primary group


def rootfs(ws, *members):
    return flatten([unpack_layer(io.BytesIO(layer(*members)), ws.path("layers", "0.pack"), "0")])


def test_accounts_are_read_once_with_the_home_of_user(ws):
    accounts = read_accounts(rootfs(ws, ("etc/passwd", "file", PASSWD.encode()), ("etc/group", "file", GROUP.encode())))
    assert accounts.home_of("app") == "/home/app" and accounts.home_of("") == "/root"
    assert accounts.home_of("4242") is None and len(accounts.accounts) == 3
    assert not read_accounts(rootfs(ws, ("bin/app", "file", b"static"))).present


@pytest.mark.parametrize("kept, level, added, absent", [
    ({"/usr/bin/python3.11"}, levels.FULL, ["/usr/lib/python3.11/os.py", "/usr/lib/python3.11/lib-dynload/_json.so"],
     ["/usr/lib/python3.11/test/test_os.py", "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc"]),
    ({"/usr/bin/python3.11"}, levels.PACKAGE, [], ["/usr/lib/python3.11/os.py"]),
    ({"/srv/app/pkg/a.py"}, levels.PACKAGE, ["/srv/app/pkg/b.py", "/srv/app/pkg/sub/c.py"], ["/srv/app/other.py"]),
    ({"/srv/app/pkg/a.py"}, levels.OFF, [], ["/srv/app/pkg/b.py"]),
])
def test_language_completion(ws, kept, level, added, absent):
    root = rootfs(ws, ("usr/bin/python3.11", "file", b"ELF"), ("usr/lib/python3.11/os.py", "file", b""),
                  ("usr/lib/python3.11/lib-dynload/_json.so", "file", b""),
                  ("usr/lib/python3.11/test/test_os.py", "file", b""),
                  ("usr/lib/python3.11/__pycache__/os.cpython-311.pyc", "file", b""),
                  ("srv/app/pkg/__init__.py", "file", b""), ("srv/app/pkg/a.py", "file", b""),
                  ("srv/app/pkg/b.py", "file", b""), ("srv/app/pkg/sub/__init__.py", "file", b""),
                  ("srv/app/pkg/sub/c.py", "file", b""), ("srv/app/other.py", "file", b""))
    got = levels.completion(root, kept, level)
    assert [p for p in added if p not in got] == [] and [p for p in absent if p in got] == []


@pytest.mark.parametrize("doc, problem", [
    ({"Env": "PATH=/bin"}, "Env is not a list of strings"),
    ({"Env": ["NOEQUALS"]}, "Env holds an entry that is not K=V"),
    ({"Cmd": [1]}, "Cmd is not a list of strings"),
    ({"Labels": ["a"]}, "Labels is not an object of strings"),
    ({"User": 0}, "User is not a string"),
    ({"ExposedPorts": ["80/tcp"]}, "ExposedPorts is not an object"),
    ([], "the image config's 'config' is not an object"),
])
def test_run_config_rejects_documents_of_the_wrong_shape(doc, problem):
    with pytest.raises(ValueError, match=problem):
        RunConfig.from_document(doc)


def test_run_config_reads_what_runs_and_how():
    config = RunConfig.from_document({"Entrypoint": None, "Cmd": ["nginx"], "Env": ["A=1=2"], "User": "www-data",
                                      "ExposedPorts": {"443/tcp": {}, "80/tcp": {}, "53/udp": {}},
                                      "Volumes": {"/data": {}}, "Healthcheck": {"Test": ["CMD", "true"]}})
    assert config.entrypoint == () and config.cmd == ("nginx",) and config.env_dict() == {"A": "1=2"}
    assert config.tcp_ports == [80, 443] and config.volumes == ("/data",) and config.healthcheck == ("CMD", "true")

"""/etc/passwd and /etc/group: reduced to the accounts in use, or kept as they are when the app reads them as data
(a command line names the file a process read), when --keep-accounts or --include-path asks; and, when they were
reduced and verification fails, the error's lead to --keep-accounts. Fake traces over a small image."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner

from slim import config_file
from slim.checks.users import read_accounts
from slim.cli.text import console
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.model import EXEC, READ, FileAccess, ProcessInfo, RunConfig, Trace
from slim.packages.catalog import read_catalog
from slim.plan import accounts
from slim.plan.keep import PlanOptions, plan_keep
from slim.plan.rebase import parse_run_as, rebase
from slim.plan.rewrite import rewrite
from slim.results import ESSENTIAL
from tarbuild import layer

PASSWD = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" \
         b"_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n"
GROUP = b"root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"
CONFIG = RunConfig.from_document({"Cmd": ["sh", "-c", "sort /etc/passwd | head -3"], "Env": ["PATH=/usr/bin"]})
SH = ProcessInfo(1, None, ("sh", "-c", "sort /etc/passwd | head -3"), "/usr/bin/sh")


@pytest.fixture
def image(ws):
    data = layer(("usr/bin/sh", "file", (b"sh", 0o755)), ("usr/bin/sort", "file", (b"sort", 0o755)),
                 ("usr/bin/id", "file", (b"id", 0o755)), ("usr/bin/perl", "file", (b"perl", 0o755)),
                 ("etc/passwd", "file", PASSWD), ("etc/group", "file", GROUP), ("etc/os-release", "file", b"ID=debian\n"))
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "0.pack"), "0")])


def traced(*reads: tuple[str, ProcessInfo], processes=(SH,)) -> Trace:
    """A run in which each (path, process) read happened, by that process."""
    accesses = [FileAccess(path, READ, True, path, 1, (proc.pid,)) for path, proc in reads]
    accesses += [FileAccess(p.exe, EXEC, True, p.exe, 1, (p.pid,)) for p in processes]
    return Trace(accesses=tuple(sorted(accesses)), processes=tuple(processes), config=CONFIG, argv=SH.argv)


def plan(root, trace, **options):
    opts, found = PlanOptions(**options), read_accounts(root)
    catalog = read_catalog(root)
    keep = plan_keep(root, CONFIG, trace, found, opts, catalog.owned())
    return keep, rewrite(root, CONFIG, trace, found, catalog, keep, opts)


def names_in(data: bytes) -> list[str]:
    return [line.split(":")[0] for line in data.decode().splitlines()]


def test_a_file_its_command_line_names_is_kept_as_it_is(image):
    """Before, the file was always reduced: `sort /etc/passwd` printed root alone, and verification failed
    (the old rewrite._accounts wrote generated["/etc/passwd"] whatever the trace showed)."""
    sort = ProcessInfo(2, 1, ("sort", "/etc/passwd"), "/usr/bin/sort")
    keep, rewrites = plan(image, traced(("/etc/passwd", sort), processes=(SH, sort)))
    assert "/etc/passwd" not in rewrites.generated and "/etc/group" not in rewrites.generated
    for path in accounts.ACCOUNT_FILES:  # the pair: a group file reduced would not match the passwd kept
        assert keep.category(path) == ESSENTIAL
        assert [r.text() for r in keep.reasons[path]] == [
            "accounts kept as they are: sort read /etc/passwd as data (a command line names it)"]
    assert rewrites.accounts_kept == ["root", "daemon", "_apt", "nobody"]


@pytest.mark.parametrize("argv, parent_argv", [
    (("cat", "/etc/group"), ("sh",)),                 # named by the reader itself
    (("getent", "passwd"), ("sh",)),                  # a database named by its file's name
    (("sort",), ("sh", "-c", "sort < /etc/passwd")),  # a redirection: the shell's child opens it, then runs sort
    (("perl", "-e", "open F, '/etc/passwd'"), ("sh",)),  # inside a program given on the command line
])
def test_reads_a_command_line_names_are_data(argv, parent_argv):
    parent = ProcessInfo(1, None, parent_argv, "/usr/bin/sh")
    reader = ProcessInfo(2, 1, argv, "/usr/bin/" + argv[0])
    path = "/etc/group" if "group" in " ".join(argv) else "/etc/passwd"
    assert accounts.read_as_data(traced((path, reader), processes=(parent, reader))) == [(path, reader)]


def test_nss_lookups_leave_the_files_reduced(image):
    """`id` reads both files through NSS, and no command line names them: reduced, as before."""
    id_ = ProcessInfo(2, 1, ("id",), "/usr/bin/id")
    sh = ProcessInfo(1, None, ("sh", "-c", "id"), "/usr/bin/sh")
    keep, rewrites = plan(image, traced(("/etc/passwd", id_), ("/etc/group", id_), processes=(sh, id_)))
    assert names_in(rewrites.generated["/etc/passwd"].data) == ["root"]
    assert rewrites.generated["/etc/passwd"].why == accounts.REDUCED and "/etc/passwd" not in keep.reasons


def test_an_app_reading_a_file_no_command_line_names_is_not_guessed_at(image):
    """Flags and sizes cannot tell this from NSS: reduced, and the failure's lead says so (below)."""
    perl = ProcessInfo(2, 1, ("perl", "-e", 'open F, "/etc/pass"."wd"'), "/usr/bin/perl")
    trace = traced(("/etc/passwd", perl), processes=(ProcessInfo(1, None, ("sh",), "/usr/bin/sh"), perl))
    _, rewrites = plan(image, trace)
    assert names_in(rewrites.generated["/etc/passwd"].data) == ["root"]
    changed = accounts.changed_files_read(trace, rewrites)
    assert changed == [accounts.ChangedRead("/etc/passwd", accounts.REDUCED,
                                            "--keep-accounts keeps /etc/passwd and /etc/group as they are")]
    assert accounts.advice(changed) == ("the app read /etc/passwd (reduced to the accounts in use), which the slim "
                                        "image holds changed: --keep-accounts keeps /etc/passwd and /etc/group as "
                                        "they are")


@pytest.mark.parametrize("options, why", [({"keep_accounts": True}, "--keep-accounts"),
                                          ({"include_paths": ("/etc/passwd",)}, "--include-path")])
def test_asked_for_the_files_stay_as_they_are(image, options, why):
    """Before, --include-path /etc/passwd kept a reduced file (the generated one took its place) and the option
    did not exist (PlanOptions had no keep_accounts)."""
    id_ = ProcessInfo(2, 1, ("id",), "/usr/bin/id")
    keep, rewrites = plan(image, traced(("/etc/passwd", id_), processes=(SH, id_)), **options)
    assert "/etc/passwd" not in rewrites.generated and "/etc/group" not in rewrites.generated
    assert set(accounts.ACCOUNT_FILES) <= set(keep.reasons)
    assert f"accounts kept as they are: {why}" in [r.text() for r in keep.reasons["/etc/group"]]
    assert accounts.changed_files_read(traced(("/etc/passwd", id_)), rewrites) == []


def test_run_as_on_reduced_files_still_names_the_way_out(image):
    """--run-as adds its account to the reduced files: the why keeps saying they were reduced."""
    perl = ProcessInfo(2, 1, ("perl", "app.pl"), "/usr/bin/perl")
    trace = traced(("/etc/passwd", perl), processes=(ProcessInfo(1, None, ("sh",), "/usr/bin/sh"), perl))
    keep, rewrites = plan(image, trace)
    rebase(image, RunConfig.from_document({"User": "root"}), trace, parse_run_as("nonroot"),
           set(rewrites.paths(keep)), rewrites)
    assert names_in(rewrites.generated["/etc/passwd"].data) == ["root", "nonroot"]
    assert rewrites.generated["/etc/passwd"].why == "reduced to the accounts in use, nonroot added"
    assert "--keep-accounts" in accounts.advice(accounts.changed_files_read(trace, rewrites))


def test_the_config_file_and_the_command_line_have_the_option(tmp_path):
    path = tmp_path / "slim.yaml"
    path.write_text("version: 1\nkeep:\n  accounts: true\n")
    assert config_file.load(str(path)) == {"keep_accounts": True}
    from slim.cli import main

    assert "--keep-accounts" in CliRunner().invoke(main, ["build", "--help"]).output


def test_passwd_lines_in_a_difference_are_printed_as_they_are():
    """rich turned `:x:` of every passwd line into an emoji in the verification summary ("root❌0:0")."""
    out = console()
    with out.capture() as captured:
        out.print("root:x:0:0:root:/root:/bin/bash")
    assert captured.get().strip() == "root:x:0:0:root:/root:/bin/bash"

"""Planner rules on a small image built in memory: each rule (keep, rewrite, the report's facts about them), and
the determinism of plan + assemble."""

import io
from dataclasses import dataclass

import pytest

from slim.image.assemble import assemble
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.image.overlay import overlay
from slim.packages.catalog import read_catalog
from slim.checks.users import read_accounts
from slim.model import CREATE, EXEC, READ, STAT, FileAccess, RunConfig, Trace
from slim.plan.keep import PlanOptions, plan_keep
from slim.plan.rewrite import rewrite
from slim.results import CLOSURE, ESSENTIAL, INCLUDE, LANGUAGE, TRACED, KeepPlan, Rewrites
from slim.report.facts import RemovedTools, removed_tools
from tarbuild import layer

PASSWD = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" \
         b"www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\napp:x:10001:10001::/home/app:/usr/sbin/nologin\n"
GROUP = b"root:x:0:\ndaemon:x:1:\nwww-data:x:33:\napp:x:10001:\nusers:x:100:\n"


@pytest.fixture
def image(ws):
    data = layer(
        ("bin", "symlink", "usr/bin"), ("usr/bin/app", "file", (b"#!/usr/bin/python3\nimport pkg\n", 0o755)),
        ("usr/bin/python3", "symlink", "python3.11"), ("usr/bin/python3.11", "file", (b"\x7fELF-not-really", 0o755)),
        ("usr/bin/bash", "file", (b"bash", 0o755)), ("usr/bin/apt-get", "file", (b"apt", 0o755)),
        ("usr/bin/passwd", "file", (b"suid", 0o4755)), ("usr/bin/ping", "file", (b"suid", 0o4755)),
        ("usr/lib/python3.11/os.py", "file", b"# os"), ("usr/lib/python3.11/json/__init__.py", "file", b"# json"),
        ("usr/lib/python3.11/test/test_os.py", "file", b"# tests are left out"),
        ("usr/lib/python3/dist-packages/pkg/__init__.py", "file", b"from . import used"),
        ("usr/lib/python3/dist-packages/pkg/used.py", "file", b"x = 1"),
        ("usr/lib/python3/dist-packages/pkg/lazy.py", "file", (b"#!/bin/sh\n# imported lazily, never run", 0o644)),
        ("usr/lib/python3/dist-packages/pkg-1.0.dist-info/RECORD", "file", b"pkg/__init__.py,,\n"),
        ("usr/lib/python3/dist-packages/other/__init__.py", "file", b""),
        ("opt/app/server.js", "file", b"require('greeter')"), ("opt/app/package.json", "file", b'{"dependencies": {"greeter": "1"}}'),
        ("opt/app/node_modules/greeter/package.json", "file", b'{"main": "index.js", "dependencies": {"dep": "1"}}'),
        ("opt/app/node_modules/greeter/index.js", "file", b"module.exports = require('dep')"),
        ("opt/app/node_modules/dep/index.js", "file", b"module.exports = 1"),
        ("opt/app/node_modules/unused/index.js", "file", b"never required"),
        ("usr/share/nodejs/mime/package.json", "file", b'{"dependencies": {"mime-db": "1"}}'),
        ("usr/share/nodejs/mime/index.js", "file", b"require('./lite')"), ("usr/share/nodejs/mime/lite.js", "file", b""),
        ("usr/share/nodejs/mime-db/db.json", "file", b"{}"), ("usr/share/nodejs/other/index.js", "file", b""),
        ("etc/passwd", "file", PASSWD), ("etc/group", "file", GROUP), ("etc/os-release", "file", b"ID=debian\n"),
        ("var/lib/nginx", "dir"), ("home/app/.profile", "file", b""), ("usr/share/doc/x/README", "file", b"docs"),
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "0.pack"), "0")])


CONFIG = {"Cmd": ["/usr/bin/app"], "User": "app", "Env": ["PATH=/usr/bin:/bin"], "WorkingDir": "/srv"}
RUN_CONFIG = RunConfig.from_document(CONFIG)


def trace_of(*accesses, **ids):
    return Trace(accesses=tuple(FileAccess(p, k, True) for p, k in accesses), config=RUN_CONFIG,
                 argv=("/usr/bin/app",), **ids)


@dataclass
class Planned:
    """The keep plan, the rewrites and the removed tools of one planning run, read as one."""

    keep: KeepPlan
    rewrites: Rewrites
    removed: RemovedTools

    def category(self, path):
        return self.keep.category(path)

    def paths(self):
        return self.rewrites.paths(self.keep)

    reasons = property(lambda self: self.keep.reasons)
    excluded = property(lambda self: self.keep.excluded)
    language_cost = property(lambda self: self.keep.language_cost)
    generated = property(lambda self: self.rewrites.generated)
    modes = property(lambda self: self.rewrites.modes)
    setuid_dropped = property(lambda self: self.rewrites.setuid_dropped)
    shells_removed = property(lambda self: list(self.removed.shells))
    package_managers_removed = property(lambda self: list(self.removed.package_managers))


def run_plan(root, trace, **options):
    opts, accounts = PlanOptions(**options), read_accounts(root)
    catalog = read_catalog(root)
    keep = plan_keep(root, RUN_CONFIG, trace, accounts, opts, catalog.owned())
    rewrites = rewrite(root, RUN_CONFIG, trace, accounts, catalog, keep, opts)
    return Planned(keep, rewrites, removed_tools(root, keep))


def test_traced_files_their_closure_and_essentials(image):
    keep = run_plan(image, trace_of(("/bin/app", EXEC), ("/usr/lib/python3/dist-packages/pkg/used.py", READ)))
    assert keep.category("/usr/bin/app") == TRACED
    assert keep.category("/usr/bin/python3.11") == CLOSURE  # the script's interpreter, through the symlink
    assert keep.category("/usr/bin/python3") == CLOSURE and keep.category("/bin") == CLOSURE
    assert keep.category("/etc/os-release") == ESSENTIAL and keep.category("/home/app") == ESSENTIAL
    assert "/usr/bin/bash" not in keep.reasons and "/usr/share/doc/x/README" not in keep.reasons
    assert keep.shells_removed == ["/usr/bin/bash"] and keep.package_managers_removed == ["/usr/bin/apt-get"]


def test_language_completion_levels(image):
    trace = trace_of(("/usr/bin/python3.11", EXEC), ("/usr/lib/python3/dist-packages/pkg/used.py", READ),
                     ("/opt/app/server.js", READ), ("/opt/app/node_modules/greeter/index.js", READ))
    full = run_plan(image, trace, lang_completion="full")
    assert full.category("/usr/lib/python3.11/os.py") == LANGUAGE  # the whole standard library
    assert "/usr/lib/python3.11/test/test_os.py" not in full.reasons  # but not its test suite
    assert full.category("/usr/lib/python3/dist-packages/pkg/lazy.py") == LANGUAGE  # the rest of a used package
    assert "/bin/sh" not in full.reasons  # a kept module's #! line is not followed: it is imported, not run
    assert full.category("/usr/lib/python3/dist-packages/pkg-1.0.dist-info/RECORD") == LANGUAGE
    assert "/usr/lib/python3/dist-packages/other/__init__.py" not in full.reasons  # an unused package
    assert full.category("/opt/app/node_modules/dep/index.js") == LANGUAGE  # greeter's dependency
    assert "/opt/app/node_modules/unused/index.js" not in full.reasons
    package = run_plan(image, trace, lang_completion="package")
    assert "/usr/lib/python3.11/os.py" not in package.reasons and "/usr/lib/python3/dist-packages/pkg/lazy.py" in package.reasons
    off = run_plan(image, trace, lang_completion="off")
    assert not any(r.category == LANGUAGE for p in off.reasons for r in off.reasons[p])
    assert full.language_cost["full"] > full.language_cost["package"] > full.language_cost["off"] == 0
    imports = run_plan(image, trace)  # the default: what kept code imports, and the metadata of used packages
    assert "/usr/lib/python3.11/os.py" not in imports.reasons  # nothing imports it
    assert "/usr/lib/python3/dist-packages/pkg/lazy.py" not in imports.reasons
    assert imports.category("/usr/lib/python3/dist-packages/pkg-1.0.dist-info/RECORD") == LANGUAGE
    assert imports.category("/opt/app/node_modules/dep/index.js") == LANGUAGE  # Node: whole packages, as yet


def test_includes_excludes_and_setuid(image):
    keep = run_plan(image, trace_of(("/usr/bin/ping", EXEC), ("/usr/bin/passwd", STAT)),
                    include_paths=("/usr/share/doc",), exclude_patterns=("*/README",), include_shell=True)
    assert keep.category("/usr/share/doc/x") == INCLUDE and "/usr/share/doc/x/README" in keep.excluded
    assert "/usr/share/doc/x/README" not in keep.reasons
    assert keep.setuid_dropped == ["/usr/bin/passwd"]  # stat-ed only; ping was exec'd and keeps its bit
    assert keep.modes["/usr/bin/passwd"] == 0o755


def test_accounts_tmp_and_run_time_directories(image):
    keep = run_plan(image, trace_of(("/var/lib/nginx/body", CREATE), uids=(33,), gids=(33,)))
    passwd = keep.generated["/etc/passwd"].data.decode()
    assert [line.split(":")[0] for line in passwd.splitlines()] == ["root", "www-data", "app"]
    assert "users" not in keep.generated["/etc/group"].data.decode()
    assert keep.generated["/tmp"].mode == 0o1777 and keep.generated["/srv"].data is None  # WORKDIR made
    assert keep.category("/var/lib/nginx") == TRACED  # so nginx can make its temp directory there


def test_plan_and_assemble_are_deterministic(image, ws):
    from slim.workspace import Workspace

    digests = []
    for n in range(2):
        trace = trace_of(("/bin/app", EXEC), ("/usr/lib/python3/dist-packages/pkg/used.py", READ))
        keep = run_plan(image, trace)
        inner = Workspace(ws.mkdir(f"run{n}"))
        root = overlay(image, keep.generated, keep.modes, inner.path("gen.pack"))
        digests.append(assemble(root, keep.paths(), {"config": CONFIG}, "x", "sha256:0", inner).layer_digest)
    assert digests[0] == digests[1]


def test_debian_global_node_modules_are_completed(image):
    keep = run_plan(image, trace_of(("/usr/share/nodejs/mime/index.js", READ)), lang_completion="package")
    assert keep.category("/usr/share/nodejs/mime/lite.js") == LANGUAGE
    assert keep.category("/usr/share/nodejs/mime-db/db.json") == LANGUAGE  # its dependency, found globally
    assert "/usr/share/nodejs/other/index.js" not in keep.reasons


def test_a_script_only_read_as_data_does_not_bring_its_interpreter(ws):
    """A hook sample with `#!/usr/bin/perl` that the app only listed and read: perl stays out. Run, it is kept."""
    data = layer(("usr/bin/app", "file", (b"\x7fELF-app", 0o755)), ("usr/bin/perl", "file", (b"\x7fELF-perl", 0o755)),
                 ("usr/share/hooks/post-commit.sample", "file", (b"#!/usr/bin/perl\nprint 1;\n", 0o755)),
                 ("etc/passwd", "file", PASSWD), ("etc/group", "file", GROUP))
    root = flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "h.pack"), "h")])
    read = run_plan(root, trace_of(("/usr/bin/app", EXEC), ("/usr/share/hooks/post-commit.sample", READ)),
                    lang_completion="off")
    assert read.category("/usr/share/hooks/post-commit.sample") == TRACED and "/usr/bin/perl" not in read.reasons
    ran = run_plan(root, trace_of(("/usr/bin/app", EXEC), ("/usr/share/hooks/post-commit.sample", READ),
                                  ("/usr/share/hooks/post-commit.sample", EXEC)), lang_completion="off")
    assert ran.category("/usr/bin/perl") == CLOSURE

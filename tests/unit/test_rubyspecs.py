"""Gem specifications a slim image leaves out: those of gems none of whose files it keeps. The tree copies Debian
bookworm's ruby 3.1 as the ruby-sinatra sample has it (its real gemspecs in tests/fixtures/gems): default gems
whose code is in the interpreter's library directory, a bundled gem with a compiled extension, Debian's
rubygems-integration gems with a gem directory and without one (their code in vendor_ruby, owned by a package)."""

from __future__ import annotations

import io
import os
import time

import pytest

from slim.checks.users import read_accounts
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.langs import rubypath, rubyspecs
from slim.model import EXEC, READ, STAT, FileAccess, RunConfig, Trace
from slim.packages.catalog import read_catalog
from slim.plan.keep import PlanOptions, plan_keep
from tarbuild import layer
from test_ruby import ARCHDIR, RBCONFIG, RUBYLIB

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "gems")
GEMS = "/usr/lib/ruby/gems/3.1.0"
DEBIAN = "/usr/share/rubygems-integration/all"
EXT = f"{GEMS}/extensions/x86_64-linux/3.1.0/debug-1.4.0"
SPEC = {name: f"{GEMS}/specifications/default/{name}.gemspec" for name in
        ("csv-3.2.2", "date-3.2.2", "irb-1.4.1", "abbrev-0.1.0")}
SPEC |= {name: f"{GEMS}/specifications/{name}.gemspec" for name in ("debug-1.4.0", "rake-13.0.6")}
SPEC |= {name: f"{DEBIAN}/specifications/{name}.gemspec" for name in
         ("sinatra-3.0.5", "rack-2.2.22", "tilt-2.0.11", "xmlrpc-0.3.2")}
ORPHAN = f"{DEBIAN}/specifications/orphan-1.0.gemspec"  # no gem directory, owned by no package
STATUS = b"".join(b"Package: %s\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n" % name
                  for name in (b"ruby-tilt", b"ruby-xmlrpc"))
RUN = RunConfig.from_document({"Cmd": ["/usr/bin/ruby3.1", "/srv/app/app.rb"], "WorkingDir": "/srv/app"})


def fixture(path: str) -> bytes:
    with open(os.path.join(FIXTURES, path.lstrip("/")), "rb") as fh:
        return fh.read()


def tree(ws, *extra):
    data = layer(
        ("usr/bin/ruby3.1", "file", (b"\x7fELF-ruby", 0o755)),
        (f"{ARCHDIR}/rbconfig.rb", "file", RBCONFIG),
        *((spec.lstrip("/"), "file", fixture(spec)) for spec in SPEC.values()),
        (ORPHAN.lstrip("/"), "file", b's.name = "orphan"\ns.version = "1.0"\n'),
        (f"{RUBYLIB}/csv.rb", "file", b"# kept\n"), (f"{RUBYLIB}/date.rb", "file", b""),
        (f"{RUBYLIB}/irb.rb", "file", b""), (f"{RUBYLIB}/abbrev.rb", "file", b""),
        (f"{GEMS}/gems/debug-1.4.0/lib/debug.rb".lstrip("/"), "file", b""),
        (f"{EXT}/gem.build_complete".lstrip("/"), "file", b""), (f"{EXT}/debug/debug.so".lstrip("/"), "file", b"\x7fELF"),
        (f"{GEMS}/gems/rake-13.0.6/lib/rake.rb".lstrip("/"), "file", b""),
        (f"{DEBIAN}/gems/sinatra-3.0.5/lib/sinatra.rb".lstrip("/"), "file", b"# requires nothing here\n"),
        (f"{DEBIAN}/gems/rack-2.2.22/lib/rack.rb".lstrip("/"), "file", b""),
        ("usr/lib/ruby/vendor_ruby/tilt.rb", "file", b""), ("usr/lib/ruby/vendor_ruby/xmlrpc.rb", "file", b""),
        ("usr/share/doc/ruby-xmlrpc/copyright", "file", b"kept or not, it is no code"),
        ("var/lib/dpkg/status", "file", STATUS),
        ("var/lib/dpkg/info/ruby-tilt.list", "file",
         f"/usr/lib/ruby/vendor_ruby/tilt.rb\n{SPEC['tilt-2.0.11']}\n".encode()),
        ("var/lib/dpkg/info/ruby-xmlrpc.list", "file",
         f"/usr/lib/ruby/vendor_ruby/xmlrpc.rb\n{SPEC['xmlrpc-0.3.2']}\n/usr/share/doc/ruby-xmlrpc/copyright\n".encode()),
        ("srv/app/app.rb", "file", b"# the app\n"),
        *extra,
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "gems.pack"), "gems")])


# what the trace of a Sinatra app keeps: the interpreter, every gemspec (RubyGems reads them all when it starts),
# the extension's build marker (looked up at start-up too) and the code the app ran
KEPT = {"/usr/bin/ruby3.1", f"/{ARCHDIR}/rbconfig.rb", *SPEC.values(), ORPHAN, f"{EXT}/gem.build_complete",
        f"/{RUBYLIB}/csv.rb", f"{DEBIAN}/gems/sinatra-3.0.5/lib/sinatra.rb", "/usr/lib/ruby/vendor_ruby/tilt.rb",
        "/usr/share/doc/ruby-xmlrpc/copyright", "/srv/app/app.rb"}
UNUSED = ["abbrev-0.1.0", "date-3.2.2", "debug-1.4.0", "irb-1.4.1", "rake-13.0.6", "xmlrpc-0.3.2"]


def unused(root, kept):
    catalog = read_catalog(root)
    owners = {f: p.files for p in catalog.packages for f in p.files}
    return rubyspecs.unused_specs(root, kept, {}, owners.get, [p for p in kept if p.endswith(".gemspec")])


def test_the_specs_of_gems_with_no_kept_file_are_the_ones_left_out(ws):
    root = tree(ws)
    found = unused(root, KEPT)
    assert sorted(f"{g.name}-{g.version}" for g in found.values()) == UNUSED
    # kept: csv (its code in the standard library is kept), sinatra (its gem directory), rack (sinatra needs it
    # at run time, though none of its files is kept), tilt (its package's code is kept), orphan (unknown files)
    assert set(SPEC.values()) - set(found) == {SPEC["csv-3.2.2"], SPEC["sinatra-3.0.5"], SPEC["rack-2.2.22"],
                                               SPEC["tilt-2.0.11"]}
    assert rubyspecs.build_markers(root, found[SPEC["debug-1.4.0"]]) == [f"{EXT}/gem.build_complete"]


def test_only_runtime_dependencies_hold_a_spec():
    # rack's generated spec lists its development dependencies twice, the second time as add_dependency
    assert rubyspecs.runtime_dependencies(fixture(SPEC["rack-2.2.22"]).decode()) == set()
    assert rubyspecs.runtime_dependencies(fixture(SPEC["debug-1.4.0"]).decode()) == {"irb", "reline"}
    assert rubyspecs.runtime_dependencies('s.add_dependency "a"\ns.add_dependency("b", ">= 1")\n') == {"a", "b"}


def test_a_gem_whose_code_is_kept_keeps_what_it_depends_on(ws):
    root = tree(ws)
    found = unused(root, KEPT | {f"{GEMS}/gems/debug-1.4.0/lib/debug.rb"})
    assert SPEC["debug-1.4.0"] not in found and SPEC["irb-1.4.1"] not in found  # debug needs irb at run time


def test_a_kept_bundler_keeps_what_its_lockfile_names_and_without_one_everything(ws):
    lock = b"GEM\n  remote: https://rubygems.org/\n  specs:\n    debug (1.4.0)\n      irb (>= 1.3.6)\n\n" \
           b"PLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  debug\n\nBUNDLED WITH\n   2.3.7\n"
    root = tree(ws, (f"{RUBYLIB}/bundler.rb", "file", b""), ("srv/app/Gemfile.lock", "file", lock))
    with_lock = unused(root, KEPT | {f"/{RUBYLIB}/bundler.rb", "/srv/app/Gemfile.lock"})
    assert sorted(f"{g.name}-{g.version}" for g in with_lock.values()) == \
        ["abbrev-0.1.0", "date-3.2.2", "rake-13.0.6", "xmlrpc-0.3.2"]  # not debug, nor irb that it needs
    assert unused(root, KEPT | {f"/{RUBYLIB}/bundler.rb"}) == {}


def plan(root, **options):
    trace = Trace(accesses=(FileAccess("/usr/bin/ruby3.1", EXEC, True), FileAccess(f"{EXT}/gem.build_complete",
                                                                                   STAT, True),
                            *(FileAccess(p, READ, True) for p in sorted(KEPT) if p.endswith((".rb", ".gemspec")))),
                  config=RUN, argv=("/usr/bin/ruby3.1", "/srv/app/app.rb"))
    return plan_keep(root, RUN, trace, read_accounts(root), PlanOptions(**options), read_catalog(root).owned())


def test_the_planner_leaves_the_unused_specs_out_with_their_build_marker_and_says_so(ws):
    root = tree(ws)
    keep = plan(root)
    assert sorted(p for p in keep.reasons if p.endswith(".gemspec")) == sorted(
        {*SPEC.values(), ORPHAN} - {SPEC[name] for name in UNUSED})
    assert not any(p.startswith(f"{GEMS}/extensions") for p in keep.reasons)  # the marker and its directories
    assert keep.cuts[rubyspecs.CUT] == sum(len(fixture(SPEC[name])) for name in UNUSED)
    [said] = [w for w in keep.warnings if w.code == "lang.gemspec-left-out"]
    assert said.message.endswith(": " + ", ".join(UNUSED))


@pytest.mark.parametrize("options", [{"include_paths": (SPEC["debug-1.4.0"],)}, {"lang_completion": "off"}])
def test_an_included_spec_stays_and_level_off_keeps_every_spec(ws, options):
    keep = plan(tree(ws), **options)
    assert SPEC["debug-1.4.0"] in keep.reasons
    assert (SPEC["date-3.2.2"] in keep.reasons) == (options.get("lang_completion") == "off")


@pytest.mark.parametrize("parse, text", [
    # found by bench/fuzz.py: runs that trade characters (`\s*\(?\s*`) or scan to the end once for every place they
    # start made these quadratic; each took seconds at these sizes, and a 1 MiB file would take hours
    (lambda t: rubypath.read_config(t, f"/{ARCHDIR}/rbconfig.rb"), "\n" * 60_000),
    (lambda t: rubypath.parse_gemspec(t, f"{GEMS}/specifications/x-1.gemspec"), "s.add_dependency" + " " * 20_000),
    (lambda t: rubypath.parse_gemspec(t, f"{GEMS}/specifications/x-1.gemspec"), ".require_paths = [" * 9_000),
    (rubyspecs.runtime_dependencies, "s.add_dependency" + "\t \n" * 7_000),
    (lambda t: rubypath.list_field(t, "files"), ".files = [" * 20_000),
])
def test_hostile_specs_and_rbconfig_cost_linear_time(parse, text):
    started = time.process_time()  # CPU time: a loaded machine does not make it flaky
    parse(text)
    assert time.process_time() - started < 2.5


def test_the_bracketed_lists_read_as_before():
    assert rubypath.list_field('s.files = ["a".freeze, "b"]\ns.require_paths = ["lib"]', "files") == '"a".freeze, "b"'
    assert rubypath.list_field("s.files = [", "files") is None and rubypath.list_field("", "files") is None
    config = rubypath.read_config('CONFIG["ruby_version"] = "3.1.0"  \n  CONFIG["arch"]\t= \'x86_64-linux\'\n', "/r.rb")
    assert (config["ruby_version"], config["arch"]) == ("3.1.0", "x86_64-linux")

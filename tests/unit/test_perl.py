"""The Perl use/require closure (level `imports`) on a fixture tree that copies Debian bookworm's perl layout:
perl-base's Config.pm and Config_heavy.pl (the lines @INC comes from, as the files have them), modules with
their auto/ directories (XS .so), /usr/share/perl5, and a CGI-style script that requires modules lazily."""

from __future__ import annotations

import io

from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.langs import levels, perl
from tarbuild import layer

BASE = "usr/lib/x86_64-linux-gnu/perl-base"
CONFIG_PM = b"""# This file was created by configpm when Perl was built. Any changes
package Config;
use strict;
use warnings;
our %Config;
sub import {}
tie %Config, 'Config', {
    archlibexp => '/usr/lib/x86_64-linux-gnu/perl/5.36',
    archname => 'x86_64-linux-gnu-thread-multi',
    dlext => 'so',
    privlibexp => '/usr/share/perl/5.36',
    sitearchexp => '/usr/local/lib/x86_64-linux-gnu/perl/5.36.0',
    sitelibexp => '/usr/local/share/perl/5.36.0',
    so => 'so',
};
"""
CONFIG_HEAVY = b"""package Config;
archlibexp='/usr/lib/x86_64-linux-gnu/perl/5.36'
otherlibdirs=' '
privlibexp='/usr/share/perl/5.36'
vendorarchexp='/usr/lib/x86_64-linux-gnu/perl5/5.36'
vendorlibexp='/usr/share/perl5'
"""
SCRIPT = b"""#!/usr/bin/perl
use strict;
use warnings;
use POSIX qw(floor);
use parent -norequire, 'Not::Loaded';
use base qw(App::Base);
use if $] < 5.008, 'utf8';
# use Commented::Out;
my $help = <<"EOT";
use In::A::Heredoc;
EOT

=pod

use In::Pod;

=cut

sub report {
    require File::Temp;
    require "ctime.pl";
    eval "use Optional::Dep; 1";
    my $class = shift; eval "require $class";
}
__END__
use After::End;
"""
FILE_TEMP = b"""package File::Temp;
use Fcntl 1.03;
require VMS::Stdio if $^O eq 'VMS';
eval { require Carp::Heavy; };
"""
FILE_SPEC = b"""package File::Spec;
my $module = $module{$^O} || 'Unix';

require "File/Spec/$module.pm";
our @ISA = ("File::Spec::$module");
"""


def tree(ws):
    data = layer(
        ("usr/bin/perl5.36.0", "file", (b"\x7fELF-perl", 0o755)),
        ("usr/bin/perl", "hardlink", "usr/bin/perl5.36.0"),
        (f"{BASE}/Config.pm", "file", CONFIG_PM),
        (f"{BASE}/Config_heavy.pl", "file", CONFIG_HEAVY),
        (f"{BASE}/strict.pm", "file", b"package strict;\n"),
        (f"{BASE}/warnings.pm", "file", b"package warnings;\n"),
        (f"{BASE}/POSIX.pm", "file", b"package POSIX;\nuse XSLoader ();\nXSLoader::load();\n"),
        (f"{BASE}/XSLoader.pm", "file", b"package XSLoader;\n"),
        (f"{BASE}/auto/POSIX/POSIX.so", "file", b"\x7fELF-posix"),
        (f"{BASE}/parent.pm", "file", b"package parent;\nsub import { require \"$_.pm\" for @_ }\n"),
        (f"{BASE}/base.pm", "file", b"package base;\n"),
        (f"{BASE}/if.pm", "file", b"package if;\n"),
        (f"{BASE}/utf8.pm", "file", b"package utf8;\n"),
        (f"{BASE}/Fcntl.pm", "file", b"package Fcntl;\n"),
        (f"{BASE}/auto/Fcntl/Fcntl.so", "file", b"\x7fELF-fcntl"),
        (f"{BASE}/File/Temp.pm", "file", FILE_TEMP),
        (f"{BASE}/File/Spec.pm", "file", FILE_SPEC),
        (f"{BASE}/File/Spec/Unix.pm", "file", b"package File::Spec::Unix;\n"),
        (f"{BASE}/File/Spec/Win32.pm", "file", b"package File::Spec::Win32;\n"),
        (f"{BASE}/File/Basename.pm", "file", b"package File::Basename;\n"),
        (f"{BASE}/Carp.pm", "file", b"package Carp;\n"),
        (f"{BASE}/Carp/Heavy.pm", "file", b"package Carp::Heavy;\n"),
        (f"{BASE}/List/Util.pm", "file", b"package List::Util; # nobody loads it\n"),
        ("usr/share/perl/5.36/ctime.pl", "file", b"1;\n"),
        ("usr/share/perl5/App/Base.pm", "file", b"package App::Base;\nuse File::Spec;\n"),
        ("usr/share/perl5/Optional/Dep.pm", "file", b"package Optional::Dep;\n"),
        ("usr/share/perl5/In/Pod.pm", "file", b"package In::Pod;\n"),
        ("srv/cgi/report", "file", (SCRIPT, 0o755)),
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "perl.pack"), "perl")])


def test_loads_are_found_outside_pod_heredocs_comments_and_data():
    found, dynamic = perl.loads_of(SCRIPT)
    assert [(x.name, x.line, x.is_file) for x in found] == [
        ("strict", 2, False), ("warnings", 3, False), ("POSIX", 4, False), ("parent", 5, False),
        ("base", 6, False), ("App::Base", 6, False), ("if", 7, False), ("utf8", 7, False),
        ("File::Temp", 20, False), ("ctime.pl", 21, True), ("Optional::Dep", 22, False)]
    assert dynamic == [(23, "")]


def test_statement_modifiers_versions_and_constant_starts():
    found, dynamic = perl.loads_of(FILE_TEMP)
    assert [x.name for x in found] == ["Fcntl", "VMS::Stdio", "Carp::Heavy"] and dynamic == []
    found, dynamic = perl.loads_of(FILE_SPEC)
    assert found == [] and dynamic == [(4, "File/Spec/")]
    assert perl.loads_of(b"use 5.010;\nuse v5.36;\nrequire 5.006;\n") == ([], [])


def test_inc_comes_from_config_pm_and_config_heavy(ws):
    root = tree(ws)
    assert perl.find_config(root, {"/usr/bin/perl"}) == [f"/{BASE}/Config.pm"]
    assert perl.inc(root, f"/{BASE}/Config.pm", {"PERL5LIB": "/srv/lib:/srv/cgi"}) == [
        "/srv/cgi", "/usr/share/perl5", f"/{BASE}", "/usr/share/perl/5.36"]  # only the directories the image has


def test_the_closure_keeps_lazy_modules_and_their_xs_parts(ws):
    root = tree(ws)
    warnings: list = []
    out = levels.completion(root, {"/usr/bin/perl", "/usr/bin/perl5.36.0", "/srv/cgi/report"}, levels.IMPORTS, {},
                            warnings)
    why = {path: reason.text() for path, reason in out.items()}
    assert why[f"/{BASE}/File/Temp.pm"] == "required at /srv/cgi/report:20"
    assert why[f"/{BASE}/auto/POSIX/POSIX.so"] == "required at /srv/cgi/report:4"
    assert why["/usr/share/perl/5.36/ctime.pl"] == "required at /srv/cgi/report:21"
    assert why[f"/{BASE}/File/Spec/Unix.pm"].startswith(f"package /{BASE}/File/Spec kept whole: /{BASE}/File/Spec.pm:4")
    for path in (f"/{BASE}/strict.pm", f"/{BASE}/XSLoader.pm", f"/{BASE}/auto/Fcntl/Fcntl.so", f"/{BASE}/Carp/Heavy.pm",
                 f"/{BASE}/utf8.pm", "/usr/share/perl5/App/Base.pm", "/usr/share/perl5/Optional/Dep.pm",
                 f"/{BASE}/File/Spec/Win32.pm", f"/{BASE}/Config.pm"):
        assert path in out, path
    for path in (f"/{BASE}/List/Util.pm", "/usr/share/perl5/In/Pod.pm", f"/{BASE}/File/Basename.pm"):
        assert path not in out, path
    # `eval "require $class"` in the script: outside @INC, nothing to keep whole, said so; parent.pm's own
    # `require "$_.pm"` is not reported (its `use parent` lines are followed where they are)
    assert [(w.code, w.path) for w in warnings] == [
        ("lang.dynamic-import", "/srv/cgi/report:23"), ("lang.dynamic-import", f"/{BASE}/File/Spec.pm:4")]


def test_no_perl_no_perl_closure(ws):
    assert levels.completion(tree(ws), {"/srv/cgi/report"}, levels.IMPORTS, {}, []) == {}


def test_package_and_full_levels_keep_whole_namespaces_and_the_core_library(ws):
    root = tree(ws)
    kept = {"/usr/bin/perl", f"/{BASE}/File/Temp.pm"}
    package = levels.completion(root, kept, levels.PACKAGE)
    assert f"/{BASE}/File/Basename.pm" in package and f"/{BASE}/List/Util.pm" not in package
    full = levels.completion(root, kept, levels.FULL)
    assert {f"/{BASE}/List/Util.pm", f"/{BASE}/auto/POSIX/POSIX.so", "/usr/share/perl/5.36/ctime.pl"} <= set(full)


# Lines copied from Debian bookworm's /usr/share/perl5/Text/CSV.pm (libtext-csv-perl), which picks its backend
# with `eval qq| use ... |`, and /usr/share/perl5/Debconf/Db.pm, which loads a driver below a fixed namespace.
TEXT_CSV = b"""package Text::CSV;
my $Module_XS  = 'Text::CSV_XS';
my $Module_PP  = 'Text::CSV_PP';
sub _load_pp { _load($Module_PP) }

sub _load {
    my ($module, $version) = @_;
    $version ||= '';

    $Text::CSV::DEBUG and Carp::carp "Load $module.";

    eval qq| use $module $version |;

    return if $@;
}
"""
DEBCONF_DB = b"""package Debconf::Db;
sub makedriver {
\tmy $type=$config{driver} or die "driver type not specified (perhaps you need to re-read debconf.conf(5))";

\tif (! UNIVERSAL::can("Debconf::DbDriver::$type", 'new')) {
\t\teval qq{use Debconf::DbDriver::$type};
\t\tdie $@ if $@;
\t}
}
"""


def test_eval_strings_with_any_delimiter_and_an_interpolated_tail_are_dynamic():
    assert perl.loads_of(TEXT_CSV) == ([], [(12, "")])
    assert perl.loads_of(DEBCONF_DB) == ([], [(6, "Debconf/DbDriver/")])
    assert perl.loads_of(b"eval q| require Scalar::Util |;\neval q #x#;\n")[0] == [perl.Load("Scalar::Util", 1)]


def test_a_backend_chosen_at_run_time_keeps_its_namespace(ws):
    data = layer(
        ("usr/share/perl5/Text/CSV.pm", "file", TEXT_CSV),
        ("usr/share/perl5/Text/CSV_PP.pm", "file", b"package Text::CSV_PP;\n"),
        ("usr/share/perl5/Debconf/Db.pm", "file", DEBCONF_DB),
        ("usr/share/perl5/Debconf/DbDriver.pm", "file", b"package Debconf::DbDriver;\n"),
        ("usr/share/perl5/Debconf/DbDriver/File.pm", "file", b"package Debconf::DbDriver::File;\n"),
        ("usr/share/perl5/Debconf/Element.pm", "file", b"package Debconf::Element;\n"),
    )
    root = flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "csv.pack"), "csv")])
    found = perl.use_closure(root, ["/usr/share/perl5"], ["/usr/share/perl5/Text/CSV.pm", "/usr/share/perl5/Debconf/Db.pm"])
    assert "/usr/share/perl5/Text/CSV_PP.pm" in found.keep
    assert {"/usr/share/perl5/Debconf/DbDriver/File.pm", "/usr/share/perl5/Debconf/DbDriver.pm"} <= set(found.keep)
    assert "/usr/share/perl5/Debconf/Element.pm" not in found.keep  # only the driver directory, not all of Debconf
    assert found.dynamic == {"/usr/share/perl5/Text/CSV.pm:12": "/usr/share/perl5/Text",
                             "/usr/share/perl5/Debconf/Db.pm:6": "/usr/share/perl5/Debconf/DbDriver"}

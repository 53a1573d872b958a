"""The Ruby require closure (level `imports`) on a fixture tree that copies Debian bookworm's ruby3.1 layout: the
rbconfig.rb that names the load path, the standard library and its compiled extensions, vendor_ruby, gems in
rubygems-integration with their gemspecs, and a Sinatra-style app whose handlers require lazily."""

from __future__ import annotations

import io

from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.langs import levels, ruby, rubylex, rubypath
from tarbuild import layer

ARCHDIR = "usr/lib/x86_64-linux-gnu/ruby/3.1.0"
RUBYLIB = "usr/lib/ruby/3.1.0"
GEMS = "usr/share/rubygems-integration/all"
# the lines of Debian's rbconfig.rb that the load path comes from, as the file has them
RBCONFIG = b'''module RbConfig
  TOPDIR = File.dirname(__FILE__).chomp!("/lib/x86_64-linux-gnu/ruby/3.1.0")
  DESTDIR = '' unless defined? DESTDIR
  CONFIG = {}
  CONFIG["DESTDIR"] = DESTDIR
  CONFIG["prefix"] = (TOPDIR || DESTDIR + "/usr")
  CONFIG["RUBY_BASE_NAME"] = "ruby"
  CONFIG["vendorarchdir"] = "$(rubysitearchprefix)/vendor_ruby/$(ruby_version)"
  CONFIG["vendorlibdir"] = "$(vendordir)/$(ruby_version)"
  CONFIG["vendordir"] = "$(rubylibprefix)/vendor_ruby"
  CONFIG["sitearchdir"] = "$(DESTDIR)/usr/local/lib/x86_64-linux-gnu/site_ruby"
  CONFIG["sitelibdir"] = "$(sitedir)/$(ruby_version)"
  CONFIG["sitedir"] = "$(DESTDIR)/usr/local/lib/site_ruby"
  CONFIG["rubyarchdir"] = "$(rubyarchprefix)/$(ruby_version)"
  CONFIG["rubylibdir"] = "$(rubylibprefix)/$(ruby_version)"
  CONFIG["ruby_version"] = "3.1.0"
  CONFIG["arch"] = "x86_64-linux-gnu"
  CONFIG["archlibdir"] = "$(libdir)/$(arch)"
  CONFIG["rubyarchprefix"] = "$(archlibdir)/$(RUBY_BASE_NAME)"
  CONFIG["rubylibprefix"] = "$(libdir)/$(RUBY_BASE_NAME)"
  CONFIG["exec_prefix"] = "$(prefix)"
  CONFIG["libdir"] = "$(exec_prefix)/lib"
end
'''
SINATRA_SPEC = b'''# -*- encoding: utf-8 -*-
# stub: sinatra 3.0.5 ruby lib

Gem::Specification.new do |s|
  s.name = "sinatra".freeze
  s.version = "3.0.5"
  s.require_paths = ["lib".freeze]
  if s.respond_to? :add_runtime_dependency then
    s.add_runtime_dependency(%q<rack>.freeze, ["~> 2.2", ">= 2.2.4"])
    s.add_development_dependency(%q<rack-test>.freeze, ["~> 2"])
  end
end
'''
APP = b'''# A Sinatra app: handlers require what they need when their route is first hit.
require 'sinatra/base'
require_relative 'lib/greeting'
# require 'commented_out'
=begin
require 'in_a_block_comment'
=end
HELP = <<~EOS
  require 'in_a_heredoc'
EOS
class App < Sinatra::Base
  get '/time' do
    require 'time'
    require("json")
    $'.split "\\0"  # a special global, not a quote
    x = a / b; y = 'require'
    JSON.generate(t: Time.now)
  end
  get '/digest' do
    require 'digest/sha2'
  end
  get '/report' do
    require File.expand_path('lib/report', __dir__)
  end
  def self.require(name) = nil
  opts.on("--require LIBRARY")
end
'''
RACK_HANDLER = b'''module Rack
  module Handler
    def self.try_require(prefix, const_name)
      file = const_name.gsub(/^[A-Z]+/) { |pre| pre.downcase }
      require(::File.join(prefix, file))
    end
    autoload :WEBrick, "rack/handler/webrick"
  end
end
'''


def tree(ws):
    data = layer(
        ("usr/bin/ruby3.1", "file", (b"\x7fELF-ruby", 0o755)),
        ("usr/bin/ruby", "symlink", "ruby3.1"),
        (f"{ARCHDIR}/rbconfig.rb", "file", RBCONFIG),
        (f"{ARCHDIR}/digest.so", "file", b"\x7fELF-digest"),
        (f"{ARCHDIR}/digest/sha2.so", "file", b"\x7fELF-sha2"),
        (f"{ARCHDIR}/json/ext/parser.so", "file", b"\x7fELF-parser"),
        (f"{ARCHDIR}/etc.so", "file", b"\x7fELF-etc: nobody requires it"),
        (f"{RUBYLIB}/time.rb", "file", b"require 'date'\n"),
        (f"{RUBYLIB}/date.rb", "file", b"require 'date_core'\n"),
        (f"{RUBYLIB}/json.rb", "file", b"require 'json/common'\nrequire 'json/ext'\n"),
        (f"{RUBYLIB}/json/common.rb", "file", b""),
        (f"{RUBYLIB}/json/ext.rb", "file", b"    require 'json/ext/parser'\n"),
        (f"{RUBYLIB}/digest.rb", "file", b"require 'digest.so'\n"),
        (f"{RUBYLIB}/digest/sha2.rb", "file", b"require 'digest'\nrequire 'digest/sha2/loader'\n"),
        (f"{RUBYLIB}/digest/sha2/loader.rb", "file", b"require 'digest/sha2.so'\n"),
        (f"{RUBYLIB}/csv.rb", "file", b"# never required\n"),
        ("usr/lib/ruby/vendor_ruby/tilt.rb", "file", b"require 'tilt/mapping'\n"),
        ("usr/lib/ruby/vendor_ruby/tilt/mapping.rb", "file", b"module Tilt; end\n"),
        ("usr/lib/ruby/vendor_ruby/tilt/rdoc.rb", "file", b"require 'rdoc'\n"),  # a library's way into a tool
        ("usr/lib/ruby/vendor_ruby/rubygems.rb", "file", b'require_relative "rubygems/dependency_installer"\n'),
        ("usr/lib/ruby/vendor_ruby/rubygems/dependency_installer.rb", "file", b"require 'net/http'\n"),
        (f"{RUBYLIB}/net/http.rb", "file", b""),
        (f"{RUBYLIB}/rdoc.rb", "file", b"require 'rdoc/markup'\n"),
        (f"{RUBYLIB}/rdoc/markup.rb", "file", b"# 40 bytes of the documentation tool....\n"),
        (f"{RUBYLIB}/irb.rb", "file", b"require 'reline'\n"),
        (f"{RUBYLIB}/reline.rb", "file", b""),
        ("srv/app/console.rb", "file", b"require 'irb'\n"),  # the app's own require of a tool is followed
        ("srv/app/plugins.rb", "file", b'PLUGINS.each { |name| require_relative "plugins/#{name}" }\n'),
        ("srv/app/plugins/audit.rb", "file", b"require 'time'\n"),
        ("srv/app/plugins/ignored.txt", "file", b"not a feature\n"),
        (f"{GEMS}/specifications/sinatra-3.0.5.gemspec", "file", SINATRA_SPEC),
        (f"{GEMS}/specifications/rack-2.2.22.gemspec", "file",
         b's.name = "rack".freeze\ns.version = "2.2.22"\ns.require_paths = ["lib".freeze]\n'),
        (f"{GEMS}/specifications/webrick-1.8.1.gemspec", "file", b"# no name line: taken from the file name\n"),
        (f"{GEMS}/gems/sinatra-3.0.5/lib/sinatra/base.rb", "file", b"require 'rack'\nrequire 'tilt'\n"),
        (f"{GEMS}/gems/sinatra-3.0.5/lib/sinatra/main.rb", "file", b"# not required by the app\n"),
        (f"{GEMS}/gems/rack-2.2.22/lib/rack.rb", "file", b"require_relative 'rack/handler'\n"),
        (f"{GEMS}/gems/rack-2.2.22/lib/rack/handler.rb", "file", RACK_HANDLER),
        (f"{GEMS}/gems/rack-2.2.22/lib/rack/handler/webrick.rb", "file", b"require 'webrick'\n"),
        (f"{GEMS}/gems/rack-2.2.22/lib/rack/handler/thin.rb", "file", b"require 'thin'\n"),
        (f"{GEMS}/gems/rack-2.2.22/test/spec_handler.rb", "file", b"require 'minitest'\n"),
        (f"{GEMS}/gems/webrick-1.8.1/lib/webrick.rb", "file", b""),
        ("srv/app/app.rb", "file", APP),
        ("srv/app/lib/greeting.rb", "file", b"module Greeting; end\n"),
        ("srv/app/lib/report.rb", "file", b"require 'base64'\n"),
        (f"{RUBYLIB}/base64.rb", "file", b""),
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "rb.pack"), "rb")])


def test_literal_requires_are_found_and_comments_heredocs_and_strings_are_not():
    found, dynamic, clean = ruby.requires_of(APP)
    assert clean and dynamic == []
    assert [(r.kind, r.name, r.line) for r in found] == [
        ("require", "sinatra/base", 2), ("require_relative", "lib/greeting", 3), ("require", "time", 13),
        ("require", "json", 14), ("require", "digest/sha2", 20), ("require", "lib/report", 23)]
    assert found[-1].relative and found[1].relative


def test_computed_names_and_their_constant_start():
    found, dynamic, _ = ruby.requires_of(RACK_HANDLER)
    assert [(d.kind, d.line, d.prefix) for d in dynamic] == [("require", 5, "")]
    assert [(r.kind, r.name) for r in found] == [("autoload", "rack/handler/webrick")]
    _, dynamic, _ = ruby.requires_of(b'require "rubygems/defaults/#{RUBY_ENGINE}"\nautoload :X, "#{__dir__}/x"\n')
    assert [d.prefix for d in dynamic] == ["rubygems/defaults/"]


def test_the_lexer_keeps_offsets_and_says_when_a_literal_never_closes():
    source = b"a = 'x' # c\n%w[a b] << /re#gex/\nputs <<-EOS\nbody\n  EOS\n"
    code, bare, clean = rubylex.blank(source)
    assert clean and len(code) == len(source) and code.count(b"\n") == source.count(b"\n")
    assert b"# c" not in code and b"body" not in code and b"/re#gex/" in code and b"re#gex" not in bare
    assert rubylex.blank(b"x = 'never closed\nrequire 'y'\n")[2] is False
    assert rubylex.blank(b"alias $PREMATCH $`\nrequire 'z'\n")[2] is True  # $` is a variable


def test_the_load_path_comes_from_rbconfig_and_the_gemspecs(ws):
    root = tree(ws)
    assert rubypath.find_rbconfig(root, {"/usr/bin/ruby3.1"}) == [f"/{ARCHDIR}/rbconfig.rb"]
    path = rubypath.load_path(root, f"/{ARCHDIR}/rbconfig.rb", {"RUBYLIB": "/srv/app/lib"})
    assert path.dirs == ["/srv/app/lib", "/usr/lib/ruby/vendor_ruby", f"/{RUBYLIB}", f"/{ARCHDIR}"]
    sinatra = path.by_name["sinatra"]
    assert sinatra.dirs == (f"/{GEMS}/gems/sinatra-3.0.5/lib",) and sinatra.depends == ("rack",)
    assert path.by_name["webrick"].version == "1.8.1"
    assert path.find("digest/sha2.so") == (f"/{ARCHDIR}/digest/sha2.so", None)
    assert path.find("sinatra/base")[0] == f"/{GEMS}/gems/sinatra-3.0.5/lib/sinatra/base.rb"


def test_the_closure_keeps_lazy_requires_extensions_and_gemspecs(ws):
    root = tree(ws)
    warnings: list = []
    out = levels.completion(root, {"/usr/bin/ruby3.1", "/usr/bin/ruby", "/srv/app/app.rb"}, levels.IMPORTS, {},
                            warnings)
    for path in (f"/{RUBYLIB}/time.rb", f"/{RUBYLIB}/date.rb", f"/{RUBYLIB}/json/ext.rb", f"/{ARCHDIR}/json/ext/parser.so",
                 f"/{RUBYLIB}/digest/sha2.rb", f"/{RUBYLIB}/digest/sha2/loader.rb", f"/{ARCHDIR}/digest/sha2.so",
                 f"/{ARCHDIR}/digest.so", "/srv/app/lib/greeting.rb", "/srv/app/lib/report.rb", f"/{RUBYLIB}/base64.rb",
                 f"/{GEMS}/gems/sinatra-3.0.5/lib/sinatra/base.rb", "/usr/lib/ruby/vendor_ruby/tilt/mapping.rb",
                 f"/{GEMS}/specifications/sinatra-3.0.5.gemspec", f"/{GEMS}/specifications/rack-2.2.22.gemspec",
                 f"/{GEMS}/gems/webrick-1.8.1/lib/webrick.rb", f"/{GEMS}/specifications/webrick-1.8.1.gemspec"):
        assert path in out, path
    assert out[f"/{ARCHDIR}/digest/sha2.so"].text() == f"required at /{RUBYLIB}/digest/sha2/loader.rb:1"
    for path in (f"/{RUBYLIB}/csv.rb", f"/{ARCHDIR}/etc.so", f"/{GEMS}/gems/sinatra-3.0.5/lib/sinatra/main.rb",
                 f"/{GEMS}/gems/rack-2.2.22/test/spec_handler.rb"):
        assert path not in out, path
    # rack/handler.rb requires a name built at run time: the rack gem is kept whole (its tests left out)
    thin = out[f"/{GEMS}/gems/rack-2.2.22/lib/rack/handler/thin.rb"]
    assert thin.package == f"/{GEMS}/gems/rack-2.2.22" and "rack/handler.rb:5" in thin.because
    assert [(w.code, w.path) for w in warnings] == [("lang.dynamic-import", f"/{GEMS}/gems/rack-2.2.22/lib/rack/handler.rb:5")]


def test_no_ruby_interpreter_no_ruby_closure(ws):
    root = tree(ws)
    assert levels.completion(root, {"/srv/app/app.rb"}, levels.IMPORTS, {}, []) == {}


def test_developer_tools_and_the_gem_installer_are_cut_when_a_library_reaches_them(ws):
    root = tree(ws)
    kept = {"/usr/bin/ruby3.1", "/srv/app/console.rb", "/usr/lib/ruby/vendor_ruby/tilt/rdoc.rb",
            "/usr/lib/ruby/vendor_ruby/rubygems.rb"}
    cuts: dict = {}
    out = levels.completion(root, kept, levels.IMPORTS, {}, [], cuts=cuts)
    assert f"/{RUBYLIB}/irb.rb" in out and f"/{RUBYLIB}/reline.rb" in out  # the app requires irb itself
    for path in (f"/{RUBYLIB}/rdoc.rb", f"/{RUBYLIB}/rdoc/markup.rb",
                 "/usr/lib/ruby/vendor_ruby/rubygems/dependency_installer.rb", f"/{RUBYLIB}/net/http.rb"):
        assert path not in out, path
    # what the cut kept out, with what only it would have brought in (rdoc/markup.rb)
    assert cuts == {ruby.CUT: root.bytes_of([f"/{RUBYLIB}/rdoc.rb", f"/{RUBYLIB}/rdoc/markup.rb",
                                             "/usr/lib/ruby/vendor_ruby/rubygems/dependency_installer.rb"])}


def test_a_file_that_does_not_lex_keeps_its_gem_whole_with_a_warning(ws):
    data = layer((f"{ARCHDIR}/rbconfig.rb", "file", RBCONFIG),
                 (f"{GEMS}/specifications/webrick-1.8.1.gemspec", "file", b""),
                 (f"{GEMS}/gems/webrick-1.8.1/lib/webrick.rb", "file", b"x = <<~EOS\nrequire 'never ends'\n"),
                 (f"{GEMS}/gems/webrick-1.8.1/lib/webrick/server.rb", "file", b""))
    root = flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "bad.pack"), "bad")])
    warnings: list = []
    out: dict = {}
    ruby.completion(root, {"/usr/bin/ruby3.1", f"/{GEMS}/gems/webrick-1.8.1/lib/webrick.rb"}, {}, out, warnings)
    assert out[f"/{GEMS}/gems/webrick-1.8.1/lib/webrick/server.rb"].package == f"/{GEMS}/gems/webrick-1.8.1"
    assert [(w.code, w.path) for w in warnings] == [("lang.unparsed", f"/{GEMS}/gems/webrick-1.8.1/lib/webrick.rb")]


def test_a_computed_require_relative_keeps_the_directory_beside_the_file(ws):
    root = tree(ws)
    warnings: list = []
    out = levels.completion(root, {"/usr/bin/ruby3.1", "/srv/app/plugins.rb"}, levels.IMPORTS, {}, warnings)
    assert out["/srv/app/plugins/audit.rb"].package == "/srv/app/plugins"
    assert out[f"/{RUBYLIB}/time.rb"].text() == "required at /srv/app/plugins/audit.rb:1"  # and what it requires
    assert "/srv/app/plugins/ignored.txt" not in out
    assert [(w.code, w.path) for w in warnings] == [("lang.dynamic-import", "/srv/app/plugins.rb:1")]


def test_package_and_full_levels_keep_whole_gems_and_the_standard_library(ws):
    root = tree(ws)
    kept = {"/usr/bin/ruby3.1", f"/{GEMS}/gems/sinatra-3.0.5/lib/sinatra/base.rb"}
    package = levels.completion(root, kept, levels.PACKAGE)
    assert f"/{GEMS}/gems/sinatra-3.0.5/lib/sinatra/main.rb" in package
    assert f"/{GEMS}/specifications/sinatra-3.0.5.gemspec" in package and f"/{RUBYLIB}/csv.rb" not in package
    full = levels.completion(root, kept, levels.FULL)
    assert {f"/{RUBYLIB}/csv.rb", f"/{ARCHDIR}/etc.so", f"/{RUBYLIB}/digest/sha2/loader.rb"} <= set(full)
    assert f"/{RUBYLIB}/rdoc.rb" not in full and f"/{RUBYLIB}/irb.rb" not in full  # developer tools

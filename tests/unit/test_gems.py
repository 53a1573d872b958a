"""Ruby gems in the inventory, on gemspecs copied from the ruby-sinatra sample image (Debian bookworm's ruby 3.1):
a Debian-packaged gem's spec under /usr/share/rubygems-integration, a default gem's under specifications/default,
and a bundled gem's. The names, versions and purls are the ones Syft 1.18.1 lists for the same files."""

from __future__ import annotations

import io
import os

import pytest

from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.packages.gems import Gemspec, is_gemspec, parse_gemspec
from slim.packages.inventory import GEM, read_inventory
from tarbuild import layer

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "gems")
SINATRA = "usr/share/rubygems-integration/all/specifications/sinatra-3.0.5.gemspec"
ABBREV = "usr/lib/ruby/gems/3.1.0/specifications/default/abbrev-0.1.0.gemspec"
RAKE = "usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec"


def fixture(path: str) -> bytes:
    with open(os.path.join(FIXTURES, path), "rb") as fh:
        return fh.read()


@pytest.mark.parametrize("path, expected", [
    (SINATRA, Gemspec("sinatra", "3.0.5")),
    (ABBREV, Gemspec("abbrev", "0.1.0")),
    (RAKE, Gemspec("rake", "13.0.6")),
])
def test_real_gemspecs_name_their_gem(path, expected):
    assert parse_gemspec(fixture(path)) == expected


@pytest.mark.parametrize("text", [
    b'Gem::Specification.new do |s|\n  s.name = "rack".freeze\n  s.version = Rack::VERSION\nend\n',  # computed
    b'Gem::Specification.new do |s|\n  s.version = "1.0"\nend\n',  # no name
    b"\xff\xfe not ruby at all \x00",
    b"",
])
def test_a_spec_without_literal_name_and_version_is_no_gem(text):
    assert parse_gemspec(text) is None


def test_the_first_assignment_counts_and_comments_do_not():
    text = (b'# s.name = "commented"\nGem::Specification.new do |spec|\n  spec.name = \'tilt\'\n'
            b'  spec.version = "2.0.11" # "not this"\n  spec.name = "later"\nend\n')
    assert parse_gemspec(text) == Gemspec("tilt", "2.0.11")


@pytest.mark.parametrize("path, expected", [
    ("/" + SINATRA, True), ("/" + ABBREV, True), ("/" + RAKE, True),
    ("/usr/local/bundle/specifications/puma-6.4.2.gemspec", True),
    ("/usr/lib/ruby/gems/3.1.0/gems/rake-13.0.6/rake.gemspec", False),  # a gem's own source spec, not installed
    ("/app/myapp.gemspec", False),
    ("/usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec.bak", False),
])
def test_only_installed_specifications_count(path, expected):
    assert is_gemspec(path) is expected


def test_the_inventory_lists_the_gems_of_the_image(ws):
    data = layer(*[(p, "file", fixture(p)) for p in (SINATRA, ABBREV, RAKE)],
                 ("usr/lib/ruby/gems/3.1.0/gems/rake-13.0.6/rake.gemspec", "file", fixture(RAKE)),
                 ("usr/share/rubygems-integration/all/specifications/broken-1.0.gemspec", "file", b"s.name = 1\n"))
    found = read_inventory(flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "gems.pack"), "gems")]))
    gems = [(c.kind, c.name, c.version, c.location, c.purl(found.distro)) for c in found.components]
    assert gems == [(GEM, "abbrev", "0.1.0", "/" + ABBREV, "pkg:gem/abbrev@0.1.0"),
                    (GEM, "rake", "13.0.6", "/" + RAKE, "pkg:gem/rake@13.0.6"),
                    (GEM, "sinatra", "3.0.5", "/" + SINATRA, "pkg:gem/sinatra@3.0.5")]
    assert found.counts()[GEM] == 3


def test_a_gem_whose_spec_was_not_kept_is_not_listed(ws):
    """The slim image's inventory is read from the kept files only: a gemspec slimming removed names no gem."""
    data = layer(*[(p, "file", fixture(p)) for p in (SINATRA, ABBREV)])
    tree = flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "gems.pack"), "gems")])
    kept = tree.only({"/" + SINATRA, "/usr", "/usr/share", "/usr/share/rubygems-integration",
                      "/usr/share/rubygems-integration/all", "/usr/share/rubygems-integration/all/specifications"})
    assert [c.name for c in read_inventory(kept).components] == ["sinatra"]

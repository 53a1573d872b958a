"""Installed Ruby gems, read from the specifications RubyGems keeps beside them: `<gem dir>/specifications/
NAME-VERSION.gemspec`, the default gems under `specifications/default/`, and the gemspecs Debian installs under
`/usr/share/rubygems-integration/` and `/usr/lib/<arch>/rubygems-integration/`. A scanner lists every gemspec
found under a `specifications` directory (Syft's installed-gemspec cataloger does), so the inventory does too.

An installed gemspec is Ruby code RubyGems generated, one assignment a line (`s.name = "rack".freeze`); it is
read, never run: the gem's name and version are the quoted strings assigned to `.name` and `.version`. A spec that
computes either (`s.version = Rack::VERSION`) names no version a scanner could match and is skipped.

Pure: bytes in, a name and version out.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

MAX_GEMSPEC = 1 << 20  # RubyGems writes a few kilobytes; a bigger file is no installed spec (and is skipped)
SPECIFICATIONS = "specifications"
# `s.name = "sinatra"` or `spec.version = '3.0.5'`, once `.freeze` is dropped; the string is taken up to its own
# closing quote, so a comment or a second string on the line is not part of it
_ASSIGNMENT = re.compile(r"\.(name|version)\s*=\s*([\"'])([^\"'\n]*)\2")


@dataclass(frozen=True)
class Gemspec:
    """A gem as its installed specification names it."""

    name: str
    version: str


def is_gemspec(path: str) -> bool:
    """Whether `path` is where RubyGems keeps an installed specification: a `.gemspec` file anywhere below a
    `specifications` directory (`default/` for the gems Ruby itself ships)."""
    if not path.endswith(".gemspec"):
        return False
    return SPECIFICATIONS in posixpath.dirname(path).split("/")


def parse_gemspec(data: bytes) -> Gemspec | None:
    """The gem a specification names; None when it assigns no literal name or version (the first assignment of
    each counts: a generated spec has one)."""
    found: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip().replace(".freeze", "")
        if not line or line.startswith("#"):
            continue
        for field, _, value in _ASSIGNMENT.findall(line):
            found.setdefault(field, value.strip())
        if "name" in found and "version" in found:
            break
    name, version = found.get("name", ""), found.get("version", "")
    return Gemspec(name, version) if name and version else None

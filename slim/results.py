"""What the planner hands on, as values: why each path is kept, what the kept files become, and the rebase on an
unprivileged user. The planner (slim.plan) makes them, the language closures (slim.langs) make the reasons they
know, and the report reads them without knowing the planner: results, not producers.

A reason is a typed value (`ImportedBy(file, line)`, `TracedAccess(kind)`, `NeededBy(kind, of)`, ...): code that
needs a fact from it reads a field, and `text()` renders it for people; nothing parses a reason back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from slim.model import SlimWarning

TRACED, CLOSURE, ESSENTIAL, LANGUAGE, INCLUDE, CONTENT = \
    "traced", "closure", "essential", "language", "include", "content"
CATEGORIES = (TRACED, INCLUDE, ESSENTIAL, CLOSURE, LANGUAGE, CONTENT)  # priority: a path's category is its first


class Reason:
    """Why one path is kept. Each kind belongs to one category (what the report sums sizes by)."""

    category: ClassVar[str]

    def text(self) -> str:
        """The reason as the report's `keep.paths[].reasons` shows it after "CATEGORY: "."""
        raise NotImplementedError


@dataclass(frozen=True)
class TracedAccess(Reason):
    """The traced run touched the path (opened, executed, looked up...)."""

    kind: str
    category: ClassVar[str] = TRACED

    def text(self) -> str:
        return self.kind


@dataclass(frozen=True)
class MadeAtRunTime(Reason):
    """The traced run made `made` inside this directory: the app needs the directory to make it in."""

    made: str
    category: ClassVar[str] = TRACED

    def text(self) -> str:
        return f"directory of {self.made}, made at run time"


@dataclass(frozen=True)
class Included(Reason):
    """Asked for on the command line (`--include-path`, `--include-bin`, `--include-shell`)."""

    option: str
    category: ClassVar[str] = INCLUDE

    def text(self) -> str:
        return self.option


@dataclass(frozen=True)
class Essential(Reason):
    """What every image needs whatever the trace saw (accounts, /tmp, os-release, WORKDIR, the entrypoint...)."""

    why: str
    category: ClassVar[str] = ESSENTIAL

    def text(self) -> str:
        return self.why


@dataclass(frozen=True)
class NeededBy(Reason):
    """The static closure of a kept file: a library (`needed`), an interpreter, a symlink's target; `of` is the
    kept file that needs it."""

    kind: str
    of: str
    category: ClassVar[str] = CLOSURE

    def text(self) -> str:
        return f"{self.kind} {self.of}"


@dataclass(frozen=True)
class NeededByLanguageFile(NeededBy):
    """The static closure of a file only language completion kept (the library a Python extension module links,
    libdb for `_dbm`): counted with the language level that brought it, not with what the trace needs."""

    category: ClassVar[str] = LANGUAGE


@dataclass(frozen=True)
class DataNamedBy(Reason):
    """A data file a kept binary names in its read-only data and opens on demand (zone data, CA roots...):
    `rule` is the entry of slim.closure.data_paths that matched, `binary` the kept file that names it."""

    rule: str
    binary: str
    category: ClassVar[str] = CLOSURE

    def text(self) -> str:
        return f"data named by {self.binary} ({self.rule})"


@dataclass(frozen=True)
class ParentDirectory(Reason):
    """A directory on the way to a kept path."""

    category: ClassVar[str] = CLOSURE

    def text(self) -> str:
        return "parent directory"


@dataclass(frozen=True)
class ImportedBy(Reason):
    """A Python module an import statement of kept code loads: the statement's file and line."""

    file: str
    line: int
    category: ClassVar[str] = LANGUAGE

    def text(self) -> str:
        return f"imported at {self.file}:{self.line}"


@dataclass(frozen=True)
class NamedInCode(Reason):
    """A Python module that kept code imports by a name built at run time, and names in its own text (six's
    table of moved modules, a literal list of lazy submodules): the file and line of that name."""

    file: str
    line: int
    category: ClassVar[str] = LANGUAGE

    def text(self) -> str:
        return f"named at {self.file}:{self.line}, imported at run time"


@dataclass(frozen=True)
class RequiredBy(Reason):
    """A Node file a literal require/import of kept code loads: that statement's file and line."""

    file: str
    line: int
    category: ClassVar[str] = LANGUAGE

    def text(self) -> str:
        return f"required at {self.file}:{self.line}"


@dataclass(frozen=True)
class Autoloaded(Reason):
    """A PHP class file the autoloader loads for a class kept code names (`new X`, `X::`, `extends X`...):
    the class and where the code names it."""

    cls: str
    file: str
    line: int
    category: ClassVar[str] = LANGUAGE

    def text(self) -> str:
        return f"class {self.cls} autoloaded at {self.file}:{self.line}"


@dataclass(frozen=True)
class PartOfWholePackage(Reason):
    """A module of a package kept whole, because code loads a name from it built at run time (or does not
    parse): `package` is the package's directory, `because` says which code and why."""

    package: str
    because: str
    category: ClassVar[str] = LANGUAGE

    def text(self) -> str:
        return f"package {self.package} kept whole: {self.because}"


@dataclass(frozen=True)
class LanguageRule(Reason):
    """Kept by a language completion rule that names no statement: a standard library, a whole package at the
    full/package levels, a package's metadata, the manifest Node reads to resolve a file."""

    why: str
    category: ClassVar[str] = LANGUAGE

    def text(self) -> str:
        return self.why


@dataclass(frozen=True)
class JavaRuntimePart(Reason):
    """A part of a Java runtime that ran, which it opens lazily (native libraries, module image, config):
    counted as closure, like the libraries of a traced program."""

    home: str
    category: ClassVar[str] = CLOSURE

    def text(self) -> str:
        return f"part of the Java runtime {self.home}, loaded lazily"


@dataclass(frozen=True)
class OnClassPath(Reason):
    """A jar or directory on a JVM's class path: `via` says which (-classpath of java, a manifest's
    Class-Path, a Tomcat loader of catalina.properties, a webapp)."""

    via: str
    category: ClassVar[str] = LANGUAGE

    def text(self) -> str:
        return f"on the class path: {self.via}"


@dataclass(frozen=True)
class AppContentFile(Reason):
    """A file of a directory of app content (a document root, templates) the app read from."""

    directory: str
    category: ClassVar[str] = CONTENT

    def text(self) -> str:
        return f"beside files the app read in {self.directory}"


@dataclass
class KeepPlan:
    """The kept paths with their reasons, what the exclude patterns removed, and what each language
    completion level would cost."""

    reasons: dict[str, list[Reason]] = field(default_factory=dict)  # path -> why, strongest first
    excluded: list[str] = field(default_factory=list)
    language_cost: dict[str, int] = field(default_factory=dict)  # level -> bytes it adds
    content: dict[str, int] = field(default_factory=dict)  # app content directory -> bytes kept beyond the trace
    # Python modules the import closure parsed, and those whose scan came from the cache (set by the wiring)
    python_scans: dict[str, int] = field(default_factory=dict)
    kept_whole: dict[str, int] = field(default_factory=dict)  # package kept whole -> bytes its modules added
    # Python imports never followed because they cannot run in the image: rule (pybranches.RULES) -> bytes saved
    cuts: dict[str, int] = field(default_factory=dict)
    data_named: dict[str, int] = field(default_factory=dict)  # data rule -> bytes it added (slim.closure.data_paths)
    warnings: list[SlimWarning] = field(default_factory=list)

    def category(self, path: str) -> str:
        """The path's primary category: the first of CATEGORIES among its reasons."""
        cats = {r.category for r in self.reasons.get(path, [])}
        return next((c for c in CATEGORIES if c in cats), ESSENTIAL)


@dataclass(frozen=True)
class Generated:
    """A file or directory the new image holds in a form the original did not (reduced, trimmed, created)."""

    path: str
    data: bytes | None  # None: a directory
    mode: int
    uid: int = 0
    gid: int = 0
    why: str = ""


@dataclass
class Rewrites:
    """What the kept files become: generated files, changed modes and owners, and the accounts and packages
    before and after."""

    generated: dict[str, Generated] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)  # kept paths whose mode changes
    owners: dict[str, tuple[int, int]] = field(default_factory=dict)  # kept paths given to another (uid, gid)
    setuid_dropped: list[str] = field(default_factory=list)
    accounts_kept: list[str] = field(default_factory=list)
    packages_before: list[str] = field(default_factory=list)
    packages_after: list[str] = field(default_factory=list)

    def paths(self, keep: KeepPlan) -> list[str]:
        """Every path of the new image: the kept ones and the generated ones."""
        return sorted(set(keep.reasons) | set(self.generated))


@dataclass(frozen=True)
class Rebased:
    """--run-as: the user the slim image was given, the paths it now owns, and what it may not do unprivileged."""

    user: str  # the slim image's USER ("" when nothing changed)
    chowned: tuple[str, ...] = ()
    warnings: tuple[SlimWarning, ...] = ()

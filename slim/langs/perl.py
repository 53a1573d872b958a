"""The static `use`/`require` closure of Perl code inside an image: the modules kept .pm/.pl files and Perl
scripts load with literal names, resolved against @INC as the image's perl builds it (PERL5LIB, /etc/perl, then
the site, vendor and core directories its Config.pm names, Debian's perl-base beside it), recursively, with the
`auto/` directory of each module (an XS module's .so, AutoLoader's .al files). A module a script requires only on
one code path is kept although the probes never took it.

Code is read by a rough scan, not a Perl parser: POD, heredoc bodies, whole-line comments and `__END__` data are
skipped, and a statement is a `use`/`no`/`require` at the start of a line or after `;`, `{` or `}`. A module named
at run time (`require $class`, `eval "use $name"`) keeps the top-level namespace directory of the file whole.

Pure: a RootFS, the kept paths and the image's environment in, {path: why} out.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from dataclasses import dataclass, field

from slim.model import SlimWarning
from slim.langs.walk import SourceWalk
from slim.results import LanguageRule, Reason, RequiredBy

MAX_SOURCE = 4 << 20
PERL_EXE = re.compile(r"^/usr(?:/local)?/bin/perl(?:5[\d.]*)?$")
_MODULE = r"[A-Za-z_]\w*(?:::\w+)*"
_STATEMENT = re.compile(r"(?:^|(?<=[;{}]))[ \t]*(use|no|require)\s+(.*?)(?=;|\}|$)", re.M | re.S)
# qq/q take any punctuation as delimiter (Text::CSV: eval qq| use $module |); `#` only right after the q
_EVAL = re.compile(r"""\beval\s*(?:qq?(?:[^\w\s]|\s+[^\w\s#])|["'])\s*(use|require)\s+(\$?)(""" + _MODULE
                   + r")(::\$)?")
_HEREDOC = re.compile(r"""<<~?(?:"([A-Za-z_]\w*)"|'([A-Za-z_]\w*)'|([A-Za-z_]\w*))""")
_CONFIG_KEYS = ("sitearchexp", "sitelibexp", "vendorarchexp", "vendorlibexp", "archlibexp", "privlibexp")
_PRAGMA_LISTS = {"parent", "base"}
_LOADER_PRAGMAS = {"parent.pm", "base.pm", "if.pm"}


@dataclass(frozen=True)
class Load:
    """A literal load: a module name (Foo::Bar) or a file path (`require "lib/x.pl"`), and its line."""

    name: str
    line: int
    is_file: bool = False


def strip(source: str) -> str:
    """The source with POD, heredoc bodies, whole-line comments and what follows __END__/__DATA__ blanked
    (newlines kept, so line numbers stay)."""
    lines = source.split("\n")
    out, in_pod, heredoc = [], False, None
    for k, line in enumerate(lines):
        if heredoc is not None:
            out.append("")
            if line.strip() == heredoc:
                heredoc = None
            continue
        if in_pod:
            out.append("")
            in_pod = not line.startswith("=cut")
            continue
        if re.match(r"=[a-zA-Z]", line):
            in_pod = not line.startswith("=cut")
            out.append("")
            continue
        if line.startswith(("__END__", "__DATA__")):
            return "\n".join(out + [""] * (len(lines) - k))
        if line.lstrip().startswith("#"):
            out.append("")
            continue
        m = _HEREDOC.search(line)
        if m and not re.search(r"\d\s*<<", line[:m.end()]):
            heredoc = next(g for g in m.groups() if g)
        out.append(line)
    return "\n".join(out)


def loads_of(source: bytes) -> tuple[list[Load], list[tuple[int, str]]]:
    """The literal loads of a Perl source, and (line, constant start of the path) of each load of a name
    computed at run time ("File/Spec/" of `require "File/Spec/$os.pm"`, else "")."""
    text = strip(source.decode("utf-8", "replace"))
    found: list[Load] = []
    dynamic: list[tuple[int, str]] = []
    newlines = [m.start() for m in re.finditer("\n", text)]
    for m in _STATEMENT.finditer(text):
        keyword, rest = m.group(1), m.group(2).strip()
        line = bisect.bisect_left(newlines, m.start(1)) + 1
        if keyword == "require":
            _require(rest, line, found, dynamic)
        else:
            _use(rest, line, found)
    for m in _EVAL.finditer(text):
        line = bisect.bisect_left(newlines, m.start()) + 1
        if m.group(2):
            dynamic.append((line, ""))
        elif m.group(4):  # eval qq{use Debconf::DbDriver::$type}: a module below Debconf/DbDriver/
            dynamic.append((line, m.group(3).replace("::", "/") + "/"))
        else:
            found.append(Load(m.group(3), line))
    return found, dynamic


def _require(rest: str, line: int, found: list[Load], dynamic: list[tuple[int, str]]) -> None:
    if re.match(r"v?\d", rest):
        return  # require 5.006
    m = re.match(r"""(["'])([^"'$@]+)\1""", rest)
    bare = re.match("(" + _MODULE + r")\s*(?:$|\b(?:if|unless|or|and)\b)", rest)
    if m:
        found.append(Load(m.group(2), line, is_file=True))
    elif bare and not bare.group(1).startswith(("__PACKAGE__", "q", "qq")):
        found.append(Load(bare.group(1), line))
    elif rest:
        start = re.match(r'"([^"$@]*/)[^"/]*[$@]', rest)  # require "File/Spec/$module.pm"
        dynamic.append((line, start.group(1) if start else ""))


def _use(rest: str, line: int, found: list[Load]) -> None:
    m = re.match(_MODULE, rest)
    if not m or re.match(r"v?\d", rest):
        return  # use 5.010; use v5.36
    if rest[m.end():].startswith("::"):
        return  # eval qq{use Foo::$type}: a name computed at run time, which the eval scan reports
    module = m.group(0)
    found.append(Load(module, line))
    args = rest[m.end():]
    if module in _PRAGMA_LISTS and "-norequire" not in args:
        found += [Load(name, line) for name in _words(args) if re.fullmatch(_MODULE, name)]
    elif module == "if":
        target = re.search(r""",\s*["']?(""" + _MODULE + r""")["']?\s*(?:=>|,|$)""", args)
        if target:
            found.append(Load(target.group(1), line))


def _words(args: str) -> list[str]:
    m = re.search(r"qw\s*([(\[{/<|!])(.*?)[)\]}/>|!]", args, re.S)
    if m:
        return m.group(2).split()
    return re.findall(r"""["']([^"']+)["']""", args)


def read_config(text: str) -> dict[str, str]:
    """`key => 'value'` (Config.pm) and `key='value'` (Config_heavy.pl) pairs."""
    out: dict[str, str] = {}
    for key, value in re.findall(r"^\s*(\w+)\s*(?:=>\s*|=)'([^']*)'", text, re.M):
        out.setdefault(key, value)
    return out


def find_config(rootfs, kept: set[str]) -> list[str]:
    """The Config.pm of the kept perl: one the traced run read, else the ones its usual places hold."""
    if not any(PERL_EXE.match(p) for p in kept):
        return []
    read = sorted(p for p in kept if p.endswith("/Config.pm") and rootfs.is_file(f"{posixpath.dirname(p)}/Config_heavy.pl"))
    if read:
        return read[:1]
    for lib in ("/usr/lib", "/usr/local/lib"):
        for triplet in rootfs.listdir(lib):
            for sub in ("perl-base", *(f"perl/{v}" for v in rootfs.listdir(f"{lib}/{triplet}/perl"))):
                if rootfs.is_file(f"{lib}/{triplet}/{sub}/Config.pm"):
                    return [f"{lib}/{triplet}/{sub}/Config.pm"]
        for ver in rootfs.listdir(f"{lib}/perl5"):  # the official perl images: /usr/local/lib/perl5/<ver>/<arch>
            for arch in rootfs.listdir(f"{lib}/perl5/{ver}"):
                if rootfs.is_file(f"{lib}/perl5/{ver}/{arch}/Config.pm"):
                    return [f"{lib}/perl5/{ver}/{arch}/Config.pm"]
    return []


def inc(rootfs, config_pm: str, env: dict[str, str]) -> list[str]:
    """@INC as the image's perl has it: PERL5LIB, /etc/perl, the directories Config.pm and Config_heavy.pl
    name, the directory of Config.pm itself (Debian's perl-base), and the old site_perl."""
    config = {}
    for name in ("Config_heavy.pl", "Config.pm"):
        path = f"{posixpath.dirname(config_pm)}/{name}"
        if rootfs.is_file(path):
            config.update(read_config(rootfs.read_bytes(path, 4 << 20).decode("utf-8", "replace")))
    dirs = [d for d in env.get("PERL5LIB", env.get("PERLLIB", "")).split(":") if d.startswith("/")]
    dirs.append("/etc/perl")
    dirs += [config[k] for k in _CONFIG_KEYS[:4] if config.get(k)]
    dirs.append(posixpath.dirname(config_pm))
    dirs += [config[k] for k in _CONFIG_KEYS[4:] if config.get(k)]
    dirs += config.get("otherlibdirs", "").split(":") + ["/usr/local/lib/site_perl"]
    return [d for d in dict.fromkeys(d.strip() for d in dirs) if d.startswith("/") and rootfs.stat(d) is not None]


@dataclass
class UseClosure:
    """What the closure found: files to keep and why, and the namespace directories kept whole (and where)."""

    keep: dict[str, Reason] = field(default_factory=dict)
    dynamic: dict[str, str | None] = field(default_factory=dict)  # "file:line" -> directory kept whole (or None)


def use_closure(rootfs, dirs: list[str], start: list[str]) -> UseClosure:
    """From the kept Perl sources `start`, every module their literal loads (and those modules' loads) read,
    with each module's auto/ directory (XS .so, AutoLoader files)."""
    out = UseClosure()
    walk = SourceWalk(start, out.keep, admit=rootfs.is_file)
    for file in walk:
        if not file.endswith((".pm", ".pl")) and not _is_perl_script(rootfs, file):
            continue
        if rootfs.stat(file).size > MAX_SOURCE:
            continue
        found, dynamic = loads_of(rootfs.read_bytes(file))
        for load in found:
            walk.queue += [(p, RequiredBy(file, load.line)) for p in _resolve(rootfs, dirs, load, file)]
        if posixpath.basename(file) in _LOADER_PRAGMAS and any(file == f"{d}/{posixpath.basename(file)}" for d in dirs):
            continue  # parent.pm, base.pm, if.pm load the names their `use` lines give: followed there
        for line, prefix in dynamic:
            where = f"{file}:{line}"
            named = next((f"{d}/{prefix.rstrip('/')}" for d in dirs if prefix and rootfs.stat(f"{d}/{prefix.rstrip('/')}")
                          is not None), None)
            out.dynamic[where] = _whole(rootfs, dirs, named or file, f"{where} loads a module named at run time",
                                        walk, exact=named is not None)
    return out


def _resolve(rootfs, dirs: list[str], load: Load, file: str) -> list[str]:
    """The file a load reads (first along @INC) and the files of the module's auto/ directory."""
    relative = load.name if load.is_file else load.name.replace("::", "/") + ".pm"
    if relative.startswith("/"):
        return [relative] if rootfs.is_file(relative) else []
    found = next((f"{d}/{relative}" for d in dirs if rootfs.is_file(f"{d}/{relative}")), None)
    if found is None and load.is_file:  # require "lib/x.pl" relative to the script (when run from its directory)
        local = posixpath.normpath(f"{posixpath.dirname(file)}/{relative}")
        found = local if rootfs.is_file(local) else None
    if found is None:
        return []
    out = [found]
    if not load.is_file:
        auto = "auto/" + load.name.replace("::", "/")
        for d in dirs:
            entry = rootfs.stat(f"{d}/{auto}")
            if entry is not None and entry.is_dir:
                out += [p for p in rootfs.below(f"{d}/{auto}") if rootfs.is_file(p)]
    return out


def _is_perl_script(rootfs, path: str) -> bool:
    """A script whose #! line names perl (an entrypoint without the .pl suffix)."""
    entry = rootfs.stat(path)
    if entry is None or entry.size > MAX_SOURCE or not entry.mode & 0o111:
        return False
    head = rootfs.read_bytes(path, 128)
    return head.startswith(b"#!") and b"perl" in head.split(b"\n", 1)[0]


def _whole(rootfs, dirs: list[str], file: str, because: str, walk: SourceWalk, exact: bool = False) -> str | None:
    """Queue the modules of the top-level namespace `file` lies in (INC/Foo for INC/Foo/Bar.pm, with INC/Foo.pm),
    or of the directory `file` itself when `exact`; None for a file outside @INC or at its top with no directory
    of its name."""
    base = next((d for d in dirs if file.startswith(d + "/")), None)
    if base is None:
        return None
    top = file[len(base) + 1:].split("/", 1)[0]
    directory = file if exact else f"{base}/{top[:-3] if top.endswith('.pm') else top}"
    entry = rootfs.stat(directory)
    if entry is None or not entry.is_dir:
        return None
    walk.whole(directory, because, lambda: [p for p in rootfs.below(directory) if p.endswith((".pm", ".pl", ".so"))]
               + [directory + ".pm"])
    return directory


def completion(rootfs, kept: set[str], env: dict[str, str], out: dict[str, Reason], warnings: list) -> None:
    """The imports level for Perl: when a perl interpreter is kept, the use/require closure of every kept Perl
    source against its @INC."""
    configs = find_config(rootfs, kept)
    if not configs:
        return
    dirs = inc(rootfs, configs[0], env)
    sources = sorted(p for p in kept if rootfs.is_file(p) and (p.endswith((".pm", ".pl")) or (
        not p.startswith(("/usr/lib/", "/lib/")) and _is_perl_script(rootfs, p))))
    found = use_closure(rootfs, dirs, sources)
    for path, why in found.keep.items():
        out.setdefault(path, why)
    for where, directory in found.dynamic.items():
        kept_whole = f"{directory} is kept whole" if directory else \
            "in no module directory to keep whole; name what it loads with --include-path"
        warnings.append(SlimWarning("lang.dynamic-import", f"loads a module named at run time: {kept_whole}", where))
    if configs[0] not in kept:
        out.setdefault(configs[0], LanguageRule("perl's configuration (Config.pm)"))


def whole(rootfs, kept: set[str], env: dict[str, str], out: dict[str, Reason], full: bool) -> None:
    """The package and full levels for Perl: each top-level namespace (INC/Foo with INC/Foo.pm) that keeps a
    module, whole, with its auto/ parts; `full` adds the core library directories (privlib, archlib, perl-base)."""
    configs = find_config(rootfs, kept)
    if not configs:
        return
    dirs = inc(rootfs, configs[0], env)
    tops = set()
    for p in kept:
        base = next((d for d in dirs if p.startswith(d + "/")), None)
        if base and p.endswith((".pm", ".pl", ".so")):
            top = p[len(base) + 1:].split("/", 1)[0]
            name = top[:-3] if top.endswith(".pm") else top
            tops |= {f"{base}/{name}", f"{base}/auto/{name}"}
    if full:
        tops |= {d for d in dirs if d.startswith(("/usr/share/perl/", "/usr/lib/")) and "/perl" in d}
    for top in sorted(tops):
        reason = LanguageRule(f"perl modules {top}" + (" (full)" if full else ""))
        for p in [top + ".pm", *rootfs.below(top)]:
            if p.endswith((".pm", ".pl", ".so", ".al", ".ix")) and rootfs.is_file(p):
                out.setdefault(p, reason)

"""Benchmark: where every byte that the Python `imports` level adds comes from, on the Python samples.

Two builds per sample: the sample's own (the probes of sample.json: the report says what the language completion
added) and one with --lang-completion off whose probes also take the routes the sample's probes leave out
(UNTAKEN): what those routes load when they run. The image is then read again and the import closure redone with
every import edge recorded, so that each added file is put down to one cause: the import statement (or the table
of names, or the package kept whole) that reaches it in the fewest steps, a chain of module-level imports counting
as one step, the stronger kind first on a tie (KINDS, in order). Each cause is split into the bytes the untaken
routes load when they run and the rest, kept because the analysis cannot prove that nothing loads them.

Run: .venv/bin/python bench/py_surplus.py [SAMPLE...] [--top N] [--write]   (default: python-web python-requests;
--write puts the tables into samples/README.md, section python-surplus)
"""

from __future__ import annotations

import argparse
import ast
import heapq
import json
import os
import subprocess
import sys
import tempfile

from slim.engine import connect
from slim.image.reference import parse_reference
from slim.image.source import read_image
from slim.langs import levels, pyimports
from slim.model import ProcessInfo
from slim.results import ImportedBy, NamedInCode, PartOfWholePackage
from slim.workspace import Workspace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "samples"))
from readme_section import replace_section  # noqa: E402

SLIM = os.path.join(os.path.dirname(sys.executable), "slim")
# the routes each sample serves that its probes never take (tests/integration/test_lang_imports.py takes them)
UNTAKEN = {"python-web": ["/api/notes.csv"], "python-requests": ["/api/fetch-self"]}
# Python 3.11's frozen standard library modules (`_imp._frozen_module_names()`): the interpreter runs its own
# copy, so a traced run never reads their .py; the source is kept for tracebacks and inspect
FROZEN = {"_collections_abc", "_sitebuiltins", "abc", "codecs", "genericpath", "importlib/machinery", "importlib/util",
          "io", "ntpath", "os", "posixpath", "runpy", "site", "stat", "zipimport"}
# causes, strongest first: a file several causes reach in as many steps goes to the first
ROUTE, FROZEN_SOURCE, MODULE, FUNCTION, NAMED, WHOLE = (
    "app code the probes did not run (the untaken routes)", "frozen standard library module (source)",
    "module level of a kept module, in a branch the run did not take", "inside a function of a kept module",
    "a name the code spells out (six.moves table)", "package kept whole (a name built at run time)")
STDLIB_DATA = "what the standard library loads by a name no import spells (data, configuration)"
KINDS = (ROUTE, FROZEN_SOURCE, MODULE, FUNCTION, NAMED, WHOLE, STDLIB_DATA)
METADATA = "package metadata (egg-info, dist-info)"


def build(spec: dict, extra: list[str], report: str) -> dict:
    """One slim build of the sample with `extra` arguments; its report."""
    tag = "slim-bench/py-surplus:1"
    subprocess.run([SLIM, "-q", "build", spec["tag"], "-t", tag, "--no-harden", "--report", report, *spec["args"],
                    *extra], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["docker", "rmi", "-f", tag], check=True, stdout=subprocess.DEVNULL)
    with open(report) as fh:
        return json.load(fh)


def scopes(source: bytes) -> dict[int, str]:
    """line -> the function it lies in (innermost, dotted), for the lines inside functions; module and class
    bodies run on import and are left out."""
    out: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                name = f"{prefix}{getattr(child, 'name', '<lambda>')}"
                for line in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    out[line] = name
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    try:
        visit(ast.parse(source), "")
    except (SyntaxError, ValueError):
        pass
    return out


def edge_cause(rootfs, why, app_dirs: tuple[str, ...], base: set[str], traced: set[str],
               cache: dict) -> tuple[str, str, str]:
    """(importer, kind, head) of one recorded edge; kind "" for a module-level import in a module that is not
    kept already (it runs whenever its importer runs: the importer's cause is its cause)."""
    if isinstance(why, ImportedBy):
        if why.file not in cache:
            cache[why.file] = scopes(rootfs.read_bytes(why.file)) if why.file.endswith(".py") else {}
        function = cache[why.file].get(why.line)
        where = f"{why.file}:{why.line}" + (f" in {function}()" if function else "")
        if why.file.startswith(app_dirs) and (function or why.file not in traced):
            return why.file, ROUTE, where
        if function:
            return why.file, FUNCTION, where
        return why.file, MODULE if why.file in base else "", where
    if isinstance(why, NamedInCode):
        return why.file, NAMED, f"the strings of {why.file}"
    if isinstance(why, PartOfWholePackage):
        return why.because.split(":", 1)[0].split(" ", 1)[0], WHOLE, f"{why.package} ({why.because})"
    return "", WHOLE, why.text()


def frozen(path: str) -> str | None:
    """The name of the frozen standard library module `path` holds, None when it holds none."""
    for lib in ("/usr/lib/python3.11/", "/usr/local/lib/python3.11/"):
        if path.startswith(lib) and path.endswith(".py") and path[len(lib):-3] in FROZEN:
            return path[len(lib):-3]
    return None


def attribute(rootfs, edges, base: set[str], traced: set[str], app_dirs: tuple[str, ...]
              ) -> dict[str, tuple[str, str]]:
    """file -> (kind, head) for every file the edges reach beyond `base`: the cause on the path with the fewest
    causes (a module-level import in a module that is not kept already adds none), the stronger kind on a tie."""
    out_edges: dict[str, list] = {}
    cache: dict = {}
    for target, why in edges:
        importer, kind, head = edge_cause(rootfs, why, app_dirs, base, traced, cache)
        if frozen(target) and target not in base:
            kind, head = FROZEN_SOURCE, f"{frozen(target)}.py"
        out_edges.setdefault(importer, []).append((target, kind, head))
    best: dict[str, tuple] = {}
    queue = [(0, -1, n, path, ("", "")) for n, path in enumerate(sorted(base))]
    count = len(queue)
    while queue:
        cost, rank, _, path, label = heapq.heappop(queue)
        if path in best:
            continue
        best[path] = label
        for target, kind, head in sorted(out_edges.get(path, [])):
            if target not in best:
                step = (cost, rank, label) if not kind else (cost + 1, KINDS.index(kind), (kind, head))
                count += 1
                heapq.heappush(queue, (step[0], step[1], count, target, step[2]))
    return {path: label for path, label in best.items() if path not in base}


def paths_of(report: dict, category: str) -> set[str]:
    """The paths a build kept in `category` (traced: what its probes' run touched)."""
    return {p["path"] for p in report["keep"]["paths"] if p["category"] == category}


def extension_closure(report: dict, added: set[str]) -> dict[str, str]:
    """The files kept as the ELF closure of language-added extension modules (libdb for _dbm), each with a
    module that needs it: the build counts them as language (`language: needed-by MODULE`)."""
    out: dict[str, str] = {}
    for entry in report["keep"]["paths"]:
        needers = [r.rsplit(" ", 1)[-1] for r in entry["reasons"] if r.startswith("language: needed-by ")]
        if entry["path"] in added and needers:
            out[entry["path"]] = needers[0]
    return out


def rule_of(report: dict, path: str) -> tuple[str, str] | None:
    """For a file no import reaches: the language rule the build kept it by (data the standard library reads on
    first use, sysconfig's build configuration), grouped by that rule's words."""
    for entry in report["keep"]["paths"]:
        if entry["path"] == path:
            rules = [r.split(": ", 1)[1] for r in entry["reasons"] if r.startswith("language: ")]
            return (STDLIB_DATA, rules[0]) if rules else None
    return None


def kb(n: int) -> str:
    return f"{n / 1e3:,.1f} kB"


def table(rows, title: str) -> str:
    lines = [title, "", "| cause | files | bytes | the untaken routes load | the rest |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {files} | {kb(size)} | {kb(used)} | {kb(size - used)} |" for name, files, size, used in rows]
    return "\n".join(lines) + "\n"


def measure(name: str):
    """The sample's two builds and the cause of every file its imports level added."""
    with open(f"{ROOT}/samples/{name}/sample.json") as fh:
        spec = json.load(fh)
    with tempfile.TemporaryDirectory() as tmp:
        mine = build(spec, [], f"{tmp}/imports.json")
        routes = [a for route in UNTAKEN.get(name, []) for a in ("--http-probe-path", route)]
        taken = build(spec, ["--lang-completion", "off", *routes], f"{tmp}/taken.json")
    added = paths_of(mine, "language")
    base = {p["path"] for p in mine["keep"]["paths"]} - added
    traced = paths_of(mine, "traced")
    needed = paths_of(taken, "traced") - base  # what the untaken routes load beyond what the probes did
    with Workspace() as ws:
        image = read_image(parse_reference(spec["tag"]), ws, connect())
        rootfs = image.rootfs()
        causes: dict[str, tuple[str, str]] = {}
        for version in sorted(levels.python_versions(base)):
            pypath, never, interpreter = levels.python_setup(rootfs, base, image.run_config.env_dict(), version)
            kept_py = sorted(p for p in base if p.endswith(".py") and rootfs.is_file(p))
            config = image.run_config
            ran = [ProcessInfo(1, None, (*config.entrypoint, *config.cmd), "")]  # what the container runs
            scripts = levels.main_scripts(rootfs, base, pypath, ran, config.workdir or "/")
            found = pyimports.import_closure(rootfs, pypath, sorted(set(kept_py) | scripts), never,
                                             version=interpreter, record_edges=True, scripts=scripts)
            app_dirs = tuple(d + "/" for d in pypath.directories if not d.startswith(("/usr/lib/", "/usr/local/lib/")))
            causes.update(attribute(rootfs, found.edges, base, traced, app_dirs))
        size = {p: rootfs.bytes_of([p]) for p in added if rootfs.is_file(p)}
        elf = extension_closure(mine, added)
        elf_size = rootfs.bytes_of(set(elf))
    return mine, size, causes, needed, elf, elf_size


def surplus(name: str, top: int) -> str:
    """The markdown tables for one sample."""
    mine, size, causes, needed, elf, elf_size = measure(name)
    groups: dict[str, list[str]] = {}
    heads: dict[tuple[str, str], list[str]] = {}
    for path in sorted(size):
        needer = path
        while needer in elf and needer != elf[needer]:  # a library goes with the module that links it
            needer = elf[needer]
        kind, head = ((METADATA, "") if ".egg-info/" in path or ".dist-info/" in path
                      else causes.get(needer) or rule_of(mine, path)
                      or ("not reached again (a difference to explain)", ""))
        groups.setdefault(kind, []).append(path)
        heads.setdefault((kind, head), []).append(path)

    def row(label, paths):
        return label, len(paths), sum(size[p] for p in paths), sum(size[p] for p in paths if p in needed)

    base, content = mine["size"]["traced_and_closure_bytes"], mine["size"]["slim_content_bytes"]
    total, used = sum(size.values()), sum(size[p] for p in size if p in needed)
    whole = sum(size[p] for p in groups.get(WHOLE, []))
    ranked = sorted(heads.items(), key=lambda kv: -sum(size[p] for p in kv[1]))[:top]
    return (f"### {name}\n\n`imports` adds {len(size)} files, {kb(total)}, on {base / 1e6:.2f} MB traced + closure: "
            f"{content / base:.3f}x. 1.10x would leave {kb(int(0.1 * base) - (content - total - base))} for it. The "
            f"untaken routes ({', '.join(f'`{r}`' for r in UNTAKEN.get(name, [])) or 'none'}) load {kb(used)} "
            f"of it when they run: keeping exactly that would give {(content - total + used) / base:.3f}x, and "
            f"{(content - total + used + whole) / base:.3f}x with the packages kept whole too. "
            + verdict((content - total + used) / base, (content - total + used + whole) / base) + "\n\n"
            + table([row(kind, groups[kind]) for kind in [*KINDS, METADATA] if kind in groups]
                    + [row(k, v) for k, v in groups.items() if k not in (*KINDS, METADATA)], "By cause:")
            + "\n" + table([row(f"{kind}: {head}" if head else kind, paths) for (kind, head), paths in ranked],
                           f"The {top} biggest single causes:")
            + f"\nThe libraries the extension modules `imports` added link count with the module that links "
            f"them (as the build counts them, language, not closure): {len(elf)} files, {kb(elf_size)} "
            f"({', '.join(sorted(elf)) or 'none'}).\n")


def verdict(exact: float, with_whole: float) -> str:
    """What the floors say about the 1.10x target."""
    if exact > 1.10:
        return ("1.10x is out of reach without breaking the untaken routes: what they load when they run is more "
                "than 1.10x leaves.")
    if with_whole > 1.10:
        return "1.10x is out of reach while the packages whose modules are named at run time are kept whole."
    return "1.10x is within reach of a closer analysis."


_HEADER = """## Where the Python samples' language completion bytes go

`bench/py_surplus.py --write` writes this section: it builds each Python sample twice (with its own probes; then
with `--lang-completion off` and probes that also take the routes its probes leave out) and puts every file
`imports` added down to one cause: the import statement, table of names or package kept whole that reaches it in
the fewest steps. **The untaken routes load**: what the second build's run read, bytes the routes the probes did
not take need (they must keep working). **The rest**: kept only because the analysis cannot prove that nothing
loads it: other inputs to the same routes (a host name that is not ASCII loads idna's tables, a response in
Shift JIS its codec), lazy imports inside functions of kept modules that the app may call, six's table of moved
modules (any code may resolve a moved name: `getattr(six.moves, name)`, `pickle` loading `six.moves` objects),
codecs looked up by names that come from data. The imports that can never run (`if TYPE_CHECKING:`, `__main__`
blocks and the private functions only they call, other platforms and versions, `if 0:`, the `except
ImportError:` fallbacks of built-in modules) are not followed at all: `language_completion.cuts` in the report
says what each rule kept out.
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="*", default=["python-web", "python-requests"])
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--write", action="store_true", help="write the tables into samples/README.md")
    args = ap.parse_args()
    text = _HEADER + "".join("\n" + surplus(name, args.top) for name in args.samples)
    print(text)
    if args.write:
        replace_section("python-surplus", text)


if __name__ == "__main__":
    main()

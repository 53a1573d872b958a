"""The dependency rules of the layout (docs/layout.md), checked on the source:

cli -> pipeline -> stages (engine, image, analysis, plan, run, report, tracers) -> model/errors.
Only the engine adapter imports the engine SDK, only the command line imports click and rich, only named
adapters start processes, nothing imports in a cycle, and no stage imports the wiring.
"""

import ast
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
WIRING = ("slim.cli", "slim.pipeline")  # may import any stage; nothing imports them but the CLI
ENGINE_SDK_USERS = {"slim.engine.docker", "slim.engine.podman", "slim.engine.endpoint"}  # the engine adapters
TERMINAL_LIBRARIES = ("click", "rich")
# --probe-cmd runs on the host; Python modules are parsed by worker processes (CPython's parser holds the GIL)
PROCESS_STARTERS = {"slim.run.probes", "slim.langs.pyscan",
                    "slim.sign.gpg", "slim.vulns.scan"}  # gpg signs; --scan runs grype or trivy
PROCESS_MODULES = ("subprocess", "multiprocessing", "pty")


def modules():
    for package in ("slim", "tracers"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    yield rel.removesuffix(".__init__"), path


MODULES = dict(modules())


def _source(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def imports_of(path):
    tree = ast.parse(_source(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            # "from slim.checks import users" imports the module slim.checks.users
            yield from (f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)


def in_package(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_only_the_engine_adapter_imports_the_engine_sdk():
    offenders = [(m, i) for m, p in MODULES.items() for i in imports_of(p)
                 if i.split(".")[0] == "docker" and m not in ENGINE_SDK_USERS]
    assert not offenders


def test_only_the_command_line_imports_click_and_rich():
    offenders = [(m, i) for m, p in MODULES.items() for i in imports_of(p)
                 if i.split(".")[0] in TERMINAL_LIBRARIES and not in_package(m, ["slim.cli"])]
    assert not offenders


def test_only_named_adapters_start_processes():
    offenders = [(m, i) for m, p in MODULES.items() for i in imports_of(p)
                 if i.split(".")[0] in PROCESS_MODULES and m not in PROCESS_STARTERS]
    assert not offenders


def test_stages_never_import_the_wiring():
    offenders = [(m, i) for m, p in MODULES.items() if not in_package(m, WIRING) and m != "slim.__main__"
                 for i in imports_of(p) if in_package(i, WIRING)]
    assert not offenders


# content trust sits below the report and the command line (they call it), above the engine
TRUST_PACKAGES = ("slim.sign", "slim.vulns")
ABOVE_TRUST = ("slim.report", "slim.cli", "slim.pipeline", "slim.run", "slim.plan", "tracers")


def test_signing_and_vulnerabilities_sit_below_the_report_and_the_command_line():
    below = [(m, i) for m, p in MODULES.items() if in_package(m, TRUST_PACKAGES)
             for i in imports_of(p) if in_package(i, ABOVE_TRUST)]
    assert not below
    callers = {m for m, p in MODULES.items() if not in_package(m, TRUST_PACKAGES)
               for i in imports_of(p) if in_package(i, TRUST_PACKAGES)}
    assert all(in_package(m, ("slim.report", "slim.cli")) for m in callers), callers


def test_model_and_errors_depend_on_nothing_of_slim():
    for m in ("slim.model", "slim.errors"):
        assert not [i for i in imports_of(MODULES[m]) if i.startswith(("slim", "tracers"))], m


def test_no_import_cycles():
    graph = {m: {i for i in imports_of(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    # a package's __init__ re-exporting its own modules is not a cycle of stages
    graph = {m: {i for i in deps if not m.startswith(i + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(m, path):
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append(path[path.index(d):] + [d])
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles


def _code_lines(node) -> int:
    """A function's length without its docstring: the limit is on code, and every public function must carry a
    docstring (tests/unit/test_docstrings.py), which would otherwise count against it."""
    docstring = node.body[0] if ast.get_docstring(node) is not None else None
    skipped = docstring.end_lineno - docstring.lineno + 1 if docstring is not None else 0
    return node.end_lineno - node.lineno + 1 - skipped


def test_modules_and_functions_stay_small():
    sizes = {m: len(_source(p).splitlines()) for m, p in MODULES.items()}
    assert max(sizes.values()) < 400, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    long_functions = []
    for m, p in MODULES.items():
        for node in ast.walk(ast.parse(_source(p))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > 50:
                long_functions.append((m, node.name, _code_lines(node)))
    assert not long_functions


def _importers_of(package: str) -> set[str]:
    return {m for m, p in MODULES.items() for i in imports_of(p) if in_package(i, [package])
            and not in_package(m, [package])}


def test_only_the_wiring_reads_the_planner():
    """The report reads results (slim.results), never the thing that produced them; nothing below the planner
    imports it."""
    assert _importers_of("slim.plan") <= {"slim.pipeline", *[m for m in MODULES if in_package(m, ["slim.cli"])]}


def test_checks_and_packages_never_import_the_closures():
    """A check or a package database parser works on any image; the static and language closures are the
    planner's inputs, a level above them."""
    offenders = [(m, i) for m, p in MODULES.items() if in_package(m, ["slim.checks", "slim.packages"])
                 for i in imports_of(p) if in_package(i, ["slim.langs", "slim.closure"])]
    assert not offenders


def test_the_closures_stay_below_checks_packages_and_the_planner():
    offenders = [(m, i) for m, p in MODULES.items() if in_package(m, ["slim.closure", "slim.langs"])
                 for i in imports_of(p)
                 if in_package(i, ["slim.checks", "slim.packages", "slim.plan", "slim.report", "slim.run",
                                   "slim.harden", "slim.engine"])]
    assert not offenders


def test_results_depend_only_on_the_model():
    assert {i for i in imports_of(MODULES["slim.results"]) if i.startswith(("slim", "tracers"))} <= {"slim.model"}

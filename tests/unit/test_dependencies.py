"""Every library slim imports is one pyproject.toml declares: a library that only arrived as another one's
dependency (requests and packageurl did, through docker and cyclonedx) breaks the day that one stops needing it.

The imports of slim/ and tracers/ are read from their source (ast), the standard library and slim's own
packages dropped, and each import name mapped to the distribution that installs it in this venv."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import sys
import tomllib
from collections.abc import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OWN = {"slim", "tracers"}
# The extras a user installs for a feature (pip install 'slim[chart]'): a module may import them only inside a
# function, so that slim without the extra still starts. The test extra is not one: slim never imports it.
FEATURE_EXTRAS = ("chart",)


def _project() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        return tomllib.load(fh)["project"]


def _name(requirement: str) -> str:
    """The distribution a requirement names, normalised as PEP 503 says ("PyYAML>=6" -> "pyyaml")."""
    bare = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert bare, f"not a requirement: {requirement!r}"
    return re.sub(r"[-_.]+", "-", bare.group(0)).lower()


def imports(source: str) -> Iterator[tuple[str, bool]]:
    """(top-level module name, whether it is imported only inside a function) of every absolute import."""
    tree = ast.parse(source)
    lazy = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(fn)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            yield name.split(".")[0], id(node) in lazy


def third_party_imports() -> dict[str, bool]:
    """Import name -> whether every import of it is inside a function, over slim/ and tracers/."""
    found: dict[str, bool] = {}
    for package in sorted(OWN):
        for directory, _, files in os.walk(os.path.join(ROOT, package)):
            for file in sorted(f for f in files if f.endswith(".py")):
                with open(os.path.join(directory, file), encoding="utf-8") as fh:
                    source = fh.read()
                for name, lazy in imports(source):
                    if name not in sys.stdlib_module_names and name not in OWN:
                        found[name] = found.get(name, True) and lazy
    return found


def test_every_imported_library_is_declared():
    project = _project()
    required = {_name(r) for r in project["dependencies"]}
    optional = {_name(r) for extra in FEATURE_EXTRAS for r in project["optional-dependencies"][extra]}
    installs = importlib.metadata.packages_distributions()
    found = third_party_imports()
    assert {"docker", "click", "requests", "packageurl"} <= set(found), "the scan of the sources found too little"
    undeclared = []
    for name, lazy in sorted(found.items()):
        distributions = {_name(d) for d in installs.get(name, [])}
        assert distributions, f"{name}: imported, but no installed distribution provides it (pip install -e '.[test]')"
        if not distributions & (required | (optional if lazy else set())):
            where = "dependencies" + (f" or the extras {FEATURE_EXTRAS}" if lazy else "")
            undeclared.append(f"{name} (from {', '.join(sorted(distributions))}): not in [project] {where}")
    assert not undeclared, "imported but not declared in pyproject.toml:\n" + "\n".join(undeclared)


def test_the_scan_tells_module_imports_from_function_imports():
    source = "import a.b\nfrom c import d\ndef f():\n    import e\n    from g.h import i\nfrom . import j\n"
    assert sorted(imports(source)) == [("a", False), ("c", False), ("e", True), ("g", True)]

"""The dependency arrows of DESIGN.md, checked on the source: cli -> pipeline/build -> stages -> model/errors."""

import ast
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
ENTRY = {"slim.cli", "slim.pipeline", "slim.build", "slim.runopts"}  # wiring: may import any stage
DOCKER_USERS = {"slim.engine.docker"}


def modules():
    for package in ("slim", "tracers"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    yield rel.removesuffix(".__init__"), path


def imports_of(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_only_the_adapters_import_docker():
    offenders = [(m, i) for m, p in modules() for i in imports_of(p)
                 if i.split(".")[0] == "docker" and m not in DOCKER_USERS]
    assert not offenders


def test_stages_never_import_the_wiring():
    offenders = [(m, i) for m, p in modules() if m not in ENTRY for i in imports_of(p) if i in ENTRY]
    assert not offenders


def test_model_and_errors_depend_on_nothing_of_slim():
    for m, p in modules():
        if m in ("slim.model", "slim.errors"):
            assert not [i for i in imports_of(p) if i.startswith(("slim", "tracers"))], m


def test_modules_stay_small():
    sizes = {m: sum(1 for _ in open(p)) for m, p in modules()}
    assert max(sizes.values()) < 450, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]

"""Module names a Python module spells out for the imports it builds at run time: six's table of moved
modules (`MovedModule("queue", "Queue")`: on Python 3 the module is the new name, else the first one), the
strings of literal lists, sets, tuples and dicts (PEP 562 `__getattr__` tables of lazy submodules,
`_submodules = {...}`, `__all__`, `for name in ("a", "b"): import_module(...)`), and the strings that call sites
in the same module pass to the function that does the import. Which of them are modules is decided against the
image's search path, later: here they are only candidates.

Pure: a parsed module in, [(line, name, kind)] out.
"""

from __future__ import annotations

import ast
import re

# MOVED: six's table (absolute names); PASSED: what reaches the import's argument (a call site's string, the
# literal a `for` loop takes the name from); LISTED: any string of a literal collection of the module (a PEP 562
# table), followed only after a constant start that names a package: without one, any string of the module
# could be taken for a top-level module (pydoc's tables of topics name half the standard library)
MOVED, PASSED, LISTED = "moved", "passed", "listed"
Named = tuple[int, str, str]  # (line of the string, the name, its kind)

_NAME = re.compile(r"^\.{0,3}[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_MAX_NAMES = 2000  # a module with more candidate strings is a data table, not a list of submodules
# six.MovedModule(name, old, new=None) and six.MovedAttribute(name, old_mod, new_mod, ...): on Python 3 the
# module is new (new_mod) when given, else name
_MOVED_CALLS = {"MovedModule": 2, "MovedAttribute": 2}


def named_modules(tree: ast.Module, dynamic_calls: list[ast.Call]) -> list[Named]:
    """The candidate module names of a module whose `dynamic_calls` import a name built at run time."""
    found: dict[tuple[str, str], int] = {}

    def add(node: ast.expr | None, kind: str) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAME.match(node.value):
            found.setdefault((node.value, kind), node.lineno)

    callers = _importing_functions(tree, dynamic_calls)
    for fn in callers.values():  # `def _makenamedict(module='numpy')`: the default is passed too
        for default in [*fn.args.defaults, *fn.args.kw_defaults]:
            add(default, PASSED)
    loop_names = {n.id for call in dynamic_calls if call.args for n in ast.walk(call.args[0])
                  if isinstance(n, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name) \
                and node.target.id in loop_names and isinstance(node.iter, (ast.List, ast.Set, ast.Tuple)):
            for element in node.iter.elts:
                add(element, PASSED)
        if isinstance(node, (ast.List, ast.Set, ast.Tuple)):
            for element in node.elts:
                add(element, LISTED)
        elif isinstance(node, ast.Dict):
            for item in [*node.keys, *node.values]:
                add(item, LISTED)
        elif isinstance(node, ast.Call):
            name = _called(node.func)
            if name in _MOVED_CALLS:
                new = _argument(node, _MOVED_CALLS[name], ("new", "new_mod"))
                has_new = isinstance(new, ast.Constant) and isinstance(new.value, str)
                add(new if has_new else _argument(node, 0, ("name",)), MOVED)
            elif name in callers:
                for argument in [*node.args, *(k.value for k in node.keywords)]:
                    add(argument, PASSED)
        if len(found) > _MAX_NAMES:
            return []
    return sorted((line, name, kind) for (name, kind), line in found.items())


def _importing_functions(tree: ast.Module, dynamic_calls: list[ast.Call]
                         ) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """The functions (by name) whose own parameter becomes the name a dynamic import loads: their call
    sites' strings are candidates too (`def load(name): import_module("plugins." + name)` ... `load("csv")`)."""
    out: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    calls = {id(c): c for c in dynamic_calls}
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        params = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
        for node in ast.walk(fn):
            call = calls.get(id(node))
            if call is not None and call.args and any(isinstance(n, ast.Name) and n.id in params
                                                      for n in ast.walk(call.args[0])):
                out[fn.name] = fn
    return out


def _called(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _argument(call: ast.Call, position: int, keywords: tuple[str, ...]) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg in keywords), None)


def candidates(named: list[Named], prefix: str) -> list[tuple[str, int]]:
    """(name, line) for the modules a dynamic import whose name starts with `prefix` may load, as written
    (relative ones keep their dots): with a constant start, the strings of the module's literals and call
    sites after it; without, six's moved modules and the strings that reach the import."""
    if prefix:
        return [(prefix + name.lstrip("."), line) for line, name, kind in named if kind != MOVED]
    return [(name, line) for line, name, kind in named if kind != LISTED]

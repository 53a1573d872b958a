"""Every module, public class and public function of slim and its tracers says why it exists.

A newcomer reads a room by its docstrings (docs/contributing.md sends them there), so a missing one is a gap in
the map. Checked on the source with `ast`, nothing imported. What counts, and why:

- Every module, `__init__.py` and `__main__.py` included: a module is a room or a piece of one.
- Every class and function whose name does not start with `_`, at module level or in a class (nested classes
  included), `@property` getters too: a property is read like a field but computed, and says what it computes.
- Exempt: dunder methods (Python fixes what `__init__` or `__len__` do; the class says what it is for); names
  starting with `_`, and so every member of a private class (private: read beside their caller); functions and
  classes defined inside a function (helpers of that one function); `@x.setter`/`@x.deleter` (the getter
  documents the property) and `@overload` signatures (the implementation documents the function).
- A method that overrides a method of a base class defined in slim or tracers inherits that method's docstring,
  as `inspect.getdoc` does: the contract is written once, where it is declared (`StraceHooks.mounts` says
  nothing `Hooks.mounts` did not). A protocol is implemented without naming it as a base, so a class whose
  docstring names a `Protocol` class in backticks ("the `Engine` protocol over the Docker SDK") counts as
  deriving from it: the implementation's methods inherit the protocol's docstrings.
- A stub (a body of `...` only) in a `Protocol` class may go without one when the class docstring names the
  method: a small protocol can say its whole contract in one paragraph, and implementations inherit it. Every
  other protocol method states its own contract, since callers and implementations are written against it.

The test prints the missing ones as `path:line qualified.name`, one per line.
"""

import ast
import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PACKAGES = ("slim", "tracers")


def sources():
    for package in PACKAGES:
        for dirpath, dirnames, files in os.walk(os.path.join(ROOT, package)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    with open(path, encoding="utf-8") as fh:
                        tree = ast.parse(fh.read(), path)
                    yield os.path.relpath(path, ROOT), tree


def decorator_names(node):
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        while isinstance(target, ast.Attribute):
            yield target.attr
            target = target.value
        if isinstance(target, ast.Name):
            yield target.id


def base_names(node: ast.ClassDef):
    for base in node.bases:
        target = base.value if isinstance(base, ast.Subscript) else base
        if isinstance(target, ast.Attribute):
            yield target.attr
        elif isinstance(target, ast.Name):
            yield target.id


def is_stub(node) -> bool:
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is Ellipsis
               for s in body)


def covered_stub(owner: ast.ClassDef, node) -> bool:
    """A `...` stub of a Protocol class whose docstring names it."""
    return ("Protocol" in base_names(owner) and is_stub(node)
            and re.search(rf"\b{node.name}\b", ast.get_docstring(owner) or "") is not None)


def declared_bases(node: ast.ClassDef, protocols):
    """The class's bases, and the protocols its docstring says it implements (named in backticks)."""
    named = re.findall(r"`(\w+)`", ast.get_docstring(node) or "")
    return set(base_names(node)) | {name for name in named if name in protocols and name != node.name}


def documented_methods(trees):
    """Class name -> (base names, {method name: has a docstring}) over the whole tree, for inheritance."""
    nodes = [node for _, tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    protocols = {node.name for node in nodes if "Protocol" in base_names(node)}
    classes = {}
    for node in nodes:
        methods = {m.name: ast.get_docstring(m) is not None or covered_stub(node, m) for m in node.body
                   if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
        known = classes.setdefault(node.name, (set(), {}))
        known[0].update(declared_bases(node, protocols))
        for name, documented in methods.items():
            known[1][name] = known[1].get(name, False) or documented
    return classes


def inherits_doc(classes, bases, method, seen=()):
    for base in bases:
        if base in seen or base not in classes:
            continue
        its_bases, methods = classes[base]
        if methods.get(method) or inherits_doc(classes, its_bases, method, seen + (base,)):
            return True
    return False


def missing(trees, classes):
    for path, tree in trees:
        if ast.get_docstring(tree) is None:
            yield f"{path}:1 (module)"
        yield from missing_in(path, tree.body, "", None, classes)


def missing_in(path, body, prefix, owner, classes):
    for node in body:
        if isinstance(node, (ast.If, ast.Try)):  # `if TYPE_CHECKING:`, `try: import ...`
            inner = node.body + node.orelse + getattr(node, "finalbody", [])
            for handler in getattr(node, "handlers", []):
                inner += handler.body
            yield from missing_in(path, inner, prefix, owner, classes)
            continue
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        name = f"{prefix}{node.name}"
        if isinstance(node, ast.ClassDef):
            if not node.name.startswith("_"):
                if ast.get_docstring(node) is None:
                    yield f"{path}:{node.lineno} {name}"
                yield from missing_in(path, node.body, name + ".", node, classes)
            continue
        if node.name.startswith("_") or ast.get_docstring(node) is not None:
            continue
        decorators = set(decorator_names(node))
        if decorators & {"setter", "deleter", "overload"}:
            continue
        if owner is not None:
            if covered_stub(owner, node) or inherits_doc(classes, classes[owner.name][0], node.name, (owner.name,)):
                continue
        yield f"{path}:{node.lineno} {name}"


def test_every_public_module_class_and_function_says_why_it_exists():
    trees = list(sources())
    gaps = list(missing(trees, documented_methods(trees)))
    print("\n".join(gaps))
    assert not gaps, f"{len(gaps)} without a docstring:\n" + "\n".join(gaps)

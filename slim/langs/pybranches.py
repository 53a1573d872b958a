"""Which branches of a Python module can run when the module is imported in the image: the tests of `if`
statements that a Linux container answers the same way every time (`TYPE_CHECKING`, `__name__ == "__main__"`,
`sys.platform`, `os.name`, a literal as in `if 0:`), and those on `sys.version_info`, which depend on the image's interpreter and are
therefore kept as conditions (`Atom`s) that the closure decides once it knows the version.

Pure: AST nodes in, a `Cond` out.
"""

from __future__ import annotations

import ast
import bisect
import io
import operator
import re
import tokenize
from dataclasses import dataclass

TYPE_CHECKING, MAIN, PLATFORM, VERSION = "type_checking", "main", "platform", "version"
# CONSTANT: `if False:`, `if 0:` (a literal test: no run can change it); BUILTIN_FALLBACK: the `except
# ImportError:` imports of a try whose imports name modules built into the image's interpreter (pyimports)
CONSTANT, BUILTIN_FALLBACK = "constant", "builtin_fallback"
RULES = (TYPE_CHECKING, MAIN, PLATFORM, VERSION, CONSTANT, BUILTIN_FALLBACK)

# A test on the interpreter's version: (subject, op, value); subject "info" compares sys.version_info (or its
# [:2]) with a tuple, "major"/"minor" compare one number. Plain tuples so that a scan stays JSON.
Atom = tuple[str, str, tuple[int, ...]]
# Where a branch may run: None (no known constraint), False (never, in any image), or a conjunction of atoms
When = bool | tuple[Atom, ...] | None

_OPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
            "!=": operator.ne}
# What these answer in a Linux container: sys.platform, os.name, platform.system()
_HERE = {"platform": "linux", "name": "posix", "system": "Linux"}


@dataclass(frozen=True)
class Cond:
    """What an `if` test says about its two branches: where the body may run (`yes`) and the else branch
    (`no`), and the rule that decides it (for the report of what each rule cut)."""

    yes: When = None
    no: When = None
    rule: str = ""


UNKNOWN = Cond()


def module_flags(tree: ast.Module) -> dict[str, Cond]:
    """Module-level names bound once to a test these rules decide (`PY2 = sys.version_info[0] == 2`,
    `WINDOWS = sys.platform == "win32"`): an `if PY2:` is then decided as the test itself."""
    counts: dict[str, int] = {}
    tests: dict[str, ast.expr] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for bound in ast.walk(target):
                    if isinstance(bound, ast.Name):
                        counts[bound.id] = counts.get(bound.id, 0) + 1
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            tests[stmt.targets[0].id] = stmt.value
    flags: dict[str, Cond] = {}
    for name, value in tests.items():
        if counts.get(name) == 1:
            cond = condition(value, flags)
            # `DEBUG = False` is no fact of the image: any code may set the module's DEBUG before it is read
            if cond != UNKNOWN and not _literal_part(value):
                flags[name] = cond
    return flags


def _literal_part(test: ast.expr) -> bool:
    """Whether a test is, or combines with and/or/not, a literal (what the CONSTANT rule decides)."""
    if isinstance(test, ast.BoolOp):
        return any(_literal_part(v) for v in test.values)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _literal_part(test.operand)
    return isinstance(test, ast.Constant)


def condition(test: ast.expr, flags: dict[str, Cond] | None = None) -> Cond:
    """What `test` says about the branches it guards (UNKNOWN when these rules cannot tell)."""
    flags = flags or {}
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = condition(test.operand, flags)
        return Cond(inner.no, inner.yes, inner.rule)
    if isinstance(test, ast.BoolOp):
        parts = [condition(v, flags) for v in test.values]
        rule = next((p.rule for p in parts if p.rule), "")
        if isinstance(test.op, ast.And):
            return Cond(_all([p.yes for p in parts]), _any([p.no for p in parts]), rule)
        return Cond(_any([p.yes for p in parts]), _all([p.no for p in parts]), rule)
    if isinstance(test, ast.Name) and test.id in flags:
        return flags[test.id]
    if isinstance(test, ast.Constant) and (test.value is None or type(test.value) in (bool, int)):
        return _known(bool(test.value), CONSTANT)
    if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
            (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
        return Cond(False, None, TYPE_CHECKING)
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "startswith":
        here = _platform_value(test.func.value)
        prefixes = _constants(test.args[0]) if len(test.args) == 1 else None
        if here is not None and prefixes is not None and all(isinstance(p, str) for p in prefixes):
            return _known(here.startswith(tuple(prefixes)), PLATFORM)
        return UNKNOWN
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _compare(test.left, test.ops[0], test.comparators[0])
    return UNKNOWN


def _compare(left: ast.expr, op: ast.cmpop, right: ast.expr) -> Cond:
    if isinstance(left, ast.Name) and left.id == "__name__" and isinstance(right, ast.Constant) \
            and right.value == "__main__" and type(op) in (ast.Eq, ast.NotEq):
        return _known(isinstance(op, ast.NotEq), MAIN)  # a module that is imported is never __main__
    here = _platform_value(left)
    if here is not None:
        values = _constants(right)
        if values is None or not all(isinstance(v, str) for v in values):
            return UNKNOWN
        if type(op) in (ast.Eq, ast.NotEq) and len(values) == 1 and not isinstance(right, (ast.Tuple, ast.List,
                                                                                         ast.Set)):
            return _known((here == values[0]) == isinstance(op, ast.Eq), PLATFORM)
        if type(op) in (ast.In, ast.NotIn) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
            return _known((here in values) == isinstance(op, ast.In), PLATFORM)
        return UNKNOWN
    subject = _version_subject(left)
    if subject is None or type(op) not in _OPS:
        return UNKNOWN
    values = _constants(right)
    if values is None or not values or not all(type(v) is int for v in values):
        return UNKNOWN
    if (subject == "info") != isinstance(right, ast.Tuple) or (subject != "info" and len(values) != 1):
        return UNKNOWN
    atom: Atom = (subject, _OPS[type(op)], tuple(values))
    return Cond((atom,), (negated(atom),), VERSION)


def negated(atom: Atom) -> Atom:
    """The test that holds exactly when `atom` does not."""
    return atom[0], _NEGATED[atom[1]], atom[2]


def _known(value: bool, rule: str) -> Cond:
    return Cond(None, False, rule) if value else Cond(False, None, rule)


def _all(parts: list[When]) -> When:
    """Where every part holds: the union of their atoms; False when one never does."""
    if any(p is False for p in parts):
        return False
    atoms = tuple(a for p in parts if isinstance(p, tuple) for a in p)
    return atoms or None


def _any(parts: list[When]) -> When:
    """Where one part holds; a disjunction of atoms cannot be written as a conjunction: unknown (None)."""
    left = [p for p in parts if p is not False]
    if not left:
        return False
    return left[0] if len(left) == 1 else None


def and_when(outer: When, inner: When) -> When:
    """Nested branches: the conditions of both."""
    return _all([outer, inner])


def _platform_value(node: ast.expr) -> str | None:
    """What `sys.platform`, `os.name` or `platform.system()` is in a Linux container; None for anything else."""
    if isinstance(node, ast.Call) and not node.args and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "system" and _is_name(node.func.value, ("platform", "_platform")):
        return _HERE["system"]
    if isinstance(node, ast.Attribute) and node.attr == "platform" and _is_name(node.value, ("sys", "_sys")):
        return _HERE["platform"]
    if isinstance(node, ast.Attribute) and node.attr == "name" and _is_name(node.value, ("os", "_os")):
        return _HERE["name"]
    return None


def _version_subject(node: ast.expr) -> str | None:
    """"info" for sys.version_info and sys.version_info[:2]; "major"/"minor" for [0]/[1] and .major/.minor."""
    if _is_version_info(node):
        return "info"
    if isinstance(node, ast.Attribute) and node.attr in ("major", "minor") and _is_version_info(node.value):
        return node.attr
    if isinstance(node, ast.Subscript) and _is_version_info(node.value):
        index = node.slice
        if isinstance(index, ast.Constant) and index.value in (0, 1):
            return "minor" if index.value == 1 else "major"
        if isinstance(index, ast.Slice) and index.step is None and (
                index.lower is None or (isinstance(index.lower, ast.Constant) and index.lower.value == 0)):
            return "info"
    return None


def _is_version_info(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "version_info" and _is_name(node.value, ("sys", "_sys"))) \
        or (isinstance(node, ast.Name) and node.id == "version_info")


def _is_name(node: ast.expr, names: tuple[str, ...]) -> bool:
    return isinstance(node, ast.Name) and node.id in names


def _constants(node: ast.expr) -> list | None:
    if isinstance(node, ast.Constant):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and all(isinstance(e, ast.Constant) for e in node.elts):
        return [e.value for e in node.elts]  # type: ignore[attr-defined]
    return None


def holds(when: When, version: tuple[int, int] | None) -> bool:
    """Whether a branch under `when` may run on the interpreter `version` (major, minor); an unknown version
    follows every branch."""
    if when is False:
        return False
    if not when or when is True or version is None:
        return True
    return all(_atom_holds(atom, version) is not False for atom in when)


def _atom_holds(atom: Atom, version: tuple[int, int]) -> bool | None:
    subject, op, values = atom
    if subject in ("major", "minor"):
        return _COMPARE[op](version[0 if subject == "major" else 1], values[0])
    # sys.version_info is (major, minor, micro, level, serial): against a tuple of one or two numbers, an equal
    # prefix leaves it greater (it is longer); the micro release is unknown, so a longer tuple may not decide
    if len(values) > 2 and tuple(values[:2]) == version:
        return None
    mine = version[:len(values)] if len(values) <= 2 else version
    theirs = tuple(values[:2])
    if mine == theirs[:len(mine)] and len(values) <= 2:
        return _COMPARE[op](1, 0)  # equal prefix: version_info is the greater
    return _COMPARE[op](mine, theirs)


def script_only_functions(tree: ast.Module, source: bytes, flags: dict) -> set[int]:
    """ids of private module-level functions (`_test`, `_main`) that only the module's `if __name__ ==
    "__main__"` block calls, directly or through other such functions: like the block, they run only when the
    module is a script, never on import. Public ones stay: another module may import and call them. Any other
    mention of the name (a call, `__all__`, getattr's string, a docstring) keeps the function; comments do not
    count: no code runs them."""
    private = {stmt.name: stmt for stmt in tree.body if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
               and stmt.name.startswith("_") and not stmt.name.endswith("__")}
    main_blocks = _never_run_branches(tree, flags)
    if not private or not main_blocks:
        return set()
    mentions = {}  # name -> lines it appears on, outside its own definition
    source = _blank_comments(source)
    line_starts = [0] + [m.end() for m in re.finditer(rb"\n", source)]
    for name, fn in private.items():
        lines = {bisect.bisect_right(line_starts, m.start())
                 for m in re.finditer(rb"\b" + re.escape(name.encode()) + rb"\b", source)}
        mentions[name] = {n for n in lines if not fn.lineno <= n <= (fn.end_lineno or fn.lineno)}
    script_only: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    while True:  # grows from the main blocks through the functions only they (and those) mention
        spans = main_blocks + [(fn.lineno, fn.end_lineno or fn.lineno) for fn in script_only.values()]
        grown = {name: fn for name, fn in private.items() if name not in script_only and mentions[name]
                 and all(any(a <= n <= b for a, b in spans) for n in mentions[name])}
        if not grown:
            return {id(fn) for fn in script_only.values()}
        script_only.update(grown)


def _never_run_branches(tree: ast.Module, flags: dict) -> list[tuple[int, int]]:
    """(first, last line) of the body of each module-level `if` whose body never runs on import (`if __name__ ==
    "__main__":`): the body only, not the test nor an `else:`, which runs on every import."""
    return [(stmt.body[0].lineno, stmt.body[-1].end_lineno or stmt.body[-1].lineno) for stmt in tree.body
            if isinstance(stmt, ast.If) and condition(stmt.test, flags).yes is False]


def _blank_comments(source: bytes) -> bytes:
    """`source` with the text of its comments turned into spaces (lines and offsets unchanged); as it is when it
    does not tokenize (then comments still count as mentions: more is kept, never less)."""
    try:
        tokens = [t for t in tokenize.tokenize(io.BytesIO(source).readline) if t.type in (tokenize.ENCODING,
                                                                                           tokenize.COMMENT)]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError, LookupError):
        return source
    encoding = tokens[0].string if tokens and tokens[0].type == tokenize.ENCODING else "utf-8"
    lines = source.split(b"\n")
    for token in tokens[1:]:
        row, column = token.start
        line = lines[row - 1]
        # the token's column counts characters of the decoded line (after a byte order mark on the first)
        start = len(token.line[:column].encode(encoding)) + (3 if row == 1 and line.startswith(b"\xef\xbb\xbf") else 0)
        lines[row - 1] = line[:start] + b" " * (len(line) - start)
    return b"\n".join(lines)

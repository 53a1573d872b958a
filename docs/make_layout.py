"""Write the list of rooms in docs/layout.md from the code itself, so the page cannot drift from the tree.

Each package under slim/ (and tracers/) is a room; its `__init__.py` docstring says what the room does and what it
may import, and is copied whole (modules come and go more often than rooms: the docstring names the main ones).
The modules directly under slim/ are listed with the first paragraph of their docstring. The text goes between
the page's `<!-- begin:rooms -->` and `<!-- end:rooms -->` markers; the rest of the page is written by hand.
tests/unit/test_layout_doc.py fails when the committed page differs from what this script writes.

Run: .venv/bin/python docs/make_layout.py
"""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "layout.md")
BEGIN, END = "<!-- begin:rooms -->", "<!-- end:rooms -->"


def docstring(path: str) -> str:
    """The module docstring of the file at `path` (read, never imported), or "" when it has none."""
    with open(path) as fh:
        return ast.get_docstring(ast.parse(fh.read())) or ""


def summary(text: str) -> str:
    """The docstring's first paragraph, on one line (a table cell), pipes escaped."""
    return " ".join(text.split("\n\n", 1)[0].split()).replace("|", "\\|")


def packages(top: str) -> list[str]:
    """Every package directory under `top` (itself included), relative to the root, sorted."""
    out = []
    for dirpath, dirnames, files in os.walk(os.path.join(ROOT, top)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        if "__init__.py" in files:
            out.append(os.path.relpath(dirpath, ROOT))
    return sorted(out)


def modules_of(package: str) -> list[str]:
    """The module files directly in `package` (not its subpackages), without `__init__.py` and `__main__.py`."""
    names = os.listdir(os.path.join(ROOT, package))
    return sorted(n for n in names if n.endswith(".py") and n not in ("__init__.py", "__main__.py"))


def room(package: str) -> str:
    """One room: its name and its docstring as written (which names its main modules)."""
    text = docstring(os.path.join(ROOT, package, "__init__.py")) or "(no docstring)"
    return f"### `{package}/`\n\n{text}\n"


def ground() -> str:
    """The modules directly under slim/, each with the first paragraph of its docstring."""
    rows = ["| module | what it is for |", "| --- | --- |"]
    for name in modules_of("slim"):
        rows.append(f"| `slim/{name}` | {summary(docstring(os.path.join(ROOT, 'slim', name)))} |")
    return "### The modules directly under `slim/`\n\n" + "\n".join(rows) + "\n"


def rooms() -> str:
    """The generated part of the page."""
    parts = ["(`docs/make_layout.py` writes this part from the packages' docstrings.)\n", ground()]
    parts += [room(p) for p in packages("slim") if p != "slim"]
    parts += [room(p) for p in packages("tracers")]
    return "\n".join(parts)


def page_with_rooms(current: str) -> str:
    """The page with its generated part replaced by what the code says today."""
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{rooms().rstrip()}\n{END}{tail}"


def main() -> None:
    with open(PAGE) as fh:
        current = fh.read()
    if BEGIN not in current or END not in current:
        raise SystemExit(f"{PAGE}: no {BEGIN} ... {END} markers to write between")
    with open(PAGE, "w") as fh:
        fh.write(page_with_rooms(current))


if __name__ == "__main__":
    main()

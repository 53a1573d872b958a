"""Replace one generated section of samples/README.md, leaving the others and the hand-written text alone.

A section is the text between `<!-- begin:NAME -->` and `<!-- end:NAME -->`; one that is missing is added at
the end. Each generator (make_table.py, compare/make_comparison.py) owns one section.
"""

from __future__ import annotations

import os

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")


def replace_section(name: str, text: str, readme: str = README) -> None:
    begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
    with open(readme) as fh:
        current = fh.read()
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in current and end in current:
        head, _, rest = current.partition(begin)
        _, _, tail = rest.partition(end)
        updated = head + block + tail
    else:
        updated = current.rstrip() + "\n\n" + block + "\n"
    with open(readme + ".partial", "w") as fh:
        fh.write(updated)
    os.replace(readme + ".partial", readme)

"""Replace one generated section of samples/README.md, leaving the others and the hand-written text alone.

A section is the text between `<!-- begin:NAME -->` and `<!-- end:NAME -->`; one that is missing is added at
the end. Each generator (make_table.py, compare/make_comparison.py, make_readme_examples.py) owns its sections,
in samples/README.md or (readme=page("NAME.md")) in a page of the project's docs/. `abridged` and `json_block` turn a real
JSON output into the short example a README shows: the same keys, lists and path-keyed maps cut to their first
items, digests and long strings elided, timings rounded.
"""

from __future__ import annotations

import json
import os
import re
import textwrap

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT_README = os.path.join(ROOT, "README.md")
DOCS = os.path.join(ROOT, "docs")
ELIDED = "…"
LONGEST = 56  # characters of a string the example shows whole
_DIGEST = re.compile(r"(sha256:)?[0-9a-f]{64}")


def replace_section(name: str, text: str, readme: str = README) -> None:
    begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
    with open(readme) as fh:
        current = fh.read()
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in current and end in current:
        head, _, rest = current.partition(begin)
        _, _, tail = rest.partition(end)
        updated = head + block + tail
    elif readme == README:
        updated = current.rstrip() + "\n\n" + block + "\n"
    else:  # the docs pages' sections sit among hand-written text: their place is marked by hand
        raise SystemExit(f"{readme}: no {begin} ... {end} markers to write between")
    with open(readme + ".partial", "w") as fh:
        fh.write(updated)
    os.replace(readme + ".partial", readme)


def page(name: str) -> str:
    """The path of a page of the project's docs/ ("report.md"), where the generated examples live."""
    return os.path.join(DOCS, name)


def abridged(value, items: int = 2, whole: frozenset[str] = frozenset(), keyed_by_data: frozenset[str] = frozenset(),
             key: str = ""):
    """`value` with every list cut to its first `items` entries (then "…"), the maps named in `keyed_by_data`
    (keys that are paths, syscall names...) cut the same way, sha256 digests elided, strings cut to LONGEST
    characters and floats rounded to 3 decimals; keys named in `whole` are kept whole (floats rounded). Every
    other map keeps all its keys, so the example has the document's shape."""
    if key in whole:
        return _rounded(value)
    if isinstance(value, str):
        value = _DIGEST.sub(lambda m: (m.group(1) or "") + ELIDED, value)
        return value if len(value) <= LONGEST else value[:LONGEST - 1] + ELIDED
    if isinstance(value, list):
        kept = [abridged(v, items, whole, keyed_by_data) for v in value[:items]]
        return kept + [ELIDED] if len(value) > items else kept
    if isinstance(value, dict):
        pairs = list(value.items())
        if key in keyed_by_data and len(pairs) > items:
            return {**{k: abridged(v, items, whole, keyed_by_data) for k, v in pairs[:items]}, ELIDED: ELIDED}
        return {k: abridged(v, items, whole, keyed_by_data, k) for k, v in pairs}
    return _rounded(value)  # floats (timings): milliseconds are plenty


def _rounded(value):
    """`value` with its floats rounded as `abridged` rounds them, nothing cut."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def paragraph(text: str, width: int = 116) -> str:
    """`text` wrapped as the README's prose is."""
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def json_block(doc: dict, width: int = 116) -> str:
    """A fenced JSON block: one top-level key a line, nested values packed up to `width` columns."""
    lines = [f"  {json.dumps(k, ensure_ascii=False)}: " + _packed(v, 4 + len(json.dumps(k)), width)
             for k, v in doc.items()]
    return "```json\n{\n" + ",\n".join(lines) + "\n}\n```"


def _packed(value, indent: int, width: int) -> str:
    flat = json.dumps(value, ensure_ascii=False)
    if indent + len(flat) <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            head = json.dumps(k, ensure_ascii=False) + ": "
            parts.append(head + _packed(v, indent + 1 + len(head), width))
        opening, closing = "{", "}"
    else:
        parts, opening, closing = [_packed(v, indent + 1, width) for v in value], "[", "]"
    lines, line = [], ""
    for part in parts:
        fits = "\n" not in part and indent + 1 + len(line) + len(part) + 2 <= width
        if line and fits and "\n" not in line:
            line += ", " + part
        else:
            if line:
                lines.append(line)
            line = part
    lines.append(line)
    return opening + (",\n" + " " * (indent + 1)).join(lines) + closing

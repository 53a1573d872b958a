"""docs/layout.md cannot go stale: its room list is what docs/make_layout.py writes from the packages' docstrings
today, every package under slim/ is one of its rooms, and every path the page names exists."""

from __future__ import annotations

import importlib.util
import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PAGE = os.path.join(ROOT, "docs", "layout.md")
_spec = importlib.util.spec_from_file_location("make_layout", os.path.join(ROOT, "docs", "make_layout.py"))
make_layout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_layout)
# a repository path in backticks: `slim/run/probes.py`, `tests/unit/`, `docs/schemas/`
_PATH = re.compile(r"`((?:slim|tracers|tests|bench|samples|scripts|docs)/[\w./-]*)`")


def page() -> str:
    with open(PAGE) as fh:
        return fh.read()


def test_the_room_list_is_what_the_code_says():
    assert page() == make_layout.page_with_rooms(page()), \
        "docs/layout.md differs from the packages' docstrings: run .venv/bin/python docs/make_layout.py"


def test_every_package_under_slim_is_a_room():
    text = page()
    missing = [p for p in make_layout.packages("slim") if p != "slim" and f"### `{p}/`" not in text]
    assert missing == []


def test_every_path_the_page_names_exists():
    named = set(_PATH.findall(page()))
    assert named, "the page names no paths: the pattern no longer matches it"
    assert sorted(p for p in named if not os.path.exists(os.path.join(ROOT, p))) == []

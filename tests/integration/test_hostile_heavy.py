"""The hostile images that take seconds each (a 64 MiB package database, a stanza over the size cap, trees of
thousands of levels), run with the integration tests so the unit suite stays quick. The same checks as
tests/unit/test_hostile_input.py: exit 0 with warnings or exit 4 in one line, within the time and memory
bounds, nothing written or read outside the input."""

from __future__ import annotations

import pytest

from tests.unit.test_hostile_input import (CASES, EXPECTED, HEAVY, canary, check_message,  # noqa: F401
                                           check_output_layer, inspect_and_squash)


@pytest.mark.parametrize("case", sorted(HEAVY))
def test_heavy_hostile_image(case, tmp_path, canary):  # noqa: F811 (the fixture, imported)
    assert case in CASES
    _, squashed = inspect_and_squash(case, tmp_path, canary)
    if squashed.returncode == 0:
        check_output_layer(f"{tmp_path}/out/s.tar", case)


@pytest.mark.parametrize("case", sorted(HEAVY & set(EXPECTED)))
def test_heavy_hostile_image_message(case, tmp_path, canary):  # noqa: F811
    check_message(case, tmp_path, canary)

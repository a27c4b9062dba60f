"""The policy's own case file (cases.yaml), one pytest test per case."""

from __future__ import annotations

from typing import Any

import pytest

from medpolicy.policy.cases import load_cases, run_case
from medpolicy.policy.tree import Policy
from tests.support import KADCYLA

BASES, CASES = load_cases(KADCYLA)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(kadcyla: Policy, case: dict[str, Any]) -> None:
    result = run_case(kadcyla, BASES, case)
    assert result.passed, "\n".join(result.problems)


def test_every_numbered_clause_has_a_passing_and_a_failing_case() -> None:
    """Table-driven from the guideline: each clause named by some case that meets it and one that
    does not (or asks for it)."""
    names = " ".join(c["name"] for c in CASES)
    for clause in [
        "1.a.i",
        "1.a.iii",
        "1.b.i",
        "1.b.ii.1",
        "1.b.iii.1",
        "1.b.iii.2",
        "1.b.iii.3",
        "1.c",
        "1.d",
        "1.e",
        "2.a",
        "2.b",
        "2.c",
        "3.a",
        "3.b",
        "3.c",
        "3.d",
        "4.a",
        "4.b",
        "4.c",
        "5.a.i",
        "5.a.ii",
        "5.b",
        "continuation 1",
        "continuation 2",
        "continuation 3",
    ]:
        assert clause in names, f"no case names clause {clause}"

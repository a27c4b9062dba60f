"""Deciding by cases, held to its definition where it takes shortcuts.

``by_cases`` tries only what a case can change, tries each domain from both ends inwards, and
does not try a criterion whose only child reading the facts was tried in vain; the compiled
trial of a criterion must give what trying every case with the tracing walker gives. Every
request of the policy's cases and every example is checked, criterion by criterion, with the
reference trial: the walker evaluating the whole criterion again, case by case, in the domains'
own order.
"""

from __future__ import annotations

import itertools
from types import MappingProxyType
from typing import Any

import pytest

from medpolicy.adapters.native import parse_any, parse_request
from medpolicy.engine.by_cases import (
    Trial,
    _domain,
    _extremes_first,
    _find_trials,
    settle,
    shape_of,
)
from medpolicy.engine.checks import CHECK_READS
from medpolicy.engine.compiled import compile_criteria
from medpolicy.engine.decide import criteria_facts
from medpolicy.engine.evaluate import Context, evaluate
from medpolicy.engine.leaves import is_incomplete_member
from medpolicy.facts import Facts
from medpolicy.logic import RANK, UNKNOWN
from medpolicy.policy.cases import build_request, load_cases
from medpolicy.policy.load import load_policy
from medpolicy.request import Request
from tests.support import EXAMPLES, KADCYLA

POLICY = load_policy(KADCYLA)
BASES, CASES = load_cases(KADCYLA)


def _requests() -> list[Any]:
    found = [parse_request(p.read_bytes()) for p in sorted(EXAMPLES.glob("*.json"))]
    for case in CASES:
        if "error" not in case["expect"]:
            found.append(parse_any(build_request(BASES, case)))
    return found


def _reference(node: Any, facts: Facts, trial: Trial, order: list[tuple[Any, ...]]) -> int | None:
    """The criterion's result by the definition: every case, the walker on the whole criterion."""
    conflicts = MappingProxyType({k: v for k, v in facts.conflicts.items() if k not in trial.facts})
    result = None
    for case in itertools.product(*order):
        values = {**facts.values, **dict(zip(trial.facts, case, strict=True))}
        rank = RANK[evaluate(node, Context(Facts(values, conflicts, facts.notes), POLICY)).result]
        if rank == UNKNOWN or (result is not None and rank != result):
            return None
        result = rank
    return result


@pytest.mark.parametrize("request_", _requests(), ids=lambda r: r.request_id)
def test_each_trial_is_the_definition(request_: Request) -> None:
    facts = criteria_facts(POLICY, request_)
    today = facts.values.get("request.date")
    for pathway in POLICY.pathways:
        compiled = compile_criteria(POLICY, pathway.criteria)
        ranks, _ = compiled.run(facts, {})
        shape = shape_of(pathway.criteria, CHECK_READS)
        unknown = tuple(j for j in shape.leaves if ranks[j] == UNKNOWN)
        for trial in _find_trials(shape, unknown):
            node = shape.nodes[trial.node]
            # the domains in their own order (a trial's result does not depend on it)
            order = [_domain(shape, trial.node, fact) for fact in trial.facts]
            assert compiled.try_cases(ranks, today, trial) == _reference(
                node, facts, trial, order
            ), (pathway.id, node.id)


def test_settle_is_none_unless_the_root_is_unknown() -> None:
    shape = shape_of(POLICY.pathways[0].criteria, CHECK_READS)
    ranks = [2] * len(shape.nodes)
    assert settle(shape, Facts({}), ranks, lambda trial: None) is None


@pytest.mark.parametrize("size", range(7))
def test_extremes_first_is_a_reordering(size: int) -> None:
    domain = tuple(range(size))
    reordered = _extremes_first(domain)
    assert sorted(reordered) == list(domain)
    if size >= 2:
        assert reordered[:2] == (0, size - 1)


def test_a_category_is_found_by_its_members_beginnings() -> None:
    """``is_incomplete_member`` is the scan it replaces, for every beginning of every member."""

    def scan(code: str, members: frozenset[str]) -> bool:
        stem = code.replace(".", "")
        return any(m.replace(".", "").startswith(stem) and m != code for m in members)

    for vs in POLICY.value_sets.values():
        codes = {m[:end] for m in vs.codes for end in range(len(m) + 1)} | {"Z99.9", "C50.9"}
        for code in sorted(codes):
            assert is_incomplete_member(code, vs.codes) == scan(code, vs.codes), (vs.name, code)

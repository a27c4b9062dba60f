"""The compiled policy and the tracing walker agree, node by node, on every request.

Every request's results and worded criteria tree come from the compiled criteria; reasons and
missing facts come from the walker's trace. These tests hold them to the same result and the same
wording for every node of every pathway: the policy's own cases, the example requests, and
generated requests near the boundaries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given

from medpolicy.adapters.native import parse_request
from medpolicy.engine.compiled import compile_criteria, node_part
from medpolicy.engine.decide import criteria_facts, decide, pathway_trace, run_pathway
from medpolicy.engine.decision import Criterion, Decision
from medpolicy.engine.evaluate import Context, Trace, detail
from medpolicy.jsonable import json_text, jsonable
from medpolicy.logic import BY_RANK, MET, NOT_MET, UNKNOWN, Truth, all_of, any_of, not_
from medpolicy.policy.cases import build_request, load_cases
from medpolicy.policy.tree import Policy
from medpolicy.request import Request
from tests.engine.test_properties import SETTINGS, requests
from tests.support import EXAMPLES, KADCYLA

BASES, ALL_CASES = load_cases(KADCYLA)
CASES = [c for c in ALL_CASES if "error" not in c["expect"]]  # the rest are refused requests


def _preorder(trace: Trace) -> Iterator[Truth]:
    yield trace.result
    for child in trace.children:
        yield from _preorder(child)


def _worded(trace: Trace) -> Criterion:
    """The criteria tree worded straight from the tracing walker's trace: the reference."""
    return Criterion(
        **node_part(trace.node),
        result=trace.result.value,
        facts={k: jsonable(v) for k, v in sorted(trace.used.items())} if trace.used else {},
        missing=list(trace.missing),
        detail=detail(trace),
        flags=list(trace.flags),
        children=[_worded(c) for c in trace.children],
    )


def _assert_agree(policy: Policy, request: Request) -> None:
    facts = criteria_facts(policy, request)
    for value in facts.values.values():  # facts are written straight to JSON text, as jsonable
        assert json_text(value) == json.dumps(
            jsonable(value), ensure_ascii=False, separators=(",", ":")
        )
    ctx = Context(facts, policy)
    reference: dict[str, Criterion] = {}
    for pathway in policy.pathways:
        compiled = compile_criteria(policy, pathway.criteria)
        traced = pathway_trace(pathway, ctx)  # the walker's, criteria decided by cases decided
        ranks, checked, settled = run_pathway(compiled, facts)
        assert [BY_RANK[r] for r in ranks] == list(_preorder(traced)), pathway.id
        reference[pathway.id] = _worded(traced)
        if settled is None:  # else the tree is worded from the walker's trace
            worded = compiled.word(ctx, ranks, checked)
            assert json.loads(worded) == reference[pathway.id], pathway.id
    # and the determination reports exactly the compiled results of the pathways that apply
    determination = decide(policy, request)
    record = determination.record()
    assert determination.applicable_pathways == record.applicable_pathways
    for p in determination.pathways:
        ranks = determination.results[p.id]
        assert (p.result if ranks is None else BY_RANK[ranks[0]].value) == p.result
        assert p.criteria == (None if ranks is None else reference[p.id]), p.id
    # its JSON, the criteria written straight to text, is pydantic's own serialization of the
    # record worded by the walker, byte for byte
    applied = {p: c for p, c in reference.items() if determination.results[p] is not None}
    walked = _with_criteria(record, applied)
    assert determination.to_json() == walked.model_dump_json()
    assert determination.to_json(indent=True) == walked.model_dump_json(indent=2) + "\n"


def _with_criteria(record: Decision, criteria: dict[str, Criterion]) -> Decision:
    """``record`` validated afresh, with the given criteria trees in place of its own."""
    data = record.model_dump()
    for p in data["pathways"]:
        p["criteria"] = criteria.get(p["id"])
    return Decision.model_validate(data)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_agree_on_every_case(kadcyla: Policy, case: dict[str, Any]) -> None:
    _assert_agree(kadcyla, parse_request(build_request(BASES, case)))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_agree_on_every_example(kadcyla: Policy, path: Any) -> None:
    _assert_agree(kadcyla, parse_request(path.read_bytes()))


@SETTINGS
@given(requests())
def test_agree_on_generated_requests(kadcyla: Policy, request: dict[str, Any]) -> None:
    _assert_agree(kadcyla, parse_request(request))


@pytest.mark.parametrize("a", [NOT_MET, UNKNOWN, MET])
@pytest.mark.parametrize("b", [NOT_MET, UNKNOWN, MET])
def test_ranks_are_kleene_logic_cell_by_cell(a: int, b: int) -> None:
    """ALL as min, ANY as max, NOT as MET - r: the truth tables of ``logic``, cell by cell."""
    assert BY_RANK[min(a, b)] is all_of([BY_RANK[a], BY_RANK[b]])
    assert BY_RANK[max(a, b)] is any_of([BY_RANK[a], BY_RANK[b]])
    assert BY_RANK[MET - a] is not_(BY_RANK[a])


def test_generated_source_carries_no_policy_text(kadcyla: Policy) -> None:
    """Policy values are bound as constants, never spliced into executed source."""
    for pathway in kadcyla.pathways:
        source = compile_criteria(kadcyla, pathway.criteria).source
        assert "her2" not in source and "C50" not in source and "3.6" not in source

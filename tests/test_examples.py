"""Every example request gives the outcome its file name promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_json
from tests.support import EXAMPLES

OUTCOMES = ("approved", "missing-information", "not-met", "out-of-scope")


def _expected(path: Path) -> str:
    found = [o for o in OUTCOMES if o in path.stem]
    assert len(found) == 1, f"{path.name} must name exactly one outcome"
    return found[0].replace("-", "_")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_example(registry: PolicyRegistry, path: Path) -> None:
    decision = evaluate_json(registry, path.read_bytes())
    assert decision.outcome.value == _expected(path), decision.summary


def test_examples_cover_every_pathway_and_outcome(registry: PolicyRegistry) -> None:
    decisions = [evaluate_json(registry, p.read_bytes()) for p in sorted(EXAMPLES.glob("*.json"))]
    assert {d.outcome.value for d in decisions} == {o.replace("-", "_") for o in OUTCOMES}
    met = {p.id for d in decisions for p in d.pathways if p.result == "met"}
    policy = registry.get("09-J1000-90")
    assert policy is not None
    assert met == {p.id for p in policy.pathways}
    assert all(
        json.loads(d.to_json())["policy"]["content_hash"].startswith("sha256:") for d in decisions
    )

"""The decision record: assembled without re-validation on the hot path, so validated here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from medpolicy.adapters.native import parse_request
from medpolicy.engine.decide import decide
from medpolicy.engine.decision import Decision
from medpolicy.policy.cases import build_request, load_cases
from medpolicy.policy.tree import Policy
from tests.support import EXAMPLES, KADCYLA

BASES, CASES = load_cases(KADCYLA)
VALID = [c for c in CASES if "error" not in c.get("expect", {})]


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_decision_json_validates_against_its_own_model(
    kadcyla: Policy, case: dict[str, Any]
) -> None:
    decision = decide(kadcyla, parse_request(build_request(BASES, case)))
    text = decision.to_json()
    # the canonical bytes (orjson) are pydantic's own serialization of the model, byte for byte
    assert text == decision.record().model_dump_json()
    assert decision.to_json(indent=True) == decision.record().model_dump_json(indent=2) + "\n"
    again = Decision.model_validate_json(text)
    assert again.to_json() == text
    # assembled without validation, yet equal to the validated model, part for part
    assert again == decision.record()
    assert again.authorization == decision.authorization


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_the_decision_id_digests_the_policy_content_and_the_request_json(
    kadcyla: Policy, case: dict[str, Any]
) -> None:
    """Ids already stored and sent stay valid: the digest's material never changes."""
    request = parse_request(build_request(BASES, case))
    material = kadcyla.content_hash + "\n" + request.model_dump_json()
    expected = "dec_" + hashlib.sha256(material.encode()).hexdigest()[:24]
    assert decide(kadcyla, request).decision_id == expected


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_criterion_carries_its_clause_and_facts(kadcyla: Policy, path: Path) -> None:
    data = json.loads(decide(kadcyla, parse_request(path.read_bytes())).to_json())
    assert data["policy"]["id"] == "09-J1000-90"
    assert data["engine_version"] and data["code_set"].startswith("ICD-10-CM")

    def visit(node: dict[str, Any]) -> None:
        assert node["clause"] and node["text"] and node["result"] in ("met", "not_met", "unknown")
        if not node["children"] and node["result"] != "unknown":
            assert node["facts"], node["id"]  # a decided leaf names the facts it read
        for child in node["children"]:
            visit(child)

    for pathway in data["pathways"]:
        if pathway["criteria"] is not None:
            visit(pathway["criteria"])


def test_an_unreported_line_of_business_is_asked_for_citing_the_program_exceptions(
    kadcyla: Policy,
) -> None:
    request = build_request(BASES, {"base": "breast", "unset": ["member.line_of_business"]})
    decision = decide(kadcyla, parse_request(request))
    (asked,) = decision.missing_information
    assert asked.fact == "member.line_of_business"
    assert "Program Exceptions > Federal Employee Program (FEP)" in asked.clauses
    assert asked.note and "confirm this guideline applies" in asked.note


def test_control_characters_in_the_request_are_written_as_pydantic_writes_them(
    kadcyla: Policy,
) -> None:
    """The criteria trees are joined into the record's JSON at marks (NUL characters): a NUL or
    other control character reported in the request is escaped, never taken for a mark."""
    request = build_request(BASES, {"base": "breast"})
    request["request_id"] = "req\x00-\x1f-\u2028"
    request["medication"]["drug"] = "kadcyla\x00 (ado-trastuzumab emtansine)"
    decision = decide(kadcyla, parse_request(request))
    assert decision.to_json() == decision.record().model_dump_json()
    assert "\x00" not in decision.to_json()


@pytest.mark.parametrize(
    ("written", "flagged"), [("c50912", False), (" C50912 ", False), ("c50a1", True)]
)
def test_codes_written_loosely_imply_their_indication_and_flags(
    kadcyla: Policy, written: str, flagged: bool
) -> None:
    """The engine reads diagnosis codes as the request's validation normalized them: a code
    written in lower case or without its dot implies its indication, meets the code-set leaf
    and, when the guideline's text alone accepts it, is flagged for the reviewer."""
    body = json.loads((EXAMPLES / "breast-metastatic-approved.json").read_bytes())
    body["indications"] = None  # implied by the code alone
    body["diagnoses"] = [written]
    decision = decide(kadcyla, parse_request(json.dumps(body).encode()))
    assert decision.indications == ["breast_cancer"]
    assert decision.outcome.value == "approved"
    assert bool(decision.flags) is flagged

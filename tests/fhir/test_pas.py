"""PAS: request Bundles in, response Bundles out; every published request example goes through,
every deliberately invalid one is rejected at its element."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from medpolicy.adapters.fhir.pas_check import PasRejected
from medpolicy.adapters.fhir.pas_flow import EngineOnly, PasResult, submit
from medpolicy.adapters.native import parse_request
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from tests.fhir.conformance.references import fhir_unresolved, kit_unresolved
from tests.fhir.support import (
    EXAMPLES,
    all_json,
    check_golden,
    example,
    load,
    naming,
    resources_in,
    validate,
)
from tests.support import EXAMPLES as NATIVE_EXAMPLES

EXPECTED = load(EXAMPLES / "expected.json")
PAS_EXAMPLES = sorted(n for n in EXPECTED if n.startswith("pas-") and "inquires" not in EXPECTED[n])


def run(registry: PolicyRegistry, bundle: Any) -> PasResult:
    return submit(registry, bundle, EngineOnly(), naming())


def claim_response(result: PasResult) -> dict[str, Any]:
    first = result.bundle["entry"][0]["resource"]
    assert first["resourceType"] == "ClaimResponse"
    return first


def actions(result: PasResult) -> list[str]:
    out = []
    for item in claim_response(result)["item"]:
        review = item["adjudication"][0]["extension"][0]
        code = next(e for e in review["extension"] if e["url"].endswith("reviewActionCode"))
        out.append(code["valueCodeableConcept"]["coding"][0]["code"])
    return out


def check_response(result: PasResult) -> None:
    """Valid R4, ClaimResponse first, and every reference resolves to exactly one entry, both as
    the PAS test kit resolves them and as base FHIR does."""
    validate(result.bundle)
    for resource in resources_in(result.bundle):
        validate(resource)
    claim_response(result)
    assert kit_unresolved(result.bundle, response=True) == []
    assert fhir_unresolved(result.bundle) == []


@pytest.mark.parametrize("name", PAS_EXAMPLES)
def test_each_example_gets_its_expected_outcome_and_review_action(
    registry: PolicyRegistry, name: str
) -> None:
    result = run(registry, example(name))
    check_response(result)
    expected = EXPECTED[name]
    decided = [s for s in result.states if s.decision is not None]
    assert decided[0].decision is not None
    assert decided[0].decision.outcome.value == expected["outcome"]
    assert actions(result) == expected.get("actions", [expected.get("action")])


def test_approval_carries_the_period_the_units_and_the_number(registry: PolicyRegistry) -> None:
    result = run(registry, example("pas-breast-metastatic-ihc3-approved"))
    item = claim_response(result)["item"][0]
    ext = {e["url"].rsplit("-", 1)[-1]: e for e in item["extension"]}
    assert ext["itemPreAuthPeriod"]["valuePeriod"] == {"start": "2026-11-09", "end": "2027-05-08"}
    quantity = ext["itemAuthorizedDetail"]["extension"][0]["valueQuantity"]
    assert quantity == {"value": 2223, "unit": "J9354 billing units"}  # 9 x 247 units
    check_golden("pas-response-approved", result.bundle)


def test_pended_for_information_asks_for_each_fact(registry: PolicyRegistry) -> None:
    result = run(registry, example("pas-breast-missing-her2-pended"))
    notes = [n["text"] for n in claim_response(result)["processNote"]]
    assert any("HER2 immunohistochemistry (IHC) score" in n and "1.b.i" in n for n in notes)
    request = next(
        r for r in resources_in(result.bundle) if r["resourceType"] == "CommunicationRequest"
    )
    assert any("ISH HER2/CEP17 ratio" in p["contentString"] for p in request["payload"])
    check_golden("pas-response-pended", result.bundle)


def test_reasons_cite_the_clauses_and_are_never_a_denial(registry: PolicyRegistry) -> None:
    result = run(registry, example("pas-breast-her2-negative-review"))
    assert actions(result) == ["A4"]
    (note, *_) = [n["text"] for n in claim_response(result)["processNote"]]
    assert "Position Statement > Initiation > 1.b" in note and "not a denial" in note


def test_conflicting_her2_results_reach_the_reviewer(registry: PolicyRegistry) -> None:
    result = run(registry, example("pas-breast-conflicting-ihc-pended"))
    notes = " ".join(n["text"] for n in claim_response(result)["processNote"])
    assert "conflicting HER2 IHC scores reported: 3+ (2026-09-18); 1+ (2026-10-02)" in notes


def test_rest_json_and_pas_bundle_for_one_case_get_the_same_decision(
    registry: PolicyRegistry,
) -> None:
    native = load(NATIVE_EXAMPLES / "breast-metastatic-approved.json")
    rest = evaluate_request(registry, parse_request(native))
    pas = run(registry, example("pas-breast-metastatic-ihc3-approved")).states[0].decision
    assert pas is not None and rest.authorization and pas.authorization
    assert (pas.outcome, pas.indications) == (rest.outcome, rest.indications)
    assert pas.authorization.total_units == rest.authorization.total_units
    assert [p.result for p in pas.pathways] == [p.result for p in rest.pathways]


def test_a_bad_diagnosis_code_is_rejected_at_its_element(registry: PolicyRegistry) -> None:
    bundle = copy.deepcopy(example("pas-breast-metastatic-ihc3-approved"))
    bundle["entry"][0]["resource"]["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0][
        "code"
    ] = "C50.999"
    with pytest.raises(PasRejected) as caught:
        run(registry, bundle)
    assert caught.value.status_code == 422
    (issue,) = caught.value.issues
    assert issue.expression == (
        "Bundle.entry[0].resource.diagnosis[0].diagnosisCodeableConcept.coding[0]"
    )
    assert "not an ICD-10-CM code" in issue.diagnostics


# -- the published examples ------------------------------------------------------------------

# The PAS test kit's deliberately non-conformant Bundles (SOURCES.md: nonconformant_*, *missing*,
# invalid_*, *_wrong_*): requests with a resource missing or no Claim first, and response or
# notification Bundles sent where a request belongs.
NEGATIVE = (
    "nonconformant_pas_bundle_v110",
    "missing_referenced_resource_request_bundle",
    "missing_referenced_resource_response_bundle",
    "invalid_first_entry_response_bundle",
    "pa_response_bundle_missing_elements",
    "PAS_notification_missing_elements",
    "response_bundle_patient_wrong_fullurl",
)


def request_bundles(folder: Path) -> list[tuple[str, Any]]:
    found = []
    for path, data in all_json(folder):
        for i, item in enumerate(data if isinstance(data, list) else [data]):
            if isinstance(item, dict) and item.get("resourceType") == "Bundle":
                found.append((f"{path.relative_to(folder)}[{i}]", item))
    return found


def test_every_published_bundle_is_answered_or_rejected_never_crashes(
    registry: PolicyRegistry, fixtures_dir: Path
) -> None:
    answered, rejected = [], []
    for name, bundle in request_bundles(fixtures_dir):
        try:
            result = run(registry, bundle)
        except PasRejected as exc:
            assert exc.issues and all(i.expression for i in exc.issues), name
            rejected.append(name)
            continue
        check_response(result)
        # None of the published examples asks for Kadcyla: every item is answered as not
        # covered by these guidelines (pended for manual review, never denied).
        assert {s.status for s in result.states} == {"not_covered"}, name
        assert set(actions(result)) == {"A4"}, name
        answered.append(name)
    published = [
        n
        for n in answered
        if "davinci-pas-ig" in n or "conformant_pas" in n or "extracted-from-pas_ri-preset" in n
    ]
    assert len(published) >= 20, answered


def test_the_test_kits_invalid_examples_are_rejected_with_operation_outcome(
    registry: PolicyRegistry, fixtures_dir: Path
) -> None:
    negatives = [
        (n, b)
        for n, b in request_bundles(fixtures_dir / "davinci-pas-test-kit")
        if n.split(".json")[0] in NEGATIVE
    ]
    assert len(negatives) == len(NEGATIVE)
    for name, bundle in negatives:
        with pytest.raises(PasRejected) as caught:
            run(registry, bundle)
        assert all(i.severity == "error" and i.expression for i in caught.value.issues), name


def test_a_missing_referenced_resource_is_named(
    registry: PolicyRegistry, fixtures_dir: Path
) -> None:
    bundle = load(
        fixtures_dir / "davinci-pas-test-kit" / "missing_referenced_resource_request_bundle.json"
    )
    with pytest.raises(PasRejected) as caught:
        run(registry, bundle)
    (issue,) = caught.value.issues
    assert issue.expression == "Bundle.entry[0].resource.careTeam[0].provider.reference"
    assert "Practitioner/ReferralPractitionerExample" in issue.diagnostics


def test_a_trastuzumab_item_is_not_decided_as_kadcyla(registry: PolicyRegistry) -> None:
    bundle = copy.deepcopy(example("pas-breast-metastatic-ihc3-approved"))
    coding = bundle["entry"][0]["resource"]["item"][0]["productOrService"]["coding"][0]
    coding.update(code="J9355", display="Injection, trastuzumab, excludes biosimilar, 10 mg")
    result = run(registry, bundle)
    assert [s.status for s in result.states] == ["not_covered"]
    assert actions(result) == ["A4"]


def test_kadcyla_billed_for_a_trastuzumab_order_is_flagged(registry: PolicyRegistry) -> None:
    bundle = copy.deepcopy(example("pas-breast-metastatic-ihc3-approved"))
    order = next(r for r in resources_in(bundle) if r["resourceType"] == "MedicationRequest")
    order["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "224905"}]
    }
    result = run(registry, bundle)
    notes = " ".join(n["text"] for n in claim_response(result)["processNote"])
    assert "coded J9354 but its order names trastuzumab (J9355)" in notes

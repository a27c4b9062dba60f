"""CRD: CDS Hooks discovery, cards and the coverage-information system action."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from medpolicy.adapters.fhir.crd import SERVICES, CrdSettings, HookRejected, discovery, respond
from medpolicy.adapters.fhir.crd_cards import COVERAGE_INFO, check_invariants
from medpolicy.policy.registry import PolicyRegistry
from tests.fhir.support import EXAMPLES, NOW, all_json, check_golden, example, load, validate

EXPECTED = load(EXAMPLES / "expected.json")
CRD_EXAMPLES = sorted(n for n in EXPECTED if n.startswith("crd-"))
SETTINGS = CrdSettings("Florida Blue", NOW, lambda p: f"http://testserver/policies/{p.meta.id}")


def call(registry: PolicyRegistry, body: dict[str, Any]) -> dict[str, Any]:
    return respond(registry, f"medpolicy-{body['hook']}", body, SETTINGS)


def coverage_info(response: dict[str, Any]) -> dict[str, Any]:
    (action,) = response["systemActions"]
    (extension,) = [e for e in action["resource"]["extension"] if e["url"] == COVERAGE_INFO]
    return {
        p["url"]: next(v for k, v in p.items() if k.startswith("value"))
        for p in extension["extension"]
        if p["url"] not in ("detail", "reason", "billingCode")
    }


def test_discovery_lists_order_select_and_order_sign(registry: PolicyRegistry) -> None:
    services = discovery(registry)["services"]
    assert {(s["id"], s["hook"]) for s in services} == set(SERVICES.items())
    for service in services:
        assert service["extension"]["davinci-crd.version"] == ["2.0.1"]  # the version met
        assert "Kadcyla (J9354)" in service["description"]
        assert (
            service["prefetch"]["coverage"]
            == "Coverage?patient={{context.patientId}}&status=active"
        )


@pytest.mark.parametrize("name", CRD_EXAMPLES)
def test_each_example_gets_its_expected_assertion(registry: PolicyRegistry, name: str) -> None:
    response = call(registry, example(name))
    expected = EXPECTED[name]
    (card,) = response["cards"]
    assert len(card["summary"]) <= 140 and card["source"]["topic"]["code"] == "coverage-info"
    if expected.get("system_action") is False:
        assert response["systemActions"] == []
        return
    info = coverage_info(response)
    assert (info["covered"], info["pa-needed"]) == (expected["covered"], expected["pa-needed"])
    (action,) = response["systemActions"]
    validate(action["resource"])
    extension = action["resource"]["extension"][-1]
    assert check_invariants(extension) == []


def test_satisfied_names_the_authorization_and_the_allowed_quantity(
    registry: PolicyRegistry,
) -> None:
    response = call(registry, example("crd-order-sign-breast-satisfied"))
    info = coverage_info(response)
    assert info["satisfied-pa-id"] == info["coverage-assertion-id"]
    # CRD 2.0.1 has no "no-doc": nothing more to document is said by leaving doc-needed out.
    assert "questionnaire" not in info and "doc-needed" not in info
    details = {
        d["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]: d["extension"][1]
        for d in response["systemActions"][0]["resource"]["extension"][-1]["extension"]
        if d["url"] == "detail"
    }
    assert details["allowed-quantity"]["valueQuantity"]["value"] == 247  # units per 21 days
    assert details["allowed-period"]["valuePeriod"] == {"start": "2026-11-09", "end": "2027-05-08"}
    check_golden("crd-response-satisfied", response)


def test_conditional_points_at_the_generated_questionnaire(registry: PolicyRegistry) -> None:
    response = call(registry, example("crd-order-select-breast-conditional"))
    info = coverage_info(response)
    assert info["questionnaire"].startswith("https://medpolicy.dev/fhir/Questionnaire/09-J1000-90|")
    assert (info["doc-needed"], info["doc-purpose"]) == ("clinical", "withpa")
    assert "satisfied-pa-id" not in info
    check_golden("crd-response-conditional", response)


def test_another_programs_member_gets_a_card_and_no_assertion(registry: PolicyRegistry) -> None:
    response = call(registry, example("crd-order-sign-fep-out-of-scope"))
    assert "Follow FEP guidelines" in response["cards"][0]["detail"]
    assert response["systemActions"] == []


def test_unreadable_clinical_data_gets_a_card_saying_why(registry: PolicyRegistry) -> None:
    body = copy.deepcopy(example("crd-order-sign-breast-satisfied"))
    weight = next(
        e["resource"]
        for e in body["prefetch"]["observations"]["entry"]
        if e["resource"]["code"]["coding"][0]["code"] == "29463-7"
    )
    weight["valueQuantity"]["value"] = 2000
    response = call(registry, body)
    (card,) = response["cards"]
    assert card["indicator"] == "warning" and response["systemActions"] == []
    assert (
        "prefetch.observations.entry[" in card["detail"] and "body_weight.value" in card["detail"]
    )


def test_a_malformed_hook_call_is_rejected_naming_each_problem(registry: PolicyRegistry) -> None:
    with pytest.raises(HookRejected) as caught:
        respond(registry, "medpolicy-order-sign", {"hook": "order-select", "context": []}, SETTINGS)
    assert [p for p, _ in caught.value.problems] == ["hookInstance", "hook", "context"]
    with pytest.raises(HookRejected) as missing:
        respond(registry, "nope", {}, SETTINGS)
    assert missing.value.status_code == 404


def test_every_published_hook_request_is_answered_or_refused(
    registry: PolicyRegistry, fixtures_dir: Path
) -> None:
    seen = 0
    for path, body in all_json(fixtures_dir):
        if not (isinstance(body, dict) and "hook" in body and "context" in body):
            continue
        seen += 1
        if body["hook"] in ("order-select", "order-sign"):
            # No published example orders Kadcyla: nothing to say about their orders.
            assert call(registry, body) == {"cards": [], "systemActions": []}, path
        else:
            with pytest.raises(HookRejected) as caught:
                respond(registry, "medpolicy-order-sign", body, SETTINGS)
            assert "hook" in [p for p, _ in caught.value.problems], path
    assert seen >= 10


@pytest.mark.parametrize(
    ("parts", "broken"),
    [
        ({"covered": "covered", "pa-needed": "satisfied"}, ["crd-ci-q5"]),
        (
            {
                "covered": "covered",
                "doc-needed": "no-doc",
                "questionnaire": "x",
                "pa-needed": "no-auth",
            },
            ["crd-ci-q1"],
        ),
        ({"covered": "covered"}, ["crd-ci-q2"]),
        ({"covered": "covered", "pa-needed": "no-auth", "info-needed": "performer"}, ["crd-ci-q3"]),
        (
            {
                "covered": "covered",
                "pa-needed": "satisfied",
                "satisfied-pa-id": "1",
                "doc-purpose": "PA",
            },
            ["crd-ci-q4"],
        ),
    ],
)
def test_the_invariant_checker_catches_each_broken_rule(
    parts: dict[str, str], broken: list[str]
) -> None:
    base = {
        "coverage": {"reference": "Coverage/c"},
        "date": "2026-11-02",
        "coverage-assertion-id": "a",
    }
    extension = {
        "url": COVERAGE_INFO,
        "extension": [
            {"url": k, ("valueReference" if isinstance(v, dict) else "valueCode"): v}
            for k, v in {**base, **parts}.items()
        ],
    }
    assert check_invariants(extension) == broken


@pytest.mark.parametrize(
    ("system", "code", "answered"),
    [
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "1371046", True),  # Kadcyla brand
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "1658091", True),
        ("http://hl7.org/fhir/sid/ndc", "50242-088-01", True),  # the 100 mg vial
        ("http://hl7.org/fhir/sid/ndc", "50242008701", True),  # 160 mg, 11-digit claim form
        ("http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "J9354", True),
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "224905", False),  # trastuzumab
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "2267582", False),  # Enhertu
        ("https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "J9355", False),
    ],
)
def test_kadcyla_by_any_of_its_codes_and_never_a_look_alike(
    registry: PolicyRegistry, system: str, code: str, answered: bool
) -> None:
    body = copy.deepcopy(example("crd-order-select-breast-conditional"))
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["medicationCodeableConcept"] = {"coding": [{"system": system, "code": code}]}
    assert bool(call(registry, body)["cards"]) is answered


def test_the_conditional_period_is_the_period_pas_would_authorize(
    registry: PolicyRegistry,
) -> None:
    """Both inclusive of their ends: the order starting 2026-11-09 gets 2026-11-09 to 2027-05-08
    from CRD (conditional) and from PAS (certified)."""
    from medpolicy.adapters.fhir.pas_flow import EngineOnly, submit
    from tests.fhir.support import naming

    response = call(registry, example("crd-order-select-breast-conditional"))
    extension = response["systemActions"][0]["resource"]["extension"][-1]["extension"]
    (period,) = [
        d["extension"][1]["valuePeriod"]
        for d in extension
        if d["url"] == "detail"
        and d["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "allowed-period"
    ]
    pas = submit(registry, example("pas-breast-metastatic-ihc3-approved"), EngineOnly(), naming())
    item = pas.bundle["entry"][0]["resource"]["item"][0]
    (authorized,) = [e["valuePeriod"] for e in item["extension"] if "valuePeriod" in e]
    assert period == authorized == {"start": "2026-11-09", "end": "2027-05-08"}


def test_a_payer_with_a_policy_per_line_of_business_answers_for_the_members() -> None:
    """Under an Aetna deployment (its J9354 policy admits some lines of business only), the
    order is answered under the policy the member's coverage selects, not passed over."""
    aetna = PolicyRegistry.load_dir(Path(__file__).parents[2] / "policies", default_payer="aetna")
    response = call(aetna, example("crd-order-sign-breast-satisfied"))
    (card,) = response["cards"]
    assert [link["label"].split()[0] for link in card.get("links", [])] == ["CPB-0974"]


def test_coverages_that_disagree_on_who_pays_are_not_chosen_between(
    registry: PolicyRegistry,
) -> None:
    """A commercial plan and FEP both active: which pays for the order is not said, so neither
    line of business is used (FEP is out of this guideline's scope); no authorization is
    recorded, the engine asks, and the adapter says why."""
    body = example("crd-order-sign-breast-satisfied")
    entries = body["prefetch"]["coverage"]["entry"]
    fep = copy.deepcopy(entries[0])
    fep["fullUrl"] = fep["fullUrl"].replace("coverage-1", "coverage-2")
    fep["resource"]["id"] = "kadcyla-coverage-2"
    fep["resource"]["type"]["coding"][0].update(code="fep", display="Federal Employee Program")
    entries.append(fep)
    response = call(registry, body)
    (card,) = response["cards"]
    assert "satisfied" not in json.dumps(response)
    assert "name different payers or types of coverage" in json.dumps(card)
    agreeing = example("crd-order-sign-breast-satisfied")
    agreeing["prefetch"]["coverage"]["entry"].append(copy.deepcopy(entries[0]))
    assert coverage_info(call(registry, agreeing))["covered"] == "covered"

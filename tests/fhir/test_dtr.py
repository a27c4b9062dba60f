"""DTR: the Questionnaire is generated from the policy tree, and answers read back as facts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from medpolicy.adapters.fhir.answers import choice_coding
from medpolicy.adapters.fhir.draft import Draft
from medpolicy.adapters.fhir.dtr import fact_uses, generate_questionnaire
from medpolicy.adapters.fhir.dtr_response import READ_FACTS, read_questionnaire_response
from medpolicy.adapters.fhir.resources import Located
from medpolicy.adapters.native import parse_request
from medpolicy.engine.checks import CHECKS
from medpolicy.facts import extract_facts
from medpolicy.policy.load import load_policy
from medpolicy.policy.tree import InValueSet, Policy, facts_read, walk
from tests.fhir.support import all_json, check_golden, example, validate
from tests.support import KADCYLA


def items(questionnaire: dict[str, Any]) -> Iterator[dict[str, Any]]:
    def walk_items(found: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in found:
            yield item
            yield from walk_items(item.get("item", []))

    return walk_items(questionnaire["item"])


def by_link(questionnaire: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["linkId"]: i for i in items(questionnaire)}


def test_the_questionnaire_is_valid_r4_and_matches_its_golden_file(kadcyla: Policy) -> None:
    questionnaire = generate_questionnaire(kadcyla)
    validate(questionnaire)
    check_golden("questionnaire-09-J1000-90", questionnaire)


def test_one_question_per_fact_the_criteria_read(kadcyla: Policy) -> None:
    reads = {name: c.reads for name, c in CHECKS.items()}
    read = {f for p in kadcyla.pathways for n in walk(p.criteria) for f in facts_read(n, reads)}
    links = by_link(generate_questionnaire(kadcyla))
    asked = {link for link in links if link in read}
    assert asked == read
    assert len(read) == 22 - 2  # every fact in the catalogue but the request date and HCPCS
    assert asked | {"request.type", "indications"} <= READ_FACTS, "an asked fact nobody reads"


def test_questions_are_enabled_by_phase_and_indication(kadcyla: Policy) -> None:
    links = by_link(generate_questionnaire(kadcyla))
    groups = {g["linkId"]: g for g in generate_questionnaire(kadcyla)["item"]}
    assert "enableWhen" not in groups["every"]
    assert groups["continuation"]["enableWhen"][0]["answerCoding"]["code"] == "continuation"
    erbb2 = links["erbb2_mutation.status"]["enableWhen"]
    assert [w["answerCoding"]["code"] for w in erbb2] == ["nsclc"]
    her2 = links["her2.ihc_score"]["enableWhen"]
    assert {w["answerCoding"]["code"] for w in her2} == {
        "breast_cancer",
        "cns_brain_metastases",
        "salivary_gland_tumor",
    }
    assert links["her2.ihc_score"]["enableBehavior"] == "any"


def test_answer_options_come_from_the_catalogue_and_the_policy_value_sets(kadcyla: Policy) -> None:
    links = by_link(generate_questionnaire(kadcyla))
    codes = [o["valueCoding"]["code"] for o in links["diagnoses"]["answerOption"]]
    assert {"C50.912", "C50.A1", "C79.31", "C34.92", "C07", "C08.9"} <= set(codes)
    read = {
        n.value_set for p in kadcyla.pathways for n in walk(p.criteria) if isinstance(n, InValueSet)
    }
    assert (
        len(codes)
        == len(set(codes))
        == len(set().union(*(kadcyla.value_sets[v].members for v in read)))
    )
    status = [
        o["valueCoding"]["code"] for o in links["disease_status_on_treatment"]["answerOption"]
    ]
    assert status == ["271299001", "359746009", "268910001", "709137006"]  # SNOMED, mCODE trend
    reasons = links["prior_therapies.record.reason_stopped"]["answerOption"]
    assert [o["valueCoding"]["code"] for o in reasons] == [
        "progression",
        "toxicity",
        "completion",
        "other",
        "ongoing",
    ]


def test_prefill_is_fhirpath_over_x_fhir_query(kadcyla: Policy) -> None:
    questionnaire = generate_questionnaire(kadcyla)
    variables = [
        e["valueExpression"] for e in questionnaire["extension"] if e["url"].endswith("/variable")
    ]
    assert all(v["language"] == "application/x-fhir-query" for v in variables)
    links = by_link(questionnaire)
    initial = {
        link: e["valueExpression"]
        for link, item in links.items()
        for e in item.get("extension", [])
        if "initialExpression" in e["url"]
    }
    assert {v["language"] for v in initial.values()} == {"text/fhirpath"}
    assert {"body_weight.kg", "her2.ihc_score", "her2.ish_ratio", "diagnoses"} <= set(initial)
    # The IHC score is the answer option the record's score names, read from the form itself.
    assert initial["her2.ihc_score"]["expression"].startswith(
        "%questionnaire.repeat(item).where(linkId = 'her2.ihc_score').answerOption.valueCoding"
    )


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policy.yaml"
    shutil.copy(KADCYLA, target)
    return target


def test_changing_a_threshold_in_the_policy_file_changes_the_questionnaire(
    kadcyla: Policy, policy_copy: Path
) -> None:
    raw = yaml.safe_load(policy_copy.read_text(encoding="utf-8"))
    raw["fragments"]["dose_limit"]["with"]["max_mg_per_kg"] = "3.2"
    ratio = raw["fragments"]["her2_positive"]["any"][1]["any"][0]["all"][0]
    ratio["at_least"] = "2.2"
    policy_copy.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    changed = generate_questionnaire(load_policy(policy_copy))
    before = by_link(generate_questionnaire(kadcyla))
    after = by_link(changed)
    assert changed["version"] != generate_questionnaire(kadcyla)["version"]
    assert "≤ 3.2 × body weight" in after["medication.dose.criteria"]["text"]
    assert "≤ 3.6 × body weight" in before["medication.dose.criteria"]["text"]
    assert "(met by: at least 2.2)" in after["her2.ish_ratio.criteria"]["text"]
    assert "(met by: at least 2.2)" not in before["her2.ish_ratio.criteria"]["text"]


def test_each_criterion_is_shown_once_in_the_guidelines_words(kadcyla: Policy) -> None:
    """The dose limit, repeated by six pathways, is one line naming its six clauses; no line
    shows the engine's fact names."""
    links = by_link(generate_questionnaire(kadcyla))
    dose = links["medication.dose.criteria"]["text"].removeprefix("Used by: ").split(" | ")
    (line,) = dose
    assert line.startswith(
        "Position Statement > Initiation > 1.e, 2.c, 3.d, 4.c, 5.b; "
        "Position Statement > Continuation > 3: “"
    )
    facts = set(fact_uses(kadcyla))
    for link, item in links.items():
        if link.endswith(".criteria"):
            lines = item["text"].removeprefix("Used by: ").split(" | ")
            assert len(lines) == len(set(lines)), link
            assert not [f for f in facts if f"[{f}" in item["text"] or f" {f} " in item["text"]]


def test_a_new_pathway_reading_a_fact_enables_its_question(policy_copy: Path) -> None:
    raw = yaml.safe_load(policy_copy.read_text(encoding="utf-8"))
    nsclc = next(p for p in raw["pathways"] if p["id"] == "initiation_nsclc")
    nsclc["all"].append({"id": "her2_too", "clause": "e", "text": "HER2", "use": "her2_positive"})
    policy_copy.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    uses = fact_uses(load_policy(policy_copy))
    assert "initiation_nsclc" in {p.id for p in uses["her2.ihc_score"].pathways}
    links = by_link(generate_questionnaire(load_policy(policy_copy)))
    assert "nsclc" in {w["answerCoding"]["code"] for w in links["her2.ihc_score"]["enableWhen"]}


# -- answers back to facts -------------------------------------------------------------------


def answer(link: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"linkId": link, "answer": [value]}


def qr(*answers: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://medpolicy.dev/fhir/Questionnaire/09-J1000-90",
        "item": [{"linkId": "request", "item": list(answers)}],
    }


def read(response: dict[str, Any], data: dict[str, Any] | None = None) -> Draft:
    draft = Draft("QuestionnaireResponse")
    draft.data = data or {}
    read_questionnaire_response(Located(response, "QuestionnaireResponse"), draft)
    return draft


def test_answers_become_the_request_facts() -> None:
    response = qr(
        answer("request.type", {"valueCoding": choice_coding("request.type", "continuation")}),
        answer("body_weight.kg", {"valueQuantity": {"value": 150, "code": "[lb_av]"}}),
        answer("medication.dose", {"valueQuantity": {"value": 3.6, "code": "mg/kg"}}),
        answer("medication.interval_days", {"valueInteger": 21}),
        answer(
            "disease_status_on_treatment",
            {"valueCoding": {"system": "http://snomed.info/sct", "code": "359746009"}},
        ),
        answer("her2.ihc_score", {"valueCoding": choice_coding("her2.ihc_score", "2+")}),
        answer("her2.ish_ratio", {"valueDecimal": 2.3}),
        answer("her2.ish_copy_number", {"valueDecimal": 4.4}),
        answer("her2.concurrent", {"valueBoolean": True}),
        answer("medication.concurrent_anticancer_drugs.any", {"valueBoolean": False}),
        {
            "linkId": "prior_authorizations.record",
            "item": [
                answer(
                    "prior_authorizations.record.plan",
                    {"valueCoding": choice_coding("prior_authorizations.record.plan", "other")},
                ),
                answer("prior_authorizations.record.approved_on", {"valueDate": "2026-03-01"}),
                answer("prior_authorizations.record.drug_hcpcs", {"valueString": "J9354"}),
            ],
        },
    )
    draft = read(
        response,
        {
            "request_id": "Q-1",
            "submitted_at": "2026-11-02T12:00:00Z",
            "member": {"id": "M1"},
            "medication": {"hcpcs": "J9354"},
        },
    )
    request = parse_request(draft.data)
    facts = extract_facts(request)
    assert request.request_type == "continuation"
    assert facts.get("body_weight.kg") == Decimal("68.0388555")  # 150 lb, exactly
    assert facts.get("her2.concurrent") is True
    assert request.medication.concurrent_anticancer_drugs == []
    assert request.prior_authorizations is not None
    assert request.prior_authorizations[0].plan == "other"
    assert request.disease_status_on_treatment == "stable"


@pytest.mark.parametrize(
    ("answered", "used", "kind"),
    [
        ("271299001", None, "not-usable"),  # "progressed" beside "stable": neither is used
        ("359746009", "stable", None),  # the same status: nothing to say
    ],
)
def test_an_answer_that_contradicts_the_structured_data_leaves_the_fact_to_be_asked(
    answered: str, used: str | None, kind: str | None
) -> None:
    """The prescriber answering "progressed" beside an Observation of "stable": a continuation
    is never approved on either."""
    response = qr(
        answer(
            "disease_status_on_treatment",
            {"valueCoding": {"system": "http://snomed.info/sct", "code": answered}},
        )
    )
    draft = read(response, {"disease_status_on_treatment": "stable"})
    assert draft.data.get("disease_status_on_treatment") == used
    assert [i.kind for i in draft.issues] == ([kind] if kind else [])


def test_the_request_type_stated_by_the_transaction_stands_over_an_answer() -> None:
    """A request cannot go without its type: the structured one stands, the answer is named."""
    response = qr(
        answer("request.type", {"valueCoding": choice_coding("request.type", "initiation")})
    )
    draft = read(response, {"request_type": "continuation"})
    assert draft.data["request_type"] == "continuation"
    assert [i.kind for i in draft.issues] == ["superseded"]


def test_a_response_to_another_questionnaire_is_reported_not_read(fixtures_dir: Path) -> None:
    for path, data in all_json(fixtures_dir):
        if isinstance(data, dict) and data.get("resourceType") == "QuestionnaireResponse":
            draft = read(data)
            assert draft.data == {}, path
            assert [i.kind for i in draft.issues] == ["not-usable"], path


def test_the_examples_answer_the_generated_questionnaire(kadcyla: Policy) -> None:
    links = set(by_link(generate_questionnaire(kadcyla)))
    bundle = example("pas-continuation-stable-approved")
    response = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
    )
    answered = {i["linkId"] for i in items(response)}
    assert answered <= links
